"""The launcher against the stack's moto server (docs/cloud.md "Channels").

Instance records and software configurations are written to Redis as the
api writes them (docs/cloud.md "Objects") and commands published on the
[cloud] launch_queue / command_queue through the broker's management API,
so the launcher is tested on its own: a launch makes one stack (also when
the command is delivered twice), the record gets its stack, EC2 instance
and volume ids and becomes running; stop/start/terminate commands are
enacted and observed; a user-data token without a value and a template
CloudFormation refuses fail the instance with the reason; bad commands are
dropped. moto is checked directly with boto3.
"""
import base64
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

import boto3
import pytest

from authkit import JwtApi, KeyPair, named_client, unique
from awsproxy import AwsProxy
from cloudkit import DEFAULT_AMI, TEMPLATE
from instancekit import TENANT as API_TENANT, set_state
from test_events import Hook
from conftest import BUILD, CONF, conf, declare_queue, delete_queue, needs_mgmt, redis_cmd, \
    wait_for

TENANT = "launchtest"
TAG = conf("cloud", "tag", "ABACO")
LAUNCH_Q = conf("cloud", "launch_queue", "launch")
COMMAND_Q = conf("cloud", "command_queue", "instance_cmd")
ENDPOINT = conf("cloud", "endpoint", "")
# The private launcher's tag and queues (the fault tests).
PTAG = "LT" + uuid.uuid4().hex[:6]

pytestmark = [needs_mgmt,
              pytest.mark.skipif(not ENDPOINT, reason="[cloud] endpoint is not a moto server")]

PARAMS = ["KeyName", "ImageId", "InstanceType", "IamInstanceProfile", "SecurityGroupIds",
          "SubnetId", "AvailabilityZone", "KmsKeyId", "EBSVolumeDeviceName", "VolumeSize",
          "UserData"]


def template(volume=True):
    """A MLiy-like template: an instance from ImageId/InstanceType/UserData
    and, with volume, an EBS volume of VolumeSize. Without a volume it
    declares no volume parameters (the launcher must not send them)."""
    names = PARAMS if volume else [p for p in PARAMS if p not in
                                   ("KmsKeyId", "EBSVolumeDeviceName", "VolumeSize")]
    res = {"Box": {"Type": "AWS::EC2::Instance",
                   "Properties": {"ImageId": {"Ref": "ImageId"},
                                  "InstanceType": {"Ref": "InstanceType"},
                                  "UserData": {"Ref": "UserData"},
                                  "AvailabilityZone": "us-east-1a"}}}
    if volume:
        res["Vol"] = {"Type": "AWS::EC2::Volume",
                      "Properties": {"Size": {"Ref": "VolumeSize"},
                                     "AvailabilityZone": "us-east-1a"}}
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                       "Parameters": {n: {"Type": "String", "Default": ""} for n in names},
                       "Resources": res})


@pytest.fixture(scope="module")
def aws():
    kw = dict(endpoint_url=ENDPOINT, region_name=conf("cloud", "region", "us-east-1"),
              aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.client("ec2", **kw), boto3.client("cloudformation", **kw)


@pytest.fixture(scope="module")
def ami(aws):
    return aws[0].describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def hset_json(key, obj):
    for k, v in obj.items():
        redis_cmd("HSET", key, k, json.dumps(v))


def put_config(name, ami, user_data="#!/bin/sh\necho {{{instance_name}}} {{{progress_url}}}\n",
               volume=True, tmpl=None):
    hset_json(f"abaco:swconfig:{TENANT}:{name}", {
        "name": name, "description": "test", "image_id": ami,
        "template": tmpl if tmpl is not None else template(volume),
        "user_data": user_data,
        "volume": {"device": "/dev/sdf", "size": 2, "kms_key_id": ""} if volume else None,
        "instance_types": ["t3.micro"], "owner": "alice"})
    redis_cmd("SADD", f"abaco:swconfigs:{TENANT}", name)


def new_instance(config, tag=TAG, **extra):
    iid = "I" + uuid.uuid4().hex[:12]
    hset_json(f"abaco:instance:{TENANT}:{iid}", {**extra,
        "id": iid, "tenant": TENANT, "owner": "alice", "name": f"box-{iid}", "config": config,
        "group": None, "instance_type": "t3.micro", "tag": tag, "state": "launching",
        "desired_state": "running", "progress_token": "tok-" + iid, "backend_status": []})
    redis_cmd("SADD", f"abaco:instances:{TENANT}", iid)
    redis_cmd("SADD", f"abaco:cloud:index:{tag}", f"{TENANT}:{iid}")
    return iid


def record(iid):
    raw = redis_cmd("HGETALL", f"abaco:instance:{TENANT}:{iid}")
    return {raw[i]: json.loads(raw[i + 1]) for i in range(0, len(raw), 2)}


def publish(queue, **msg):
    declare_queue(queue, json.dumps(msg))


def launch(iid, queue=LAUNCH_Q):
    publish(queue, tenant=TENANT, instance_id=iid, request_id="req-" + iid)


def command(iid, action):
    publish(COMMAND_Q, tenant=TENANT, instance_id=iid, action=action,
            request_id=f"req-{action}-{iid}", who="bob")


def stack_name(iid, tag=TAG):
    return "".join(c if c.isalnum() or c == "-" else "-" for c in f"{tag}-{TENANT}-{iid}")


def stacks_named(cfn, name):
    out = []
    for page in cfn.get_paginator("list_stacks").paginate():
        out += [s for s in page["StackSummaries"] if s["StackName"] == name]
    return out


@pytest.fixture
def cleanup():
    ids = []
    yield ids
    for iid in ids:
        ec2 = record(iid).get("ec2_instance_id")
        redis_cmd("DEL", f"abaco:instance:{TENANT}:{iid}")
        redis_cmd("SREM", f"abaco:instances:{TENANT}", iid)
        for tag in (TAG, PTAG):
            redis_cmd("SREM", f"abaco:cloud:index:{tag}", f"{TENANT}:{iid}")
        if ec2:
            redis_cmd("DEL", f"abaco:cloud:ec2:{ec2}")


def wait_state(iid, state, timeout=30):
    return wait_for(lambda: (r := record(iid)).get("state") == state and r,
                    timeout=timeout, what=f"{iid} {state}")


def test_launch_records_instance_and_runs(aws, ami, cleanup):
    ec2, cfn = aws
    put_config("vol", ami)
    iid = new_instance("vol")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "running")
    assert rec["stack_name"] == stack_name(iid)
    assert rec["stack_id"].startswith("arn:aws:cloudformation:")
    assert rec["ec2_instance_id"].startswith("i-")
    assert rec["volume_id"].startswith("vol-")
    assert rec["observed_state"] == "running"
    assert rec["private_ip"] and rec["launch_time"] and rec["enacted"]
    assert redis_cmd("GET", f"abaco:cloud:ec2:{rec['ec2_instance_id']}") == f"{TENANT}:{iid}"
    inst = ec2.describe_instances(InstanceIds=[rec["ec2_instance_id"]])
    inst = inst["Reservations"][0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["LaunchedBy"] == TAG and tags["AbacoId"] == iid and tags["Owner"] == "alice"
    assert tags["Tenant"] == TENANT and tags["Config"] == "vol" and tags["Name"] == f"box-{iid}"
    assert inst["ImageId"] == ami and inst["InstanceType"] == "t3.micro"
    st = cfn.describe_stacks(StackName=rec["stack_id"])["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in st["Parameters"]}
    assert params["ImageId"] == ami and params["VolumeSize"] == "2"
    ud = base64.b64decode(params["UserData"]).decode()
    assert f"box-{iid}" in ud and f"/instances/{iid}/progress" in ud
    calls = redis_cmd("HGET", "abaco:metrics:aws_calls", "CreateStack|ok")
    assert calls and int(calls) >= 1


def test_template_without_volume_gets_no_volume_parameters(aws, ami, cleanup):
    _, cfn = aws
    put_config("novol", ami, volume=False)
    iid = new_instance("novol")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "running")
    st = cfn.describe_stacks(StackName=rec["stack_id"])["Stacks"][0]
    keys = {p["ParameterKey"] for p in st["Parameters"]}
    assert "VolumeSize" not in keys and "ImageId" in keys
    assert rec.get("volume_id") is None


def test_redelivered_launch_makes_one_stack(aws, ami, cleanup):
    _, cfn = aws
    put_config("vol", ami)
    iid = new_instance("vol")
    cleanup.append(iid)
    launch(iid)
    launch(iid)
    rec = wait_state(iid, "running")
    time.sleep(1.5)  # let the second delivery be handled too
    assert len(stacks_named(cfn, stack_name(iid))) == 1
    assert record(iid)["stack_id"] == rec["stack_id"]
    launch(iid)  # after it is running: nothing changes
    time.sleep(1)
    assert len(stacks_named(cfn, stack_name(iid))) == 1
    assert record(iid)["state"] == "running"


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def events_of(hook, iid, event_type):
    return [e for (_, _, e) in hook.events if isinstance(e, dict)
            and e.get("instance_id") == iid and e.get("event_type") == event_type]


def test_stop_start_terminate(aws, ami, cleanup, hook):
    ec2, cfn = aws
    put_config("vol", ami)
    iid = new_instance("vol", webhook=f"http://127.0.0.1:{hook.port}/hook")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "running")
    eid = rec["ec2_instance_id"]

    def ec2_state():
        return ec2.describe_instances(InstanceIds=[eid])["Reservations"][0]["Instances"][0][
            "State"]["Name"]

    command(iid, "stop")
    rec = wait_state(iid, "stopped")
    assert rec["observed_state"] == "stopped" and rec["desired_state"] == "stopped"
    assert ec2_state() == "stopped"
    command(iid, "start")
    wait_state(iid, "running")
    assert ec2_state() == "running"
    command(iid, "restart")
    wait_for(lambda: redis_cmd("HGET", "abaco:metrics:aws_calls", "RebootInstances|ok"),
             what="a RebootInstances call")
    command(iid, "terminate")
    rec = wait_state(iid, "terminated")
    assert ec2_state() == "terminated"
    st = cfn.describe_stacks(StackName=rec["stack_id"])["Stacks"][0]
    assert st["StackStatus"] == "DELETE_COMPLETE"
    # terminating again: already gone is fine
    command(iid, "terminate")
    time.sleep(1)
    assert record(iid)["state"] == "terminated"
    # the events, through the api's webhook delivery
    for etype, state in (("INSTANCE_READY", "running"), ("INSTANCE_STOPPED", "stopped"),
                         ("INSTANCE_TERMINATED", "terminated")):
        ev = wait_for(lambda: events_of(hook, iid, etype), timeout=15, what=etype)[0]
        assert ev["state"] == state and ev["ec2_instance_id"] == eid and ev["tenant_id"] == TENANT
        assert ev["owner"] == "alice" and ev["config"] == "vol" and ev["name"] == f"box-{iid}"
    assert len(events_of(hook, iid, "INSTANCE_READY")) == 1  # the launch only
    assert len(events_of(hook, iid, "INSTANCE_TERMINATED")) == 1  # not again for the 2nd
    assert not events_of(hook, iid, "INSTANCE_ERROR")


def test_action_without_instance_is_an_error(cleanup):
    iid = new_instance("nosuchconfig")
    redis_cmd("HSET", f"abaco:instance:{TENANT}:{iid}", "state", json.dumps("stopped"))
    cleanup.append(iid)
    command(iid, "start")
    rec = wait_for(lambda: (r := record(iid)).get("error") and r, what="the error")
    assert "has no EC2 instance" in rec["error"]
    assert rec["backend_status"][0]["op"] == "StartInstances"
    assert rec["state"] == "stopped"


def test_missing_token_fails_the_launch(ami, cleanup, hook):
    put_config("badtoken", ami, user_data="echo {{{no_such_token}}}")
    iid = new_instance("badtoken", webhook=f"http://127.0.0.1:{hook.port}/hook")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "failed")
    assert rec["error"] == "no value for token {{{no_such_token}}}"
    assert not rec.get("stack_id")
    ev = wait_for(lambda: events_of(hook, iid, "INSTANCE_ERROR"), timeout=15, what="the error")
    assert ev[0]["state"] == "failed" and ev[0]["error"] == rec["error"]


def test_terminated_during_create_stack_deletes_the_stack(proxy, private, ami, cleanup, aws):
    lr = private()
    put_config("vol", ami)
    iid = new_instance("vol", PTAG)
    cleanup.append(iid)
    proxy.fault("delay", action="CreateStack", seconds=2)
    launch(iid, lr.lq)
    time.sleep(0.8)  # CreateStack is on its way
    redis_cmd("HSET", f"abaco:instance:{TENANT}:{iid}", "state", json.dumps("terminated"))
    name = stack_name(iid, PTAG)
    wait_for(lambda: [s for s in stacks_named(aws[1], name)
                      if s["StackStatus"] == "DELETE_COMPLETE"], what="the stack deleted")
    rec = record(iid)
    assert rec["state"] == "terminated" and rec["stack_id"]
    assert "deleting the stack" in lr.output()


def test_unknown_config_fails_and_bad_commands_are_dropped(cleanup):
    publish(LAUNCH_Q, tenant=TENANT)  # no instance_id: dropped, logged
    declare_queue(COMMAND_Q, "not json")
    publish(COMMAND_Q, tenant=TENANT, instance_id="x", action="explode")
    iid = new_instance("nosuchconfig")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "failed")
    assert rec["error"] == "unknown configuration: nosuchconfig"


# ---- a private launcher behind the fault-injecting proxy ----

class Launcher:
    """A launcher process of the stack with its own tag and queues, talking
    to AWS through `endpoint` (the proxy); its log is shown on failure."""

    def __init__(self, endpoint, **overrides):
        self.lq, self.cq = f"launch_{PTAG}", f"instance_cmd_{PTAG}"
        env = dict(os.environ, cloud_endpoint=endpoint, cloud_tag=PTAG,
                   cloud_launch_queue=self.lq, cloud_command_queue=self.cq, logs_directory="",
                   **{k: str(v) for k, v in overrides.items()})
        self.log = tempfile.NamedTemporaryFile(prefix="abaco-launcher-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([os.path.join(BUILD, "bin", "launcher"), "-c", CONF],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: "serving" in self.output(), timeout=15, what="the launcher to serve")

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def proxy():
    p = AwsProxy(ENDPOINT).start()
    yield p
    p.stop()


@pytest.fixture
def private(proxy):
    started = []

    def start(**overrides):
        lr = Launcher(proxy.url, **overrides)
        started.append(lr)
        return lr
    yield start
    for lr in started:
        rc = lr.stop()
        if rc != 0:
            print(lr.output())
    for q in (f"launch_{PTAG}", f"instance_cmd_{PTAG}"):
        delete_queue(q)


def test_auth_failure_fails_with_aws_words(proxy, private, ami, cleanup):
    lr = private()
    put_config("vol", ami)
    iid = new_instance("vol", PTAG)
    cleanup.append(iid)
    proxy.fault("auth", action="CreateStack")
    launch(iid, lr.lq)
    rec = wait_state(iid, "failed")
    assert rec["backend_status"][0]["op"] == "CreateStack"
    assert rec["backend_status"][0]["code"] == "AuthFailure"
    assert rec["error"] and rec["error"] == rec["backend_status"][0]["message"]
    assert not rec.get("stack_id")


def test_throttled_launch_is_requeued_not_lost(proxy, private, ami, cleanup, aws):
    lr = private(cloud_max_retries=1, cloud_retry_base_ms=10)
    put_config("vol", ami)
    iid = new_instance("vol", PTAG)
    cleanup.append(iid)
    proxy.fault("throttle", count=2, action="CreateStack")  # both attempts of the first try
    t0 = time.monotonic()
    launch(iid, lr.lq)
    rec = wait_state(iid, "running")
    assert time.monotonic() - t0 >= 1.5  # the pause before the requeue
    assert proxy.stats()["faults"].get("throttle") == 2
    assert len(stacks_named(aws[1], stack_name(iid, PTAG))) == 1
    assert rec["ec2_instance_id"]
    assert "will retry" in lr.output()


def test_failed_stack_reason(proxy, private, ami, cleanup):
    lr = private()
    put_config("vol", ami)
    iid = new_instance("vol", PTAG)
    cleanup.append(iid)
    proxy.stack_fail(stack_name(iid, PTAG), status="ROLLBACK_COMPLETE", instance_type="t9.huge")
    launch(iid, lr.lq)
    rec = wait_state(iid, "failed")
    assert "Your requested instance type (t9.huge) is not supported" in rec["error"], rec["error"]
    assert rec["stack_status"] == "ROLLBACK_COMPLETE"
    assert rec["backend_status"][0]["code"] == "ROLLBACK_COMPLETE"


def test_polls_until_complete_and_resumes_after_restart(proxy, private, ami, cleanup):
    lr = private()
    put_config("vol", ami)
    iid = new_instance("vol", PTAG)
    cleanup.append(iid)
    proxy.stack_in_progress(stack_name(iid, PTAG), 4)
    launch(iid, lr.lq)
    rec = wait_for(lambda: (r := record(iid)).get("stack_id") and r, what="the stack id")
    assert rec["state"] == "launching"
    time.sleep(1)
    rec = record(iid)
    assert rec["state"] == "launching" and rec.get("stack_status") == "CREATE_IN_PROGRESS"
    assert not rec.get("ec2_instance_id")  # no PhysicalResourceId yet
    assert lr.stop() == 0  # SIGTERM: clean exit with a poller alive
    lr2 = private()
    rec = wait_state(iid, "running", timeout=30)
    assert rec["ec2_instance_id"] and rec["stack_status"] == "CREATE_COMPLETE"
    assert "resumed polling of 1 stack" in lr2.output()


# ---- end to end through the api ----

def test_through_the_api(cleanup, aws):
    """A configuration registered and an instance launched, stopped, started
    and terminated through the api's routes; the stack's launcher does the
    cloud side, and the audit shows both."""
    api = JwtApi(KeyPair())
    try:
        owner = named_client(api, unique("lnowner"))
        cfg = owner.ok("POST", "/instances/configs", json={
            "name": unique("lncfg"), "description": "launcher e2e", "image_id": DEFAULT_AMI,
            "template": TEMPLATE, "user_data": "#!/bin/sh\necho {{{instance_id}}}\n",
            "volume": {"device": "/dev/sdf", "size": 1}, "instance_types": ["t2.micro"]})
        t0 = time.monotonic()
        r = owner.post("/instances", json={"config": cfg["name"], "instance_type": "t2.micro",
                                           "name": "e2e"})
        assert r.status_code == 201, r.text
        iid = r.json()["result"][0]["id"]
        try:
            rec = wait_for(lambda: (o := owner.ok("GET", f"/instances/{iid}"))["state"]
                           == "running" and o, timeout=30, what="running")
            print(f"\napi launch -> running: {(time.monotonic() - t0) * 1000:.0f} ms")
            assert rec["ec2_instance_id"].startswith("i-")
            # the updater may see it running first; the volume id comes from the stack
            wait_for(lambda: owner.ok("GET", f"/instances/{iid}")["volume_id"], timeout=10,
                     what="the volume id")
            assert "progress_token" not in rec
            for action, state in (("stop", "stopped"), ("start", "running"),
                                  ("terminate", "terminated")):
                r = owner.post(f"/instances/{iid}/{action}")
                assert r.status_code == 202, r.text
                wait_for(lambda: owner.ok("GET", f"/instances/{iid}")["state"] == state,
                         timeout=30, what=state)
            assert aws[0].describe_instances(InstanceIds=[rec["ec2_instance_id"]])[
                "Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
            audit = owner.ok("GET", f"/instances/{iid}/audit")
            ok = [(a["action"], a["outcome"]) for a in audit if a.get("who") == owner.name]
            for action in ("launch", "stop", "start", "terminate"):
                assert (action, "ok") in ok, audit
            launcher_rows = [a for a in audit if a["action"] == "stop" and a["ec2_instance_id"]]
            assert launcher_rows, audit
        finally:
            set_state(iid, "terminated", API_TENANT)  # DELETE removes a terminated one at once
            owner.delete(f"/instances/{iid}")
            owner.delete(f"/instances/configs/{cfg['name']}")
    finally:
        api.stop()
