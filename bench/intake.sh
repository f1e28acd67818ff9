#!/usr/bin/env bash
# Message intake: POST /actors/{id}/messages with wrk at BENCH_INTAKE_CONNS
# connections (default "1 16 64"), BENCH_SECONDS each (default 20). Prints
# one line per figure: requests/s, p50/p99 latency, non-2xx answers, the
# CPU each server process used over the window (% of one core: api,
# RabbitMQ's beam, Redis, FerretDB) and the machine's load average. The
# actor's worker runs the messages slowly in the background; the figures
# are the API's intake.
#
# BENCH_BASE_API=/path/to/api (another build's api binary, e.g. main's):
# the same figures are taken first with that api, then with this build's,
# against the same servers in the same run (the api is swapped in place;
# this build's api is running again at the end).
#
# BENCH_PERF=1: this build's api is profiled (perf record, DWARF call
# graphs) during its last round; the report's top entries are printed and
# the data is kept in var/bench/intake.perf.data (perf report -i ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
API=${ABACO_API:-http://127.0.0.1:8000}
SECS=${BENCH_SECONDS:-20}
CONNS=${BENCH_INTAKE_CONNS:-1 16 64}
command -v wrk >/dev/null || { echo "wrk is not installed (make deps)"; exit 1; }

# cpu_ticks PID: user + system clock ticks of PID so far (0 when gone).
cpu_ticks() {
  local f
  f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  f=${f##*) }
  # shellcheck disable=SC2086
  set -- $f
  echo $((${12} + ${13}))
}

# busy_ticks: clock ticks all cores spent busy so far (user, nice, system,
# irq, softirq; not steal, time a virtual machine's host gave elsewhere).
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }

# comm_ticks: "command ticks" per process name, summed over its processes.
comm_ticks() {
  local d f comm
  declare -A sum=()
  for d in /proc/[0-9]*; do
    f=$(cat "$d/stat" 2>/dev/null) || continue
    comm=${f#*(} comm=${comm%%)*} comm=${comm// /_}
    f=${f##*) }
    # shellcheck disable=SC2086
    set -- $f
    sum[$comm]=$((${sum[$comm]:-0} + ${12} + ${13}))
  done
  for comm in "${!sum[@]}"; do echo "$comm ${sum[$comm]}"; done
}

api_pid() { head -n1 "$RUN_DIR/api.pid" 2>/dev/null || true; }
first_pid() { pids_by_comm "$1" | head -n1; }

# start_api BIN: replace the running api with BIN (same config and log).
start_api() {
  local pid
  pid=$(api_pid)
  if [[ -n $pid ]] && pid_alive "$pid"; then stop_pids 10 "$pid"; fi
  start_bg api "$LOG_DIR/api.log" "$1" -c "${ABACO_CONF:-abaco.conf}"
  local deadline=$(($(now_ms) + 30000))
  until curl -s -o /dev/null "$API/actors"; do
    (($(now_ms) < deadline)) || { echo "api $1 did not come up"; exit 1; }
    sleep 0.2
  done
}

# wait_indexes: this build's api builds its executions' indexes from the
# collection on its first tick when their marks are missing (as after an
# api of an earlier build, which drops them at start); a round measured
# meanwhile shares FerretDB with that scan. Waits for both marks (600 s).
wait_indexes() {
  load_stack_config
  local host k deadline=$(($(now_ms) + 600000))
  host=$(connect_host "$REDIS_HOST")
  for k in abaco:executions:by_time:built abaco:executions:index:built; do
    until [[ $(redis-cli -h "$host" -p "$REDIS_PORT" EXISTS "$k" 2>/dev/null) == 1 ]]; do
      if (($(now_ms) >= deadline)); then
        echo "  (the api's executions' indexes not built within 600 s: measuring anyway)"
        return 0
      fi
      sleep 0.5
    done
  done
}

# run_rounds LABEL: one line per connection count.
run_rounds() {
  local label=$1 c threads out ticks0 ticks1 n others snap
  snap=$(mktemp)
  local actor_id
  actor_id=$(curl -s -X POST "$API/actors" -H 'Content-Type: application/json' \
    -d '{"image": "abaco/samples-echo", "name": "bench-intake"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
  export ACTOR_ID=$actor_id
  local -A pids=([api]=$(api_pid) [beam]=$(first_pid beam.smp) [redis]=$(first_pid redis-server)
    [ferretdb]=$(first_pid ferretdb))
  for c in $CONNS; do
    threads=$((c < 2 ? 1 : 2))
    ticks0="$(busy_ticks) "
    for n in api beam redis ferretdb; do ticks0+="$(cpu_ticks "${pids[$n]:-0}") "; done
    comm_ticks >"$snap"
    local perf_pid=""
    if [[ -n ${BENCH_PERF:-} && $label != before && $c == "${CONNS##* }" ]]; then
      command -v perf >/dev/null || { echo "perf is not installed (make deps)"; exit 1; }
      mkdir -p "$VAR_DIR/bench"
      perf record -q --call-graph dwarf,16384 -F 199 -o "$VAR_DIR/bench/intake.perf.data" \
        -p "${pids[api]}" -- sleep $((SECS > 4 ? SECS - 2 : SECS)) >/dev/null 2>&1 &
      perf_pid=$!
    fi
    out=$(wrk -t"$threads" -c"$c" -d"${SECS}s" --latency -s bench/post_message.lua "$API")
    if [[ -n $perf_pid ]]; then
      wait "$perf_pid" || echo "perf record failed"
    fi
    ticks1="$(busy_ticks) "
    for n in api beam redis ferretdb; do ticks1+="$(cpu_ticks "${pids[$n]:-0}") "; done
    others=$(comm_ticks | python3 -c '
import sys
before = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]).read().splitlines() if l)
after = dict(l.rsplit(" ", 1) for l in sys.stdin.read().splitlines() if l)
d = sorted(((int(v) - int(before.get(k, 0)), k) for k, v in after.items()), reverse=True)
print(" ".join(f"{k}={t}" for t, k in d[:6] if t > 0))' "$snap")
    python3 - "$label" "$c" "$SECS" "$(getconf CLK_TCK)" "$ticks0" "$ticks1" \
      "$(cut -d' ' -f1-3 /proc/loadavg)" "$others" "$out" <<'PY'
import re, sys
label, c, secs, hz, t0, t1, load, others, out = sys.argv[1:]
def ms(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
errs = re.search(r"Socket errors:.*", out)
cpu = [100.0 * (int(b) - int(a)) / int(hz) / float(secs) for a, b in zip(t0.split(), t1.split())]
busy, cpu = cpu[0], cpu[1:]
names = ["api", "beam", "redis", "ferretdb"]
split = " ".join(f"{n}={v:.0f}%" for n, v in zip(names, cpu))
per_msg = sum(cpu) * 10.0 / rps if rps else float("nan")  # core-ms per message
top = " ".join(f"{k}={100.0 * int(t) / int(hz) / float(secs):.0f}%"
               for k, t in (x.rsplit("=", 1) for x in others.split()))
print(f"intake {label:<6} c={c:<3} {rps:7.0f} POST/s  p50 {ms('50'):6.2f} ms  p99 {ms('99'):6.2f} ms  "
      f"non-2xx {non2xx.group(1) if non2xx else '0'}  cpu {split} ({per_msg:.2f} core-ms/msg)  "
      f"load {load}" + (f"  ({errs.group(0)})" if errs else ""))
print(f"  machine busy {busy:.0f}% (of {100 * __import__('os').cpu_count()}%); busiest: {top}")
PY
  done
  rm -f "$snap"
  if [[ -n ${BENCH_PERF:-} && $label != before && -s $VAR_DIR/bench/intake.perf.data ]]; then
    echo "  api profile (self time, top 25): perf report -i $VAR_DIR/bench/intake.perf.data"
    perf report -i "$VAR_DIR/bench/intake.perf.data" --no-children -g none --sort dso,symbol \
      --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 25 || true
  fi
  curl -s -X DELETE "$API/actors/$actor_id" >/dev/null || true
}

if [[ -n ${BENCH_BASE_API:-} ]]; then
  [[ -x $BENCH_BASE_API ]] || { echo "BENCH_BASE_API=$BENCH_BASE_API is not an executable"; exit 1; }
  start_api "$BENCH_BASE_API"
  run_rounds before
  start_api "$BUILD_DIR/bin/api"
  wait_indexes
  run_rounds after
else
  run_rounds ""
fi
