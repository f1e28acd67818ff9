#!/usr/bin/env python3
"""The OCI runtime path against the Docker engine's, in one run
(docs/oci.md): two api + spawner pairs of the running stack, one with
[workers] runtime = docker and one with runtime = oci (tests/functional
private_stack.py: a queue and host id of their own, shared stores, broker
and engine), each measured with the `echo` sample:

  1. POST /messages -> execution COMPLETE, N sequential messages, one warm
     worker (median, p90, min)
  2. executions per second with 8 workers: M messages posted at once,
     from the first POST to the last COMPLETE

Prints one summary line per figure; asserts nothing.

Usage: bench/oci_vs_docker.py [N] [M]   (the stack must be up: make up;
runtime = oci needs root, runc and ip: scripts/deps.sh)
"""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "functional"))

from private_stack import PrivateStack  # noqa: E402

IMAGE = "abaco/samples-echo"
WORKERS = 8


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def wait_ready(c, aid, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ws = [w for w in c.ok("GET", f"/actors/{aid}/workers") if w["status"] == "READY"]
        if len(ws) >= n:
            return
        time.sleep(0.05)
    raise SystemExit(f"actor {aid}: {n} READY workers never came")


def status(c, aid, eid):
    return c.ok("GET", f"/actors/{aid}/executions/{eid}")


def latency(stack, n):
    c = stack.client
    aid = stack.register(IMAGE)["id"]
    wait_ready(c, aid, 1)

    def one(msg):
        start = time.perf_counter()
        eid = c.send(aid, msg)["execution_id"]
        while True:
            ex = status(c, aid, eid)
            if ex["status"] in ("COMPLETE", "ERROR"):
                if ex["status"] != "COMPLETE":
                    raise SystemExit(f"execution failed: {ex}")
                return (time.perf_counter() - start) * 1000
            time.sleep(0.002)

    one("warm-up")  # the OCI path unpacks the image on its first execution
    out = [one(f"m{i}") for i in range(n)]
    c.delete(f"/actors/{aid}")
    return out


def throughput(stack, m):
    c = stack.client
    aid = stack.register(IMAGE)["id"]
    c.ok("POST", f"/actors/{aid}/workers", json={"num": WORKERS})  # at least WORKERS
    wait_ready(c, aid, WORKERS)
    # warm: one execution per worker's image cache
    first = c.send(aid, "warm")["execution_id"]
    while status(c, aid, first)["status"] not in ("COMPLETE", "ERROR"):
        time.sleep(0.01)
    t0 = time.perf_counter()
    eids = [c.send(aid, f"t{i}")["execution_id"] for i in range(m)]
    failed = 0
    for eid in eids:
        while True:
            st = status(c, aid, eid)["status"]
            if st in ("COMPLETE", "ERROR"):
                failed += st == "ERROR"
                break
            time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    c.delete(f"/actors/{aid}")
    return m / elapsed, elapsed, failed


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 160
    lat, rate = {}, {}
    for runtime in ("docker", "oci"):
        stack = PrivateStack(f"bench{runtime}", env=dict(
            workers_runtime=runtime, workers_autoscale_idle_grace="600",
            spawner_max_workers_per_actor=str(WORKERS)))
        try:
            lat[runtime] = latency(stack, n)
            rate[runtime] = throughput(stack, m)
        finally:
            stack.close()
    print(f"runtime docker vs oci, image {IMAGE}, {n} sequential messages, "
          f"{m} messages on {WORKERS} workers")
    print(f"{'':34}{'median ms':>10}{'p90 ms':>9}{'min ms':>9}")
    for runtime in ("docker", "oci"):
        v = lat[runtime]
        print(f"{'POST -> COMPLETE, ' + runtime:34}{statistics.median(v):10.1f}"
              f"{pct(v, 90):9.1f}{min(v):9.1f}")
    d, o = statistics.median(lat["docker"]), statistics.median(lat["oci"])
    print(f"summary: POST->COMPLETE median docker {d:.1f} ms, oci {o:.1f} ms "
          f"({o / d:.2f}x; target oci <= 60 ms)")
    for runtime in ("docker", "oci"):
        r, el, failed = rate[runtime]
        print(f"executions/s with {WORKERS} workers, {runtime}: {r:.1f}/s "
              f"({m} in {el:.1f} s, {failed} ERROR)")
    print(f"summary: executions/s with {WORKERS} workers docker {rate['docker'][0]:.1f}, "
          f"oci {rate['oci'][0]:.1f} ({rate['oci'][0] / rate['docker'][0]:.1f}x; "
          f"target oci >= 5x)")


if __name__ == "__main__":
    main()
