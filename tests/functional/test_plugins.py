"""Plugins (docs/configuration.md "[plugins]"), end to end on private
services of the built tree (cloudkit.PrivateCloud) with the shipped plugins
of build/plugins:

- the Route 53 DNS plugin against the stack's moto: a launched instance's
  A record appears in ListResourceRecordSets with its address under the
  display name the instance record shows, and goes when it is terminated;
  a Route 53 error (a hosted zone that does not exist) leaves the launch
  running, with the error in backend_status;
- the header auth plugin under [web] access_control = plugin: no header is
  a 401 with the envelope, roles follow the groups;
- a plugin that cannot be used stops the service at start, naming the file
  and the key.
"""
import os
import uuid

import pytest

import cloudkit as ck
from conftest import REPO, Client, wait_for
from test_cloud_faults import (action, cloud, instance, launch, new_tenant,  # noqa: F401
                               put_config, wait_instance, wait_state)

PLUGIN_DIR = os.path.join(os.environ.get("ABACO_BUILD", os.path.join(REPO, "build")), "plugins")


def route53():
    return ck.client("route53")


@pytest.fixture
def zone():
    """A hosted zone of its own in moto: (id, domain); deleted after."""
    domain = f"z{uuid.uuid4().hex[:10]}.abaco.test"
    r53 = route53()
    z = r53.create_hosted_zone(Name=domain + ".", CallerReference=domain)["HostedZone"]
    yield z["Id"].split("/")[-1], domain
    for rs in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]:
        if rs["Type"] == "A":
            r53.change_resource_record_sets(HostedZoneId=z["Id"], ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": rs}]})
    r53.delete_hosted_zone(Id=z["Id"])


def a_records(zone_id):
    return {rs["Name"]: rs for rs in route53().list_resource_record_sets(
        HostedZoneId=zone_id)["ResourceRecordSets"] if rs["Type"] == "A"}


def dns_env(zone_id, domain, ttl=60):
    return {"plugins_dir": PLUGIN_DIR, "plugins_dns": "route53.so",
            "plugins_route53_zone_id": zone_id, "plugins_route53_domain": domain,
            "plugins_route53_ttl": str(ttl)}


def test_route53_record_follows_the_instance(cloud, zone):  # noqa: F811
    zone_id, domain = zone
    tenant = new_tenant("DNS")
    pc, c = cloud(tenant, env=dns_env(zone_id, domain, ttl=77))
    cfg = put_config(c)["name"]
    [iid] = launch(c, cfg, name="Web Box")
    rec = wait_state(c, iid, "running")
    rec = wait_instance(c, iid, lambda o: o.get("display_name"), "a display name")
    ip = rec["public_ip"] or rec["private_ip"]
    assert ip, rec
    name = rec["display_name"]
    assert name == f"web-box-{rec['ec2_instance_id']}.{domain}", rec
    records = wait_for(lambda: a_records(zone_id).get(name + "."), timeout=10,
                       what=f"the A record {name}")
    assert [r["Value"] for r in records["ResourceRecords"]] == [ip]
    assert records["TTL"] == 77
    # GET /instances shows it too
    listed = {o["id"]: o for o in c.ok("GET", "/instances")}
    assert listed[iid]["display_name"] == name
    action(c, iid, "terminate")
    wait_state(c, iid, "terminated")
    wait_for(lambda: name + "." not in a_records(zone_id), timeout=15,
             what=f"the A record {name} gone")
    assert instance(c, iid)["display_name"] == name  # the name stays on the record
    assert "plugin route53 loaded" in pc.log("launcher")
    assert "plugin route53 loaded" in pc.log("updater")


def test_route53_error_does_not_break_the_launch(cloud, zone):  # noqa: F811
    _, domain = zone
    tenant = new_tenant("DNSE")
    pc, c = cloud(tenant, env=dns_env("ZNOSUCHZONE", domain))
    cfg = put_config(c)["name"]
    [iid] = launch(c, cfg)
    wait_state(c, iid, "running")
    rec = wait_instance(c, iid, lambda o: any(b["op"] == "dns:create"
                                              for b in o["backend_status"]),
                        "the DNS error in backend_status")
    err = next(b for b in rec["backend_status"] if b["op"] == "dns:create")
    assert err["code"] == "NoSuchHostedZone", err
    # the launch went on: running, no failure; `error` tells the last backend error
    assert rec["state"] == "running" and "ZNOSUCHZONE" in rec["error"], rec
    assert "NoSuchHostedZone" in pc.log("launcher")


# ------------------------------------------------------------ auth plugin

AUTH_ENV = {"web_access_control": "plugin", "plugins_dir": PLUGIN_DIR,
            "plugins_auth": "header.so", "plugins_admin_groups": "abaco-admins",
            "plugins_user_groups": "abaco-users, abaco-admins"}


@pytest.fixture
def auth_api():
    pc = ck.PrivateCloud(services=("api",), env=AUTH_ENV)
    yield pc
    rcs = pc.close()
    assert rcs == {"api": 0}, rcs


def as_user(pc, user=None, groups=None):
    c = Client(pc.api_url)
    if user is not None:
        c.session.headers["X-Remote-User"] = user
    if groups is not None:
        c.session.headers["X-Remote-Groups"] = groups
    return c


def test_auth_plugin_refuses_requests_without_the_header(auth_api):
    for path in ("/actors", "/instances", "/instances/configs"):
        r = as_user(auth_api).get(path)
        assert r.status_code == 401, r.text
        assert "X-Remote-User" in r.json()["message"]
    # an empty or malformed user is refused too
    assert as_user(auth_api, "", "abaco-users").get("/actors").status_code == 401
    r = as_user(auth_api, "j doe", "abaco-users").get("/actors")
    assert r.status_code == 401 and "not a user name" in r.json()["message"], r.text


def test_auth_plugin_roles_follow_groups(auth_api):
    param = "p" + uuid.uuid4().hex[:8]
    admin = as_user(auth_api, "CORP\\alice@corp.example", "staff, abaco-admins")
    user = as_user(auth_api, "bob", "abaco-users")
    nobody = as_user(auth_api, "carol", "staff")
    # a plain user may use the platform but not its admin routes
    assert user.get("/actors").status_code == 200
    r = user.post("/instances/params", json={param: "v"})
    assert r.status_code == 400 and "Not authorized" in r.json()["message"], r.text
    # the admin group may; and the user name was cleaned up (CORP\ and @realm)
    assert admin.ok("POST", "/instances/params", json={param: "v"})
    try:
        cfg = put_config(admin)
        assert cfg["owner"] == "alice", cfg
        admin.delete(f"/instances/configs/{cfg['name']}")
    finally:
        admin.delete(f"/instances/params/{param}")
    # in none of the mapped groups: no role at all
    r = nobody.get("/actors")
    assert r.status_code == 400 and "missing required role" in r.json()["message"], r.text


def start_fails(service, env):
    """Starts a private `service` with env; it must exit non-zero at once.
    Its log."""
    pc = ck.PrivateCloud(services=())
    try:
        p = pc.start(service, **env)
        rc = p.wait(timeout=20)
        log = pc.log(service)
        assert rc != 0, log
        pc.procs.pop(service)
        return log
    finally:
        pc.close()


@pytest.mark.parametrize("env, expect", [
    ({"plugins_auth": ""}, ["[plugins] auth"]),
    ({"plugins_auth": "nothere.so"}, ["[plugins] auth", "nothere.so", "cannot load"]),
    ({"plugins_auth": "route53.so"}, ["[plugins] auth", "route53.so", "is of kind dns, not auth"]),
    ({"plugins_header_user": "bad header"}, ["[plugins] auth", "header.so", "header_user"]),
])
def test_unusable_plugin_stops_the_api(env, expect):
    log = start_fails("api", dict(AUTH_ENV, **env))
    for word in expect:
        assert word in log, log


@pytest.mark.parametrize("service", ["launcher", "updater"])
def test_unusable_dns_plugin_stops_the_cloud_services(service):
    log = start_fails(service, {"plugins_dir": PLUGIN_DIR, "plugins_dns": "route53.so",
                                "plugins_route53_zone_id": "",
                                "plugins_route53_domain": "x.test"})
    for word in ("[plugins] dns", "route53.so", "route53_zone_id"):
        assert word in log, log
