"""The cloud side end to end through a private api + launcher + updater
(cloudkit.PrivateCloud) and the stack's moto server, checked with boto3:

- progress: the user data the instance really got (moto's userData
  attribute) carries {{{progress_url}}} and {{{progress_token}}}; reports
  with them, JSON and MLiy's path form, show on GET /instances/{id}; a
  wrong token is 403;
- the stale guard (docs/cloud.md "Reconciling"): a user transition younger
  than stale_guard keeps its state against a contrary observation, but
  not against `terminated`; after the guard the record follows the cloud;
- secrets: the AWS secret key, session token and progress tokens appear in
  no log and no api answer;
- a volume and tokens: the stack gets EBSVolumeDeviceName, VolumeSize and
  KmsKeyId, the record its volume_id, the user data the rendered
  [cloud_tokens] and tenant params values.
"""
import base64
import re
import time
import uuid

import pytest
import requests

import cloudkit as ck
from conftest import needs_mgmt, wait_for
from test_cloud_faults import (action, alive, cloud, instance, launch, new_tenant,  # noqa: F401
                               proxy, put_config, wait_instance, wait_state)

pytestmark = [needs_mgmt]


def user_data_of(ec2_id):
    """The user data moto holds for an instance, decoded (the stack passes
    it base64-encoded, as EC2 wants it)."""
    attr = ck.ec2().describe_instance_attribute(InstanceId=ec2_id, Attribute="userData")
    text = base64.b64decode(attr["UserData"]["Value"]).decode()
    if not text.startswith("#!"):  # the template's value is base64 already
        text = base64.b64decode(text).decode()
    return text


# ------------------------------------------------------------ progress

def test_progress_with_the_user_data_the_instance_got(cloud):
    tenant = new_tenant("PROG")
    pc, c = cloud(tenant)
    cfg = put_config(c, user_data="#!/bin/sh\nURL={{{progress_url}}}\n"
                                  "TOKEN={{{progress_token}}}\nID={{{instance_id}}}\n")["name"]
    (iid,) = launch(c, cfg)
    rec = wait_instance(c, iid, lambda o: o["ec2_instance_id"], "its EC2 instance")
    ud = user_data_of(rec["ec2_instance_id"])
    url = re.search(r"^URL=(\S+)$", ud, re.M).group(1)
    token = re.search(r"^TOKEN=(\S+)$", ud, re.M).group(1)
    assert url == f"{pc.api_url}/instances/{iid}/progress", ud
    assert re.fullmatch(r"[0-9a-f]{64}", token), ud
    assert f"ID={iid}" in ud
    assert "progress_token" not in rec

    # JSON form, token in the header, no user authentication
    r = requests.post(url, json={"message": "installing", "percent": 42},
                      headers={"X-Progress-Token": token}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["progress"]["percent"] == 42
    p = instance(c, iid)["progress"]
    assert p["message"] == "installing" and p["percent"] == 42
    # MLiy's path form, by EC2 id, token in the query
    r = requests.get(f"{pc.api_url}/instances/progress/{rec['ec2_instance_id']}/"
                     f"Installing_R%20packages(60)", params={"token": token}, timeout=10)
    assert r.status_code == 200, r.text
    p = instance(c, iid)["progress"]
    assert p["message"] == "Installing R packages" and p["percent"] == 60
    # by platform id, found through the tag index (no tenant given)
    r = requests.post(f"{pc.api_url}/instances/progress/{iid}/done(100)?token={token}",
                      timeout=10)
    assert r.status_code == 200, r.text
    assert instance(c, iid)["progress"]["percent"] == 100
    # a wrong or missing token: 403, nothing changes
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    for kw in ({"headers": {"X-Progress-Token": wrong}}, {"params": {"token": wrong}}, {}):
        r = requests.post(url, json={"message": "evil", "percent": 1}, timeout=10, **kw)
        assert r.status_code == 403, r.text
    r = requests.get(f"{pc.api_url}/instances/progress/{iid}/evil(1)?token={wrong}", timeout=10)
    assert r.status_code == 403
    assert instance(c, iid)["progress"]["message"] == "done"
    action(c, iid, "terminate")
    wait_state(c, iid, "terminated")
    # after a terminal state: ignored
    r = requests.post(url, json={"message": "late", "percent": 5},
                      headers={"X-Progress-Token": token}, timeout=10)
    assert r.status_code == 200 and r.json()["result"]["ignored"] is True, r.text


# ------------------------------------------------------------ the stale guard

GUARD = 4  # seconds; long enough for a 1 s updater to observe inside it


def test_stale_guard(cloud):
    tenant = new_tenant("GUARD")
    pc, c = cloud(tenant, env={"cloud_stale_guard": GUARD, "cloud_gone_grace": 600})
    cfg = put_config(c)["name"]
    a, b = launch(c, cfg, count=2)
    ra, rb = wait_state(c, a, "running"), wait_state(c, b, "running")
    # stop both; the launcher enacts it (the goal: it gets through at once)
    t0 = time.monotonic()
    action(c, a, "stop")
    action(c, b, "stop")
    wait_state(c, a, "stopped", timeout=GUARD)
    wait_state(c, b, "stopped", timeout=GUARD)
    # contrary observations inside the guard: A started, B terminated in the console
    ck.ec2().start_instances(InstanceIds=[ra["ec2_instance_id"]])
    ck.terminate_instance(rb["ec2_instance_id"])
    # the updater sees A running but keeps the user's `stopped`...
    rec = wait_instance(c, a, lambda o: o["observed_state"] == "running",
                        "A observed running", timeout=GUARD)
    inside = time.monotonic() - t0
    assert inside < GUARD, f"observed after the guard ({inside:.1f} s): inconclusive"
    assert rec["state"] == "stopped" and rec["desired_state"] == "stopped", rec
    # ...while `terminated` gets through the guard
    rec = wait_state(c, b, "terminated", timeout=GUARD)
    assert time.monotonic() - t0 < GUARD, "B followed only after the guard: inconclusive"
    time.sleep(max(0.0, GUARD - 0.7 - (time.monotonic() - t0)))
    rec = instance(c, a)
    assert rec["state"] == "stopped", rec  # still inside the guard
    # after the guard the record follows the cloud, desired_state too
    rec = wait_state(c, a, "running", timeout=10)
    assert time.monotonic() - t0 >= GUARD - 0.5
    assert rec["desired_state"] == "running" and rec["observed_state"] == "running", rec
    assert not alive(pc)


# ------------------------------------------------------------ secrets

def test_secrets_never_logged_nor_answered(proxy, cloud):
    tenant = new_tenant("SECRET")
    secret, session = f"SECRET-{uuid.uuid4()}", f"TOKEN-{uuid.uuid4()}"
    pc, c = cloud(tenant, endpoint=proxy.url,
                  env={"cloud_secret_access_key": secret, "cloud_session_token": session,
                       "logs_level": "DEBUG", "cloud_stale_guard": 1})
    cfg = put_config(c, user_data="#!/bin/sh\nT={{{progress_token}}}\n")["name"]
    answers = []
    proxy.fault("throttle", count=2, action="CreateStack")  # error paths log too
    (iid,) = launch(c, cfg)
    rec = wait_state(c, iid, "running")
    token = re.search(r"^T=(\S+)$", user_data_of(rec["ec2_instance_id"]), re.M).group(1)
    proxy.fault("auth", action="StopInstances")  # a failed action: error and backend_status
    action(c, iid, "stop")
    rec = wait_instance(c, iid, lambda o: o["error"], "the failed stop")
    assert rec["backend_status"][0]["code"] == "AuthFailure"
    r = requests.post(f"{pc.api_url}/instances/{iid}/progress", json={"message": "m"},
                      headers={"X-Progress-Token": token}, timeout=10)
    answers.append(r.text)
    r = requests.post(f"{pc.api_url}/instances/{iid}/progress", json={"message": "m"},
                      headers={"X-Progress-Token": token[::-1]}, timeout=10)
    assert r.status_code == 403
    answers.append(r.text)
    wait_state(c, iid, "running")  # the api's `stopping` is put right by the updater
    action(c, iid, "stop")
    wait_state(c, iid, "stopped")
    for path in ("/instances", f"/instances/{iid}", f"/instances/{iid}/audit", "/metrics",
                 "/instances/nosuch", f"/instances/{iid}/stop", "/instances/configs"):
        for method in ("GET", "POST"):
            answers.append(c.request(method, path).text)
    time.sleep(1.5)  # a few more updater passes and their logs
    logs = {name: pc.log(name, tail=None) for name in pc.SERVICES}
    assert all(logs.values()), "no logs to check"
    for what in (secret, session, token):
        for name, text in logs.items():
            assert what not in text, f"{what[:7]}... in the {name} log"
        for text in answers:
            assert what not in text, f"{what[:7]}... in an answer: {text[:300]}"
    assert not alive(pc)


# ------------------------------------------------------------ volume and tokens

def test_volume_and_tokens(cloud):
    tenant = new_tenant("VOL")
    site = f"site-{uuid.uuid4().hex[:6]}"
    pc, c = cloud(tenant, env={"cloud_tokens_site_name": site})
    kms = "arn:aws:kms:us-east-1:123456789012:key/" + str(uuid.uuid4())
    params = c.ok("POST", "/instances/params", json={"Lab_Bucket": "s3://lab-bucket-7"})
    assert {"name": "Lab_Bucket", "value": "s3://lab-bucket-7"} in params
    cfg = put_config(c, user_data="#!/bin/sh\nSITE={{{site_name}}}\nBUCKET={{{Lab_Bucket}}}\n"
                                  "OWNER={{{owner}}}\n",
                     volume={"device": "/dev/sdh", "size": 3, "kms_key_id": kms})["name"]
    (iid,) = launch(c, cfg)
    rec = wait_state(c, iid, "running")
    rec = wait_instance(c, iid, lambda o: o["volume_id"], "the volume id")
    assert rec["volume_id"].startswith("vol-")
    st = ck.cloudformation().describe_stacks(StackName=rec["stack_id"])["Stacks"][0]
    p = {x["ParameterKey"]: x["ParameterValue"] for x in st["Parameters"]}
    assert p["EBSVolumeDeviceName"] == "/dev/sdh" and p["VolumeSize"] == "3", p
    assert p["KmsKeyId"] == kms, p
    ud = base64.b64decode(p["UserData"]).decode()
    assert f"SITE={site}\n" in ud and "BUCKET=s3://lab-bucket-7\n" in ud, ud
    assert "OWNER=anonymous\n" in ud and "{{{" not in ud, ud
    assert user_data_of(rec["ec2_instance_id"]) == ud
    vol = ck.ec2().describe_volumes(VolumeIds=[rec["volume_id"]])["Volumes"][0]
    assert vol["Size"] == 3
    assert not alive(pc)
