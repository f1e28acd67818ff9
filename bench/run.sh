#!/usr/bin/env bash
# make bench: brings the stack up if needed, then runs each benchmark and
# prints its figures. Benchmarks measure; they never pass or fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> bringing the stack up (reuses what is running)"
bash scripts/up.sh

echo
echo "==> 1. message intake (bench/intake.sh, wrk)"
bash bench/intake.sh
echo
echo "==> 2. execution overhead (bench/exec_overhead.py)"
python3 bench/exec_overhead.py "${BENCH_MESSAGES:-50}"
echo
echo "==> 3. cold start (bench/cold_start.py)"
python3 bench/cold_start.py 10
echo
echo "==> 4. cold start with a worker access token (bench/token_start.py)"
python3 bench/token_start.py 10
echo
echo "==> 5. memory (bench/rss.py)"
python3 bench/rss.py 20
echo
echo "==> 6. cloud: launch -> instance recorded (bench/cloud_launch.py, against moto)"
var/venv/bin/python bench/cloud_launch.py 10
echo
echo "==> 7. cloud: one reconciler pass over N tagged instances (bench/reconcile.py)"
var/venv/bin/python bench/reconcile.py ${BENCH_RECONCILE:-100 1000}
echo
echo "==> 8. runtime docker vs oci: POST -> COMPLETE and executions/s with 8 workers (bench/oci_vs_docker.py)"
python3 bench/oci_vs_docker.py ${BENCH_OCI:-30 160}
