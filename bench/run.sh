#!/usr/bin/env bash
# make bench: brings the stack up if needed, then runs each benchmark and
# prints its figures. Benchmarks measure; they never pass or fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Step 8 keeps BENCH_IDLE_WORKERS (default 500) workers idle at once: a stack
# started here lets the spawner run that many and the autoscaler leave idle
# workers alone for 10 minutes (a stack already running keeps its own
# settings: step 8 then reports how many came up).
IDLE_WORKERS=${BENCH_IDLE_WORKERS:-500}
export spawner_max_workers_per_host=${spawner_max_workers_per_host:-$((IDLE_WORKERS + 20))}
export workers_autoscale_idle_grace=${workers_autoscale_idle_grace:-600}

echo "==> bringing the stack up (reuses what is running)"
bash scripts/up.sh
# The servers' ports for the benchmarks (bench/rss.py counts connections).
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export_test_env

echo
# BENCH_BASE_API=/path/to/another/build/bin/api: step 1 also measures that
# api (e.g. main's) against the same servers, before this build's.
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
echo "==> 5. memory: 20 idle workers, USS/PSS, and the services at rest (bench/rss.py)"
python3 bench/rss.py 20
echo
echo "==> 6. cloud: launch -> instance recorded (bench/cloud_launch.py, against moto)"
var/venv/bin/python bench/cloud_launch.py 10
echo
echo "==> 7. cloud: one reconciler pass over N tagged instances (bench/reconcile.py)"
var/venv/bin/python bench/reconcile.py ${BENCH_RECONCILE:-100 1000}
echo
echo "==> 8. memory: $IDLE_WORKERS idle workers at once, host totals (bench/rss.py)"
python3 bench/rss.py "$IDLE_WORKERS" --per-actor 5 --label "$IDLE_WORKERS workers:"
echo
echo "==> 9. shared libraries per daemon (bench/linkage.sh)"
bash bench/linkage.sh
echo "==> 10. clusters: evaluation per tick, 100 clusters x 10 counters; reaction time (bench/clusters.py)"
var/venv/bin/python bench/clusters.py 100 10 20 5
echo
echo "==> 11. cost with what is stored: ticks, requests, executions (bench/store_scale.py)"
# BENCH_BASE_API: another build's api binary (e.g. main's) measured beside
# this tree's in the same run; BENCH_EXECS: executions stored (default
# "10000 100000"); registers up to the largest N actors on the stack.
var/venv/bin/python bench/store_scale.py ${BENCH_ACTORS:-100 1000 10000}
echo
echo "==> 12. runtime docker vs oci: POST -> COMPLETE and executions/s with 8 workers (bench/oci_vs_docker.py)"
python3 bench/oci_vs_docker.py ${BENCH_OCI:-30 160}
