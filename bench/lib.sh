# Shared by the benchmark scripts: source it after `cd` to the repository root.
#
#   start_redis      a throw-away redis-server on a free port: sets $redis_port, $bench_dir
#                    (a temporary folder removed on exit) and REDIS_URL; stopped on exit
#   free_port        prints a free TCP port on 127.0.0.1

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_redis() {
    redis_port=$(free_port)
    bench_dir=$(mktemp -d)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$bench_dir" >/dev/null &
    redis_pid=$!
    trap 'kill $redis_pid ${extra_pids:-} 2>/dev/null; rm -rf "$bench_dir"' EXIT
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    export REDIS_URL="redis://127.0.0.1:$redis_port"
}
