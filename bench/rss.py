#!/usr/bin/env python3
"""Resident memory: the median RSS of N idle workers (default 20, one per
actor) and the RSS of each service at rest. Prints figures only."""
import os
import statistics
import subprocess
import sys
import time

import requests

API = os.environ.get("ABACO_API", "http://127.0.0.1:8000").rstrip("/")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    s = requests.Session()
    made = []
    try:
        for i in range(n):
            r = s.post(API + "/actors", json={"image": "abaco/samples-echo", "name": f"rss-{i}"})
            made.append(r.json()["result"]["id"])
        wids = set()
        deadline = time.time() + 60
        while time.time() < deadline:
            wids = set()
            for aid in made:
                for w in s.get(f"{API}/actors/{aid}/workers").json()["result"]:
                    if w["status"] == "READY":
                        wids.add(w["id"])
            if len(wids) >= n:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # let them settle
        rss = []
        for wid in wids:
            out = subprocess.run(["pgrep", "-f", f"bin/worker .*{wid}"], capture_output=True,
                                 text=True).stdout.split()
            rss += [rss_kib(int(p)) for p in out]
        print(f"idle worker RSS over {len(rss)} workers: median {statistics.median(rss) / 1024:.2f} MiB"
              f"  (min {min(rss) / 1024:.2f}, max {max(rss) / 1024:.2f})")
    finally:
        for aid in made:
            s.delete(f"{API}/actors/{aid}")
    print("services at rest:")
    for svc in ("api", "spawner", "clientg", "health", "updater", "launcher"):
        try:
            pid = int(open(os.path.join(REPO, "var", "run", f"{svc}.pid")).read())
            print(f"  {svc:10} {rss_kib(pid) / 1024:6.2f} MiB")
        except (OSError, ValueError):
            print(f"  {svc:10} not running")


if __name__ == "__main__":
    main()
