"""The cloud side under AWS faults, end to end (docs/cloud.md "Launching",
"AWS client"): a private api + launcher + updater (cloudkit.PrivateCloud)
behind the fault proxy (awsproxy.py), driven through the private api's
routes, with moto checked directly with boto3.

- a throttling storm (a run of throttled requests, then every other one)
  while 10 launches and their stop/start/terminate actions go through:
  every launch makes exactly one stack, every instance ends in the state
  of its last action, no command is lost (each the api audited was enacted
  by the launcher, and the private queues are empty);
- 502/500 bursts during a launch are retried; an AWS call slower than
  [cloud] timeout_ms times out and is retried, and the launch completes
  once the delay is lifted; the private processes stay up.

(A stack CREATE_IN_PROGRESS for a while keeping its instance `launching`
is test_cloud_launch.py's test_polls_until_complete_and_resumes_after_restart.)

The helpers at the top are shared with test_cloud_e2e.py.
"""
import json
import re
import time
import uuid

import pytest
import requests

import cloudkit as ck
from awsproxy import AwsProxy
from conftest import Client, needs_mgmt, queue_info, redis_cmd, wait_for

pytestmark = [needs_mgmt]

INSTANCE_TYPE = "t2.micro"


# ------------------------------------------------------------ shared helpers

def new_tenant(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def put_config(c, user_data="#!/bin/sh\necho {{{instance_id}}}\n", volume=None, name=None):
    """A software configuration of the cloudkit template, through the api."""
    return c.ok("POST", "/instances/configs", json={
        "name": name or "cfg" + uuid.uuid4().hex[:8], "description": "fault tests",
        "image_id": ck.DEFAULT_AMI, "template": ck.TEMPLATE, "user_data": user_data,
        "volume": volume, "instance_types": [INSTANCE_TYPE]})


def launch(c, config, count=1, name="box"):
    r = c.post("/instances", json={"config": config, "instance_type": INSTANCE_TYPE,
                                   "name": name, "count": count})
    assert r.status_code == 201, r.text
    return [i["id"] for i in r.json()["result"]]


def instance(c, iid):
    return c.ok("GET", f"/instances/{iid}")


def wait_instance(c, iid, pred, what, timeout=30):
    return wait_for(lambda: (o := instance(c, iid)) and pred(o) and o, timeout=timeout,
                    what=f"{iid}: {what}", interval=0.2)


def wait_state(c, iid, state, timeout=30):
    return wait_instance(c, iid, lambda o: o["state"] == state, state, timeout)


def action(c, iid, verb):
    r = c.post(f"/instances/{iid}/{verb}")
    assert r.status_code == 202, r.text
    return r.json()["result"]


def stacks_by_instance(tag, cfn=None):
    """{AbacoId: [stack ids]} of every stack (live or deleted) tagged
    LaunchedBy=tag, from ListStacks and DescribeStacks."""
    cfn = cfn or ck.cloudformation()
    out = {}
    seen = set()
    for page in cfn.get_paginator("list_stacks").paginate():
        for s in page["StackSummaries"]:
            if s["StackId"] in seen:
                continue
            seen.add(s["StackId"])
            if not s["StackName"].startswith(tag + "-"):
                continue
            st = cfn.describe_stacks(StackName=s["StackId"])["Stacks"][0]
            tags = {t["Key"]: t["Value"] for t in st.get("Tags", [])}
            if tags.get("LaunchedBy") == tag:
                out.setdefault(tags.get("AbacoId"), []).append(s["StackId"])
    return out


def queue_depth(name):
    """messages_ready + messages_unacknowledged of a queue as the
    management API reports them (None while it has no statistics)."""
    q = queue_info(name)
    if "messages_ready" not in q or "messages_unacknowledged" not in q:
        return None
    return q["messages_ready"] + q["messages_unacknowledged"]


def wait_queues_empty(pc, timeout=20):
    """Both private queues empty (the management statistics lag by up to
    their collection interval, so this waits for them)."""
    names = (pc.env["cloud_launch_queue"], pc.env["cloud_command_queue"])
    return wait_for(lambda: all(queue_depth(q) == 0 for q in names) and
                    {q: queue_info(q) for q in names}, timeout=timeout,
                    what=f"queues {names} empty")


def metric(api_url, name):
    text = requests.get(api_url + "/metrics", timeout=10).text
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def lost_commands(c, ids):
    """Commands the api accepted (its audit rows, by request id) that the
    launcher never audited as done: {instance id: [(action, request id)]}."""
    lost = {}
    for iid in ids:
        audit = c.ok("GET", f"/instances/{iid}/audit")
        asked = {(a["action"], a["request_id"]) for a in audit
                 if a["message"] in ("requested", "launch requested") and a["outcome"] == "ok"}
        done = {(a["action"], a["request_id"]) for a in audit
                if a["message"] not in ("requested", "launch requested")
                and a["outcome"] == "ok"}
        missing = sorted(asked - done)
        if missing:
            lost[iid] = missing
    return lost


def alive(pc):
    return {n: p.poll() for n, p in pc.procs.items() if p.poll() is not None}


def cleanup_cloud(tag, tenant):
    """Terminates what a private cloud of tag left in moto (instances,
    stacks) and removes the tenant's and tag's records from Redis."""
    cfn, ec2 = ck.cloudformation(), ck.ec2()
    for page in cfn.get_paginator("list_stacks").paginate():
        for s in page["StackSummaries"]:
            if s["StackName"].startswith(tag + "-") and s["StackStatus"] != "DELETE_COMPLETE":
                try:
                    cfn.delete_stack(StackName=s["StackId"])
                except Exception:  # best effort: the next test does not depend on it
                    pass
    ids = [i for i, o in ck.tagged(tag).items() if o["State"]["Name"] != "terminated"]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
    for m in redis_cmd("SMEMBERS", f"abaco:cloud:index:{tag}") or []:
        t, iid = m.split(":", 1)
        ec2_id = redis_cmd("HGET", f"abaco:instance:{t}:{iid}", "ec2_instance_id")
        if ec2_id and ec2_id != "null":
            redis_cmd("DEL", f"abaco:cloud:ec2:{json.loads(ec2_id)}")
    for key in (redis_cmd("KEYS", f"abaco:*:{tenant}:*") or []) + \
            (redis_cmd("KEYS", f"abaco:*:{tenant}") or []) + \
            (redis_cmd("KEYS", f"abaco:cloud:*:{tag}") or []):
        redis_cmd("DEL", key)


@pytest.fixture
def proxy():
    p = AwsProxy(ck.endpoint()).start()
    yield p
    p.stop()


@pytest.fixture
def cloud(request):
    """cloud(tenant, **PrivateCloud kw) -> (PrivateCloud, Client of tenant);
    everything it launched is cleaned up after the test and the processes
    must exit 0."""
    made = []
    failed_before = request.session.testsfailed

    def start(tenant, **kw):
        pc = ck.PrivateCloud(**kw)
        made.append((pc, tenant))
        return pc, Client(pc.api_url, tenant=tenant)
    yield start
    failed = request.session.testsfailed > failed_before
    rcs = {}
    for pc, tenant in made:
        rcs[pc.tag] = pc.close(keep_logs=failed)
        cleanup_cloud(pc.tag, tenant)
    assert not any(any(r.values()) for r in rcs.values()), f"exit codes {rcs}"


# ------------------------------------------------------------ the storm

# Per instance (i % 5): the actions issued, each once the previous one's
# state is reached; the last one's goal is where it must end.
PLANS = [["stop"], ["stop", "start"], ["terminate"], ["stop", "start", "terminate"],
         ["stop", "terminate"]]
NEEDS = {"stop": "running", "start": "stopped", "terminate": None}
GOAL = {"stop": "stopped", "start": "running", "terminate": "terminated"}


def test_throttling_storm_loses_nothing(proxy, cloud):
    tenant = new_tenant("STORM")
    pc, c = cloud(tenant, endpoint=proxy.url, env={"cloud_gone_grace": 600})
    cfg = put_config(c)["name"]
    throttles0 = metric(pc.api_url, "abaco_aws_throttles_total")
    # a run of 40 throttled requests, then every other one (200 more requests)
    proxy.fault("throttle", count=40)
    proxy.fault("throttle", count=100, every=2)
    t0 = time.monotonic()
    ids = []
    for i in range(10):
        ids += launch(c, cfg, name=f"storm{i}")
    plans = {iid: PLANS[i % len(PLANS)] for i, iid in enumerate(ids)}
    issued = {iid: 0 for iid in ids}
    commands = len(ids)
    deadline = time.monotonic() + 100
    while True:
        recs = {o["id"]: o for o in c.ok("GET", "/instances") if o["id"] in plans}
        assert set(recs) == set(ids), f"records missing: {set(ids) - set(recs)}"
        for iid, rec in recs.items():
            assert rec["state"] != "failed", rec
            n = issued[iid]
            if n < len(plans[iid]):
                verb = plans[iid][n]
                # terminate right after launch: once running (it has a stack)
                need = NEEDS[verb] or ("running" if n == 0 else GOAL[plans[iid][n - 1]])
                if rec["state"] == need:
                    action(c, iid, verb)
                    issued[iid] += 1
                    commands += 1
        settled = [iid for iid in ids if issued[iid] == len(plans[iid])
                   and recs[iid]["state"] == GOAL[plans[iid][-1]]]
        if len(settled) == len(ids):
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                "not settled: " + json.dumps({iid: (recs[iid]["state"], plans[iid], issued[iid])
                                              for iid in ids if iid not in settled}) +
                f"\nproxy {proxy.stats()}\nlauncher log:\n{pc.log('launcher')}")
        time.sleep(0.2)
    settle = time.monotonic() - t0
    stats = proxy.stats()

    # exactly one stack per launch, whatever was retried or redelivered
    stacks = stacks_by_instance(pc.tag)
    assert {iid: len(stacks.get(iid, [])) for iid in ids} == {iid: 1 for iid in ids}, stacks
    assert set(stacks) == set(ids), stacks
    # every instance in the state of its last action, moto agreeing
    ec2_state = {{t["Key"]: t["Value"] for t in o.get("Tags", [])}.get("AbacoId"):
                 o["State"]["Name"] for o in ck.tagged(pc.tag).values()}
    for iid in ids:
        goal = GOAL[plans[iid][-1]]
        rec = instance(c, iid)
        assert rec["state"] == goal and rec["desired_state"] == goal, rec
        assert ec2_state.get(iid) == goal, (iid, ec2_state.get(iid), goal)
    # nothing left in the queues, every accepted command enacted
    wait_queues_empty(pc)
    # a command requeued under throttling may still be finishing when the
    # management statistics (which lag) show the queues empty: a command
    # is lost only if it is never audited as done
    deadline = time.monotonic() + 20
    while (lost := lost_commands(c, ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    n_lost = sum(len(v) for v in lost.values())
    throttled = sum(stats["faults"].values())
    print(f"\nstorm: {len(ids)} launches + {commands - len(ids)} actions = {commands} commands; "
          f"{throttled} of {stats['total']} AWS requests throttled; settled in {settle:.1f} s")
    print(f"commands lost under throttling: {n_lost}")
    assert n_lost == 0, lost
    # the storm was real, and the metrics saw it
    assert throttled >= 40 and stats["faults"].get("throttle", 0) == throttled, stats
    assert metric(pc.api_url, "abaco_aws_throttles_total") > throttles0
    assert not alive(pc), pc.log("launcher")


# ------------------------------------------------------------ 5xx and slow answers

def test_5xx_bursts_are_retried(proxy, cloud):
    tenant = new_tenant("FIVEXX")
    pc, c = cloud(tenant, endpoint=proxy.url)
    cfg = put_config(c)["name"]
    # (the launcher's poller or the updater, whichever is first, describes
    # the instance: only calls sure to be made get the faults)
    proxy.fault("http502", count=3, action="CreateStack")
    proxy.fault("http500", count=2, action="DescribeInstances")
    (iid,) = launch(c, cfg)
    rec = wait_state(c, iid, "running")
    assert rec["ec2_instance_id"].startswith("i-") and rec["error"] is None, rec
    stats = proxy.stats()
    assert stats["faults"] == {"http502": 3, "http500": 2}, stats
    assert proxy.state()["faults"] == []
    assert stats["actions"]["CreateStack"] == 4  # 3 bad answers, then the stack
    assert len(stacks_by_instance(pc.tag).get(iid, [])) == 1
    # an action through a burst of both kinds on every call
    proxy.fault("http502", count=2)
    proxy.fault("http500", count=2)
    action(c, iid, "stop")
    rec = wait_state(c, iid, "stopped")
    assert rec["error"] is None and rec["observed_state"] == "stopped", rec
    assert ck.instance_state(rec["ec2_instance_id"]) == "stopped"
    wait_for(lambda: proxy.state()["faults"] == [], timeout=10, what="the burst used up")
    assert proxy.stats()["faults"] == {"http502": 5, "http500": 4}
    assert not alive(pc)


def test_slow_answers_time_out_and_are_retried(proxy, cloud):
    tenant = new_tenant("SLOW")
    pc, c = cloud(tenant, endpoint=proxy.url,
                  env={"cloud_timeout_ms": 2000, "cloud_max_retries": 2,
                       "cloud_retry_base_ms": 100})
    cfg = put_config(c)["name"]
    proxy.fault("delay", count=1000, action="CreateStack", seconds=3)
    t0 = time.monotonic()
    (iid,) = launch(c, cfg)
    # each attempt gives up after 2 s: a second attempt proves the timeout;
    # after the client's retries the command is requeued (transient)
    wait_for(lambda: proxy.stats()["actions"].get("CreateStack", 0) >= 2, timeout=15,
             what="CreateStack retried after a timeout")
    assert time.monotonic() - t0 >= 2
    wait_for(lambda: "will retry" in pc.log("launcher"), timeout=20,
             what="the launch requeued after its attempts timed out")
    out = pc.log("launcher", tail=None)
    assert "CreateStack transient (Timeout" in out, out[-3000:]
    # every CreateStack answer was lost: the launcher has no stack id (the
    # delayed requests still reach moto, and the updater may record the
    # instance they made)
    assert not instance(c, iid)["stack_id"]
    # the updater records the instance the stack made before the launcher
    # learns the stack's id (the launch is then dropped: not launching)
    wait_instance(c, iid, lambda o: o["state"] == "running" and not o["stack_id"],
                  "the updater recording the instance first", timeout=15)
    assert not alive(pc)
    proxy.reset()  # the delay is lifted
    rec = wait_state(c, iid, "running", timeout=40)
    assert rec["ec2_instance_id"].startswith("i-")
    (stack,) = stacks_by_instance(pc.tag)[iid]
    # the requeued launch finds the record running: it records the stack
    # the lost CreateStack made (by its name) instead of making another
    rec = wait_instance(c, iid, lambda o: o["stack_id"], "the stack id recorded", timeout=15)
    assert rec["stack_id"] == stack and rec["state"] == "running", rec
    # terminate deletes that stack, known by its id or only by its name
    action(c, iid, "terminate")
    wait_state(c, iid, "terminated")
    st = ck.cloudformation().describe_stacks(StackName=stack)["Stacks"][0]
    assert st["StackStatus"] == "DELETE_COMPLETE", st["StackStatus"]
    assert ck.instance_state(rec["ec2_instance_id"]) == "terminated"
    assert not alive(pc)
