#!/bin/sh
# Boots the units under a real systemd: a Debian bookworm container (debootstrap, systemd-nspawn,
# loopback only), deploy/install.sh run in it as on a Pi, then sense-pulse.service and the two-unit
# variant started, switched between, and asked for the dashboard, the readings and the camera's
# HLS stream (simulated hardware and web services: `--sim` drop-ins); a node's instance refused
# without its device, enabled, and (a copy with --sim) writing a simulated node's readings. What
# deploy/test.sh cannot show: that the sandbox lets every part run.
#
#   sudo deploy/boot-test.sh          # SENSE_PULSE_BIN=path (default target/debug/sense-pulse)
#
# Needs root, debootstrap and systemd-nspawn (apt-get install debootstrap systemd-container).
# The container's root file system is built once from Debian's packages (about a minute) and
# kept in BOOT_TEST_ROOTFS (default /var/tmp/sense-pulse-boot-rootfs); each run installs into it
# afresh. Then about 40 s. Prints one line per check; exits non-zero if any failed.
# The container-side commands are single-quoted on purpose: they expand in the container.
# shellcheck disable=SC2016
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${BOOT_TEST_ROOTFS:-/var/tmp/sense-pulse-boot-rootfs}
bin=${SENSE_PULSE_BIN:-$root/target/debug/sense-pulse}
started=$(date +%s)

die() {
  printf 'boot-test.sh: %s\n' "$*" >&2
  exit 2
}
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, systemd-nspawn)"
command -v debootstrap >/dev/null 2>&1 || die "needs debootstrap (apt-get install debootstrap)"
command -v systemd-nspawn >/dev/null 2>&1 ||
  die "needs systemd-nspawn (apt-get install systemd-container)"
[ -x "$bin" ] || die "no binary at $bin: build it, or set SENSE_PULSE_BIN"

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$*"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$*"
}

if [ ! -x "$rootfs/usr/bin/ffmpeg" ]; then
  echo "building the container's root file system in $rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,redis-server,curl,passwd,ffmpeg \
    bookworm "$rootfs" >"$rootfs.log" 2>&1 || die "debootstrap failed: see $rootfs.log"
  # What Raspberry Pi OS has and a bare Debian does not: the Sense HAT's and BlueZ's groups.
  chroot "$rootfs" sh -c 'for g in i2c input bluetooth; do
    getent group $g >/dev/null || groupadd --system $g; done'
fi

# Install as on a Pi: the real install.sh, as root, with systemd not running yet.
src=$rootfs/src/sense-pulse
rm -rf "$src"
mkdir -p "$src/deploy" "$src/frontend"
cp -R "$root/deploy/." "$src/deploy/"
cp "$root/README.md" "$src/"
cp "$bin" "$src/sense-pulse"
echo '<!doctype html><title>Sense Pulse boot test</title>' >"$src/frontend/index.html"
chroot "$rootfs" /bin/sh /src/sense-pulse/deploy/install.sh --uninstall >/dev/null
rm -rf "$rootfs/etc/sense-pulse" "$rootfs/etc/systemd/system/sense-pulse"*.d \
  "$rootfs/etc/systemd/system/sense-pulse-nodesim@.service"
for variant in "" --two-units; do
  # shellcheck disable=SC2086 # the option, or nothing
  if chroot "$rootfs" /bin/sh /src/sense-pulse/deploy/install.sh $variant \
    --frontend /src/sense-pulse/frontend /src/sense-pulse/sense-pulse >"$rootfs.install.log" 2>&1; then
    ok "install.sh ${variant:-(one process)} as root: user, groups, files"
  else
    fail "install.sh ${variant:-(one process)}"
    sed 's/^/     | /' "$rootfs.install.log"
  fi
done
if chroot "$rootfs" id -nG sense-pulse | grep -w i2c | grep -qw dialout; then
  ok "the sense-pulse user is in $(chroot "$rootfs" id -nG sense-pulse)"
else
  fail "the sense-pulse user's groups: $(chroot "$rootfs" id -nG sense-pulse 2>&1)"
fi
# Simulated hardware and web services: the container has no Sense HAT and no network.
for unit in sense-pulse sense-pulse-orchestrator; do
  mkdir -p "$rootfs/etc/systemd/system/$unit.service.d"
done
printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/sense-pulse run --sim --listen ${GATEWAY_LISTEN}\n' \
  >"$rootfs/etc/systemd/system/sense-pulse.service.d/sim.conf"
printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/sense-pulse orchestrator --sim\n' \
  >"$rootfs/etc/systemd/system/sense-pulse-orchestrator.service.d/sim.conf"
systemctl --root="$rootfs" enable sense-pulse.service >/dev/null 2>&1
# The node template with a simulated node: the container has no udev, so no device unit ever
# appears and Requisite=%i.device (which a drop-in cannot take away) would refuse every start: a
# copy without it, and with --sim. The same sandbox, user and environment otherwise.
sed -e '/^Requisite=/d' -e 's|^ExecStart=.* --port %f$|& --sim|' \
  "$rootfs/etc/systemd/system/sense-pulse-node@.service" \
  >"$rootfs/etc/systemd/system/sense-pulse-nodesim@.service"

# Boot it. --register=no and --keep-unit: this machine's own systemd need not be running.
systemd-nspawn -D "$rootfs" --boot --private-network --register=no --keep-unit \
  --console=passive --machine=sense-pulse-boot-test >"$rootfs.boot.log" 2>&1 &
nspawn=$!
stop_container() {
  if kill -0 "$nspawn" 2>/dev/null; then
    kill -TERM "$nspawn" 2>/dev/null # systemd-nspawn asks the container to power off
    wait "$nspawn" 2>/dev/null
  fi
}
trap stop_container EXIT
trap 'exit 1' INT TERM
# The container's init: systemd-nspawn's child.
init=""
while [ -z "$init" ] && kill -0 "$nspawn" 2>/dev/null; do
  init=$(pgrep -P "$nspawn" -x systemd)
done
[ -n "$init" ] || {
  sed 's/^/     | /' "$rootfs.boot.log"
  die "the container did not boot"
}
inside() {
  nsenter -t "$init" -a "$@"
}
# Blocks until boot-up is done (and says `running` or `degraded`), once systemd listens: until
# then systemctl cannot connect (tried for 30 s at most).
tries=0
while :; do
  state=$(inside systemctl is-system-running --wait 2>&1)
  case "$state" in
    running | degraded) break ;;
  esac
  tries=$((tries + 1))
  if [ "$tries" -ge 150 ] || ! kill -0 "$nspawn" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
case "$state" in
  running) ok "the container booted (running)" ;;
  *) fail "the container booted: $state ($(inside systemctl --failed --no-legend 2>&1 | tr '\n' ' '))" ;;
esac

# check DESCRIPTION SHELL-COMMAND (run in the container)
check() {
  if inside sh -c "$2" >"$rootfs.check.log" 2>&1; then
    ok "$1"
  else
    fail "$1"
    sed 's/^/     | /' "$rootfs.check.log" | tail -20
  fi
}
# Retries for up to 30 s while the service starts listening or the camera starts.
get='curl -fsS --retry 30 --retry-delay 1 --retry-all-errors --max-time 5'

check "sense-pulse.service is active (enabled, started at boot after redis-server)" \
  'systemctl is-active sense-pulse.service'
check "it serves the dashboard on 127.0.0.1:8080" \
  "$get http://127.0.0.1:8080/ | grep -q 'Sense Pulse boot test'"
check "its /health is 200 (Redis reached)" "$get -o /dev/null http://127.0.0.1:8080/health"
check "the system source reads /proc through ProtectProc=invisible" \
  "$get http://127.0.0.1:8080/api/sources | grep -q '\"memory_percent\"'"
check "the Sense HAT service runs resident" \
  "journalctl -u sense-pulse --no-pager | grep -q 'resident source started source=sensors'"
camera="$get -X POST -H 'Content-Type: application/json' -d '{\"action\":\"start_camera\"}' \
  http://127.0.0.1:8080/api/command/orchestrator | grep -q '\"success\":true' &&
  $get -o /dev/null http://127.0.0.1:8080/api/stream/stream.m3u8"
check "the camera's FFmpeg streams into /run/sense-pulse/hls, served by the gateway" "$camera"
check "the settings backup's StateDirectory is the user's, mode 700" \
  'test "$(stat -c %U:%a /var/lib/sense-pulse)" = sense-pulse:700'

# The other variant: starting it stops the one-process unit (Conflicts=, After=).
check "starting the gateway and the orchestrator stops sense-pulse.service" \
  'systemctl start sense-pulse-gateway.service sense-pulse-orchestrator.service &&
   ! systemctl is-active --quiet sense-pulse.service &&
   systemctl is-active sense-pulse-gateway.service sense-pulse-orchestrator.service'
check "the gateway serves the dashboard" \
  "$get http://127.0.0.1:8080/ | grep -q 'Sense Pulse boot test'"
check "the orchestrator runs the Sense HAT service resident (ORCHESTRATOR_RESIDENT=sensors)" \
  'systemctl status sense-pulse-orchestrator --no-pager | grep -q "sense-pulse source sensors"'
check "the orchestrator's camera streams into its /run/sense-pulse, the gateway serves it" "$camera"
check "back to sense-pulse.service: the two stop, it starts" \
  'systemctl start sense-pulse.service && systemctl is-active sense-pulse.service &&
   ! systemctl is-active --quiet sense-pulse-gateway.service sense-pulse-orchestrator.service'
check "no unit failed or restarted on the way" \
  'for u in sense-pulse sense-pulse-gateway sense-pulse-orchestrator; do
     systemctl show -p Result --value $u | grep -qx success || { systemctl status $u --no-pager; exit 1; }
   done; ! journalctl --no-pager | grep -E "sense-pulse.*(status=2[0-9][0-9]/|Failed with result)"'
for unit in sense-pulse sense-pulse-gateway sense-pulse-orchestrator; do
  score=$(inside systemd-analyze security "$unit.service" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  printf '     systemd-analyze security %s.service: %s\n' "$unit" "${score:-?}"
done

# A microcontroller node's unit (simulated node on a pseudo-terminal, read as a real port).
check "a node instance refuses to start without its device (Requisite=), and stays inactive" \
  '! systemctl start sense-pulse-node@dev-ttyACM0.service &&
   ! systemctl is-active --quiet sense-pulse-node@dev-ttyACM0.service'
check "enabling a node instance links it into its device's wants" \
  'systemctl enable sense-pulse-node@dev-ttyACM0.service &&
   test -L /etc/systemd/system/dev-ttyACM0.device.wants/sense-pulse-node@dev-ttyACM0.service'
check "the node source runs in its sandbox as sense-pulse and writes node-sim-pico to Redis" \
  'systemctl start sense-pulse-nodesim@dev-ttyACM0.service &&
   for i in $(seq 30); do
     [ "$(redis-cli exists status:node-sim-pico)" = 1 ] && break; sleep 1
   done && [ "$(redis-cli exists status:node-sim-pico)" = 1 ] &&
   [ "$(systemctl show -p User --value sense-pulse-nodesim@dev-ttyACM0.service)" = sense-pulse ] &&
   journalctl -u sense-pulse-nodesim@dev-ttyACM0.service --no-pager | grep -q "node connected"'
check "the node source stops cleanly on systemctl stop" \
  'systemctl stop sense-pulse-nodesim@dev-ttyACM0.service &&
   systemctl show -p Result --value sense-pulse-nodesim@dev-ttyACM0.service | grep -qx success'
score=$(inside systemd-analyze security sense-pulse-node@dev-ttyACM0.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
printf '     systemd-analyze security sense-pulse-node@dev-ttyACM0.service: %s\n' "${score:-?}"

check "systemctl stop sense-pulse: exits cleanly" \
  'systemctl stop sense-pulse.service && systemctl show -p Result --value sense-pulse | grep -qx success'

stop_container
trap - EXIT
printf 'deploy/boot-test.sh took %d s\n' "$(($(date +%s) - started))"
printf 'boot-test: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
