"""The cloud test kit (cloudkit.py) against the stack's moto: the template
and default AMI, tagged instances, and the private cloud stack."""
import base64
import os
import uuid

import requests

import cloudkit as ck
from awsproxy import AwsProxy


def test_cloudkit_template_and_ami():
    """moto runs the kit's template: the instance from the default AMI with
    the user data as given, the volume only when VolumeSize > 0."""
    cf, ec2 = ck.cloudformation(), ck.ec2()
    assert ec2.describe_images(ImageIds=[ck.DEFAULT_AMI])["Images"][0]["ImageId"] == ck.DEFAULT_AMI
    assert set(ck.TEMPLATE_PARAMETERS) == {
        "KeyName", "ImageId", "InstanceType", "IamInstanceProfile", "SecurityGroupIds",
        "SubnetId", "AvailabilityZone", "KmsKeyId", "EBSVolumeDeviceName", "VolumeSize",
        "UserData"}
    ud = base64.b64encode(b"#!/bin/bash\necho hello\n").decode()
    for vol in (0, 20):
        name = "kit-" + uuid.uuid4().hex[:8]
        cf.create_stack(StackName=name, TemplateBody=ck.TEMPLATE, Parameters=ck.stack_parameters(
            KeyName="", ImageId=ck.DEFAULT_AMI, InstanceType="t3.small", IamInstanceProfile="",
            SecurityGroupIds="", SubnetId="", AvailabilityZone="", KmsKeyId="",
            EBSVolumeDeviceName="/dev/sdf", VolumeSize=vol, UserData=ud),
            Tags=[{"Key": "LaunchedBy", "Value": "kit-test"}, {"Key": "AbacoId", "Value": name}])
        s = cf.describe_stacks(StackName=name)["Stacks"][0]
        assert s["StackStatus"] == "CREATE_COMPLETE"
        res = {r["LogicalResourceId"]: r for r in cf.describe_stack_resources(
            StackName=name)["StackResources"] if "LogicalResourceId" in r}
        iid = res["Instance"]["PhysicalResourceId"]
        i = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        assert (i["ImageId"], i["InstanceType"]) == (ck.DEFAULT_AMI, "t3.small")
        tags = {t["Key"]: t["Value"] for t in i["Tags"]}
        assert tags["LaunchedBy"] == "kit-test" and tags["AbacoId"] == name
        attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        assert base64.b64decode(attr["UserData"]["Value"]) == b"#!/bin/bash\necho hello\n"
        vols = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                              "Values": [iid]}])["Volumes"]
        if vol:
            assert res["Volume"]["PhysicalResourceId"] == vols[0]["VolumeId"]
            assert vols[0]["Size"] == 20
            assert vols[0]["Attachments"][0]["Device"] == "/dev/sdf"
        else:
            assert vols == [] and "Volume" not in res
        cf.delete_stack(StackName=name)


def test_cloudkit_run_tagged_in_batches():
    t = "kit-" + uuid.uuid4().hex[:6]
    ids = ck.run_tagged(7, t, batch=3)
    assert len(set(ids)) == 7
    assert set(ck.tagged(t)) == set(ids)
    ck.stop_instance(ids[0])
    ck.terminate_instance(ids[1])
    assert ck.instance_state(ids[0]) == "stopped"
    assert ck.instance_state(ids[1]) == "terminated"
    assert set(ck.tagged(t, states=["running"])) == set(ids[2:])
    ck.ec2().terminate_instances(InstanceIds=ids)


def test_private_cloud_runs_api_launcher_updater_behind_a_proxy():
    with AwsProxy(ck.endpoint()) as proxy:
        pc = ck.PrivateCloud(endpoint=proxy.url)
        try:
            assert set(pc.procs) == {"api", "launcher", "updater"}
            assert all(p.poll() is None for p in pc.procs.values())
            assert pc.env["cloud_endpoint"] == proxy.url
            assert pc.env["cloud_tag"] == pc.tag and pc.tag != ck.tag()
            assert pc.env["cloud_update_interval"] == "1"
            assert pc.env["cloud_launch_queue"] != "launch"
            assert requests.get(pc.api_url + "/actors", timeout=5).status_code == 200
            assert pc.api_url != os.environ.get("ABACO_API", "http://127.0.0.1:8000")
            logdir = pc.logdir
        finally:
            rcs = pc.close()
        assert rcs == {"api": 0, "launcher": 0, "updater": 0}
        assert not os.path.exists(logdir)
