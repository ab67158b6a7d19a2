#!/usr/bin/env bash
# The Raspberry Pi Pico firmware (node/pico, outside the workspace) built for thumbv6m-none-eabi
# with its own lock file, and the ELF's size: flash (everything loaded from it: BOOT2, vector
# table, code, read-only data, the .data initialisers) and static RAM (.data, .bss, .uninit; the
# stack takes the rest of the 256 KiB). Fails if the build does.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/rust-targets.sh
source scripts/lib/rust-targets.sh

target=thumbv6m-none-eabi
need_targets "$target"

# From the crate's directory: cargo reads .cargo/config.toml (the target and the linker scripts)
# from the current directory up, never from --manifest-path's.
(cd node/pico && cargo build --quiet --release --locked)
elf=node/pico/target/$target/release/sense-node-pico
[ -f "$elf" ] || { echo "firmware.sh: $elf not built" >&2; exit 1; }

# From the program headers: every LOAD segment's file bytes are in flash; the ones whose
# virtual address is in SRAM (0x2000_0000 and up) take their memory size in RAM.
flash=0 ram=0
while read -r _ _ vaddr _ filesz memsz _; do
  flash=$((flash + filesz))
  ((vaddr >= 0x20000000)) && ram=$((ram + memsz))
done < <(readelf -lW "$elf" | awk '$1 == "LOAD"')
((flash > 0)) || { echo "firmware.sh: no LOAD segment in $elf" >&2; exit 1; }
kib() { local t=$(((($1 * 10) + 512) / 1024)); printf '%d.%d' $((t / 10)) $((t % 10)); }  # tenths, rounded
echo "firmware: sense-node-pico flash $(kib $flash) KiB, RAM $(kib $ram) KiB"
