"""Helpers for the cloud tests and benchmarks: the stack's moto server (the
[cloud] endpoint of abaco.conf, or the cloud_endpoint override), boto3
clients for console-side changes, a minimal MLiy-like CloudFormation
template, and a private cloud stack (api + launcher + updater on a tag,
queues and web port of their own, optionally behind an awsproxy).
"""
import configparser
import json
import os
import subprocess
import time
import uuid

import boto3
import botocore.config
import requests

from conftest import REPO, free_port
from private_stack import BIN, CONF, rabbitmqctl, stop_process

# A default AMI moto ships in every region (amzn-ami-hvm-2017.09.1.20171103-
# x86_64-gp2; DescribeImages lists it in us-east-1 and us-west-2).
DEFAULT_AMI = "ami-760aaa0f"
ACCESS_KEY = SECRET_KEY = "testing"


def conf(section, option, default=""):
    """A config value with the services' override rule: the environment
    variable <section>_<option> when set and non-empty, else abaco.conf."""
    env = os.environ.get(f"{section}_{option}")
    if env:
        return env
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    cp.read(CONF)
    if cp.has_option(section, option):
        return cp.get(section, option).strip() or default
    return default


def endpoint():
    """The stack's AWS endpoint (its moto server)."""
    return conf("cloud", "endpoint", "http://127.0.0.1:5000").rstrip("/")


def region():
    return conf("cloud", "region", "us-east-1")


def tag():
    return conf("cloud", "tag", "ABACO")


def moto_reset(url=None):
    """Drops everything moto holds (POST /moto-api/reset)."""
    r = requests.post((url or endpoint()) + "/moto-api/reset", timeout=30)
    r.raise_for_status()


def client(service, url=None, region_name=None, retries=0, read_timeout=120):
    """A boto3 client (ec2, cloudformation) of the stack's moto, or of url
    (an awsproxy's, say); no retries by default, so a test sees each fault."""
    return boto3.client(
        service, endpoint_url=url or endpoint(), region_name=region_name or region(),
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(retries={"total_max_attempts": retries + 1,
                                               "mode": "standard"},
                                      connect_timeout=10, read_timeout=read_timeout))


def ec2(url=None, **kw):
    return client("ec2", url, **kw)


def cloudformation(url=None, **kw):
    return client("cloudformation", url, **kw)


def run_tagged(n, launched_by=None, batch=500, instance_type="t2.micro", image_id=DEFAULT_AMI,
               extra_tags=None, ec2_client=None):
    """Starts n instances tagged LaunchedBy=launched_by (default: the stack's
    [cloud] tag) with RunInstances in batches of at most batch (MaxCount);
    returns their ids."""
    c = ec2_client or ec2()
    tags = [{"Key": "LaunchedBy", "Value": launched_by or tag()}]
    tags += [{"Key": k, "Value": v} for k, v in (extra_tags or {}).items()]
    ids = []
    while len(ids) < n:
        k = min(batch, n - len(ids))
        r = c.run_instances(ImageId=image_id, InstanceType=instance_type, MinCount=k,
                            MaxCount=k,
                            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
        ids += [i["InstanceId"] for i in r["Instances"]]
    return ids


def tagged(launched_by=None, states=None, ec2_client=None):
    """{instance id: instance} of the instances tagged LaunchedBy=launched_by."""
    c = ec2_client or ec2()
    filters = [{"Name": "tag:LaunchedBy", "Values": [launched_by or tag()]}]
    if states:
        filters.append({"Name": "instance-state-name", "Values": list(states)})
    out = {}
    for page in c.get_paginator("describe_instances").paginate(Filters=filters):
        for res in page["Reservations"]:
            for i in res["Instances"]:
                out[i["InstanceId"]] = i
    return out


def instance_state(instance_id, ec2_client=None):
    c = ec2_client or ec2()
    r = c.describe_instances(InstanceIds=[instance_id])
    return r["Reservations"][0]["Instances"][0]["State"]["Name"]


def stop_instance(instance_id, ec2_client=None):
    """Console-side stop (behind the platform's back)."""
    (ec2_client or ec2()).stop_instances(InstanceIds=[instance_id])


def terminate_instance(instance_id, ec2_client=None):
    """Console-side terminate."""
    (ec2_client or ec2()).terminate_instances(InstanceIds=[instance_id])


# ------------------------------------------------------------ template

def _if(cond, value):
    return {"Fn::If": [cond, value, {"Ref": "AWS::NoValue"}]}


def _set(param):
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]}


_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "Abaco test configuration: one EC2 instance and an optional EBS volume "
                   "(after MLiy's templates)",
    "Parameters": {
        "KeyName": {"Type": "String", "Default": ""},
        "ImageId": {"Type": "String"},
        "InstanceType": {"Type": "String", "Default": "t2.micro"},
        "IamInstanceProfile": {"Type": "String", "Default": ""},
        "SecurityGroupIds": {"Type": "CommaDelimitedList", "Default": ""},
        "SubnetId": {"Type": "String", "Default": ""},
        "AvailabilityZone": {"Type": "String", "Default": ""},
        "KmsKeyId": {"Type": "String", "Default": ""},
        "EBSVolumeDeviceName": {"Type": "String", "Default": "/dev/sdf"},
        "VolumeSize": {"Type": "Number", "Default": "0"},
        "UserData": {"Type": "String", "Default": "",
                     "Description": "the user-data script, already base64-encoded"},
    },
    "Conditions": {
        "HasKeyName": _set("KeyName"),
        "HasProfile": _set("IamInstanceProfile"),
        "HasSecurityGroups": {"Fn::Not": [{"Fn::Equals": [
            {"Fn::Join": ["", {"Ref": "SecurityGroupIds"}]}, ""]}]},
        "HasSubnet": _set("SubnetId"),
        "HasZone": _set("AvailabilityZone"),
        "HasKms": _set("KmsKeyId"),
        "HasUserData": _set("UserData"),
        # Joined: a Number parameter's Ref is a string in AWS, a number in moto.
        "HasVolume": {"Fn::Not": [{"Fn::Equals": [
            {"Fn::Join": ["", [{"Ref": "VolumeSize"}]]}, "0"]}]},
    },
    "Resources": {
        "Instance": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "ImageId": {"Ref": "ImageId"},
                "InstanceType": {"Ref": "InstanceType"},
                "KeyName": _if("HasKeyName", {"Ref": "KeyName"}),
                "IamInstanceProfile": _if("HasProfile", {"Ref": "IamInstanceProfile"}),
                "SecurityGroupIds": _if("HasSecurityGroups", {"Ref": "SecurityGroupIds"}),
                "SubnetId": _if("HasSubnet", {"Ref": "SubnetId"}),
                "AvailabilityZone": _if("HasZone", {"Ref": "AvailabilityZone"}),
                "UserData": _if("HasUserData", {"Ref": "UserData"}),
            },
        },
        "Volume": {
            "Type": "AWS::EC2::Volume",
            "Condition": "HasVolume",
            "Properties": {
                "Size": {"Ref": "VolumeSize"},
                "AvailabilityZone": {"Fn::GetAtt": ["Instance", "AvailabilityZone"]},
                "Encrypted": {"Fn::If": ["HasKms", "true", "false"]},
                "KmsKeyId": _if("HasKms", {"Ref": "KmsKeyId"}),
            },
        },
        "VolumeAttachment": {
            "Type": "AWS::EC2::VolumeAttachment",
            "Condition": "HasVolume",
            "Properties": {
                "InstanceId": {"Ref": "Instance"},
                "VolumeId": {"Ref": "Volume"},
                "Device": {"Ref": "EBSVolumeDeviceName"},
            },
        },
    },
    "Outputs": {
        "InstanceId": {"Value": {"Ref": "Instance"}},
        "VolumeId": {"Condition": "HasVolume", "Value": {"Ref": "Volume"}},
    },
}

# The template as a software configuration's `template` text (JSON).
TEMPLATE = json.dumps(_TEMPLATE, indent=2)
TEMPLATE_PARAMETERS = tuple(_TEMPLATE["Parameters"])


def stack_parameters(**values):
    """CreateStack's Parameters list from keyword values (str()'d)."""
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


# ------------------------------------------------------------ private cloud stack

def _delete_queue(name):
    """Best effort: drops a RabbitMQ queue of the stack's node."""
    try:
        rabbitmqctl("delete_queue", name)
    except (OSError, subprocess.TimeoutExpired):
        pass


class PrivateCloud:
    """An api + launcher + updater of the built tree with cloud overrides of
    their own, so fault tests do not disturb the stack's cloud services:
    cloud_endpoint (e.g. an AwsProxy's url; default the stack's moto),
    cloud_tag, cloud_launch_queue and cloud_command_queue unique,
    cloud_update_interval=1, a free web port, an actor queue and host id of
    its own (no spawner serves it). env adds/overrides variables
    for all three processes. Stores and broker are the stack's.

        with PrivateCloud(endpoint=proxy.url) as pc:
            pc.api_url ... pc.tag ... pc.log("launcher")
    """

    SERVICES = ("api", "launcher", "updater")

    def __init__(self, endpoint=None, env=None, services=SERVICES, logdir=None, up_timeout=20):
        import tempfile
        uid = uuid.uuid4().hex[:8]
        self.tag = f"T{uid}"
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.logdir = logdir or tempfile.mkdtemp(prefix="abaco-cloud-")
        os.makedirs(self.logdir, exist_ok=True)
        self.env = dict(os.environ, cloud_endpoint=endpoint or globals()["endpoint"](),
                        cloud_tag=self.tag, cloud_launch_queue=f"launch_{uid}",
                        cloud_command_queue=f"instance_cmd_{uid}", cloud_update_interval="1",
                        web_port=str(self.port), cloud_progress_url=self.api_url,
                        logs_directory="",
                        # the api's actor jobs (autoscaler, cron) stay off
                        # the stack's actors: a queue and host of its own
                        spawner_host_queues=f"cloud_{uid}",
                        spawner_host_id=f"cloud-host-{uid}")
        self.env.update({k: str(v) for k, v in (env or {}).items()})
        self.procs = {}
        try:
            for name in services:
                self.start(name)
            if "api" in services:
                self.wait_api(up_timeout)
        except BaseException:
            self.close(keep_logs=True)
            raise

    def start(self, name, **overrides):
        """(Re)starts bin/<name> with the private environment plus overrides."""
        if name in self.procs:
            stop_process(self.procs[name])
        path = os.path.join(BIN, name)
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is missing: build the tree first")
        env = dict(self.env, **{k: str(v) for k, v in overrides.items()})
        with open(os.path.join(self.logdir, f"{name}.log"), "ab") as out:
            self.procs[name] = subprocess.Popen([path, "-c", CONF], env=env, cwd=REPO,
                                                stdout=out, stderr=subprocess.STDOUT)
        return self.procs[name]

    def stop(self, name, timeout=30):
        """Stops one process; its exit code."""
        return stop_process(self.procs.pop(name), timeout)

    def wait_api(self, timeout=20):
        deadline = time.time() + timeout
        while True:
            try:
                requests.get(self.api_url + "/actors", timeout=2)
                return
            except requests.ConnectionError:
                api = self.procs["api"]
                if time.time() > deadline or api.poll() is not None:
                    raise AssertionError(f"the private api did not come up: {self.log('api')}")
                time.sleep(0.1)

    def log(self, name, tail=5000):
        try:
            with open(os.path.join(self.logdir, f"{name}.log"), errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        return text if tail is None else text[-tail:]

    def close(self, keep_logs=False):
        """Stops every process (launcher and updater first); {name: exit code}.
        The logs are removed unless keep_logs or a process exited non-zero."""
        import shutil
        rcs = {}
        for name in ("updater", "launcher", *[n for n in self.procs
                                               if n not in ("updater", "launcher")]):
            if name in self.procs:
                rcs[name] = self.stop(name)
        for q in (self.env["cloud_launch_queue"], self.env["cloud_command_queue"]):
            _delete_queue(q)
        if keep_logs or any(rcs.values()):
            print(f"private cloud logs kept in {self.logdir}")
        else:
            shutil.rmtree(self.logdir, ignore_errors=True)
        return rcs

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        rcs = self.close(keep_logs=exc_type is not None)
        assert not any(rcs.values()), f"exit codes {rcs}; logs in {self.logdir}"
