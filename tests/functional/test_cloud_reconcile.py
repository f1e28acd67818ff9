"""The updater (docs/cloud.md "Reconciling (updater)") against the stack's
moto server: each test starts its own updater process on a tag of its own
(1 s interval), makes instances directly in moto with boto3, and watches
the records in Redis: adoption, console stop/terminate followed, removal
after the grace, other tags ignored, and a failing endpoint (AuthFailure
from the fault proxy) reported in abaco:cloud:status:<tag> without a
crash."""
import json
import os
import subprocess
import tempfile
import time
import uuid

import boto3
import pytest

from awsproxy import AwsProxy
from cloudkit import DEFAULT_AMI
from conftest import BUILD, CONF, REPO, conf, redis_cmd, wait_for
from private_stack import stop_process

ENDPOINT = conf("cloud", "endpoint", "http://127.0.0.1:5000")


def ec2(endpoint=ENDPOINT):
    return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def ami():
    return DEFAULT_AMI


def run(tag, count=1, **tags):
    t = [{"Key": "LaunchedBy", "Value": tag}] + [{"Key": k, "Value": v} for k, v in tags.items()]
    r = ec2().run_instances(ImageId=ami(), MinCount=count, MaxCount=count, InstanceType="t3.micro",
                            TagSpecifications=[{"ResourceType": "instance", "Tags": t}])
    return [i["InstanceId"] for i in r["Instances"]]


class Updater:
    def __init__(self, tag, **overrides):
        self.tag = tag
        self.log = tempfile.NamedTemporaryFile(prefix="abaco-updater-", suffix=".log",
                                               delete=False)
        env = dict(os.environ, cloud_tag=tag, cloud_update_interval="1", cloud_gone_grace="2",
                   logs_directory="", **{k: str(v) for k, v in overrides.items()})
        self.proc = subprocess.Popen([os.path.join(BUILD, "bin", "updater"), "-c", CONF],
                                     env=env, cwd=REPO, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        rc = stop_process(self.proc)
        self.log.close()
        out = self.output()
        os.unlink(self.log.name)
        return rc, out


@pytest.fixture
def tag():
    t = "T" + uuid.uuid4().hex[:10]
    yield t
    # the tag's instances and records go
    ids = [i["InstanceId"] for r in ec2().describe_instances(
        Filters=[{"Name": "tag:LaunchedBy", "Values": [t]}])["Reservations"]
        for i in r["Instances"]]
    if ids:
        ec2().terminate_instances(InstanceIds=ids)
    for m in redis_cmd("SMEMBERS", f"abaco:cloud:index:{t}") or []:
        tenant, iid = m.split(":", 1)
        redis_cmd("DEL", f"abaco:instance:{tenant}:{iid}")
    for k in (f"abaco:cloud:index:{t}", f"abaco:cloud:status:{t}",
              f"abaco:cloud:reconciler:{t}"):
        redis_cmd("DEL", k)


@pytest.fixture
def updater(tag):
    u = Updater(tag)
    yield u
    rc, out = u.stop()
    assert rc == 0, out


def record_of(tag, ec2_id):
    """The record of an EC2 instance in the tag's index, fields decoded."""
    for m in redis_cmd("SMEMBERS", f"abaco:cloud:index:{tag}") or []:
        tenant, iid = m.split(":", 1)
        flat = redis_cmd("HGETALL", f"abaco:instance:{tenant}:{iid}") or []
        rec = {flat[i]: json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}
        if rec.get("ec2_instance_id") == ec2_id:
            return rec
    return None


def test_adopt_follow_and_remove(tag, updater):
    (iid,) = run(tag, Tenant="dev-develop", Owner="alice", Name="box1", Config="cfg")
    rec = wait_for(lambda: record_of(tag, iid), timeout=10, what="adoption")
    assert rec["adopted"] is True
    assert rec["tenant"] == "DEV-DEVELOP" and rec["owner"] == "alice"
    assert rec["name"] == "box1" and rec["config"] == "cfg" and rec["tag"] == tag
    assert redis_cmd("GET", f"abaco:cloud:ec2:{iid}") == f"DEV-DEVELOP:{rec['id']}"
    wait_for(lambda: (record_of(tag, iid) or {}).get("state") == "running", timeout=10,
             what="running")

    ec2().stop_instances(InstanceIds=[iid])
    rec = wait_for(lambda: (lambda r: r if r and r["state"] == "stopped" else None)(
        record_of(tag, iid)), timeout=10, what="the console stop followed")
    assert rec["desired_state"] == "stopped" and rec["observed_state"] == "stopped"

    ec2().terminate_instances(InstanceIds=[iid])
    rec = wait_for(lambda: (lambda r: r if r and r["state"] == "terminated" else None)(
        record_of(tag, iid)), timeout=10, what="the console terminate followed")
    assert rec["gone_since"]
    # gone_grace 2 s: removed, index entries too
    wait_for(lambda: record_of(tag, iid) is None, timeout=15, what="removal after the grace")
    assert redis_cmd("GET", f"abaco:cloud:ec2:{iid}") is None
    status = json.loads(redis_cmd("GET", f"abaco:cloud:status:{tag}"))
    assert status["ok"] is True and status["error"] is None
    assert int(redis_cmd("HGET", "abaco:metrics:reconcile", "passes") or 0) > 0


def test_untagged_instance_goes(tag, updater):
    """An instance that loses its LaunchedBy tag leaves the listing: the
    record is marked terminated, then removed after the grace."""
    (iid,) = run(tag)
    wait_for(lambda: record_of(tag, iid), timeout=10, what="adoption")
    ec2().delete_tags(Resources=[iid], Tags=[{"Key": "LaunchedBy"}])
    rec = wait_for(lambda: (lambda r: r if r and r.get("gone_since") else None)(
        record_of(tag, iid)), timeout=10, what="marked gone")
    assert rec["state"] == "terminated"
    wait_for(lambda: record_of(tag, iid) is None, timeout=15, what="removal")


def test_other_tag_ignored(tag, updater):
    other = "X" + uuid.uuid4().hex[:10]
    (theirs,) = run(other)
    (mine,) = run(tag)
    wait_for(lambda: record_of(tag, mine), timeout=10, what="adoption of ours")
    time.sleep(2.5)
    assert record_of(tag, theirs) is None
    assert redis_cmd("GET", f"abaco:cloud:ec2:{theirs}") is None
    ec2().terminate_instances(InstanceIds=[theirs])


def test_auth_failure_reported(tag):
    with AwsProxy(ENDPOINT) as proxy:
        proxy.fault("auth", count=1000, action="DescribeInstances")
        (iid,) = run(tag)
        u = Updater(tag, cloud_endpoint=proxy.url, cloud_max_retries=0)
        try:
            status = wait_for(lambda: (lambda s: json.loads(s) if s else None)(
                redis_cmd("GET", f"abaco:cloud:status:{tag}")), timeout=10, what="status")
            assert status["ok"] is False
            assert status["error"]["class"] == "auth"
            assert status["error"]["code"] == "AuthFailure"
            time.sleep(2.5)
            assert u.proc.poll() is None, u.output()
            assert record_of(tag, iid) is None  # a failed listing changes nothing
            proxy.reset()
            wait_for(lambda: record_of(tag, iid), timeout=10, what="adoption once it works")
            status = json.loads(redis_cmd("GET", f"abaco:cloud:status:{tag}"))
            assert status["ok"] is True and status["last_error"]["code"] == "AuthFailure"
        finally:
            rc, out = u.stop()
        assert rc == 0, out
        # logged once per change of status, not once per pass
        assert out.count("cannot be reconciled") == 1, out


def test_one_reconciler_at_a_time(tag):
    """The lease abaco:cloud:reconciler:<tag>: while another reconciler (of
    another host) holds it, this updater makes no pass at all; when that
    lease expires (its holder died), this one takes over by itself."""
    lease = f"abaco:cloud:reconciler:{tag}"
    assert redis_cmd("SET", lease, "otherhost:1", "PX", "5000") == "OK"
    (iid,) = run(tag)
    u = Updater(tag, logs_level="DEBUG")
    try:
        time.sleep(3)
        assert record_of(tag, iid) is None, "a pass ran under another reconciler's lease"
        assert redis_cmd("GET", lease) == "otherhost:1"
        assert "is held by another reconciler" in u.output()
        rec = wait_for(lambda: record_of(tag, iid), timeout=10, what="the take-over")
        assert rec["adopted"] is True
        held = redis_cmd("GET", lease)
        assert held is not None and held != "otherhost:1"
    finally:
        rc, out = u.stop()
    assert rc == 0, out
