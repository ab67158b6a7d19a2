#!/bin/sh
# Installs Sense Pulse on a machine without Docker, to run under systemd (README.md, "Without
# Docker (systemd)"). POSIX sh; safe to run again (an upgrade is the same command).
#
#   sudo deploy/install.sh [--two-units | --satellite] [--frontend DIR] [BINARY]
#   sudo deploy/install.sh --uninstall
#   DESTDIR=/tmp/stage deploy/install.sh ...      # stage the files only (no root needed)
#
# BINARY defaults to target/release/sense-pulse; the dashboard's files to frontend/build (both
# relative to the repository holding this script). Installs, under PREFIX (default /usr/local):
#   bin/sense-pulse, share/sense-pulse/frontend/, share/doc/sense-pulse/README.md
# and, outside it:
#   /etc/systemd/system/sense-pulse.service        (or, with --two-units,
#                                                    sense-pulse-gateway.service,
#                                                    sense-pulse-orchestrator.service and
#                                                    sense-pulse-notify.service)
#                                                   (or, with --satellite, a Pi that writes to a
#                                                    hub's Redis: sense-pulse-orchestrator.service
#                                                    alone; set NODE_NAME and REDIS_URL in the env
#                                                    file, as `sense-pulse node add` prints them)
#   /etc/systemd/system/sense-pulse-node@.service  (always: a microcontroller node's template,
#                                                    inert until an instance is enabled)
#   /etc/sense-pulse/sense-pulse.env.example       (refreshed every time)
#   /etc/sense-pulse/sense-pulse.env               (written once, never overwritten)
# creates the `sense-pulse` system user, adds it to the device groups the machine has (i2c,
# video, input, bluetooth, dialout), and runs `systemctl daemon-reload`. With DESTDIR set those last steps
# need root and a running system, so they are skipped, and said so.
#
# Environment: DESTDIR (staging root, default none), PREFIX (default /usr/local), SYSCONFDIR
# (default /etc), UNITDIR (default /etc/systemd/system). The units' paths follow PREFIX and
# SYSCONFDIR.
set -eu

usage() {
  sed -n '2,/^set -eu$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

say() {
  printf '%s\n' "$*"
}

# --- arguments -------------------------------------------------------------------------------

two_units=false
satellite=false
uninstall=false
binary=""
frontend=""
while [ $# -gt 0 ]; do
  case "$1" in
    --two-units) two_units=true ;;
    --satellite) satellite=true ;;
    --uninstall) uninstall=true ;;
    --frontend)
      [ $# -ge 2 ] || die "--frontend needs a folder (the dashboard's build, with index.html)"
      frontend=$2
      shift
      ;;
    --frontend=*) frontend=${1#--frontend=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [ -z "$binary" ] || die "one binary only: $binary, then $1"
      binary=$1
      ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}

for dir in "$PREFIX" "$SYSCONFDIR" "$UNITDIR"; do
  case "$dir" in
    /*) ;;
    *) die "PREFIX, SYSCONFDIR and UNITDIR must be absolute paths, not '$dir'" ;;
  esac
  # They are written into the units with sed.
  case "$dir" in
    *[!A-Za-z0-9/._+-]*) die "'$dir' has characters this script does not put into a unit: use letters, digits and / . _ + -" ;;
  esac
done
case "$DESTDIR" in
  "" | /*) ;;
  *) DESTDIR=$(pwd)/$DESTDIR ;;
esac
# No trailing slash: paths are "$DESTDIR$PREFIX/...".
DESTDIR=${DESTDIR%/}

bindir=$PREFIX/bin
datadir=$PREFIX/share/sense-pulse
docdir=$PREFIX/share/doc/sense-pulse
confdir=$SYSCONFDIR/sense-pulse
user=sense-pulse
# The device groups of a Raspberry Pi OS: the Sense HAT's I2C bus, its LED framebuffer, its
# joystick; BlueZ's D-Bus policy for the Aranet4s; the USB serial ports of microcontroller nodes
# (/dev/ttyACM*, /dev/ttyUSB*).
groups="i2c video input bluetooth dialout"
# Installed whatever the variant: nothing runs until an instance is enabled.
node_unit="sense-pulse-node@.service"
# The two-unit variant (three units since the notifier: alerts and the MQTT bridge).
split_units="sense-pulse-gateway.service sense-pulse-orchestrator.service sense-pulse-notify.service"
all_units="sense-pulse.service $split_units $node_unit"
if $satellite; then
  # The hub has the dashboard and the notifier: a satellite runs its sources alone.
  $two_units && die "--satellite and --two-units: choose one"
  units="sense-pulse-orchestrator.service"
  other_units="sense-pulse.service sense-pulse-gateway.service sense-pulse-notify.service"
elif $two_units; then
  units=$split_units
  other_units="sense-pulse.service"
else
  units="sense-pulse.service"
  other_units=$split_units
fi

# Root-only steps (the user, systemctl) run on a real install only.
staged=false
[ -z "$DESTDIR" ] || staged=true
if ! $staged && [ "$(id -u)" -ne 0 ]; then
  die "installing into / needs root: run it with sudo (or set DESTDIR to stage the files)"
fi
systemd_running=false
if ! $staged && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemd_running=true
fi

# Replaces $2 with $1's content, atomically (a running sense-pulse keeps its old file), mode $3.
put() {
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2.new.$$"
  chmod "$3" "$2.new.$$"
  mv -f "$2.new.$$" "$2"
}

# A unit from deploy/systemd with the paths of this install.
put_unit() {
  mkdir -p "$DESTDIR$UNITDIR"
  sed -e "s|/usr/local/bin/|$bindir/|g" \
    -e "s|/usr/local/share/|$PREFIX/share/|g" \
    -e "s|/etc/sense-pulse/|$confdir/|g" \
    "$root/deploy/systemd/$1" >"$DESTDIR$UNITDIR/$1.new.$$"
  chmod 0644 "$DESTDIR$UNITDIR/$1.new.$$"
  mv -f "$DESTDIR$UNITDIR/$1.new.$$" "$DESTDIR$UNITDIR/$1"
  say "  unit      $DESTDIR$UNITDIR/$1"
}

# The enabled instances of the node template: their links in the devices' .wants folders
# (`systemctl enable sense-pulse-node@dev-ttyACM0.service` makes
# dev-ttyACM0.device.wants/sense-pulse-node@dev-ttyACM0.service), one a line.
node_links() {
  [ -d "$DESTDIR$UNITDIR" ] || return 0
  find "$DESTDIR$UNITDIR" -path "*.wants/sense-pulse-node@*.service" -type l
}

# --- uninstall -------------------------------------------------------------------------------

if $uninstall; then
  # The node instances first: disabled (and stopped), their links gone, before their template.
  node_links | while IFS= read -r link; do
    instance=${link##*/}
    if $systemd_running; then
      systemctl disable --now "$instance" || say "  (could not stop $instance: see systemctl status '$instance')"
    fi
    rm -f "$link"
    # The device's .wants folder, if that was its only link.
    rmdir "${link%/*}" 2>/dev/null || true
  done
  if $systemd_running; then
    # Instances started by hand, never enabled.
    systemctl stop 'sense-pulse-node@*.service' || true
    for unit in $all_units; do
      # The template itself is not a unit that runs (its instances are done above).
      if [ "$unit" != "$node_unit" ] && [ -e "$UNITDIR/$unit" ]; then
        systemctl disable --now "$unit" || say "  (could not stop $unit: see systemctl status $unit)"
      fi
    done
  fi
  for unit in $all_units; do
    rm -f "$DESTDIR$UNITDIR/$unit"
  done
  rm -f "$DESTDIR$bindir/sense-pulse" "$DESTDIR$confdir/sense-pulse.env.example"
  rm -rf "$DESTDIR$datadir" "$DESTDIR$docdir"
  if $systemd_running; then
    systemctl daemon-reload
  fi
  say "Removed Sense Pulse's binary, dashboard files, units and example env file."
  say "Kept, for a later install (remove them by hand to forget everything):"
  [ ! -e "$DESTDIR$confdir/sense-pulse.env" ] ||
    say "  $DESTDIR$confdir/sense-pulse.env         (your settings: rm -r $confdir)"
  if ! $staged; then
    say "  /var/lib/sense-pulse                       (the last valid settings: rm -r /var/lib/sense-pulse)"
    if getent passwd "$user" >/dev/null 2>&1; then
      say "  the $user user                       (userdel $user)"
    fi
    say "  the readings and settings in Redis (REDIS_URL)"
  fi
  exit 0
fi

# --- install ---------------------------------------------------------------------------------

[ -n "$binary" ] || binary=$root/target/release/sense-pulse
[ -n "$frontend" ] || frontend=$root/frontend/build
[ -f "$binary" ] ||
  die "no binary at $binary: build it (cargo build --release -p sense-pulse) or give its path"
[ -f "$frontend/index.html" ] ||
  die "no dashboard at $frontend (no index.html): build it (cd frontend && npm ci && npm run build) or give --frontend DIR"

say "Installing Sense Pulse${DESTDIR:+ into $DESTDIR}"

put "$binary" "$DESTDIR$bindir/sense-pulse" 0755
say "  binary    $DESTDIR$bindir/sense-pulse"

# The dashboard: copied beside the old one, then swapped in, so no file of an older build stays.
mkdir -p "$DESTDIR$datadir"
rm -rf "$DESTDIR$datadir/frontend.new" "$DESTDIR$datadir/frontend.old"
mkdir "$DESTDIR$datadir/frontend.new"
cp -R "$frontend/." "$DESTDIR$datadir/frontend.new/"
chmod -R u=rwX,go=rX "$DESTDIR$datadir/frontend.new"
if [ -e "$DESTDIR$datadir/frontend" ]; then
  mv "$DESTDIR$datadir/frontend" "$DESTDIR$datadir/frontend.old"
fi
mv "$DESTDIR$datadir/frontend.new" "$DESTDIR$datadir/frontend"
rm -rf "$DESTDIR$datadir/frontend.old"
say "  dashboard $DESTDIR$datadir/frontend"

put "$root/README.md" "$DESTDIR$docdir/README.md" 0644
say "  docs      $DESTDIR$docdir/README.md"

for unit in $units $node_unit; do
  put_unit "$unit"
done

mkdir -p "$DESTDIR$confdir"
put "$root/deploy/sense-pulse.env.example" "$DESTDIR$confdir/sense-pulse.env.example" 0644
say "  example   $DESTDIR$confdir/sense-pulse.env.example"
if [ -e "$DESTDIR$confdir/sense-pulse.env" ]; then
  say "  settings  $DESTDIR$confdir/sense-pulse.env (kept as it is)"
else
  # Root's alone: it may hold passwords, and systemd reads it as root.
  put "$root/deploy/sense-pulse.env.example" "$DESTDIR$confdir/sense-pulse.env" 0600
  say "  settings  $DESTDIR$confdir/sense-pulse.env (new, from the example)"
fi

joined=""
missing=""
if $staged; then
  say "Skipped (DESTDIR set: these need root on the target machine, where install.sh does them):"
  say "  creating the $user system user and adding it to the groups $groups"
  say "  systemctl daemon-reload"
elif getent passwd "$user" >/dev/null 2>&1; then
  say "  user      $user (exists)"
else
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  [ -x "$nologin" ] || nologin=/bin/false
  useradd --system --user-group --home-dir /var/lib/sense-pulse --no-create-home \
    --shell "$nologin" --comment "Sense Pulse" "$user"
  say "  user      $user (created)"
fi
if ! $staged; then
  for group in $groups; do
    if getent group "$group" >/dev/null 2>&1; then
      usermod -a -G "$group" "$user"
      joined="$joined $group"
    else
      missing="$missing $group"
    fi
  done
  say "  groups    ${joined# }${missing:+ (not on this machine:$missing)}"
  if $systemd_running; then
    systemctl daemon-reload
    say "  systemctl daemon-reload"
  else
    say "  (systemd is not running here: no daemon-reload)"
  fi
fi

say ""
if $staged; then
  say "Next, on the target machine, once the files are there:"
else
  say "Next:"
fi
if $satellite; then
  say "  sense-pulse node add <name> --apply             # on the hub: prints NODE_NAME and REDIS_URL"
  say "  sudoedit $confdir/sense-pulse.env         # here: those two lines, TZ, ..."
else
  say "  sudoedit $confdir/sense-pulse.env         # REDIS_URL, GATEWAY_LISTEN, TZ, ..."
  $staged || command -v redis-server >/dev/null 2>&1 ||
    say "  sudo apt install redis-server                   # the data bus (REDIS_URL)"
fi
for group in $missing; do
  case "$group" in
    i2c) say "  sudo raspi-config nonint do_i2c 0              # the Sense HAT's I2C bus; then run this script again" ;;
    bluetooth) say "  sudo apt install bluez                         # the Aranet4s; then run this script again" ;;
    dialout) say "  (no dialout group: for a node, add $user to the group owning /dev/ttyACM*: ls -l /dev/ttyACM0)" ;;
  esac
done
if $systemd_running; then
  for unit in $other_units; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
      say "  sudo systemctl disable --now $unit  # the other variant (they conflict)"
    fi
  done
fi
say "  sudo systemctl enable --now $units"
say "  journalctl -u ${units%% *} -f"
say "A microcontroller node (optional): plug it in, then enable its unit, named after its port:"
say "  sudo systemctl enable --now \"sense-pulse-node@\$(systemd-escape --path /dev/serial/by-id/usb-…)\""
# The ports plugged in now, ready to paste (single quotes: the names hold backslashes).
if $systemd_running && [ -d /dev/serial/by-id ]; then
  for port in /dev/serial/by-id/*; do
    [ -e "$port" ] || continue
    say "  sudo systemctl enable --now '$(systemd-escape --path --template="$node_unit" "$port")'"
  done
fi
restart=""
if $systemd_running; then
  for unit in $units; do
    if systemctl is-active --quiet "$unit"; then
      restart="$restart $unit"
    fi
  done
  # The node instances running (quoted: an escaped by-id name holds backslashes).
  for unit in $(systemctl list-units --plain --no-legend --state=active 'sense-pulse-node@*' |
    sed 's/ .*//'); do
    restart="$restart '$unit'"
  done
fi
if [ -n "$restart" ]; then
  say "Running now with the old binary (an upgrade): sudo systemctl restart$restart"
fi
