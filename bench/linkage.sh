#!/usr/bin/env bash
# bench/linkage.sh [BUILD_DIR]: the shared libraries each daemon links
# (DT_NEEDED) and loads at start (ldd, transitively), one line per daemon;
# the worker's execution module (worker-ext.so, loaded at its first
# message) on its own line. Figures only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:-build}/bin
[[ -d $BIN ]] || { echo "no $BIN: make build first" >&2; exit 1; }

# loaded FILE: the shared objects ldd lists for FILE (the vdso left out).
loaded() { ldd "$1" | awk '$1 !~ /^linux-vdso/ { print $1 }' | sort -u; }

for d in api spawner worker health clientg updater launcher; do
  [[ -x $BIN/$d ]] || { echo "  $d: not built"; continue; }
  needed=$(readelf -d "$BIN/$d" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }' | tr '\n' ' ')
  printf '  %-9s links %2d, loads %2d at start: %s\n' "$d" \
    "$(wc -w <<<"$needed")" "$(loaded "$BIN/$d" | wc -l)" "$needed"
done
if [[ -f $BIN/worker-ext.so ]]; then
  extra=$(comm -13 <(loaded "$BIN/worker") <(loaded "$BIN/worker-ext.so") | wc -l)
  printf '  %-9s adds %2d more at the worker'"'"'s first message (libcurl, libmongoc, libcrypto...)\n' \
    worker-ext "$extra"
fi
