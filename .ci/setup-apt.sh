#!/usr/bin/env bash
# Installs the Debian packages listed in .ci/apt-packages (skipping those
# already present); `setup-apt.sh slow` also installs .ci/apt-packages-slow,
# what the slow suites and benchmarks need (`pnpm test:slow`, `pnpm bench`). Lines of the form "backports:NAME" come from
# bookworm-backports (QEMU 10: bookworm's 7.2 corrupts software-emulated
# live migrations here), enabled for the same mirror as the main sources.
set -euo pipefail
cd "$(dirname "$0")/.."
lists=(.ci/apt-packages)
[ "${1:-}" = slow ] && lists+=(.ci/apt-packages-slow)
mapfile -t wanted < <(cat "${lists[@]}" | grep -v '^\s*#' | grep -v '^\s*$' || true)
[ "${#wanted[@]}" -gt 0 ] || exit 0
main=()
backports=()
for entry in "${wanted[@]}"; do
  name="${entry#backports:}"
  if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed"; then
    # A backports package must also be the backports version.
    if [[ "$entry" == backports:* ]] && ! dpkg-query -W -f='${Version}' "$name" | grep -q bpo; then backports+=("$name"); fi
    continue
  fi
  if [[ "$entry" == backports:* ]]; then backports+=("$name"); else main+=("$name"); fi
done
[ "${#main[@]}" -gt 0 ] || [ "${#backports[@]}" -gt 0 ] || exit 0
export DEBIAN_FRONTEND=noninteractive
if [ "${#backports[@]}" -gt 0 ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror="$(grep -rhs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -1 | awk '{print $2}')"
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "deb ${mirror} bookworm-backports main" > /etc/apt/sources.list.d/novacron-backports.list
fi
apt-get update -qq
if [ "${#main[@]}" -gt 0 ]; then apt-get install -y -qq --no-install-recommends "${main[@]}"; fi
if [ "${#backports[@]}" -gt 0 ]; then apt-get install -y -qq --no-install-recommends -t bookworm-backports "${backports[@]}"; fi
