"""abaco-launch (docs/abaco-launch.md): every invalid invocation ends with
its one-line message and exit status 2 before any request reaches the
endpoint (an awsproxy in front of the stack's moto counts them); cloud
errors are one line with AWS's code; launches of 1 and 5 instances print
what moto's own DescribeInstances says; --json, --dry-run, --min-count
and --load-balancer.
"""
import base64
import json
import os
import subprocess
import threading
import time
import uuid

import pytest

import cloudkit as ck
from awsproxy import AwsProxy
from conftest import BUILD

BIN = os.path.join(BUILD, "bin", "abaco-launch")
REGION = "us-west-2"
ZONE = "us-west-2a"
USAGE_HINT = "(see abaco-launch -h)"


@pytest.fixture
def proxy():
    p = AwsProxy(ck.endpoint()).start()
    yield p
    p.stop()


@pytest.fixture
def site(tmp_path):
    """A home with .aws.settings (0600) and its key file (0400), and a
    project with instance.config and a user data script."""
    key_pair = "abaco-launch-" + uuid.uuid4().hex[:10]
    home = tmp_path / "home"
    home.mkdir()
    key = home / "key.pem"
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nnot a real key\n")
    key.chmod(0o400)
    settings = home / ".aws.settings"
    settings.write_text(
        "[EC2]\nAccessKeyId = AKIAIOSFODNN7EXAMPLE\n"
        "SecretAccessKey = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\n"
        f"AvailabilityZone = {ZONE}\nSSHKeyPair = {key_pair}\nSSHKeyPairFile = {key}\n")
    settings.chmod(0o600)
    project = tmp_path / ("proj" + uuid.uuid4().hex[:8])
    project.mkdir()
    (project / "setup.sh").write_text("#!/bin/sh\necho provisioned > /tmp/done\n")
    (project / "instance.config").write_text(
        f"[EC2]\nImageId = {ck.DEFAULT_AMI}\nInstanceType = t2.micro\nUserDataFile = setup.sh\n")
    return {"home": home, "settings": settings, "key": key, "project": project,
            "key_pair": key_pair}


def run(site, *args, endpoint=None, env=None, timeout=120):
    e = dict(os.environ, HOME=str(site["home"]))
    e.pop("AWS_ENDPOINT_URL", None)
    e.update(env or {})
    argv = [BIN] + ([f"--endpoint-url={endpoint}"] if endpoint else []) + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, env=e, timeout=timeout)


def edit(path, old, new):
    path.write_text(path.read_text().replace(old, new))


# ---- every invalid case: (id, change to the site, arguments, message) ----
# The change gets the site dict; the message is formatted with
# settings, project, config, key (paths as abaco-launch names them).
def _chmod(name, mode):
    return lambda s: s[name].chmod(mode)


def _remove(name):
    return lambda s: s[name].unlink()


def _cfg(old, new):
    return lambda s: edit(s["project"] / "instance.config", old, new)


def _set(old, new):
    return lambda s: edit(s["settings"], old, new)


def _write_settings(text):
    return lambda s: s["settings"].write_text(text)


KEYS = "AccessKeyId, SecretAccessKey, AvailabilityZone, SSHKeyPair, SSHKeyPairFile"
CASES = [
    ("no-arguments", None, [], f"missing arguments <project> <count> {USAGE_HINT}"),
    ("no-count", None, ["{project}"], f"missing argument <count> {USAGE_HINT}"),
    ("too-many", None, ["{project}", "1", "extra"], f"too many arguments: 'extra' {USAGE_HINT}"),
    ("unknown-option", None, ["--bogus", "{project}", "1"], f"unknown option '--bogus' {USAGE_HINT}"),
    ("count-zero", None, ["{project}", "0"],
     "<count> 0 is out of range: 1 to 5 (--max-count raises the maximum)"),
    ("count-above-max", None, ["{project}", "6"],
     "<count> 6 is out of range: 1 to 5 (--max-count raises the maximum)"),
    ("count-above-raised-max", None, ["--max-count", "7", "{project}", "8"],
     "<count> 8 is out of range: 1 to 7"),
    ("count-not-number", None, ["{project}", "two"], "<count> 'two' is not a whole number"),
    ("min-count-above-count", None, ["--min-count", "3", "{project}", "2"],
     "--min-count 3 is above <count> 2"),
    ("min-count-above-max-count", None, ["--min-count", "20000", "{project}", "2"],
     "--min-count 20000 is above <count> 2"),
    ("bad-endpoint", None, ["--endpoint-url", "ftp://x", "{project}", "1"],
     "--endpoint-url 'ftp://x' is not an http:// or https:// URL"),
    ("bad-load-balancer-name", None, ["--load-balancer", "no_underscores", "{project}", "1"],
     "--load-balancer 'no_underscores' is not a load balancer name (1 to 32 letters, digits "
     "and inner hyphens)"),
    ("project-missing", None, ["{project}-nope", "1"], "project '{project}-nope': no such directory"),
    ("project-not-dir", None, ["{project}/setup.sh", "1"],
     "project '{project}/setup.sh': not a directory (a project is a directory holding "
     "instance.config)"),
    ("no-instance-config", lambda s: (s["project"] / "instance.config").unlink(), ["{project}", "1"],
     "{config}: no such file (a project holds its instance.config)"),
    ("config-section-misnamed", _cfg("[EC2]", "[ec2]"), ["{project}", "1"],
     "{config} line 1: section [ec2] is not [EC2] (the only section)"),
    ("config-no-section", _cfg("[EC2]\n", ""), ["{project}", "1"],
     "{config} line 1: key 'ImageId' is outside any section (it belongs under [EC2])"),
    ("config-key-misspelt", _cfg("InstanceType", "InstanceTyp"), ["{project}", "1"],
     "{config} line 3: unknown key 'InstanceTyp' in [EC2] (the keys are ImageId, InstanceType, "
     "UserDataFile, VolumeSize)"),
    ("config-key-missing", _cfg(f"ImageId = {ck.DEFAULT_AMI}\n", ""), ["{project}", "1"],
     "{config}: [EC2] ImageId is missing"),
    ("image-id-malformed", _cfg(ck.DEFAULT_AMI, "ami-12345"), ["{project}", "1"],
     "{config}: [EC2] ImageId 'ami-12345' is malformed (ami- and 8 or 17 hex digits, like "
     "ami-0abcdef1234567890)"),
    ("instance-type-unknown", _cfg("t2.micro", "t9.huge"), ["{project}", "1"],
     "{config}: [EC2] InstanceType 't9.huge' is not a known instance type (the list: {catalog})"),
    ("user-data-missing", lambda s: (s["project"] / "setup.sh").unlink(), ["{project}", "1"],
     "{config}: [EC2] UserDataFile setup.sh: no such file ({project}/setup.sh)"),
    ("settings-missing", _remove("settings"), ["{project}", "1"],
     "{settings}: no such file (the AWS settings; --aws-settings names another)"),
    ("settings-elsewhere-missing", None, ["--aws-settings", "{settings}.other", "{project}", "1"],
     "{settings}.other: no such file (the AWS settings; --aws-settings names another)"),
    ("settings-group-readable", _chmod("settings", 0o640), ["{project}", "1"],
     "{settings}: readable or writable by group or others (mode 0640): must be 0600 or 0400 "
     "(chmod 600 {settings})"),
    ("settings-world-readable", _chmod("settings", 0o604), ["{project}", "1"],
     "{settings}: readable or writable by group or others (mode 0604): must be 0600 or 0400 "
     "(chmod 600 {settings})"),
    ("settings-unreadable", _chmod("settings", 0o000), ["{project}", "1"],
     "{settings}: not readable by its owner (mode 0000): must be 0600 or 0400 "
     "(chmod 600 {settings})"),
    ("settings-not-a-file", lambda s: (s["settings"].unlink(), s["settings"].mkdir()),
     ["{project}", "1"], "{settings}: not a regular file"),
    ("settings-section-missing", _set("[EC2]\n", ""), ["{project}", "1"],
     "{settings} line 1: key 'AccessKeyId' is outside any section (it belongs under [EC2])"),
    ("settings-section-misnamed", _set("[EC2]", "[AWS]"), ["{project}", "1"],
     "{settings} line 1: section [AWS] is not [EC2] (the only section)"),
    ("settings-empty", _write_settings(""), ["{project}", "1"], "{settings}: no [EC2] section"),
    ("settings-key-misspelt", _set("SecretAccessKey", "SecretAcessKey"), ["{project}", "1"],
     "{settings} line 3: unknown key 'SecretAcessKey' in [EC2] (the keys are " + KEYS + ")"),
    ("settings-key-missing", _set(f"AvailabilityZone = {ZONE}\n", ""), ["{project}", "1"],
     "{settings}: [EC2] AvailabilityZone is missing"),
    ("settings-key-empty", _set("SSHKeyPair = ", "SSHKeyPair = \n#"), ["{project}", "1"],
     "{settings}: [EC2] SSHKeyPair is empty"),
    ("settings-not-ini", _set("[EC2]\n", "[EC2]\nthis is not ini\n"), ["{project}", "1"],
     "{settings} line 2: not a 'Key = value' line nor a [section]"),
    ("access-key-malformed", _set("AKIAIOSFODNN7EXAMPLE", "akia-lower"), ["{project}", "1"],
     "{settings}: [EC2] AccessKeyId is malformed (16 to 128 capital letters and digits, like "
     "AKIAIOSFODNN7EXAMPLE)"),
    ("zone-malformed", _set(ZONE, "Mars"), ["{project}", "1"],
     "{settings}: [EC2] AvailabilityZone 'Mars' is neither a region (like us-west-2) nor a zone "
     "(like us-west-2a)"),
    ("ssh-key-missing", _remove("key"), ["{project}", "1"],
     "{key} ([EC2] SSHKeyPairFile of {settings}): no such file"),
    ("ssh-key-readable-by-others", _chmod("key", 0o644), ["{project}", "1"],
     "{key} ([EC2] SSHKeyPairFile of {settings}): readable or writable by group or others "
     "(mode 0644): must be 0600 or 0400 (chmod 600 {key})"),
    ("ssh-key-unreadable", _chmod("key", 0o000), ["{project}", "1"],
     "{key} ([EC2] SSHKeyPairFile of {settings}): not readable by its owner (mode 0000): must be "
     "0600 or 0400 (chmod 600 {key})"),
]


def _fmt(text, site):
    return text.format(settings=site["settings"], project=site["project"], key=site["key"],
                       config=site["project"] / "instance.config",
                       catalog=os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                           os.path.abspath(__file__)))), "services", "api", "share",
                           "ec2_instances.json"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_invalid_case(case, site, proxy):
    _, change, args, message = case
    if change:
        change(site)
    r = run(site, *[_fmt(a, site) for a in args], endpoint=proxy.url)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr == f"abaco-launch: {_fmt(message, site)}\n"
    assert r.stdout == ""
    assert proxy.stats()["total"] == 0, proxy.stats()


def test_help_prints_usage(site, proxy):
    r = run(site, "-h", endpoint=proxy.url)
    assert r.returncode == 2
    assert r.stdout.startswith("usage: abaco-launch [options] <project> <count>\n")
    for opt in ("--aws-settings", "--endpoint-url", "--max-count", "--min-count",
                "--load-balancer", "--json", "--dry-run"):
        assert opt in r.stdout
    assert proxy.stats()["total"] == 0


def test_endpoint_from_environment_is_validated(site, proxy):
    r = run(site, site["project"], "1", env={"AWS_ENDPOINT_URL": "nope"})
    assert r.returncode == 2
    assert r.stderr == "abaco-launch: AWS_ENDPOINT_URL 'nope' is not an http:// or https:// URL\n"


def test_dry_run_makes_no_call(site, proxy):
    r = run(site, "--dry-run", site["project"], "3", endpoint=proxy.url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"dry run: {site['settings']} and {site['project']}/instance.config"
                               " are valid; would launch 3 (at least 3) t2.micro of ")
    assert r.stdout.rstrip().endswith("no call made")
    r = run(site, "--dry-run", "--json", "--min-count", "2", "--load-balancer", "web",
            site["project"], "3", endpoint=proxy.url)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["dry_run"] is True and d["count"] == 3 and d["min_count"] == 2
    assert d["region"] == REGION and d["availability_zone"] == ZONE
    assert d["image_id"] == ck.DEFAULT_AMI and d["load_balancer"] == "web"
    assert d["user_data_bytes"] == len((site["project"] / "setup.sh").read_bytes())
    assert proxy.stats()["total"] == 0


# ---- against moto ----

def ec2():
    return ck.ec2(region_name=REGION)


def make_key_pair(site):
    ec2().create_key_pair(KeyName=site["key_pair"])


def describe(ids):
    out = {}
    for r in ec2().describe_instances(InstanceIds=ids)["Reservations"]:
        for i in r["Instances"]:
            out[i["InstanceId"]] = i
    return out


def terminate(ids):
    if ids:
        ec2().terminate_instances(InstanceIds=ids)


def parse_lines(stdout):
    rows = [line.split(" ") for line in stdout.strip().splitlines()]
    assert all(len(r) == 3 for r in rows), stdout
    return rows


@pytest.mark.parametrize("count", [1, 5])
def test_launch_prints_what_moto_has(site, proxy, count):
    make_key_pair(site)
    r = run(site, site["project"], count, endpoint=proxy.url)
    ids = []
    try:
        assert r.returncode == 0, r.stderr
        rows = parse_lines(r.stdout)
        ids = [row[0] for row in rows]
        assert len(ids) == count == len(set(ids))
        moto = describe(ids)
        for iid, ip, state in rows:
            m = moto[iid]
            assert state == "running" == m["State"]["Name"]
            assert ip == m["PublicIpAddress"]
            assert m["KeyName"] == site["key_pair"]
            assert m["Placement"]["AvailabilityZone"] == ZONE
            assert m["InstanceType"] == "t2.micro" and m["ImageId"] == ck.DEFAULT_AMI
            maps = m["BlockDeviceMappings"]
            assert maps and all(b["Ebs"]["DeleteOnTermination"] for b in maps), maps
            ud = ec2().describe_instance_attribute(InstanceId=iid, Attribute="userData")
            assert base64.b64decode(ud["UserData"]["Value"]) == \
                (site["project"] / "setup.sh").read_bytes()
        # one RunInstances per instance (sent together), and waited for
        # together: fewer DescribeInstances rounds than instances * rounds
        acts = proxy.stats()["actions"]
        assert acts.get("RunInstances") == count, acts
        # not a terminal: one plain progress line per instance and state
        for iid in ids:
            assert f"{iid}: running" in r.stderr
    finally:
        terminate(ids)
    # the volumes go with the instances
    vols = [b["Ebs"]["VolumeId"] for i in describe(ids).values() for b in i["BlockDeviceMappings"]]
    left = ec2().describe_volumes(Filters=[{"Name": "volume-id", "Values": vols}])["Volumes"] \
        if vols else []
    assert left == []


def test_json_output(site, proxy):
    make_key_pair(site)
    r = run(site, "--json", site["project"], "2", endpoint=proxy.url)
    d = json.loads(r.stdout)
    ids = [i["instance_id"] for i in d["instances"]]
    try:
        assert r.returncode == 0, r.stderr
        assert d["requested"] == 2 and d["running"] == 2 and d["load_balancer"] is None
        moto = describe(ids)
        for i in d["instances"]:
            m = moto[i["instance_id"]]
            assert i["public_ip"] == m["PublicIpAddress"]
            assert i["private_ip"] == m["PrivateIpAddress"]
            assert i["state"] == "running" and i["availability_zone"] == ZONE
    finally:
        terminate(ids)


def test_load_balancer(site, proxy):
    make_key_pair(site)
    name = "lb-" + uuid.uuid4().hex[:12]
    elb = ck.client("elb", region_name=REGION)
    r = run(site, "--load-balancer", name, site["project"], "2", endpoint=proxy.url)
    ids = []
    try:
        assert r.returncode == 0, r.stderr
        lines = r.stdout.strip().splitlines()
        ids = [line.split(" ")[0] for line in lines[:-1]]
        lb = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        assert lines[-1] == f"load-balancer {name} {lb['DNSName']}"
        assert sorted(i["InstanceId"] for i in lb["Instances"]) == sorted(ids)
        # a second launch joins the same one
        r2 = run(site, "--load-balancer", name, site["project"], "1", endpoint=proxy.url)
        assert r2.returncode == 0, r2.stderr
        ids.append(r2.stdout.split(" ")[0])
        lb = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        assert sorted(i["InstanceId"] for i in lb["Instances"]) == sorted(ids)
        assert proxy.stats()["actions"].get("CreateLoadBalancer") == 1
    finally:
        terminate(ids)
        elb.delete_load_balancer(LoadBalancerName=name)


def _terminate_one_while_waiting(project_name, result):
    """Terminates the first instance tagged Project=project_name to appear."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        res = ec2().describe_instances(Filters=[{"Name": "tag:Project", "Values": [project_name]}])
        ids = [i["InstanceId"] for r in res["Reservations"] for i in r["Instances"]]
        if ids:
            terminate([ids[0]])
            result.append(ids[0])
            return
        time.sleep(0.05)


@pytest.mark.parametrize("min_count", [None, 2])
def test_fewer_than_count_start(site, proxy, min_count):
    """One of 3 instances dies while abaco-launch waits (its first
    DescribeInstances is held 3 s by the proxy): without --min-count it
    aborts and terminates the rest; with --min-count 2 it goes on."""
    make_key_pair(site)
    proxy.fault("delay", action="DescribeInstances", seconds=3)
    killed = []
    t = threading.Thread(target=_terminate_one_while_waiting,
                         args=(site["project"].name, killed))
    t.start()
    args = (["--min-count", str(min_count)] if min_count else []) + [site["project"], "3"]
    r = run(site, *args, endpoint=proxy.url)
    t.join()
    assert len(killed) == 1
    res = ec2().describe_instances(Filters=[{"Name": "tag:Project",
                                             "Values": [site["project"].name]}])
    states = {i["InstanceId"]: i["State"]["Name"] for x in res["Reservations"]
              for i in x["Instances"]}
    try:
        assert len(states) == 3
        if min_count is None:
            assert r.returncode == 1
            assert r.stderr.splitlines()[-1] == ("abaco-launch: only 2 of 3 instances are running "
                                                 "(at least 3 needed): terminating the 3 started")
            assert r.stdout == ""
            assert set(states.values()) == {"terminated"}
        else:
            assert r.returncode == 0, r.stderr
            assert ("abaco-launch: 2 of 3 instances are running (--min-count 2): going on with "
                    "them\n") in r.stderr
            rows = parse_lines(r.stdout)
            assert sorted(row[0] for row in rows) == sorted(i for i in states if i != killed[0])
            assert all(states[row[0]] == "running" for row in rows)
    finally:
        terminate(list(states))


def test_cloud_errors_are_one_line_with_the_code(site, proxy):
    # an unknown key pair (none made here)
    r = run(site, site["project"], "1", endpoint=proxy.url)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("abaco-launch: DescribeKeyPairs failed: InvalidKeyPair.NotFound: ")
    assert "(HTTP 400" in lines[0]
    # an AMI that does not exist
    make_key_pair(site)
    edit(site["project"] / "instance.config", ck.DEFAULT_AMI, "ami-0123456789abcdef0")
    r = run(site, site["project"], "1", endpoint=proxy.url)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("abaco-launch: DescribeImages failed: InvalidAMIID.NotFound: ")
    # credentials AWS refuses
    proxy.fault("auth")
    r = run(site, site["project"], "1", endpoint=proxy.url)
    assert r.returncode == 1
    assert r.stderr.startswith("abaco-launch: DescribeKeyPairs failed: AuthFailure: ")
    assert len(r.stderr.splitlines()) == 1
    assert "RunInstances" not in proxy.stats()["actions"]
