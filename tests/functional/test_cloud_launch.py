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
import json
import statistics
import time
import uuid

import boto3
import pytest

from conftest import conf, declare_queue, needs_mgmt, redis_cmd, wait_for

TENANT = "launchtest"
TAG = conf("cloud", "tag", "ABACO")
LAUNCH_Q = conf("cloud", "launch_queue", "launch")
COMMAND_Q = conf("cloud", "command_queue", "instance_cmd")
ENDPOINT = conf("cloud", "endpoint", "")

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


def new_instance(config):
    iid = "I" + uuid.uuid4().hex[:12]
    hset_json(f"abaco:instance:{TENANT}:{iid}", {
        "id": iid, "tenant": TENANT, "owner": "alice", "name": f"box-{iid}", "config": config,
        "group": None, "instance_type": "t3.micro", "tag": TAG, "state": "launching",
        "desired_state": "running", "progress_token": "tok-" + iid, "backend_status": []})
    redis_cmd("SADD", f"abaco:instances:{TENANT}", iid)
    redis_cmd("SADD", f"abaco:cloud:index:{TAG}", f"{TENANT}:{iid}")
    return iid


def record(iid):
    raw = redis_cmd("HGETALL", f"abaco:instance:{TENANT}:{iid}")
    return {raw[i]: json.loads(raw[i + 1]) for i in range(0, len(raw), 2)}


def publish(queue, **msg):
    declare_queue(queue, json.dumps(msg))


def launch(iid):
    publish(LAUNCH_Q, tenant=TENANT, instance_id=iid, request_id="req-" + iid)


def command(iid, action):
    publish(COMMAND_Q, tenant=TENANT, instance_id=iid, action=action,
            request_id=f"req-{action}-{iid}", who="bob")


def stack_name(iid):
    return "".join(c if c.isalnum() or c == "-" else "-" for c in f"{TAG}-{TENANT}-{iid}")


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
        redis_cmd("SREM", f"abaco:cloud:index:{TAG}", f"{TENANT}:{iid}")
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
    import base64
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


def test_stop_start_terminate(aws, ami, cleanup):
    ec2, cfn = aws
    put_config("vol", ami)
    iid = new_instance("vol")
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


def test_action_without_instance_is_an_error(cleanup):
    iid = new_instance("nosuchconfig")
    redis_cmd("HSET", f"abaco:instance:{TENANT}:{iid}", "state", json.dumps("stopped"))
    cleanup.append(iid)
    command(iid, "start")
    rec = wait_for(lambda: (r := record(iid)).get("error") and r, what="the error")
    assert "has no EC2 instance" in rec["error"]
    assert rec["backend_status"][0]["op"] == "StartInstances"
    assert rec["state"] == "stopped"


def test_missing_token_fails_the_launch(ami, cleanup):
    put_config("badtoken", ami, user_data="echo {{{no_such_token}}}")
    iid = new_instance("badtoken")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "failed")
    assert rec["error"] == "no value for token {{{no_such_token}}}"
    assert not rec.get("stack_id")


def test_refused_template_fails_with_aws_words(ami, cleanup):
    tmpl = json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                       "Parameters": {"ImageId": {"Type": "String"}},
                       "Resources": {"Box": {"Type": "AWS::EC2::Instance",
                                             "Properties": {"ImageId": {"Ref": "Nope"}}}}})
    put_config("refused", ami, tmpl=tmpl)
    iid = new_instance("refused")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "failed")
    assert rec["error"]
    assert rec["backend_status"][0]["op"] in ("CreateStack", "launch")


def test_unknown_config_fails_and_bad_commands_are_dropped(cleanup):
    publish(LAUNCH_Q, tenant=TENANT)  # no instance_id: dropped, logged
    declare_queue(COMMAND_Q, "not json")
    publish(COMMAND_Q, tenant=TENANT, instance_id="x", action="explode")
    iid = new_instance("nosuchconfig")
    cleanup.append(iid)
    launch(iid)
    rec = wait_state(iid, "failed")
    assert rec["error"] == "unknown configuration: nosuchconfig"


def test_launch_to_recorded_latency(ami, cleanup):
    """Launch -> ec2_instance_id recorded, median of several runs."""
    put_config("vol", ami)
    times = []
    for _ in range(5):
        iid = new_instance("vol")
        cleanup.append(iid)
        t0 = time.monotonic()
        launch(iid)
        wait_for(lambda: record(iid).get("ec2_instance_id"), timeout=30, interval=0.01,
                 what="ec2_instance_id")
        times.append((time.monotonic() - t0) * 1000)
        wait_state(iid, "running")
    med = statistics.median(times)
    print(f"\nlaunch -> instance recorded: median {med:.0f} ms over {len(times)} runs "
          f"({', '.join(f'{t:.0f}' for t in times)})")
    assert med < 10000
