#!/usr/bin/env python3
"""Cold start: POST /actors -> its first worker READY, median of N (default
10). Polls the worker list every 5 ms. Prints figures; asserts nothing."""
import os
import statistics
import sys
import time

import requests

API = os.environ.get("ABACO_API", "http://127.0.0.1:8000").rstrip("/")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    s = requests.Session()
    times, made = [], []
    try:
        for i in range(n):
            start = time.perf_counter()
            r = s.post(API + "/actors", json={"image": "abaco/samples-echo", "name": f"cold-{i}"})
            r.raise_for_status()
            aid = r.json()["result"]["id"]
            made.append(aid)
            while True:
                ws = s.get(f"{API}/actors/{aid}/workers").json()["result"]
                if any(w["status"] == "READY" for w in ws):
                    break
                if time.perf_counter() - start > 30:
                    raise SystemExit(f"actor {aid}: no READY worker after 30 s")
                time.sleep(0.005)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        for aid in made:
            s.delete(f"{API}/actors/{aid}")
    print(f"cold start (register -> first worker READY), {n} actors")
    print(f"  median {statistics.median(times):.1f} ms   min {min(times):.1f} ms   "
          f"max {max(times):.1f} ms")


if __name__ == "__main__":
    main()
