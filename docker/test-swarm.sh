# The stack file (docker/stack.yml, with docker/test/stack.ci.yml) on a single-node swarm of the
# real engine: sourced by docker/test.sh after the compose stack, with its dockerd, images, settings
# file and helpers (step, ok, fail, within; its EXIT trap leaves the swarm and restores the host).
#
# The one node is the hub (its orchestrator writes source:system:cpu_percent), then joins as a
# satellite too, as a Pi would: its Redis user made by `sense-pulse node add --apply`, that URL in
# the node's file (REDIS_URL_FILE), the label; the satellite's orchestrator (NODE_NAME: the node's
# host name) writes source:system@<host name>:cpu_percent. Both are seen to advance. The swarm is
# advertised on 127.0.0.1 and listens there only; the images are never looked up in a registry
# (`--resolve-image never`, and the daemon runs with DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1).
# shellcheck shell=bash disable=SC2154,SC2034 # docker/test.sh's variables (compose_v2, WORK, ...); swarm_up is its

step "a single-node swarm (docker/stack.yml + docker/test/stack.ci.yml)"
swarm_began=$SECONDS
swarm_since=$(date +%s)
STACK=sense-swarm
export SENSE_NETWORK=sense-swarm
# The Sense HAT is left out here (the compose stack ran it): two orchestrators on a CI machine.
export ORCHESTRATOR_RESIDENT=
# Simulated hardware and web services (test/stack.ci.yml says why not there).
export ORCHESTRATOR_ARGS=--sim
# The satellite's own Redis URL, written below as `sense-pulse node add` prints it.
export SENSE_REDIS_URL_FILE="$WORK/redis-url"
rm -f "$SENSE_REDIS_URL_FILE"

networks_before=$($DOCKER network ls -q | sort)
$DOCKER swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >"$WORK/swarm-init.log" 2>&1 ||
  { cat "$WORK/swarm-init.log" >&2; fail "docker swarm init"; }
swarm_up=1
node=$($DOCKER info --format '{{.Swarm.NodeID}}')
host=$($DOCKER node inspect -f '{{.Description.Hostname}}' "$node")
$DOCKER node update --label-add sense-pulse.hub=true "$node" >/dev/null || fail "docker node update"
ok "swarm: manager $host on 127.0.0.1:2377, labelled sense-pulse.hub"

stack_files=(-c docker/stack.yml -c docker/test/stack.ci.yml)
# (Compose v2 warns that `version` is obsolete: Docker 20.10's `stack deploy` requires it.)
"$compose_v2" -p "$STACK" -f docker/stack.yml -f docker/test/stack.ci.yml config -q 2>"$WORK/stack-config.log" ||
  { cat "$WORK/stack-config.log" >&2; fail "compose v2 refuses the stack file"; }
$DOCKER stack deploy --resolve-image never "${stack_files[@]}" "$STACK" >"$WORK/stack-deploy.log" 2>&1 ||
  { cat "$WORK/stack-deploy.log" >&2; fail "docker stack deploy"; }
# What this engine leaves out of the file, said (none expected).
ignored=$(grep -i 'ignoring\|unsupported' "$WORK/stack-deploy.log" || true)
[ -z "$ignored" ] || fail "docker stack deploy ignored some of the stack file: $ignored"
ok "docker stack deploy -c docker/stack.yml $STACK: $($DOCKER stack services "$STACK" --format '{{.Name}} {{.Mode}} {{.Replicas}}' | sed "s/^${STACK}_//" | sort | paste -sd, | sed 's/,/, /g')"

# The running container of swarm service $1.
task() {
  $DOCKER ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" | head -n 1
}
swarm_redis() { $DOCKER exec "$(task redis)" redis-cli "$@"; }
gateway_up() { $DOCKER exec "$(task gateway)" sense-pulse health; }
within 120 gateway_up || fail "the gateway's GET /health did not answer 200 within 120 s"
[ "$($DOCKER network inspect -f '{{.Driver}} {{.Attachable}} {{.Internal}}' "$SENSE_NETWORK")" = "overlay true true" ] ||
  fail "the stack's network: $($DOCKER network inspect -f '{{.Driver}} attachable={{.Attachable}} internal={{.Internal}}' "$SENSE_NETWORK")"
# From a plain container on the attachable network, as the orchestrators' containers join it.
gateway_ip=$($DOCKER inspect -f "{{(index .NetworkSettings.Networks \"$SENSE_NETWORK\").IPAddress}}" "$(task gateway)")
$DOCKER run --rm --network "$SENSE_NETWORK" "$CORE_IMAGE" health --url "http://$gateway_ip:8080/health" >/dev/null 2>&1 ||
  fail "GET http://$gateway_ip:8080/health from a container on $SENSE_NETWORK"
ok "GET http://$gateway_ip:8080/health: 200, from a plain container on the attachable internal overlay $SENSE_NETWORK"

# A reading of key $1 advancing: its timestamp seen, then another ($progress says both).
reading_key="" first="" now="" progress=""
stamp() { swarm_redis GET "$reading_key" | sed -n 's/.*"timestamp":\([0-9.]*\).*/\1/p'; }
seen() { first=$(stamp) && [ -n "$first" ]; }
moved() { now=$(stamp) && [ -n "$now" ] && [ "$now" != "$first" ]; }
advancing() {
  reading_key=$1
  within 90 seen || fail "no $reading_key within 90 s"
  within 30 moved || fail "$reading_key did not advance within 30 s (still $first)"
  progress="$first, then $now"
}
advancing source:system:cpu_percent
ok "source:system:cpu_percent advances ($progress): the hub's orchestrator"
# The containers the hub's orchestrator made: of the stack's project, on its network.
polled=$($DOCKER ps -aq --filter label=io.sense-pulse.orchestrated=true \
  --filter "label=com.docker.compose.project=$STACK" --filter label=io.sense-pulse.source=system | head -n 1)
if [ -z "$polled" ]; then
  # (Removed when its poll ends: the events say which it was.)
  polled=$($DOCKER events --since "$swarm_since" --until "$(date +%s)" --filter type=container \
    --filter event=create --filter "label=com.docker.compose.project=$STACK" \
    --filter label=io.sense-pulse.source=system --format '{{.Actor.Attributes.name}}' | head -n 1)
fi
[ -n "$polled" ] || fail "no system container of project $STACK"

# The same node made a satellite too, as a Pi joins: its Redis user made on the hub (`node add`,
# from a plain container on the overlay), the URL in the node's file, then the label, which starts
# the satellite's task there. Its node name is its host name: only when that is a valid one.
if [[ "$host" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]]; then
  added=$($DOCKER run --rm --network "$SENSE_NETWORK" "$CORE_IMAGE" node add "$host" --hub redis \
    --apply --redis redis://redis:6379 2>"$WORK/node-add.log") || { cat "$WORK/node-add.log" >&2; fail "sense-pulse node add $host"; }
  (umask 077 && printf '%s\n' "$added" | sed -n 's/^REDIS_URL=//p' >"$SENSE_REDIS_URL_FILE")
  grep -q "^redis://node-$host:" "$SENSE_REDIS_URL_FILE" || fail "node add printed no REDIS_URL: $added"
  $DOCKER node update --label-add sense-pulse.satellite=true "$node" >/dev/null || fail "docker node update"
  key="source:system@$host:cpu_percent"
  advancing "$key"
  ok "$key advances ($progress): the satellite's orchestrator (NODE_NAME=$host), as Redis user node-$host (node add --apply), its URL from REDIS_URL_FILE"
else
  echo "note: the host name '$host' is not a node name: no satellite here"
fi

# Down: the stack removed, the orchestrators' containers stopped with it, then the swarm left and
# what it made on this engine (docker_gwbridge, the stack's volumes) removed.
# (Its network is removed while the tasks still stop, which fails then: removed below, after them.)
$DOCKER stack rm "$STACK" >"$WORK/stack-rm.log" 2>&1 || grep -q 'is in use by task' "$WORK/stack-rm.log" ||
  { cat "$WORK/stack-rm.log" >&2; fail "docker stack rm"; }
stack_gone() {
  [ -z "$($DOCKER ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] &&
    [ -z "$($DOCKER ps -aq --filter label=io.sense-pulse.orchestrated=true)" ]
}
within 90 stack_gone || fail "stack rm: containers left: $($DOCKER ps -a --format '{{.Names}}')"
network_gone() { ! $DOCKER network inspect "$SENSE_NETWORK" >/dev/null 2>&1 || $DOCKER network rm "$SENSE_NETWORK"; }
within 30 network_gone || fail "the network $SENSE_NETWORK is left"
mapfile -t volumes < <($DOCKER volume ls -q --filter "label=com.docker.stack.namespace=$STACK")
[ ${#volumes[@]} -eq 0 ] || $DOCKER volume rm "${volumes[@]}" >/dev/null || fail "docker volume rm ${volumes[*]}"
$DOCKER swarm leave --force >/dev/null 2>&1 || fail "docker swarm leave"
swarm_up="" # docker/test.sh: nothing for its EXIT trap to leave
$DOCKER network rm docker_gwbridge >/dev/null 2>&1 || true
left=$(comm -13 <(echo "$networks_before") <($DOCKER network ls -q | sort))
left+=$($DOCKER volume ls -q)
[ -z "$left" ] || fail "the swarm left: $left"
ok "stack rm, swarm leave: no container, network or volume left; the swarm part took $((SECONDS - swarm_began)) s"
