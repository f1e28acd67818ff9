#!/usr/bin/env python3
"""Execution overhead: POST /messages -> execution COMPLETE for the `echo`
sample with a warm worker, next to `docker run --rm` of the same image, in
one run. Prints figures; asserts nothing.

Usage: bench/exec_overhead.py [N]   (the stack must be up: make up)
"""
import os
import statistics
import subprocess
import sys
import time

import requests

API = os.environ.get("ABACO_API", "http://127.0.0.1:8000").rstrip("/")
IMAGE = "abaco/samples-echo"


def ok(r):
    r.raise_for_status()
    return r.json()["result"]


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    s = requests.Session()
    actor = ok(s.post(API + "/actors", json={"image": IMAGE, "name": "bench-overhead"}))
    aid = actor["id"]
    try:
        t0 = time.time()
        while ok(s.get(f"{API}/actors/{aid}"))["status"] != "READY":
            if time.time() - t0 > 30:
                raise SystemExit("actor never became READY")
            time.sleep(0.01)

        def one(msg):
            start = time.perf_counter()
            eid = ok(s.post(f"{API}/actors/{aid}/messages", data={"message": msg}))["execution_id"]
            while True:
                ex = ok(s.get(f"{API}/actors/{aid}/executions/{eid}"))
                if ex["status"] in ("COMPLETE", "ERROR"):
                    return time.perf_counter() - start, ex
                time.sleep(0.002)

        one("warm-up")
        platform = []
        for i in range(n):
            elapsed, ex = one(f"m{i}")
            if ex["status"] != "COMPLETE":
                raise SystemExit(f"execution failed: {ex}")
            platform.append(elapsed * 1000)

        raw = []
        for i in range(n):
            start = time.perf_counter()
            subprocess.run(["docker", "run", "--rm", "-e", f"MSG=m{i}", IMAGE], check=True,
                           stdout=subprocess.DEVNULL)
            raw.append((time.perf_counter() - start) * 1000)
    finally:
        s.delete(f"{API}/actors/{aid}")

    print(f"execution overhead, {n} sequential messages, image {IMAGE}")
    print(f"{'':28}{'median ms':>12}{'p90 ms':>10}{'min ms':>10}")
    for name, v in (("POST -> COMPLETE (abaco-c)", platform), ("docker run --rm", raw)):
        print(f"{name:28}{statistics.median(v):12.1f}{pct(v, 90):10.1f}{min(v):10.1f}")
    print(f"overhead (median difference): {statistics.median(platform) - statistics.median(raw):+.1f} ms")


if __name__ == "__main__":
    main()
