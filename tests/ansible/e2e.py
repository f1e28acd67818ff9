#!/usr/bin/env python3
"""End to end check of a deployment made by ansible/ (scripts/ansible_test.sh).

Through the api of the web host: register actors running the sample image
abaco/samples-echo until the workers of two of them sit on two different
compute hosts (the [spawner] host_id of each worker record), send each a
message, wait for its execution to be COMPLETE and read its logs. The
actors are deleted at the end (their workers and containers stop).

Only the standard library: it runs with any python3.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def call(api, method, path, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ok(api, method, path, body=None):
    status, doc = call(api, method, path, body)
    if status != 200:
        sys.exit(f"e2e: {method} {path}: HTTP {status}: {doc}")
    return doc["result"]


def wait(what, fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.5)
    sys.exit(f"e2e: timed out after {timeout} s waiting for {what}")


def live_workers(api, aid):
    ws = ok(api, "GET", f"/actors/{aid}/workers")
    return [w for w in ws if w.get("status") in ("READY", "BUSY")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--hosts", default="1,2",
                    help="host ids ([spawner] host_id, compared as text) that must each run a worker")
    ap.add_argument("--phase", default="deploy")
    ap.add_argument("--image", default="abaco/samples-echo:latest")
    ap.add_argument("--max-actors", type=int, default=8)
    args = ap.parse_args()
    api = args.api.rstrip("/")
    want = {h.strip() for h in args.hosts.split(",")}
    t0 = time.monotonic()

    actors = {}  # host_id -> (actor id, worker)
    made = []
    try:
        while set(actors) != want:
            if len(made) >= args.max_actors:
                sys.exit(f"e2e: {len(made)} actors, workers only on hosts {sorted(actors)}; wanted {sorted(want)}")
            a = ok(api, "POST", "/actors", {"image": args.image, "name": f"abt-{args.phase}-{len(made)}"})
            made.append(a["id"])
            ws = wait(f"a READY worker of actor {a['id']}", lambda: live_workers(api, a["id"]), 90)
            w = ws[0]
            print(f"    actor {a['id']}: worker {w['id']} on host_id {w['host_id']} ({w.get('host_ip')}), "
                  f"location {w.get('location')}, cid {w.get('cid')}")
            actors.setdefault(str(w["host_id"]), (a["id"], w))

        for host_id, (aid, w) in sorted(actors.items()):
            text = f"hello host {host_id} ({args.phase})"
            ex = ok(api, "POST", f"/actors/{aid}/messages", {"message": text})
            eid = ex["execution_id"]

            def done():
                e = ok(api, "GET", f"/actors/{aid}/executions/{eid}")
                if e["status"] in ("ERROR", "FAILED"):
                    sys.exit(f"e2e: execution {eid} of actor {aid}: {e['status']}: {e}")
                return e if e["status"] == "COMPLETE" else None

            e = wait(f"execution {eid} COMPLETE", done, 120)
            logs = ok(api, "GET", f"/actors/{aid}/executions/{eid}/logs")["logs"]
            if f"Contents of MSG: {text}" not in logs:
                sys.exit(f"e2e: logs of execution {eid} lack the message: {logs[:400]!r}")
            ran_on = e.get("worker_id")
            print(f"    execution {eid} of actor {aid}: COMPLETE on host_id {host_id} "
                  f"(worker {ran_on}, exit code {e.get('exit_code')}, runtime {e.get('runtime')} s); "
                  f"logs: {logs.splitlines()[0]!r}")
            if ran_on and ran_on != w["id"]:
                ws = {x["id"]: x for x in ok(api, "GET", f"/actors/{aid}/workers")}
                if str(ws.get(ran_on, {}).get("host_id")) != host_id:
                    sys.exit(f"e2e: execution {eid} ran on worker {ran_on}, not on host {host_id}")
    finally:
        for aid in made:
            call(api, "DELETE", f"/actors/{aid}")
    print(f"    e2e ({args.phase}): {len(made)} actors, executions COMPLETE on hosts "
          f"{sorted(actors)} in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
