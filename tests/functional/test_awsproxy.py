"""The fault-injecting AWS proxy (awsproxy.py) against the stack's moto
server, with signed requests (botocore)."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import botocore.exceptions
import pytest
import requests

import cloudkit as ck
from awsproxy import AwsProxy

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def proxy():
    p = AwsProxy(ck.endpoint()).start()
    yield p
    p.stop()


@pytest.fixture(autouse=True)
def clean(proxy):
    proxy.reset()
    yield
    proxy.reset()


def make_stack(cf, name=None, volume=0):
    name = name or "awsproxy-" + uuid.uuid4().hex[:8]
    cf.create_stack(StackName=name, TemplateBody=ck.TEMPLATE,
                    Parameters=ck.stack_parameters(ImageId=ck.DEFAULT_AMI, InstanceType="t2.micro",
                                                   VolumeSize=volume),
                    Tags=[{"Key": "LaunchedBy", "Value": "awsproxy-test"}])
    return name


def error_of(excinfo):
    e = excinfo.value
    return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]


def test_forwards_signed_requests_and_counts_actions(proxy):
    ec2 = ck.ec2(proxy.url)
    ids = ck.run_tagged(2, "awsproxy-" + uuid.uuid4().hex[:6], ec2_client=ec2)
    got = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert sorted(i["InstanceId"] for r in got for i in r["Instances"]) == sorted(ids)
    stats = proxy.stats()
    assert stats["actions"] == {"RunInstances": 1, "DescribeInstances": 1}
    assert stats["total"] == stats["forwarded"] == 2
    ec2.terminate_instances(InstanceIds=ids)


def test_ec2_throttle_only_for_the_named_action(proxy):
    ec2 = ck.ec2(proxy.url)
    proxy.fault("ec2_throttle", count=2, action="DescribeInstances")
    ec2.describe_regions()  # another action passes
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            ec2.describe_instances()
        assert error_of(ei) == (503, "RequestLimitExceeded")
        assert ei.value.response["Error"]["Message"] == "Request limit exceeded."
    ec2.describe_instances()  # the fault is used up
    s = proxy.stats()
    assert s["faults"] == {"ec2_throttle": 2}
    assert s["actions"] == {"DescribeRegions": 1, "DescribeInstances": 3}
    assert s["forwarded"] == 2
    assert proxy.state()["faults"] == []


def test_every_other_request_and_fallthrough(proxy):
    """every=2: each second matching request gets the fault; a request that
    is not a fault's turn takes the next pending fault, else goes upstream."""
    ec2 = ck.ec2(proxy.url)
    proxy.fault("ec2_throttle", count=3, every=2)
    outcomes = []
    for _ in range(6):
        try:
            ec2.describe_regions()
            outcomes.append("ok")
        except botocore.exceptions.ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    assert outcomes == ["ok", "RequestLimitExceeded"] * 3
    assert proxy.state()["faults"] == []
    ec2.describe_regions()  # used up
    s = proxy.stats()
    assert s["faults"] == {"ec2_throttle": 3} and s["forwarded"] == 4
    # a skipped request falls through to the next fault in the queue
    proxy.fault("ec2_throttle", count=1, every=3)
    proxy.fault("http500", count=1)
    codes = []
    for _ in range(3):
        try:
            ec2.describe_regions()
            codes.append("ok")
        except botocore.exceptions.ClientError as e:
            codes.append(e.response["Error"]["Code"])
    assert codes == ["InternalError", "ok", "RequestLimitExceeded"]
    r = requests.post(f"{proxy.url}/_proxy/fault", json={"kind": "throttle", "every": 0},
                      timeout=10)
    assert r.status_code == 400 and "every" in r.json()["error"]
    r = requests.post(f"{proxy.url}/_proxy/fault", json={"kind": "throttle", "every": 2},
                      timeout=10)
    assert r.status_code == 200
    assert proxy.state()["faults"][0]["every"] == 2


def test_cfn_throttle_and_errors(proxy):
    cf = ck.cloudformation(proxy.url)
    proxy.fault("cfn_throttle")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cf.describe_stacks()
    assert error_of(ei) == (400, "Throttling")
    assert ei.value.response["Error"]["Message"] == "Rate exceeded"
    assert ei.value.response["Error"]["Type"] == "Sender"
    proxy.fault("throttle")  # picks the request's service: CloudFormation here
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cf.describe_stacks()
    assert error_of(ei) == (400, "Throttling")
    proxy.fault("http500")
    proxy.fault("http502")
    proxy.fault("auth")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cf.describe_stacks()
    assert error_of(ei) == (500, "InternalFailure")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cf.describe_stacks()
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cf.describe_stacks()
    assert error_of(ei) == (401, "AuthFailure")
    cf.describe_stacks()


def test_raw_fault_bodies(proxy):
    """The exact XML the C client parses."""
    form = {"Action": "DescribeInstances", "Version": "2016-11-15"}
    proxy.fault("ec2_throttle")
    r = requests.post(proxy.url + "/", data=form, timeout=10)
    assert r.status_code == 503
    assert r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                             "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
                             "</Message></Error></Errors><RequestID>")
    proxy.fault("auth")
    r = requests.post(proxy.url + "/", data=form, timeout=10)
    assert r.status_code == 401 and "<Code>AuthFailure</Code>" in r.text
    proxy.fault("cfn_throttle")
    r = requests.post(proxy.url + "/", data={"Action": "DescribeStacks",
                                             "Version": "2010-05-15"}, timeout=10)
    assert r.status_code == 400
    assert "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>" \
        "</Error><RequestId>" in r.text


def test_delay(proxy):
    ec2 = ck.ec2(proxy.url)
    proxy.fault("delay", seconds=1.5, action="DescribeRegions")
    t = time.monotonic()
    ec2.describe_regions()
    assert time.monotonic() - t >= 1.5
    t = time.monotonic()
    ec2.describe_regions()
    assert time.monotonic() - t < 1.0
    assert proxy.stats()["forwarded"] == 2


def test_stack_in_progress_for_a_while(proxy):
    cf = ck.cloudformation(proxy.url)
    name = make_stack(cf)
    other = make_stack(cf)
    proxy.stack_in_progress(name, 2)
    s = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert s["StackStatus"] == "CREATE_IN_PROGRESS" and "Outputs" not in s
    # by id too, and in a listing of every stack; the other one is untouched
    s = cf.describe_stacks(StackName=s["StackId"])["Stacks"][0]
    assert s["StackStatus"] == "CREATE_IN_PROGRESS"
    listing = {x["StackName"]: x["StackStatus"] for x in cf.describe_stacks()["Stacks"]}
    assert listing[name] == "CREATE_IN_PROGRESS" and listing[other] == "CREATE_COMPLETE"
    res = cf.describe_stack_resources(StackName=name)["StackResources"]
    assert res and all(r["ResourceStatus"] == "CREATE_IN_PROGRESS" for r in res)
    assert all("PhysicalResourceId" not in r for r in res)
    time.sleep(2.2)
    s = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert s["StackStatus"] == "CREATE_COMPLETE" and s["Outputs"]
    res = cf.describe_stack_resources(StackName=name)["StackResources"]
    inst = [r for r in res if r.get("ResourceType") == "AWS::EC2::Instance"]
    assert inst[0]["PhysicalResourceId"].startswith("i-")


def test_stack_fail(proxy):
    cf = ck.cloudformation(proxy.url)
    name = make_stack(cf)
    proxy.stack_fail(name, instance_type="p9.huge")
    s = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert s["StackStatus"] == "ROLLBACK_COMPLETE"
    ev = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in ev if e["ResourceStatus"] == "CREATE_FAILED"]
    assert len(failed) == 1
    assert failed[0]["ResourceType"] == "AWS::EC2::Instance"
    assert failed[0]["LogicalResourceId"] == "Instance"
    assert failed[0]["ResourceStatusReason"].startswith(
        "Your requested instance type (p9.huge) is not supported")
    assert ev[0]["ResourceStatus"] == "ROLLBACK_COMPLETE"
    res = cf.describe_stack_resources(StackName=name)["StackResources"]
    inst = [r for r in res if r.get("ResourceType") == "AWS::EC2::Instance"][0]
    assert inst["ResourceStatus"] == "CREATE_FAILED" and "PhysicalResourceId" not in inst
    proxy.stack_fail(name, status="CREATE_FAILED")
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_FAILED"
    proxy.stack_clear(name)
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_control_api_over_http(proxy):
    def ctl(method, op, body=None):
        return requests.request(method, f"{proxy.url}/_proxy/{op}", json=body, timeout=10)

    r = ctl("POST", "fault", {"kind": "ec2_throttle", "count": 1, "action": "DescribeRegions"})
    assert r.status_code == 200 and isinstance(r.json()["id"], int)
    assert ctl("GET", "state").json()["faults"][0]["action"] == "DescribeRegions"
    with pytest.raises(botocore.exceptions.ClientError):
        ck.ec2(proxy.url).describe_regions()
    assert ctl("GET", "stats").json()["faults"] == {"ec2_throttle": 1}
    assert ctl("POST", "stack/in_progress", {"stack": "x", "seconds": 5}).status_code == 200
    assert "x" in ctl("GET", "state").json()["in_progress"]
    assert ctl("POST", "stack/fail", {"stack": "y", "instance_type": "z"}).status_code == 200
    # bad requests name the problem
    r = ctl("POST", "fault", {"kind": "meteor"})
    assert r.status_code == 400 and "unknown fault kind 'meteor'" in r.json()["error"]
    r = ctl("POST", "fault", {"kind": "delay"})
    assert r.status_code == 400 and "seconds" in r.json()["error"]
    r = ctl("POST", "fault", {"kind": "auth", "count": 0})
    assert r.status_code == 400 and "count" in r.json()["error"]
    r = requests.post(f"{proxy.url}/_proxy/fault", data="{", timeout=10)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    assert ctl("GET", "nothing").status_code == 404
    # control requests are not counted nor forwarded
    assert ctl("POST", "reset").json() == {"reset": True}
    assert ctl("GET", "stats").json() == {"total": 0, "forwarded": 0, "actions": {},
                                          "faults": {}}
    assert ctl("GET", "state").json() == {"faults": [], "in_progress": {}, "failing": {}}


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers with what it received, to check the proxy changes nothing."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"path": self.path, "headers": self.headers.items(),
                          "body": body.decode("latin-1")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def test_request_reaches_upstream_unchanged():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with AwsProxy(f"http://127.0.0.1:{srv.server_address[1]}") as p:
            headers = {"Host": "ec2.us-east-1.amazonaws.com",
                       "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"
                                        "ec2/aws4_request, SignedHeaders=host;x-amz-date, "
                                        "Signature=abc",
                       "X-Amz-Date": "20260101T000000Z",
                       "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
            body = b"Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AX"
            r = requests.post(p.url + "/some/path?x=1", data=body, headers=headers, timeout=10)
            got = r.json()
            assert got["path"] == "/some/path?x=1"
            assert got["body"] == body.decode()
            h = {k.lower(): v for k, v in got["headers"]}
            for k, v in headers.items():
                assert h[k.lower()] == v
            assert h["content-length"] == str(len(body))
    finally:
        srv.shutdown()
        srv.server_close()


def test_command_line(tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "awsproxy.py"), "--listen",
                             "127.0.0.1:0", "--upstream", ck.endpoint(), "--port-file",
                             str(port_file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while not port_file.exists():
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        ck.ec2(url).describe_regions()
        assert requests.get(url + "/_proxy/stats", timeout=5).json()["actions"] == {
            "DescribeRegions": 1}
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
