#!/usr/bin/env bash
# make bench: brings the stack up if needed, then runs each benchmark and
# prints its figures. Benchmarks measure; they never pass or fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> bringing the stack up (reuses what is running)"
bash scripts/up.sh
bash scripts/samples.sh >/dev/null

echo
echo "==> execution overhead (bench/exec_overhead.py)"
python3 bench/exec_overhead.py "${BENCH_MESSAGES:-50}"
