#!/usr/bin/env bash
# The compose stack on a real Docker Engine, checked the way a user relies on it. Run by .ci/run,
# as root, on a fresh Debian bookworm machine:
#
#   docker/test.sh
#
# 1. Installs Debian's docker.io (Engine 20.10, API 1.41), docker-compose (v1.29) and debootstrap
#    when missing, and compose v2 from Debian's next release (only to validate the compose file).
# 2. Starts its own dockerd (its own socket, data and exec roots under $WORK, no default bridge) and
#    stops it by its PID at the end, restoring the host: the bridges it made removed, iptables and
#    ip_forward as they were (checked).
# 3. Builds the images from the project's own Dockerfile: a Debian base made with debootstrap and
#    `docker import` (no registry here) for the stages that need one, the static binary
#    cross-built by scripts/build-dist.sh, the dashboard from frontend/build.
# 4. Brings up the project's own docker-compose.yml (with test/compose.ci.yml: an internal network,
#    simulated sources) and checks it. Every check prints an `ok:` line; the first failure stops
#    the run with `FAILED:` and the stack's logs.
# 5. Deploys docker/stack.yml on a single-node swarm of the same engine (docker/test-swarm.sh) and
#    checks it sees readings, then leaves the swarm.
#
# SENSE_DOCKER_KEEP=1 keeps the engine's data (images) under $WORK for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${SENSE_DOCKER_WORK:-/var/tmp/sense-pulse-docker}
PROJECT=sense-ci
# docker.io's own client: BuildKit is built in. A newer client elsewhere on PATH wants buildx.
DOCKER=/usr/bin/docker
COMPOSE=/usr/bin/docker-compose
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=sense-pulse-base:bookworm
CORE_IMAGE=sense-pulse:ci
CAMERA_IMAGE=sense-pulse-camera:ci
REDIS_IMAGE=sense-pulse-redis:ci

step() { printf '\n== docker: %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  printf 'FAILED: %s\n' "$*" >&2
  if [ -n "${compose_up:-}" ]; then
    $DOCKER ps -a --format '{{.ID}} {{.Names}} {{.Image}} {{.Status}}' >&2 || true
    compose logs --no-color --tail=40 >&2 || true
  fi
  if [ -n "${swarm_up:-}" ]; then
    $DOCKER stack ps --no-trunc "$STACK" >&2 || true
    for service in $($DOCKER stack services -q "$STACK" 2>/dev/null); do
      $DOCKER service logs --no-task-ids --tail=20 "$service" >&2 || true
    done
  fi
  exit 1
}

# Runs "$@" until it succeeds, at most $1 seconds (polling a state nothing announces).
within() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
step "packages"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
[ -x "$COMPOSE" ] || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v iptables-save >/dev/null || missing+=(iptables)
command -v curl >/dev/null || missing+=(curl)
# Debian's iptables writes nftables rules: nft puts them back whole at the end.
if iptables -V 2>/dev/null | grep -q nf_tables || ! command -v iptables >/dev/null; then
  command -v nft >/dev/null || missing+=(nftables)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# A Debian docker.io package on a machine without systemd does not start its daemon; where it
# did, this test's own daemon would share the bridge and iptables chains with it.
if pgrep -x dockerd >/dev/null; then
  fail "a dockerd is already running (pid $(pgrep -x dockerd | tr '\n' ' ')): this test starts its own; stop that one first"
fi
mkdir -p "$WORK"
compose_v2="$WORK/compose-v2/usr/bin/docker-compose"
if [ ! -x "$compose_v2" ]; then
  # Compose v2 is packaged from Debian 13 (trixie) on: a static Go binary, taken from the package.
  file=$(curl -fsS --max-time 60 "$MIRROR/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc |
    awk '/^Package: docker-compose$/{p=1} p&&/^Filename:/{print $2; p=0}')
  [ -n "$file" ] || fail "no docker-compose package in Debian trixie's index"
  curl -fsS --max-time 120 -o "$WORK/compose-v2.deb" "$MIRROR/$file"
  dpkg-deb -x "$WORK/compose-v2.deb" "$WORK/compose-v2"
fi
ok "$($DOCKER --version | head -n 1) / $($COMPOSE version --short) (v1, runs the stack) / compose $("$compose_v2" version --short) (v2, validates the file)"

# ---------------------------------------------------------------------------------------------
step "dockerd, with the host's state recorded"
ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
rules() { iptables-save | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//'; }
rules >"$WORK/iptables.before"
# Debian's iptables writes nftables rules: those are saved and put back whole.
nft_ruleset=""
if iptables -V | grep -q nf_tables && command -v nft >/dev/null; then
  nft_ruleset="$WORK/ruleset.before"
  nft list ruleset >"$nft_ruleset"
fi
links() { ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort; }
links >"$WORK/links.before"
socket="$WORK/docker.sock"
export DOCKER_HOST="unix://$socket"

restore_host() {
  local status=$?
  set +e
  if [ -n "${compose_up:-}" ]; then
    compose down -v --remove-orphans >/dev/null 2>&1
  fi
  # docker/test-swarm.sh's swarm, left (its networks and links go with the engine below).
  [ -n "${swarm_up:-}" ] && $DOCKER swarm leave --force >/dev/null 2>&1
  [ -n "${events_pid:-}" ] && kill "$events_pid" 2>/dev/null
  if [ -n "${dockerd_pid:-}" ]; then
    kill -TERM "$dockerd_pid" 2>/dev/null
    # dockerd stops its containers first: up to 10 s each.
    local deadline=$((SECONDS + 60))
    while kill -0 "$dockerd_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
  # The bridges (and any veth left) that appeared while the engine ran.
  links >"$WORK/links.after"
  comm -13 "$WORK/links.before" "$WORK/links.after" | while read -r link; do
    ip link delete "$link" 2>/dev/null
  done
  # The firewall as before: the nftables ruleset put back whole, or, with iptables-legacy, the
  # tables Docker made emptied and the old rules restored (iptables-restore replaces each table
  # it names).
  if [ -n "$nft_ruleset" ]; then
    nft flush ruleset
    nft -f "$nft_ruleset"
  else
    for table in filter nat mangle raw; do
      if ! grep -qx "\*$table" "$WORK/iptables.before"; then
        iptables -t "$table" -F 2>/dev/null
        iptables -t "$table" -X 2>/dev/null
      fi
    done
    iptables -P FORWARD ACCEPT
    iptables-restore <"$WORK/iptables.before"
  fi
  echo "$ip_forward_before" >/proc/sys/net/ipv4/ip_forward
  if [ "${SENSE_DOCKER_KEEP:-0}" != 1 ]; then
    umount -R "$WORK/exec" 2>/dev/null
    rm -rf "$WORK/data" "$WORK/exec" "$WORK/rootfs"
  fi
  # Checked, not hoped for.
  rules >"$WORK/iptables.after"
  links >"$WORK/links.after"
  if [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$ip_forward_before" ] &&
    cmp -s "$WORK/iptables.before" "$WORK/iptables.after" &&
    cmp -s "$WORK/links.before" "$WORK/links.after" &&
    ! kill -0 "${dockerd_pid:-0}" 2>/dev/null; then
    ok "dockerd stopped; host restored: ip_forward=$ip_forward_before, iptables and network links as before"
  else
    printf 'FAILED: the host was not restored\n' >&2
    diff "$WORK/iptables.before" "$WORK/iptables.after" >&2
    diff "$WORK/links.before" "$WORK/links.after" >&2
    [ "$status" -ne 0 ] || status=1
  fi
  exit "$status"
}
trap restore_host EXIT

# No default bridge: builds use the host's network (Debian's mirror), the stack its own networks.
# Swarm tasks run the images here, never pulled (docker/test-swarm.sh).
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  -H "$DOCKER_HOST" --bridge=none --log-level=warn >"$WORK/dockerd.log" 2>&1 &
dockerd_pid=$!
within 60 "$DOCKER" info || {
  tail -n 20 "$WORK/dockerd.log" >&2
  fail "dockerd did not answer within 60 s"
}
ok "dockerd $($DOCKER version --format '{{.Server.Version}}, API {{.Server.APIVersion}}') (pid $dockerd_pid): $($DOCKER info --format '{{.Driver}}, cgroup v{{.CgroupVersion}}')"

# ---------------------------------------------------------------------------------------------
step "images"
export DOCKER_BUILDKIT=1
if ! $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
  tar -C "$WORK/rootfs" -c . | $DOCKER import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
fi
ok "base image $BASE_IMAGE: debootstrap --variant=minbase bookworm, docker import"

# The tree's own binary (cargo makes this quick when nothing changed).
scripts/build-dist.sh amd64
[ -f frontend/build/index.html ] || (cd frontend && npm run build >/dev/null)
rm -rf docker/dist/dashboard
cp -a frontend/build docker/dist/dashboard

build() { # build TAG [docker build arguments...]
  local tag=$1
  shift
  $DOCKER build --network host --progress plain --build-arg "DEBIAN_IMAGE=$BASE_IMAGE" \
    -t "$tag" "$@" >"$WORK/build-${tag%%:*}.log" 2>&1 ||
    { tail -n 30 "$WORK/build-${tag%%:*}.log" >&2; fail "docker build $tag"; }
}
prebuilt=(--build-arg BINARY_FROM=binary-prebuilt --build-arg DASHBOARD_FROM=dashboard-prebuilt)
build "$CORE_IMAGE" -f docker/Dockerfile --target core "${prebuilt[@]}" .
build "$CAMERA_IMAGE" -f docker/Dockerfile --target camera "${prebuilt[@]}" .
build "$REDIS_IMAGE" -f docker/test/redis.Dockerfile docker/test
megabytes() { echo $(($($DOCKER image inspect -f '{{.Size}}' "$1") / 1000000)); }
echo "core image: $(megabytes "$CORE_IMAGE") MB"
echo "camera image: $(megabytes "$CAMERA_IMAGE") MB"
echo "redis image (CI only, Debian's redis-server): $(megabytes "$REDIS_IMAGE") MB"
echo "base image (CI only, debootstrap minbase): $(megabytes "$BASE_IMAGE") MB"
[ "$(megabytes "$CORE_IMAGE")" -le 30 ] || fail "the core image is over 30 MB"
ok "the core image is at most 30 MB"
for role in gateway orchestrator "source system"; do
  # shellcheck disable=SC2086
  $DOCKER run --rm --network none "$CORE_IMAGE" $role --help >/dev/null ||
    fail "the core image cannot run \`sense-pulse $role\`"
done
$DOCKER run --rm --network none --entrypoint sense-pulse "$CAMERA_IMAGE" --version | grep -q '^sense-pulse ' ||
  fail "the camera image cannot run sense-pulse"
ffmpeg_version=$($DOCKER run --rm --network none --entrypoint ffmpeg "$CAMERA_IMAGE" -hide_banner -version | head -n 1)
ok "the images run: sense-pulse in both, $ffmpeg_version in the camera's"

# The engine refuses a bind of a host path that does not exist, instead of creating it as a
# root-owned folder: what the orchestrator's Mounts of type bind rely on (the co2 source's D-Bus
# socket, tailscaled's folder).
absent="$WORK/not-on-this-host"
rm -rf "$absent"
if refused=$($DOCKER create --mount "type=bind,source=$absent,target=/x,readonly" "$CORE_IMAGE" 2>&1); then
  $DOCKER rm "$refused" >/dev/null
  fail "the engine created a container with a bind of a missing host path"
fi
[ ! -e "$absent" ] || fail "the engine created $absent on the host"
ok "a bind of a missing host path is refused (\"${refused#*daemon: }\") and nothing is created on the host"

# ---------------------------------------------------------------------------------------------
step "the compose stack (docker/docker-compose.yml + docker/test/compose.ci.yml)"
envfile="$WORK/test.env"
# .env.example with the system source every 5 s, so its readings are seen to advance quickly.
# The Sense HAT runs resident, simulated: unprivileged (a real one needs a privileged container,
# which cannot start on this machine).
sed -e '/^ORCHESTRATOR_RESIDENT=/d' -e '/^SCHEDULE_SYSTEM=/d' -e '/^COMPOSE_PROJECT_NAME=/d' \
  -e '/^SENSE_IMAGE=/d' docker/.env.example >"$envfile"
cat >>"$envfile" <<EOF
ORCHESTRATOR_RESIDENT=sensors
SCHEDULE_SYSTEM=5
COMPOSE_PROJECT_NAME=$PROJECT
SENSE_IMAGE=$CORE_IMAGE
SENSE_CAMERA_IMAGE=$CAMERA_IMAGE
EOF
export SENSE_ENV_FILE=$envfile COMPOSE_PROJECT_NAME=$PROJECT SENSE_IMAGE=$CORE_IMAGE \
  SENSE_CAMERA_IMAGE=$CAMERA_IMAGE REDIS_IMAGE=$REDIS_IMAGE DOCKER_SOCKET=$socket \
  ORCHESTRATOR_RESIDENT=sensors
compose() { $COMPOSE -p "$PROJECT" -f docker/docker-compose.yml -f docker/test/compose.ci.yml "$@"; }
compose config -q || fail "compose v1 refuses the compose file"
"$compose_v2" -p "$PROJECT" -f docker/docker-compose.yml -f docker/test/compose.ci.yml config -q ||
  fail "compose v2 refuses the compose file"
ok "docker-compose.yml is valid for compose v1 and v2"

# Every container the orchestrator creates and destroys, from before the stack starts.
$DOCKER events --filter type=container --filter label=io.sense-pulse.orchestrated=true \
  --format '{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "io.sense-pulse.source"}}' \
  >"$WORK/events.log" &
events_pid=$!

compose_up=1
compose up -d --no-build redis gateway orchestrator >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log" >&2; fail "compose up"; }
# The running container of compose service $1.
container() {
  $DOCKER ps -q --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" | head -n 1
}
ip_of() { $DOCKER inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(container "$1")"; }
network="${PROJECT}_default"
[ "$($DOCKER network inspect -f '{{.Internal}}' "$network")" = true ] ||
  fail "the project's network is not internal"
subnet=$($DOCKER network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$network")
[ "$subnet" = 172.30.0.0/24 ] || fail "the project's network is $subnet, not SENSE_SUBNET's 172.30.0.0/24"
ok "up: redis, gateway, orchestrator on the internal network $network, $subnet (Traefik is not run: no image of it can be had here)"

gateway_ip=$(ip_of gateway) || fail "the gateway's container is gone"
gateway="http://$gateway_ip:8080"
http_code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; }
healthy() { [ "$(http_code "$gateway/health")" = 200 ]; }
within 60 healthy || fail "GET /health through the gateway did not answer 200 within 60 s"
ok "GET $gateway/health: 200"

redis_cli() { $DOCKER exec "$(container redis)" redis-cli "$@"; }
timestamp_of() { redis_cli GET "$1" | sed -n 's/.*"timestamp":\([0-9.]*\).*/\1/p'; }
first=""
has_reading() { first=$(timestamp_of source:system:cpu_percent) && [ -n "$first" ]; }
within 60 has_reading || fail "no source:system:cpu_percent within 60 s"
advanced() { local now; now=$(timestamp_of source:system:cpu_percent) && [ -n "$now" ] && [ "$now" != "$first" ]; }
within 30 advanced || fail "source:system:cpu_percent did not advance within 30 s (still $first)"
polls=$(grep -c '^create .* system$' "$WORK/events.log" || true)
[ "$polls" -ge 2 ] || fail "the system readings advanced, but the orchestrator created $polls system containers"
ok "source:system:cpu_percent advances ($first, then $(timestamp_of source:system:cpu_percent)), written by $polls system containers the orchestrator started"

# Every polled source runs clean in its hardened container (read-only root, no capabilities).
clean() { redis_cli GET "status:$1" | grep -q '"last_error":null'; }
for id in system tailscale pihole weather; do
  within 60 clean "$id" || fail "status:$id: $(redis_cli GET "status:$id")"
done
ok "system, tailscale, pihole and weather polled without error in their containers"

# The next container of source $1 to start, waiting at most $2 seconds; `--since` makes the
# subscription see events from before it was set up, so nothing falls between the two.
next_start() {
  local since id=""
  since=$(date +%s.%N)
  coproc watch_events { exec timeout "$2" "$DOCKER" events --since "$since" --filter type=container \
    --filter "label=io.sense-pulse.source=$1" --filter event=start --format '{{.ID}}'; }
  # shellcheck disable=SC2154 # set by coproc
  local watcher=$watch_events_PID
  read -r id <&"${watch_events[0]}" || true
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  echo "$id"
}

# A system container, inspected while it runs (a poll lasts about a second: retried).
inspected=""
for _ in 1 2 3 4 5; do
  id=$(next_start system 20)
  [ -n "$id" ] || continue
  inspected=$($DOCKER inspect -f '{{.Config.User}}|{{.HostConfig.Memory}}|{{.HostConfig.NetworkMode}}|{{.HostConfig.ReadonlyRootfs}}|{{.HostConfig.CapDrop}}|{{.HostConfig.SecurityOpt}}|{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}|{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "io.sense-pulse.orchestrated"}}|{{range .Mounts}}{{.Type}}:{{.Source}}:{{.Destination}}:{{.RW}} {{end}}' "$id" 2>/dev/null) && break
done
[ -n "$inspected" ] || fail "no system container could be inspected while it ran"
IFS='|' read -r user memory netmode readonly capdrop secopt logs labels mounts <<<"$inspected"
# As docker/README.md's "Privileges" table and runtime/orchestrator/src/docker say.
[ "$user" = 10001:10001 ] || fail "system container user: $user"
[ "$memory" = $((64 * 1024 * 1024)) ] || fail "system container memory limit: $memory"
[ "$netmode" = "$network" ] || fail "system container network: $netmode"
[ "$readonly" = true ] || fail "system container root file system writable"
[ "$capdrop" = "[ALL]" ] || fail "system container capabilities: dropped $capdrop"
[[ "$secopt" == *no-new-privileges* ]] || fail "system container security options: $secopt"
[ "$logs" = "json-file 2m 3" ] || fail "system container logs: $logs"
[ "$labels" = "$PROJECT source-system true" ] || fail "system container labels: $labels"
[[ "$mounts" == *"bind:/proc:/host/proc:false"* && "$mounts" == *"bind:/sys:/host/sys:false"* ]] ||
  fail "system container mounts: $mounts"
ok "a system container: user $user, memory ${memory} B, network $netmode, read-only root, cap_drop $capdrop, $secopt, logs $logs, labels $labels, mounts $mounts"

command_json() { # command_json TARGET ACTION PARAMS
  curl -s --max-time 40 -H 'Content-Type: application/json' \
    -d "{\"action\":\"$2\",\"params\":$3}" "$gateway/api/command/$1"
}

# The camera: started on demand, its HLS served by the gateway through the volume, stopped.
answer=$(command_json orchestrator start_camera '{}')
[[ "$answer" == *'"running":true'* ]] || fail "start_camera answered $answer"
camera_running() { [ -n "$($DOCKER ps -q --filter label=io.sense-pulse.source=network_camera --filter "label=com.docker.compose.project=$PROJECT")" ]; }
within 30 camera_running || fail "no camera container after start_camera"
camera_image=$($DOCKER inspect -f '{{.Config.Image}}' "$($DOCKER ps -q --filter label=io.sense-pulse.source=network_camera)")
[ "$camera_image" = "$CAMERA_IMAGE" ] || fail "the camera runs $camera_image, not $CAMERA_IMAGE"
segment=""
has_segment() {
  local playlist
  playlist=$(curl -s --max-time 5 "$gateway/api/stream/stream.m3u8") || return 1
  segment=$(printf '%s\n' "$playlist" | grep -m1 '\.ts$') && [ -n "$segment" ]
}
within 60 has_segment || fail "the gateway served no HLS playlist with a segment within 60 s"
segment_file="$WORK/segment.ts"
[ "$(curl -s --max-time 5 -o "$segment_file" -w '%{http_code}' "$gateway/api/stream/${segment##*/}")" = 200 ] ||
  fail "segment ${segment##*/} not served"
[ "$(head -c 1 "$segment_file" | od -An -tx1 | tr -d ' ')" = 47 ] ||
  fail "segment ${segment##*/} is not MPEG-TS"
ok "start_camera: a container of $camera_image; the gateway serves its HLS from the volume (${segment##*/}: $(stat -c %s "$segment_file") bytes of MPEG-TS)"

# The orchestrator killed while the camera streams (as the kernel's OOM killer would): Docker
# restarts it (restart: unless-stopped), and the new one adopts the camera instead of losing it.
camera_id=$($DOCKER ps -q --no-trunc --filter label=io.sense-pulse.source=network_camera)
orchestrator_id=$(container orchestrator)
kill -KILL "$($DOCKER inspect -f '{{.State.Pid}}' "$orchestrator_id")"
restarted() { [ "$($DOCKER inspect -f '{{.RestartCount}} {{.State.Running}}' "$orchestrator_id")" = "1 true" ]; }
within 60 restarted || fail "Docker did not restart the killed orchestrator"
adopted() { redis_cli GET status:orchestrator | grep -q '"adopted":true'; }
within 60 adopted || fail "the restarted orchestrator did not adopt the camera: $(redis_cli GET status:orchestrator)"
[ "$($DOCKER ps -q --no-trunc --filter label=io.sense-pulse.source=network_camera)" = "$camera_id" ] ||
  fail "the camera container changed: the restarted orchestrator replaced it instead of adopting it"
within 30 has_segment || fail "no HLS from the adopted camera"
ok "the orchestrator killed (SIGKILL) while streaming: Docker restarted it, and it adopted the camera container (${camera_id:0:12}), still served"
answer=$(command_json orchestrator stop_camera '{}')
[[ "$answer" == *'"running":true'* ]] || fail "stop_camera answered $answer"
camera_gone() { ! camera_running && [ -z "$($DOCKER ps -aq --filter label=io.sense-pulse.source=network_camera)" ]; }
within 30 camera_gone || fail "the camera container is still there after stop_camera"
ok "stop_camera: the camera container is gone"

# A source container killed: its run is recorded as exit 137. Triggered when no scheduled co2
# run is going on (a trigger then would be answered `already_running`), killed when it starts.
co2_idle() { [ -z "$($DOCKER ps -q --filter label=io.sense-pulse.source=co2)" ]; }
answer=""
for _ in 1 2 3; do
  within 60 co2_idle || fail "a co2 container runs for over a minute"
  command_json orchestrator trigger '{"service":"co2","wait":true}' >"$WORK/trigger.json" &
  trigger_pid=$!
  id=$(next_start co2 30)
  [ -n "$id" ] || fail "no co2 container started after trigger"
  $DOCKER kill "$id" >/dev/null || fail "docker kill $id"
  wait "$trigger_pid" || true
  answer=$(cat "$WORK/trigger.json")
  # A scheduled run that started just before the trigger: that one was killed; again.
  [[ "$answer" == *'"already_running":true'* ]] || break
done
[[ "$answer" == *'exit code 137'* ]] || fail "the killed co2 run was answered $answer"
recorded() { redis_cli GET status:co2 | grep -q 137; }
within 10 recorded || fail "status:co2 does not record the 137: $(redis_cli GET status:co2)"
ok "a co2 container killed: the trigger was answered \"$(printf '%s' "$answer" | sed -n 's/.*"error":"\([^"]*\)".*/\1/p')\", status:co2 has $(redis_cli GET status:co2 | grep -o '"last_error":"[^"]*"')"

# Redis restarted: readings and commands resume, no other service restarted.
state() { $DOCKER inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$(container "$1")"; }
gateway_before=$(state gateway)
orchestrator_before=$(state orchestrator)
compose restart redis >/dev/null 2>&1 || fail "compose restart redis"
restarted_at=$(date +%s)
after_restart() { local now; now=$(timestamp_of source:system:cpu_percent) && [ -n "$now" ] && [ "${now%.*}" -gt "$restarted_at" ]; }
within 60 after_restart || fail "no system reading after Redis restarted (at $restarted_at)"
within 30 healthy || fail "GET /health after Redis restarted"
# (Answered by the orchestrator through Redis: a poll now, or `already_running` when the 5 s
# schedule has one going.)
answer=$(command_json orchestrator trigger '{"service":"system","wait":true}')
[[ "$answer" == *'"success":true'* ]] || fail "a command after Redis restarted was answered $answer"
[ "$(state gateway)" = "$gateway_before" ] || fail "the gateway restarted: $gateway_before, now $(state gateway)"
[ "$(state orchestrator)" = "$orchestrator_before" ] || fail "the orchestrator restarted"
ok "Redis restarted: readings resume, a trigger command is answered, gateway and orchestrator kept running (started $gateway_before / $orchestrator_before)"

health_status() { [ "$($DOCKER inspect -f '{{.State.Health.Status}}' "$(container gateway)")" = healthy ]; }
within 60 health_status || fail "the gateway's Docker healthcheck (sense-pulse health) is not healthy"
ok "the gateway's healthcheck (sense-pulse health, no shell in the image) says healthy"

# Down: nothing of the project is left.
compose down -v >"$WORK/down.log" 2>&1 || { cat "$WORK/down.log" >&2; fail "compose down"; }
compose_up=""
left=$($DOCKER ps -aq --filter "label=com.docker.compose.project=$PROJECT")
left+=$($DOCKER ps -aq --filter label=io.sense-pulse.orchestrated=true)
left+=$($DOCKER volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
left+=$($DOCKER network ls -q --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "down left: $left"
kill "$events_pid" 2>/dev/null || true
wait "$events_pid" 2>/dev/null || true
events_pid=""
creates=$(grep -c '^create ' "$WORK/events.log" || true)
destroys=$(grep -c '^destroy ' "$WORK/events.log" || true)
if [ "$creates" -eq 0 ] || [ "$creates" != "$destroys" ]; then
  fail "the orchestrator created $creates containers and $destroys were destroyed"
fi
ok "down: no container, volume or network of the project left; the orchestrator's containers: $creates created, $destroys destroyed"

# ---------------------------------------------------------------------------------------------
# shellcheck source=docker/test-swarm.sh
source docker/test-swarm.sh
