#!/usr/bin/env python3
"""Clusters that scale themselves (docs/clusters.md): what one evaluation
tick costs, and how soon a held threshold becomes a launch request.

1. Cost: a private api + updater (cloudkit.PrivateCloud, its own tag,
   update_interval 1 s, debug logs) and C clusters x K node counters (each
   cluster one trigger over its K counters, never holding: the samples stay
   below the threshold), each counter holding S samples (written straight
   into Redis through one pipelined connection). The updater's
   "clusters: ..." log line of each tick gives the evaluation's time, split
   into read (Redis), plan (pure) and apply (state writes); the median and
   the worst of the ticks are printed.
2. Reaction: one cluster with a node counter, a trigger of `timing` T
   (minutes) and deploy_node; values above the threshold are reported every
   0.25 s from t0, and the time from t0 to the run's record and to the
   instance record (made right before its launch message is published) is
   printed per trial, and its median. The expected figure is T plus at most
   one update interval.

Run inside the stack's lock after `make up`:
    var/venv/bin/python bench/clusters.py [C K S [TRIALS]]   (default 100 10 20 5)
"""
import os
import re
import socket
import statistics
import sys
import time
import uuid

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "functional"))
import cloudkit as ck  # noqa: E402
from conftest import Client, conf  # noqa: E402

LINE = re.compile(r"clusters: (\d+) clusters, (\d+) counters in (\d+) ms \(read (\d+), plan (\d+), "
                  r"apply (\d+)\); fired (\d+)")
TYPE = "t2.micro"


def resp(*cmd):
    return f"*{len(cmd)}\r\n".encode() + b"".join(
        f"${len(str(a).encode())}\r\n{a}\r\n".encode() for a in cmd)


def pipeline(cmds):
    """Sends RESP commands on one connection and reads the replies' lines."""
    host = conf("store", "redis_host", "127.0.0.1")
    port = int(conf("store", "redis_port", "6379"))
    with socket.create_connection((host, port), timeout=60) as s:
        pw = conf("store", "redis_password", "")
        data = (resp("AUTH", pw) if pw else b"") + b"".join(resp(*c) for c in cmds)
        s.sendall(data)
        want = len(cmds) + (1 if pw else 0)
        got = b""
        while got.count(b"\r\n") < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk


def setup_config(c):
    return c.ok("POST", "/instances/configs", json={
        "name": "bench" + uuid.uuid4().hex[:6], "image_id": ck.DEFAULT_AMI,
        "template": ck.TEMPLATE, "user_data": "", "instance_types": [TYPE]})["name"]


def cost(pc, c, nclusters, ncounters, nsamples):
    cfg = setup_config(c)
    now = int(time.time() * 1000)
    cmds = []
    t0 = time.time()
    for i in range(nclusters):
        cid = c.post("/clusters", json={"name": f"b{i}", "config": cfg, "max_nodes": 5}).json()["result"]["id"]
        ks = []
        for j in range(ncounters):
            k = c.post(f"/clusters/{cid}/counters", json={
                "name": f"k{j}", "threshold": 100, "comparison": ">",
                "source": {"kind": "node"}, "history": nsamples}).json()["result"]["id"]
            ks.append(k)
            key = f"abaco:cluster:{c.tenant}:{cid}:samples:{k}"
            cmds += [("LPUSH", key, f'{{"t":{now - s * 1000},"v":{s % 7}}}')
                     for s in range(nsamples)]
        c.post(f"/clusters/{cid}/triggers", json={"name": "t", "counters": ks, "timing": 1,
                                                 "cooldown": 1, "actions": ["deploy_node"]})
    pipeline(cmds)
    print(f"set up {nclusters} clusters x {ncounters} counters x {nsamples} samples "
          f"in {time.time() - t0:.1f} s")
    ticks = []
    deadline = time.time() + 60
    while len(ticks) < 8 and time.time() < deadline:
        time.sleep(1)
        ticks = [tuple(map(int, m.groups())) for m in LINE.finditer(pc.log("updater", None))
                 if int(m.group(1)) == nclusters]
    if not ticks:
        print("no tick seen:", pc.log("updater"))
        return
    ticks = ticks[1:] or ticks  # the first may have started while setting up
    totals = [t[2] for t in ticks]
    print(f"evaluation per tick, {nclusters} clusters x {ncounters} counters "
          f"({len(ticks)} ticks): median {statistics.median(totals)} ms, worst {max(totals)} ms")
    mid = sorted(ticks, key=lambda t: t[2])[len(ticks) // 2]
    print(f"  a median tick: read {mid[3]} ms, plan {mid[4]} ms, apply {mid[5]} ms "
          f"({mid[1]} counters read)")
    for cid in [x["id"] for x in c.ok("GET", "/clusters")]:
        c.delete(f"/clusters/{cid}")


def reaction(pc, c, trials, timing_min=0.05):
    cfg = setup_config(c)
    runs, launches = [], []
    for _ in range(trials):
        cl = c.post("/clusters", json={"name": "r", "config": cfg, "max_nodes": 5}).json()["result"]
        cid = cl["id"]
        k = c.post(f"/clusters/{cid}/counters", json={
            "name": "load", "threshold": 10, "comparison": ">",
            "source": {"kind": "node"}}).json()["result"]
        c.post(f"/clusters/{cid}/triggers", json={"name": "t", "counters": [k["id"]],
                                                 "timing": timing_min, "cooldown": 60,
                                                 "actions": ["deploy_node"]})
        url = f"{pc.api_url}/clusters/{cid}/counters/{k['id']}/samples"
        hdr = {"X-Counter-Token": k["token"]}
        t0 = time.time()
        run = None
        while time.time() - t0 < timing_min * 60 + 15:
            requests.post(url, json={"value": 50}, headers=hdr, timeout=5)
            got = c.ok("GET", f"/clusters/{cid}")
            if got["runs"] and got["runs"][0]["actions"][0].get("instance_id"):
                run = got["runs"][0]
                break
            time.sleep(0.25)
        if run is None:
            print("no run within the time allowed")
            continue
        inst = c.ok("GET", f"/instances/{run['actions'][0]['instance_id']}")
        t_inst = ck_time(inst["created"])
        runs.append(run["created_ms"] / 1000 - t0)
        launches.append(t_inst - t0)
        c.delete(f"/clusters/{cid}")
    if runs:
        print(f"reaction, timing {timing_min * 60:.0f} s, update interval 1 s ({len(runs)} trials): "
              f"to the run {', '.join(f'{x:.2f}' for x in runs)} s (median "
              f"{statistics.median(runs):.2f}); to the launch request "
              f"{', '.join(f'{x:.2f}' for x in launches)} s (median "
              f"{statistics.median(launches):.2f})")


def ck_time(iso):
    from datetime import datetime
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp()


def main():
    args = [int(a) for a in sys.argv[1:]]
    nclusters, ncounters, nsamples = (args + [100, 10, 20][len(args):])[:3]
    trials = args[3] if len(args) > 3 else 5
    with ck.PrivateCloud(services=("api", "updater"),
                         env={"logs_level": "debug"}) as pc:
        tenant = f"BENCH-{uuid.uuid4().hex[:6].upper()}"
        c = Client(pc.api_url, tenant=tenant)
        c.tenant = tenant
        cost(pc, c, nclusters, ncounters, nsamples)
        reaction(pc, c, trials)


if __name__ == "__main__":
    main()
