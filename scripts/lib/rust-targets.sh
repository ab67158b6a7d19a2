# shellcheck shell=bash
# Sourced by the build scripts: `need_targets TRIPLE...` adds with rustup the Rust targets that are
# not installed yet (one rustup listing for all of them).
need_targets() {
  local installed target
  installed=$(rustup target list --installed)
  for target in "$@"; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
  done
}
