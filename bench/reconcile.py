#!/usr/bin/env python3
"""How long one reconciler pass takes for N tagged instances (docs/cloud.md
"Reconciling (updater)"), against the stack's moto server and Redis: for
each N, moto is reset, RunInstances makes N instances on a fresh tag
(batches of 1000), an updater process reconciles that tag, and its pass
log lines give the first pass (every instance adopted) and a quiet pass
(nothing written), split into listing, record read, plan, apply and the
volume step. The stack's own updater is paused (SIGSTOP) meanwhile, so one
reconciler at a time talks to moto (whose tag-filtered DescribeInstances
is quadratic: it dominates at 10,000). Run inside the stack's lock after
`make up`:  var/venv/bin/python bench/reconcile.py 100 1000 10000
"""
import signal
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "functional"))
from cloudkit import ec2, moto_reset, run_tagged  # noqa: E402
from conftest import BUILD, CONF, REPO, redis_cmd  # noqa: E402

PASS = re.compile(r"pass over (\d+) listed, (\d+) records in (\d+) ms \(list (\d+), read (\d+), "
                  r"plan (\d+), apply (\d+), volumes (\d+)\)")


def stack_updater_pid():
    try:
        with open(os.path.join(REPO, "var", "run", "updater.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def bench(n):
    tag = "B" + uuid.uuid4().hex[:10]
    moto_reset()
    t0 = time.time()
    run_tagged(n, launched_by=tag, batch=1000, ec2_client=ec2(read_timeout=900))
    made = time.time() - t0
    log = tempfile.NamedTemporaryFile(prefix="abaco-bench-updater-", suffix=".log", delete=False)
    # moto lists 10,000 tagged instances in minutes: no timeout short of that
    env = dict(os.environ, cloud_tag=tag, cloud_update_interval="2", logs_directory="",
               cloud_timeout_ms="1800000",
               logs_level="debug")
    proc = subprocess.Popen([os.path.join(BUILD, "bin", "updater"), "-c", CONF], env=env,
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    passes = []
    deadline = time.time() + 1800
    try:
        while len(passes) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
            with open(log.name, errors="replace") as f:
                passes = [tuple(map(int, m.groups())) for m in PASS.finditer(f.read())]
    finally:
        proc.terminate()
        try:  # a pass in flight finishes first: at 10,000 in moto, minutes
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for m in redis_cmd("SMEMBERS", f"abaco:cloud:index:{tag}") or []:
            tenant, iid = m.split(":", 1)
            ec2_id = redis_cmd("HGET", f"abaco:instance:{tenant}:{iid}", "ec2_instance_id")
            if ec2_id and ec2_id != "null":
                redis_cmd("DEL", "abaco:cloud:ec2:" + ec2_id.strip('"'))
            redis_cmd("DEL", f"abaco:instance:{tenant}:{iid}", f"abaco:cloud:id:{iid}")
            redis_cmd("SREM", f"abaco:instances:{tenant}", iid)
        redis_cmd("DEL", f"abaco:cloud:index:{tag}")
        os.unlink(log.name)
    print(f"N={n}: made in {made:.1f}s")
    for name, p in zip(("first (adopt all)", "quiet"), passes):
        print(f"  {name}: listed {p[0]}, records {p[1]}: {p[2]} ms "
              f"(list {p[3]}, read {p[4]}, plan {p[5]}, apply {p[6]}, volumes {p[7]})")
    if len(passes) < 2:
        print("  (fewer than two passes were logged)")


if __name__ == "__main__":
    pid = stack_updater_pid()
    # a SIGTERM still runs the finally below: the stack's updater must not stay stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if pid:
        os.kill(pid, signal.SIGSTOP)
    try:
        for arg in sys.argv[1:] or ["100", "1000", "10000"]:
            bench(int(arg))
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
