"""Helpers of the api tests of cloud instances (docs/cloud.md): software configurations
to launch from, instance records read and changed in Redis as the launcher
and updater would, and cleanup. Without a launcher an instance stays
`launching`; tests move it to the state they need with set_state."""
import json

import pytest

from authkit import unique
from conftest import redis_cmd

TENANT = "DEV-DEVELOP"
JSON_TEMPLATE = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"ImageId": {"Type": "String"}, "InstanceType": {"Type": "String"},
                   "UserData": {"Type": "String"}},
    "Resources": {"Instance": {"Type": "AWS::EC2::Instance",
                               "Properties": {"ImageId": {"Ref": "ImageId"},
                                              "InstanceType": {"Ref": "InstanceType"}}}}})
YAML_TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  ImageId: {Type: String}
Resources:
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref ImageId
"""


def config_body(**over):
    body = {"name": unique("cfg-"), "description": "a test configuration",
            "image_id": "ami-12345678", "template": JSON_TEMPLATE,
            "user_data": "#!/bin/sh\necho {{{instance_name}}} {{{progress_url}}}\n",
            "volume": None, "instance_types": ["t2.micro", "m5.large"]}
    body.update(over)
    return body


@pytest.fixture
def config(owner, admin):
    """A software configuration of owner's, deleted (as admin) after the test."""
    rec = owner.ok("POST", "/instances/configs", json=config_body())
    yield rec
    admin.delete(f"/instances/configs/{rec['name']}")


def instance_key(iid, tenant=TENANT):
    return f"abaco:instance:{tenant}:{iid}"


def field(iid, name, tenant=TENANT):
    """A field of an instance record as stored (decoded JSON), or None."""
    v = redis_cmd("HGET", instance_key(iid, tenant), name)
    return None if v is None else json.loads(v)


def set_fields(iid, tenant=TENANT, **fields):
    for k, v in fields.items():
        redis_cmd("HSET", instance_key(iid, tenant), k, json.dumps(v))


def set_state(iid, state, tenant=TENANT):
    set_fields(iid, tenant, state=state)


def set_ec2(iid, ec2, tenant=TENANT):
    set_fields(iid, tenant, ec2_instance_id=ec2)
    redis_cmd("SET", f"abaco:cloud:ec2:{ec2}", f"{tenant}:{iid}")


def remove_instance(client, iid, tenant=TENANT):
    """Removes an instance whatever its state: terminal, then DELETE."""
    if redis_cmd("EXISTS", instance_key(iid, tenant)):
        set_state(iid, "terminated", tenant)
        client.delete(f"/instances/{iid}")


def status(r, code):
    assert r.status_code == code, (r.status_code, r.text)
    return r.json()


def error(r, code, message=None):
    body = status(r, code)
    assert body["status"] == "error" and body["result"] is None, body
    if message is not None:
        assert body["message"] == message, body
    return body["message"]
