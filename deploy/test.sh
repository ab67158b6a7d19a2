#!/bin/sh
# Tests deploy/: install.sh into a temporary DESTDIR (never into /: no user is created, no
# systemctl is run; install.sh skips those itself in DESTDIR mode and says so), the tree it
# leaves, that a second run keeps the settings and drops stale files, --two-units, PREFIX,
# --uninstall; the microcontroller node's template unit and its instances; the root-only steps
# (the user, its groups, dialout among them) with useradd, usermod, getent and systemctl stubbed;
# `systemd-analyze verify` and `security --offline` on the installed units; a smoke
# run of the installed binary with the unit's environment, serving the installed dashboard; then
# Traefik's configuration against its schema (docker/traefik/test.sh).
#
#   deploy/test.sh                 # SENSE_PULSE_BIN=path: the binary for the smoke run
#                                  # (default target/debug/sense-pulse; skipped without one)
#
# Prints one line per check and exits non-zero if any failed. Without one of the tools (dash,
# ShellCheck, systemd-analyze, curl) its checks are skipped, except under CI=true, where a
# missing systemd-analyze is a failure (scripts/setup.sh installs it).

# The checks' `sh -c '...' - args` expand their arguments inside, by design; the variable names
# read from the units and the example have no spaces.
# shellcheck disable=SC2016,SC2013
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
started=$(date +%s)
tmp=$(mktemp -d)
smoke_pid=""
cleanup() {
  if [ -n "$smoke_pid" ]; then
    kill "$smoke_pid" 2>/dev/null
    wait "$smoke_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

passed=0
failed=0
skipped=0
ok() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$*"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$*"
}
skip() {
  skipped=$((skipped + 1))
  printf 'skip %s\n' "$*"
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
  description=$1
  shift
  if "$@" >"$tmp/check.out" 2>&1; then
    ok "$description"
  else
    fail "$description"
    sed 's/^/     | /' "$tmp/check.out" | head -20
  fi
}
# A tool the checks need: skipped without it, but a failure on CI for those CI must run.
missing() {
  if [ "${CI:-}" = true ] && [ "${2:-}" = required ]; then
    fail "$1 is not installed (scripts/setup.sh installs it)"
  else
    skip "$1 is not installed: its checks"
  fi
}

# install.sh is POSIX sh: run it with dash (Debian's /bin/sh) when there is one.
shell="sh"
if command -v dash >/dev/null 2>&1; then
  shell=dash
fi
install_sh() {
  "$shell" "$root/deploy/install.sh" "$@" >"$tmp/install.log" 2>&1
}
show_log() {
  sed 's/^/     | /' "$tmp/install.log"
}

# --- the script itself -----------------------------------------------------------------------

check "install.sh parses as POSIX sh ($shell -n)" "$shell" -n "$root/deploy/install.sh"
for script in deploy/install.sh deploy/test.sh deploy/boot-test.sh docker/traefik/test.sh; do
  if command -v shellcheck >/dev/null 2>&1; then
    check "shellcheck -s sh $script" shellcheck -s sh "$root/$script"
  else
    missing shellcheck
    break
  fi
done

# --- a staged install ------------------------------------------------------------------------

# A stand-in binary and dashboard, so that this needs no build.
mkdir -p "$tmp/src/frontend/_app"
printf '#!/bin/sh\necho stand-in sense-pulse 1\n' >"$tmp/src/sense-pulse"
chmod 0755 "$tmp/src/sense-pulse"
echo '<!doctype html><title>Sense Pulse test dashboard</title>' >"$tmp/src/frontend/index.html"
echo 'old build' >"$tmp/src/frontend/_app/old.js"

dest=$tmp/root
units=$dest/etc/systemd/system
if DESTDIR=$dest install_sh --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh into DESTDIR exits 0 (run as $(id -un))"
else
  fail "install.sh into DESTDIR exits 0"
  show_log
fi
check "DESTDIR mode says it skipped the user and systemctl" \
  grep -q "Skipped (DESTDIR set" "$tmp/install.log"
check "DESTDIR mode created no user (no passwd, group or shadow in DESTDIR)" \
  test ! -e "$dest/etc/passwd" -a ! -e "$dest/etc/group" -a ! -e "$dest/etc/shadow"

mode() {
  stat -c %a "$1"
}
check "binary at PREFIX/bin, mode 755, the given one" \
  sh -c '[ "$(stat -c %a "$1")" = 755 ] && cmp -s "$1" "$2"' - \
  "$dest/usr/local/bin/sense-pulse" "$tmp/src/sense-pulse"
check "dashboard at PREFIX/share/sense-pulse/frontend" \
  cmp -s "$dest/usr/local/share/sense-pulse/frontend/index.html" "$tmp/src/frontend/index.html"
check "README at PREFIX/share/doc/sense-pulse" \
  cmp -s "$dest/usr/local/share/doc/sense-pulse/README.md" "$root/README.md"
check "sense-pulse.service in /etc/systemd/system, mode 644" \
  test "$(mode "$units/sense-pulse.service")" = 644
check "the two-unit variant is not installed without --two-units" \
  test ! -e "$units/sense-pulse-gateway.service" -a ! -e "$units/sense-pulse-orchestrator.service" \
  -a ! -e "$units/sense-pulse-notify.service"
check "env file /etc/sense-pulse/sense-pulse.env from the example, mode 600" \
  sh -c '[ "$(stat -c %a "$1")" = 600 ] && cmp -s "$1" "$2"' - \
  "$dest/etc/sense-pulse/sense-pulse.env" "$root/deploy/sense-pulse.env.example"
check "example env file beside it, mode 644" \
  test "$(mode "$dest/etc/sense-pulse/sense-pulse.env.example")" = 644
check "the unit is deploy/systemd's, unchanged for PREFIX=/usr/local" \
  cmp -s "$units/sense-pulse.service" "$root/deploy/systemd/sense-pulse.service"
check "it prints what to run next (systemctl enable --now sense-pulse.service)" \
  grep -q "systemctl enable --now sense-pulse.service" "$tmp/install.log"

# The microcontroller node's template: installed always, inert until an instance is enabled.
node=$units/sense-pulse-node@.service
check "the node template sense-pulse-node@.service is installed too, mode 644, unchanged" \
  sh -c '[ "$(stat -c %a "$1")" = 644 ] && cmp -s "$1" "$2"' - \
  "$node" "$root/deploy/systemd/sense-pulse-node@.service"
check "it prints how to enable a node's instance (systemd-escape --path)" \
  grep -qF 'systemctl enable --now "sense-pulse-node@$(systemd-escape --path /dev/serial/by-id/' \
  "$tmp/install.log"
check "the node unit runs source node on the instance's device path (%f)" \
  grep -qx "ExecStart=/usr/local/bin/sense-pulse source node --port %f" "$node"
# Started by the device (enable links it into %i.device's wants), needs it present to start (the
# DeviceAllow= groups resolve then), and is not stopped when it goes (the source reports the
# lost link and reopens the port): no BindsTo=.
check "the node unit is wanted by its device, requisite on and after it, not bound to it" \
  sh -c 'grep -qx "WantedBy=%i.device" "$1" && grep -qx "Requisite=%i.device" "$1" &&
    grep -qx "After=%i.device" "$1" && ! grep -q "^BindsTo=" "$1" &&
    ! grep -q "^WantedBy=.*target" "$1"' - "$node"
check "the node unit sees USB serial ports only (DevicePolicy=closed, char-ttyACM, char-ttyUSB)" \
  sh -c 'grep -qx "DevicePolicy=closed" "$1" && grep -qx "DeviceAllow=char-ttyACM rw" "$1" &&
    grep -qx "DeviceAllow=char-ttyUSB rw" "$1" && [ "$(grep -c "^DeviceAllow=" "$1")" = 2 ]' - "$node"
check "the node unit: Redis and the journal only (AF_INET, AF_INET6, AF_UNIX), MemoryMax=32M" \
  sh -c 'grep -qx "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "$1" &&
    grep -qx "MemoryMax=32M" "$1" && grep -qx "Restart=on-failure" "$1"' - "$node"
check "the node unit reads the same env file, with the other units' REDIS_URL and LOG_LEVEL" \
  sh -c 'for line in "EnvironmentFile=-/etc/sense-pulse/sense-pulse.env" \
      "Environment=REDIS_URL=redis://127.0.0.1:6379" "Environment=LOG_LEVEL=info" \
      "User=sense-pulse"; do
      grep -qxF "$line" "$1" && grep -qxF "$line" "$2" || { echo "not in both: $line"; exit 1; }
    done' - "$node" "$units/sense-pulse.service"
if command -v systemd-escape >/dev/null 2>&1; then
  # The instance names the README and install.sh give: %f turns them back into the path.
  check "instance names: dev-ttyACM0 is /dev/ttyACM0; a by-id path goes there and back" \
    sh -c '[ "$(systemd-escape --unescape --path dev-ttyACM0)" = /dev/ttyACM0 ] &&
      p=/dev/serial/by-id/usb-Sense_Pulse_sense-node-pico_e660c0d1c7654321-if00 &&
      [ "$(systemd-escape --unescape --path "$(systemd-escape --path "$p")")" = "$p" ]'
fi
check "DESTDIR mode names dialout among the groups it would add the user to" \
  grep -q "adding it to the groups .*dialout" "$tmp/install.log"

# Again: an upgrade. New binary, a dashboard build without old.js, settings edited meanwhile.
echo 'PIHOLE_HOST=http://192.0.2.1' >>"$dest/etc/sense-pulse/sense-pulse.env"
cp "$dest/etc/sense-pulse/sense-pulse.env" "$tmp/env.edited"
printf '#!/bin/sh\necho stand-in sense-pulse 2\n' >"$tmp/src/sense-pulse"
rm "$tmp/src/frontend/_app/old.js"
echo 'new build' >"$tmp/src/frontend/_app/new.js"
if DESTDIR=$dest install_sh --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh again (an upgrade) exits 0"
else
  fail "install.sh again (an upgrade) exits 0"
  show_log
fi
check "the edited env file is kept as it was" \
  cmp -s "$dest/etc/sense-pulse/sense-pulse.env" "$tmp/env.edited"
check "it says the env file was kept" grep -q "kept as it is" "$tmp/install.log"
check "the binary is the new one" \
  cmp -s "$dest/usr/local/bin/sense-pulse" "$tmp/src/sense-pulse"
check "the old build's files are gone, the new build's there" \
  test ! -e "$dest/usr/local/share/sense-pulse/frontend/_app/old.js" \
  -a -e "$dest/usr/local/share/sense-pulse/frontend/_app/new.js"
check "no temporary files left behind" \
  sh -c '! find "$1" -name "*.new*" -o -name "*.old" | grep -q .' - "$dest"

# --two-units into the same tree.
if DESTDIR=$dest install_sh --two-units --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh --two-units exits 0"
else
  fail "install.sh --two-units exits 0"
  show_log
fi
check "--two-units installs sense-pulse-gateway, -orchestrator and -notify.service" \
  test -f "$units/sense-pulse-gateway.service" -a -f "$units/sense-pulse-orchestrator.service" \
  -a -f "$units/sense-pulse-notify.service"
check "--two-units installs the node template too" test -f "$units/sense-pulse-node@.service"
check "--two-units prints enabling all three" \
  grep -q "systemctl enable --now sense-pulse-gateway.service sense-pulse-orchestrator.service sense-pulse-notify.service$" \
  "$tmp/install.log"
check "the orchestrator runs the sources as processes, the Sense HAT resident" \
  sh -c 'grep -qx "Environment=ORCHESTRATOR_LAUNCHER=process" "$1" &&
    grep -qx "Environment=ORCHESTRATOR_RESIDENT=sensors" "$1" &&
    grep -qx "ExecStart=/usr/local/bin/sense-pulse orchestrator" "$1"' - \
  "$units/sense-pulse-orchestrator.service"
check "the gateway runs the gateway" \
  grep -qx "ExecStart=/usr/local/bin/sense-pulse gateway" "$units/sense-pulse-gateway.service"
check "the three conflict with sense-pulse.service, and it with them; they start after it stops" \
  sh -c 'for u in "$1" "$2" "$3"; do
      grep -qx "Conflicts=sense-pulse.service" "$u" &&
        grep -q "^After=.* sense-pulse.service$" "$u" || { echo "not in $u"; exit 1; }
    done &&
    grep -qx "Conflicts=sense-pulse-gateway.service sense-pulse-orchestrator.service sense-pulse-notify.service" "$4"' - \
  "$units/sense-pulse-gateway.service" "$units/sense-pulse-orchestrator.service" \
  "$units/sense-pulse-notify.service" "$units/sense-pulse.service"
check "the notifier runs notify, after Redis and the network, restarting but on exit 2" \
  sh -c 'grep -qx "ExecStart=/usr/local/bin/sense-pulse notify" "$1" &&
    grep -qx "Wants=network-online.target redis-server.service" "$1" &&
    grep -qx "After=network-online.target redis-server.service sense-pulse.service" "$1" &&
    grep -qx "Restart=on-failure" "$1" && grep -qx "RestartPreventExitStatus=2" "$1"' - \
  "$units/sense-pulse-notify.service"
check "the notifier: no devices, nothing writable, outgoing TCP and AF_UNIX only, MemoryMax=32M" \
  sh -c 'grep -qx "DevicePolicy=closed" "$1" && ! grep -q "^DeviceAllow=" "$1" &&
    grep -qx "PrivateDevices=yes" "$1" && grep -qx "ProtectSystem=strict" "$1" &&
    ! grep -Eq "^(StateDirectory|RuntimeDirectory|ReadWritePaths|LogsDirectory|CacheDirectory)=" "$1" &&
    grep -qx "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "$1" &&
    grep -qx "MemoryHigh=24M" "$1" && grep -qx "MemoryMax=32M" "$1"' - \
  "$units/sense-pulse-notify.service"
check "the notifier reads the same env file, with the other units' REDIS_URL, LOG_LEVEL, user" \
  sh -c 'for line in "EnvironmentFile=-/etc/sense-pulse/sense-pulse.env" \
      "Environment=REDIS_URL=redis://127.0.0.1:6379" "Environment=LOG_LEVEL=info" \
      "User=sense-pulse" "Group=sense-pulse"; do
      grep -qxF "$line" "$1" && grep -qxF "$line" "$2" || { echo "not in both: $line"; exit 1; }
    done' - "$units/sense-pulse-notify.service" "$units/sense-pulse.service"
check "the gateway and the camera share the HLS folder, in the orchestrator's /run/sense-pulse" \
  sh -c 'grep -qx "Environment=HLS_OUTPUT_DIR=/run/sense-pulse/hls" "$1" &&
    grep -qx "Environment=HLS_OUTPUT_DIR=/run/sense-pulse/hls" "$2" &&
    grep -qx "RuntimeDirectory=sense-pulse" "$2" &&
    ! grep -q "^RuntimeDirectory=" "$1"' - \
  "$units/sense-pulse-gateway.service" "$units/sense-pulse-orchestrator.service"

# Every variable the units set is one the code reads (a rename there fails here).
for var in $(sed -n 's/^Environment=\([A-Z_]*\)=.*/\1/p' "$root"/deploy/systemd/*.service | sort -u); do
  check "the units' $var is read by the code" \
    grep -rqF "\"$var\"" "$root/runtime" "$root/gateway" "$root/sources"
done
# Every variable the example env file names is one docker/.env.example documents too, or one the
# units fix.
for var in $(sed -n 's/^#* *\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$root/deploy/sense-pulse.env.example" | sort -u); do
  check "the example env file's $var is known (docker/.env.example or the code)" \
    sh -c 'grep -q "^#* *$1=" "$2" || grep -rqF "\"$1\"" "$3/runtime" "$3/gateway"' - \
    "$var" "$root/docker/.env.example" "$root"
done

# --satellite: a Pi writing to a hub's Redis runs its orchestrator alone.
satellite=$tmp/satellite
if DESTDIR=$satellite install_sh --satellite --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh --satellite exits 0"
else
  fail "install.sh --satellite exits 0"
  show_log
fi
check "--satellite installs the orchestrator's unit (and the node template), no gateway or notifier" \
  sh -c 'test -f "$1/sense-pulse-orchestrator.service" -a -f "$1/sense-pulse-node@.service" &&
    ! test -e "$1/sense-pulse-gateway.service" -o -e "$1/sense-pulse-notify.service" -o \
      -e "$1/sense-pulse.service"' - "$satellite/etc/systemd/system"
check "--satellite says to make the node's user on the hub and to enable the orchestrator alone" \
  sh -c 'grep -q "sense-pulse node add <name> --apply" "$1" &&
    grep -q "systemctl enable --now sense-pulse-orchestrator.service$" "$1"' - "$tmp/install.log"
check "the example env file shows a satellite's NODE_NAME and a REDIS_URL with its user" \
  sh -c 'grep -qx "# NODE_NAME=kitchen" "$1" && grep -q "^# REDIS_URL=redis://node-kitchen:" "$1"' - \
  "$root/deploy/sense-pulse.env.example"
check "--satellite and --two-units together are refused" \
  sh -c '! DESTDIR="$1" "$2" --satellite --two-units "$3" >/dev/null 2>&1' - \
  "$tmp/refused" "$root/deploy/install.sh" "$tmp/src/sense-pulse"

# Another PREFIX and SYSCONFDIR: the units follow.
other=$tmp/other
if DESTDIR=$other PREFIX=/opt/sense SYSCONFDIR=/etc/opt install_sh --two-units \
  --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh with PREFIX=/opt/sense SYSCONFDIR=/etc/opt exits 0"
else
  fail "install.sh with PREFIX=/opt/sense SYSCONFDIR=/etc/opt exits 0"
  show_log
fi
check "the binary and the dashboard go under PREFIX, the settings under SYSCONFDIR" \
  test -x "$other/opt/sense/bin/sense-pulse" \
  -a -f "$other/opt/sense/share/sense-pulse/frontend/index.html" \
  -a -f "$other/etc/opt/sense-pulse/sense-pulse.env"
check "the units name PREFIX's binary and dashboard and SYSCONFDIR's env file, nothing of /usr/local" \
  sh -c 'grep -qx "ExecStart=/opt/sense/bin/sense-pulse orchestrator" "$1/sense-pulse-orchestrator.service" &&
    grep -qx "Environment=FRONTEND_DIR=/opt/sense/share/sense-pulse/frontend" "$1/sense-pulse-gateway.service" &&
    grep -qx "EnvironmentFile=-/etc/opt/sense-pulse/sense-pulse.env" "$1/sense-pulse-gateway.service" &&
    grep -qx "ExecStart=/opt/sense/bin/sense-pulse notify" "$1/sense-pulse-notify.service" &&
    grep -qx "EnvironmentFile=-/etc/opt/sense-pulse/sense-pulse.env" "$1/sense-pulse-notify.service" &&
    ! grep -v "^#" "$1"/*.service | grep -q "/usr/local"' - "$other/etc/systemd/system"
check "the node template names PREFIX's binary and SYSCONFDIR's env file" \
  sh -c 'grep -qx "ExecStart=/opt/sense/bin/sense-pulse source node --port %f" "$1" &&
    grep -qx "EnvironmentFile=-/etc/opt/sense-pulse/sense-pulse.env" "$1"' - \
  "$other/etc/systemd/system/sense-pulse-node@.service"

# The root-only steps (the user, its groups, daemon-reload), without root and without touching
# the machine: every path under the temporary folder, and id, getent, useradd, usermod and
# systemctl replaced by stubs that log their arguments. FAKE_GROUPS: the groups the machine has.
stubs=$tmp/stubs
mkdir -p "$stubs"
printf '#!/bin/sh\n[ "$1" = -u ] && echo 0\n' >"$stubs/id"
printf '#!/bin/sh\necho "$(basename "$0") $*" >>"%s"\n' "$tmp/stub.log" >"$tmp/log-line"
{
  cat "$tmp/log-line"
  printf 'case "$1" in passwd) exit 2 ;; esac\n'
  printf 'for g in $FAKE_GROUPS; do [ "$g" = "$2" ] && { echo "$g:x:1:"; exit 0; }; done\nexit 2\n'
} >"$stubs/getent"
cp "$tmp/log-line" "$stubs/useradd"
cp "$tmp/log-line" "$stubs/usermod"
{
  cat "$tmp/log-line"
  printf 'case "$1" in is-enabled | is-active) exit 1 ;; esac\n'
} >"$stubs/systemctl"
chmod 0755 "$stubs"/*
# as_root "GROUPS THE MACHINE HAS" ARGS...
as_root() {
  groups_here=$1
  shift
  env PATH="$stubs:$PATH" FAKE_GROUPS="$groups_here" PREFIX="$tmp/as-root/usr" \
    SYSCONFDIR="$tmp/as-root/etc" UNITDIR="$tmp/as-root/units" \
    "$shell" "$root/deploy/install.sh" "$@" >"$tmp/install.log" 2>&1
}
: >"$tmp/stub.log"
if as_root "i2c video input dialout" --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh as root (stubbed) exits 0"
else
  fail "install.sh as root (stubbed) exits 0"
  show_log
fi
check "as root it creates the user and adds it to dialout when the machine has the group" \
  sh -c 'grep -q "^useradd --system .* sense-pulse$" "$1" &&
    grep -qx "usermod -a -G dialout sense-pulse" "$1" &&
    ! grep -q "usermod .* bluetooth" "$1"' - "$tmp/stub.log"
check "it says which groups it joined and which the machine lacks" \
  grep -qx "  groups    i2c video input dialout (not on this machine: bluetooth)" "$tmp/install.log"
check "it installs the node template there too" test -f "$tmp/as-root/units/sense-pulse-node@.service"
: >"$tmp/stub.log"
if as_root "i2c video input bluetooth" --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  ok "install.sh as root (stubbed) on a machine without dialout exits 0"
else
  fail "install.sh as root (stubbed) on a machine without dialout exits 0"
  show_log
fi
check "without a dialout group it adds none, and says how to give the user the ports" \
  sh -c '! grep -q "usermod .*dialout" "$1" &&
    grep -q "not on this machine: dialout" "$2" && grep -q "no dialout group: for a node" "$2"' - \
  "$tmp/stub.log" "$tmp/install.log"

# Refusals.
if DESTDIR=$tmp/none install_sh --frontend "$tmp/src/frontend" "$tmp/src/no-such-binary"; then
  fail "a missing binary is refused"
else
  check "a missing binary is refused, saying how to build one" \
    grep -q "cargo build --release" "$tmp/install.log"
fi
if DESTDIR=$tmp/none install_sh "$tmp/src/sense-pulse" --frontend "$tmp/src"; then
  fail "a dashboard folder without index.html is refused"
else
  check "a dashboard folder without index.html is refused" grep -q "npm run build" "$tmp/install.log"
fi
if DESTDIR=$tmp/none PREFIX=usr install_sh --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
  fail "a relative PREFIX is refused"
else
  check "a relative PREFIX is refused" grep -q "absolute" "$tmp/install.log"
fi
check "nothing was written by the refused runs" test ! -e "$tmp/none"
if [ "$(id -u)" -ne 0 ]; then
  if install_sh --frontend "$tmp/src/frontend" "$tmp/src/sense-pulse"; then
    fail "without DESTDIR and without root it refuses"
  else
    check "without DESTDIR and without root it refuses" grep -q "needs root" "$tmp/install.log"
  fi
else
  skip "the refusal without root (running as root; never installs into / here)"
fi

# --- systemd-analyze -------------------------------------------------------------------------

if command -v systemd-analyze >/dev/null 2>&1 && [ -d /usr/lib/systemd/system ]; then
  # `verify --root` looks for everything under the root: the installed tree plus the system's
  # own units (sysinit.target, redis-server.service, ...), copied beside it.
  cp -R "$dest" "$tmp/verify"
  mkdir -p "$tmp/verify/usr/lib/systemd"
  cp -R /usr/lib/systemd/system "$tmp/verify/usr/lib/systemd/system"
  # The node template as instances: on the kernel's name and on a by-id link (escaped, backslashes
  # and all). Their %i.device needs no stand-in: device units come from udev, never from files,
  # and verify loads them as on a machine with the node unplugged.
  node_ttyacm=sense-pulse-node@dev-ttyACM0.service
  node_by_id='sense-pulse-node@dev-serial-by\x2did-usb\x2dSense_Pulse_sense\x2dnode\x2dpico_e660c0d1c7654321\x2dif00.service'
  for unit in sense-pulse.service sense-pulse-gateway.service sense-pulse-orchestrator.service \
    sense-pulse-notify.service "$node_ttyacm" "$node_by_id"; do
    # It exits 0 on most problems (an unknown or invalid setting is a warning): any output fails.
    if systemd-analyze verify --man=no --root="$tmp/verify" "$unit" >"$tmp/verify.out" 2>&1 &&
      [ ! -s "$tmp/verify.out" ]; then
      ok "systemd-analyze verify $unit: no complaint"
    else
      fail "systemd-analyze verify $unit"
      sed 's/^/     | /' "$tmp/verify.out"
    fi
    systemd-analyze security --offline=yes --root="$tmp/verify" "$unit" >"$tmp/security.out" 2>&1
    exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security.out")
    # Each unit scores 1.4-1.6 ("OK", on a scale of 0, safest, to 10); 2.0 leaves room for a
    # newer systemd's scoring, not for dropping a protection.
    if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
      ok "systemd-analyze security --offline $unit: exposure $exposure (at most 2.0)"
    else
      fail "systemd-analyze security --offline $unit: exposure '${exposure}' (at most 2.0)"
      tail -5 "$tmp/security.out" | sed 's/^/     | /'
    fi
  done
  # That verify's output is read: a misspelled setting makes it speak.
  sed 's/^ProtectSystem=/ProtectSytem=/' "$tmp/verify/etc/systemd/system/sense-pulse.service" \
    >"$tmp/verify/etc/systemd/system/sense-pulse-typo.service"
  systemd-analyze verify --man=no --root="$tmp/verify" sense-pulse-typo.service >"$tmp/verify.out" 2>&1
  check "systemd-analyze verify speaks up on a misspelled setting (ProtectSytem=)" \
    grep -q "Unknown key" "$tmp/verify.out"
else
  missing systemd-analyze required
fi

# --- a smoke run of the installed binary -----------------------------------------------------

bin=${SENSE_PULSE_BIN:-$root/target/debug/sense-pulse}
case "$bin" in
  /*) ;;
  *) bin=$root/$bin ;;
esac
if [ -x "$bin" ] && command -v curl >/dev/null 2>&1; then
  smoke=$tmp/smoke
  DESTDIR=$smoke install_sh --frontend "$tmp/src/frontend" "$bin" || show_log
  check "the real binary's run, gateway, orchestrator, notify, source node accept the units' arguments" \
    sh -c '"$1" run --help | grep -q -- "--listen" && "$1" gateway --help | grep -q GATEWAY_LISTEN &&
      "$1" orchestrator --help | grep -q NODE_NAME && "$1" notify --help | grep -q REDIS_URL &&
      "$1" source node --help | grep -q -- "--port" && "$1" source node --help | grep -q NODE_PORT' - \
    "$smoke/usr/local/bin/sense-pulse"
  # The unit's Environment= (FRONTEND_DIR moved into DESTDIR, HLS into the temporary folder), an
  # in-memory bus rather than the env file's Redis, a free port, simulated hardware.
  env_args=$(sed -n 's/^Environment=//p' "$smoke/etc/systemd/system/sense-pulse.service" |
    sed -e "s|^FRONTEND_DIR=|&$smoke|" -e "s|^HLS_OUTPUT_DIR=.*|HLS_OUTPUT_DIR=$tmp/hls|" \
      -e 's|^REDIS_URL=.*|REDIS_URL=|')
  mkfifo "$tmp/smoke.out"
  # shellcheck disable=SC2086 # one VAR=value a word: the unit's values have no spaces
  env $env_args "$smoke/usr/local/bin/sense-pulse" run --sim --listen 127.0.0.1:0 \
    >"$tmp/smoke.out" 2>"$tmp/smoke.err" &
  smoke_pid=$!
  # The line saying where it listens; end of file if it dies first. A watchdog for a hang.
  (
    i=0
    while [ $i -lt 60 ] && kill -0 "$smoke_pid" 2>/dev/null; do
      sleep 1
      i=$((i + 1))
    done
    kill -KILL "$smoke_pid" 2>/dev/null
  ) &
  watchdog=$!
  address=""
  exec 3<"$tmp/smoke.out"
  while read -r line <&3; do
    case "$line" in
      *"is running: open http://"*)
        address=${line#*open http://}
        address=${address%%/*}
        break
        ;;
    esac
  done
  if [ -n "$address" ]; then
    ok "the installed binary runs with sense-pulse.service's environment (on $address)"
    check "it serves the installed dashboard (FRONTEND_DIR)" \
      sh -c 'curl -fsS "http://$1/" | grep -q "Sense Pulse test dashboard"' - "$address"
    check "its /health answers" curl -fsS -o /dev/null "http://$address/health"
  else
    fail "the installed binary runs with sense-pulse.service's environment"
    sed 's/^/     | /' "$tmp/smoke.err" | tail -20
  fi
  # systemctl stop: SIGTERM to it alone (KillMode=mixed), SIGKILL after TimeoutStopSec=.
  stop_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$smoke/etc/systemd/system/sense-pulse.service")
  stopping=$(date +%s)
  kill -TERM "$smoke_pid" 2>/dev/null
  wait "$smoke_pid" 2>/dev/null
  status=$?
  took=$(($(date +%s) - stopping))
  smoke_pid=""
  if [ -n "$address" ]; then
    if [ "$status" -eq 0 ] && [ "$took" -le "${stop_timeout:-0}" ]; then
      ok "on SIGTERM it exits 0 within the unit's TimeoutStopSec=${stop_timeout}s (in ${took} s)"
    else
      fail "on SIGTERM it exits 0 within TimeoutStopSec=${stop_timeout}s: status $status after ${took} s"
      sed 's/^/     | /' "$tmp/smoke.err" | tail -20
    fi
  fi
  exec 3<&-
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
else
  skip "the smoke run (no binary at $bin, or no curl): set SENSE_PULSE_BIN"
fi

# --- uninstall -------------------------------------------------------------------------------

# An enabled node instance, as `systemctl enable` leaves it: --uninstall removes its link too.
mkdir -p "$units/dev-ttyACM0.device.wants"
ln -s ../sense-pulse-node@.service "$units/dev-ttyACM0.device.wants/sense-pulse-node@dev-ttyACM0.service"
if DESTDIR=$dest install_sh --uninstall; then
  ok "install.sh --uninstall exits 0"
else
  fail "install.sh --uninstall exits 0"
  show_log
fi
check "--uninstall removes the binary, the dashboard, the docs, all five units, the example" \
  sh -c 'for f in usr/local/bin/sense-pulse usr/local/share/sense-pulse usr/local/share/doc/sense-pulse \
      etc/systemd/system/sense-pulse.service etc/systemd/system/sense-pulse-gateway.service \
      etc/systemd/system/sense-pulse-orchestrator.service etc/systemd/system/sense-pulse-notify.service \
      etc/systemd/system/sense-pulse-node@.service etc/sense-pulse/sense-pulse.env.example; do
      [ ! -e "$1/$f" ] || { echo "left: $f"; exit 1; }; done' - "$dest"
check "--uninstall removes an enabled node instance's link (and its emptied .wants folder)" \
  test ! -e "$units/dev-ttyACM0.device.wants"
check "--uninstall keeps the settings, and says so" \
  sh -c 'cmp -s "$1/etc/sense-pulse/sense-pulse.env" "$2" && grep -q "sense-pulse.env" "$3"' - \
  "$dest" "$tmp/env.edited" "$tmp/install.log"

# --- Traefik ---------------------------------------------------------------------------------

if sh "$root/docker/traefik/test.sh" >"$tmp/traefik.out" 2>&1; then
  ok "docker/traefik/test.sh: Traefik's configuration follows its schema"
else
  fail "docker/traefik/test.sh"
fi
sed 's/^/     | /' "$tmp/traefik.out"

printf 'deploy/test.sh took %d s\n' "$(($(date +%s) - started))"
printf 'deploy: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
