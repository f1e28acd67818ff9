#!/usr/bin/env bash
# Message intake: POST /actors/{id}/messages with wrk at 1, 16 and 64
# connections (BENCH_SECONDS each, default 20). Prints requests/s and
# p50/p99 latency side by side. The actor's worker runs the messages
# slowly in the background; the figures are the API's intake.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
API=${ABACO_API:-http://127.0.0.1:8000}
SECS=${BENCH_SECONDS:-20}
command -v wrk >/dev/null || { echo "wrk is not installed (make deps)"; exit 1; }

ACTOR_ID=$(curl -s -X POST "$API/actors" -H 'Content-Type: application/json' \
  -d '{"image": "abaco/samples-echo", "name": "bench-intake"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
export ACTOR_ID
trap 'curl -s -X DELETE "$API/actors/$ACTOR_ID" >/dev/null' EXIT

printf '%-12s %12s %10s %10s %10s\n' connections "requests/s" "p50 ms" "p99 ms" "errors"
for c in 1 16 64; do
  threads=$((c < 2 ? 1 : 2))
  out=$(wrk -t"$threads" -c"$c" -d"${SECS}s" --latency -s bench/post_message.lua "$API")
  python3 - "$c" "$out" <<'PY'
import re, sys
c, out = sys.argv[1], sys.argv[2]
def ms(label):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
errs = re.search(r"Socket errors:.*", out)
print(f"{c:<12} {rps:12.0f} {ms('50'):10.2f} {ms('99'):10.2f} "
      f"{(non2xx.group(1) if non2xx else '0'):>10}" + (f"  ({errs.group(0)})" if errs else ""))
PY
done
