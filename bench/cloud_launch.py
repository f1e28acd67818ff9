#!/usr/bin/env python3
"""Launch -> instance recorded, against the stack's moto server: N launches
through the api (POST /instances of a configuration with cloudkit's
MLiy-like template, one at a time), timing each until the record has its
ec2_instance_id and until it is `running`; prints min / median / max and
terminates what it launched. Run after `make up`:
    var/venv/bin/python bench/cloud_launch.py [N]
The first poll of a stack comes [cloud] poll_initial_ms after CreateStack
(abaco.conf: 100 ms; moto makes stacks synchronously), so that setting
sets the floor of the figure."""
import json
import os
import statistics
import sys
import time
import uuid

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "functional"))
from cloudkit import DEFAULT_AMI, TEMPLATE, conf  # noqa: E402

API = os.environ.get("ABACO_API", "http://127.0.0.1:" + conf("web", "port", "8000"))


def ok(r, code):
    if r.status_code != code:
        raise SystemExit(f"{r.request.method} {r.url}: {r.status_code} {r.text[:300]}")
    return r.json()["result"]


def main(n):
    s = requests.Session()
    name = "bench-" + uuid.uuid4().hex[:8]
    ok(s.post(f"{API}/instances/configs", json={
        "name": name, "image_id": DEFAULT_AMI, "template": TEMPLATE,
        "user_data": "#!/bin/sh\necho {{{instance_name}}}\n", "instance_types": ["t2.micro"]}),
        200)
    to_id, to_running, ids = [], [], []
    try:
        for _ in range(n):
            t0 = time.monotonic()
            rec = ok(s.post(f"{API}/instances", json={"config": name, "instance_type": "t2.micro"}),
                     201)[0]
            ids.append(rec["id"])
            got_id = None
            while time.monotonic() - t0 < 60:
                cur = ok(s.get(f"{API}/instances/{rec['id']}"), 200)
                if got_id is None and cur["ec2_instance_id"]:
                    got_id = time.monotonic() - t0
                if cur["state"] in ("running", "failed"):
                    break
                time.sleep(0.005)
            if cur["state"] != "running":
                raise SystemExit(f"instance {rec['id']} is {cur['state']}: {cur.get('error')}")
            to_id.append(got_id * 1000)
            to_running.append((time.monotonic() - t0) * 1000)
    finally:
        for iid in ids:
            s.post(f"{API}/instances/{iid}/terminate")
        s.delete(f"{API}/instances/configs/{name}")
    for what, xs in (("launch -> ec2_instance_id recorded", to_id),
                     ("launch -> state running", to_running)):
        print(f"{what}: min {min(xs):.0f} ms, median {statistics.median(xs):.0f} ms, "
              f"max {max(xs):.0f} ms over {len(xs)} launches")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
