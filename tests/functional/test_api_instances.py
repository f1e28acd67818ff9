"""Cloud instances through the api (docs/cloud.md "REST routes",
"Progress", "Metrics"), everything that needs no launcher or updater: a
launched instance stays `launching`, and tests move a record to the state
they need in Redis, as the launcher and updater would.

Launch checks (configuration, type, count, name, group, tokens), the
answers (201 with the records, never a progress_token), visibility across
users and tenants, the actions' preconditions (409) and their in-between
states (202), a race of two starts, DELETE, the audit, progress reports
(token, clamping, MLiy's path form, ignored after a terminal state) and
the /metrics series."""
import concurrent.futures
import json
import re
import urllib.parse

import pytest
import requests

from authkit import ADMIN, JwtApi, KeyPair, unique
from authkit import admin, other, owner  # noqa: F401 (fixtures, on this module's api)
from instancekit import (TENANT, config_body, error, field, instance_key, remove_instance,
                         set_ec2, set_fields, set_state, status)
from instancekit import config  # noqa: F401 (a fixture)
from conftest import API, Client, delete_queue, needs_mgmt, queue_info, redis_cmd, wait_for

USER_PREFIX = "ins"
# The api of this module publishes to queues of its own that no launcher
# consumes (the stack runs one): its instances stay `launching`, and its
# commands wait in the queue to be counted.
LAUNCH_Q = "launch_" + unique("apitest")
COMMAND_Q = "instance_cmd_" + unique("apitest")
ANSWERS = []  # every answer text of this module, checked for secrets at the end


def keep(r):
    ANSWERS.append(r.text)
    return r


@pytest.fixture(scope="module")
def api():
    a = JwtApi(KeyPair(), cloud_launch_queue=LAUNCH_Q, cloud_command_queue=COMMAND_Q)
    yield a
    a.stop()
    for q in (LAUNCH_Q, COMMAND_Q):
        delete_queue(q)


@pytest.fixture
def launched(admin):
    ids = []
    yield ids
    for iid in ids:
        remove_instance(admin, iid)


def launch(c, launched, config, **over):
    body = {"config": config["name"], "instance_type": "t2.micro", "name": "my box"}
    body.update(over)
    r = keep(c.post("/instances", json=body))
    recs = status(r, 201)["result"]
    launched.extend(i["id"] for i in recs)
    return recs


@pytest.fixture
def inst(owner, config, launched):
    return launch(owner, launched, config)[0]


def token_of(iid):
    return field(iid, "progress_token")


# ---- launch ----

def test_launch(owner, config, launched):
    recs = launch(owner, launched, config, count=3, name="trio")
    assert len(recs) == 3 and len({r["id"] for r in recs}) == 3
    for rec in recs:
        assert rec["state"] == "launching" and rec["desired_state"] == "running"
        assert rec["owner"] == owner.name and rec["tenant"] == TENANT
        assert rec["config"] == config["name"] and rec["instance_type"] == "t2.micro"
        assert rec["name"] == "trio" and rec["tag"] == "ABACO"
        assert rec["ec2_instance_id"] is None and rec["stack_id"] is None
        assert rec["stack_name"] == f"ABACO-DEV-DEVELOP-{rec['id']}"
        assert rec["user_transition"] and rec["created"]
        assert rec["adopted"] is False and rec["deleting"] is False
        assert "progress_token" not in rec
        # stored with a 64-hex-digit token of its own
        tok = token_of(rec["id"])
        assert re.fullmatch(r"[0-9a-f]{64}", tok), tok
        assert redis_cmd("SISMEMBER", "abaco:cloud:index:ABACO", f"{TENANT}:{rec['id']}") == 1
    assert len({token_of(r["id"]) for r in recs}) == 3
    # the name defaults to the configuration's
    assert launch(owner, launched, config, name=None)[0]["name"] == config["name"]


@pytest.mark.parametrize("over,message", [
    ({"config": "no-such-config"}, "unknown configuration: no-such-config"),
    ({"config": None}, "config is required: the name of a software configuration."),
    ({"instance_type": "c5.xlarge"}, "instance type c5.xlarge is not allowed by configuration {c}"),
    ({"instance_type": None}, "instance_type is required: one of the types configuration {c} "
                              "allows."),
    ({"count": 0}, "count must be between 1 and 10"),
    ({"count": 11}, "count must be between 1 and 10"),
    ({"count": -1}, "count must be between 1 and 10"),
    ({"count": "many"}, "Invalid count: the value must be an integer."),
    ({"name": "n" * 65}, "Invalid name: at most 64 characters."),
    ({"name": "a\nb"}, "Invalid name: control characters are not allowed."),
    ({"group": "no-such-group"}, "unknown group: no-such-group"),
])
def test_launch_errors(owner, config, over, message):
    body = {"config": config["name"], "instance_type": "t2.micro"}
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    before = redis_cmd("SCARD", f"abaco:instances:{TENANT}")
    error(owner.post("/instances", json=body), 400, message.format(c=config["name"]))
    assert redis_cmd("SCARD", f"abaco:instances:{TENANT}") == before


def test_event_targets(owner, admin, launched):
    """link and webhook of a launch are stored on its records (events go
    there, docs/cloud.md "Channels"); a configuration's are its own; bad
    ones are 400 naming the field, and nothing is launched."""
    body = config_body(link="my-alias", webhook="https://hooks.example.org/cfg")
    cfg = owner.ok("POST", "/instances/configs", json=body)
    try:
        assert cfg["link"] == "my-alias" and cfg["webhook"] == "https://hooks.example.org/cfg"
        rec = launch(owner, launched, cfg, link="other_actor",
                     webhook="http://127.0.0.1:9/hook")[0]
        assert rec["link"] == "other_actor" and rec["webhook"] == "http://127.0.0.1:9/hook"
        assert field(rec["id"], "webhook") == "http://127.0.0.1:9/hook"
        # without targets of its own, the record has none (events then use the config's)
        plain = launch(owner, launched, cfg)[0]
        assert plain["link"] is None and plain["webhook"] is None
        before = len(launched)
        for over, msg in [({"webhook": "ftp://x"}, "Invalid webhook"),
                          ({"link": "no spaces"}, "Invalid link")]:
            r = keep(owner.post("/instances", json={"config": cfg["name"],
                                                   "instance_type": "t2.micro", **over}))
            assert msg in error(r, 400)
        assert len(launched) == before
        r = owner.post("/instances/configs", json=config_body(webhook="mailto:x"))
        assert "Invalid webhook" in error(r, 400)
    finally:
        admin.delete(f"/instances/configs/{cfg['name']}")


def test_user_data_must_fit_the_parameter(owner, admin, launched):
    """The UserData parameter holds 4096 bytes of base64: longer rendered
    user data is refused at launch with the sizes, before anything is stored."""
    cfg = owner.ok("POST", "/instances/configs",
                   json=config_body(user_data="#!/bin/sh\n" + "x" * 3100 + "\n"))
    try:
        r = keep(owner.post("/instances", json={"config": cfg["name"],
                                                "instance_type": "t2.micro"}))
        msg = error(r, 400)
        assert "bytes after token replacement" in msg and "4096" in msg, msg
        ok = owner.ok("PUT", f"/instances/configs/{cfg['name']}",
                      json=config_body(name=cfg["name"], user_data="#!/bin/sh\n" + "x" * 3000))
        assert ok["name"] == cfg["name"]
        assert launch(owner, launched, cfg)[0]["state"] == "launching"
    finally:
        admin.delete(f"/instances/configs/{cfg['name']}")


def test_type_not_in_pricing_file(owner, config):
    # a configuration stored before the pricing file lost the type
    key = f"abaco:swconfig:{TENANT}:{config['name']}"
    redis_cmd("HSET", key, "instance_types", json.dumps(["t2.micro", "x9.gone"]))
    error(owner.post("/instances", json={"config": config["name"], "instance_type": "x9.gone"}),
          400, "instance type x9.gone is not in the pricing file")


def test_tokens(owner, admin, launched):
    tok = unique("tok")
    body = config_body(user_data="#!/bin/sh\necho {{{%s}}} {{{instance_id}}} {{{owner}}}\n" % tok)
    cfg = owner.ok("POST", "/instances/configs", json=body)
    try:
        error(owner.post("/instances", json={"config": cfg["name"], "instance_type": "t2.micro"}),
              400, "no value for token {{{%s}}}" % tok)
        admin.ok("POST", "/instances/params", json={tok: "from params"})
        try:
            launch(owner, launched, cfg)
        finally:
            admin.delete(f"/instances/params/{tok}")
    finally:
        admin.delete(f"/instances/configs/{cfg['name']}")


def test_group(owner, other, admin, config, launched):
    name = unique("grp-")
    admin.ok("POST", "/instances/groups", json={"name": name, "members": [owner.name],
                                                "subnet_id": "subnet-1"})
    try:
        assert launch(owner, launched, config, group=name)[0]["group"] == name
        # the first group the user is a member of, unnamed
        assert launch(owner, launched, config)[0]["group"] == name
        error(other.post("/instances", json={"config": config["name"],
                                             "instance_type": "t2.micro", "group": name}),
              400, f"Not authorized -- {other.name} is not a member of group {name}.")
    finally:
        admin.delete(f"/instances/groups/{name}")


# ---- reading, visibility ----

def test_visibility(api, owner, other, admin, config, launched):
    mine = launch(owner, launched, config)[0]
    theirs = launch(other, launched, config)[0]
    iid = mine["id"]
    assert keep(owner.get(f"/instances/{iid}")).json()["result"]["id"] == iid
    error(other.get(f"/instances/{iid}"), 400,
          "Not authorized -- you do not have access to this instance.")
    assert admin.ok("GET", f"/instances/{iid}")["owner"] == owner.name
    ids = {i["id"] for i in keep(owner.get("/instances")).json()["result"]}
    assert iid in ids and theirs["id"] not in ids
    all_ids = {i["id"] for i in admin.ok("GET", "/instances")}
    assert {iid, theirs["id"]} <= all_ids
    # filters
    assert {i["id"] for i in admin.ok("GET", f"/instances?owner={owner.name}")} == {iid}
    assert iid in {i["id"] for i in admin.ok("GET", "/instances?state=launching")}
    assert iid not in {i["id"] for i in admin.ok("GET", "/instances?state=running")}
    assert {i["id"] for i in admin.ok("GET", f"/instances?config={config['name']}")} >= {
        iid, theirs["id"]}
    # another tenant sees nothing of it
    foreign = api.client(unique("insforeign"), (ADMIN,), tenant="INSOTHER")
    error(foreign.get(f"/instances/{iid}"), 404, f"Instance {iid} not found.")
    assert iid not in {i["id"] for i in foreign.ok("GET", "/instances")}
    for action in ("start", "stop", "restart", "terminate"):
        error(foreign.post(f"/instances/{iid}/{action}"), 404)
    error(foreign.delete(f"/instances/{iid}"), 404)
    error(foreign.get(f"/instances/{iid}/audit"), 404)
    error(owner.get("/instances/nosuchinstance"), 404, "Instance nosuchinstance not found.")


def test_by_ec2_id(api, owner, other, inst):
    ec2 = "i-0" + unique("")[:15]
    set_ec2(inst["id"], ec2)
    try:
        got = owner.ok("GET", f"/instances/{ec2}")
        assert got["id"] == inst["id"] and got["ec2_instance_id"] == ec2
        error(other.get(f"/instances/{ec2}"), 400)
        foreign = api.client(unique("insforeign"), (ADMIN,), tenant="INSOTHER")
        error(foreign.get(f"/instances/{ec2}"), 404, f"Instance {ec2} not found.")
    finally:
        redis_cmd("DEL", f"abaco:cloud:ec2:{ec2}")


# ---- actions ----

def action(c, iid, what):
    return keep(c.post(f"/instances/{iid}/{what}"))


def test_action_preconditions(owner, inst):
    iid = inst["id"]
    error(action(owner, iid, "start"), 409, f"instance {iid} is launching; start needs stopped")
    error(action(owner, iid, "stop"), 409, f"instance {iid} is launching; stop needs running")
    error(action(owner, iid, "restart"), 409,
          f"instance {iid} is launching; restart needs running")

    set_state(iid, "stopped")
    rec = status(action(owner, iid, "start"), 202)["result"]
    assert rec["state"] == "pending" and rec["desired_state"] == "running"
    assert rec["user_transition"] >= inst["user_transition"]
    error(action(owner, iid, "start"), 409, f"instance {iid} is pending; start needs stopped")

    set_state(iid, "running")
    rec = status(action(owner, iid, "restart"), 202)["result"]
    assert rec["state"] == "running" and rec["desired_state"] == "running"
    rec = status(action(owner, iid, "stop"), 202)["result"]
    assert rec["state"] == "stopping" and rec["desired_state"] == "stopped"
    error(action(owner, iid, "stop"), 409, f"instance {iid} is stopping; stop needs running")

    rec = status(action(owner, iid, "terminate"), 202)["result"]
    assert rec["state"] == "shutting-down" and rec["desired_state"] == "terminated"
    need = "terminate needs a state other than terminated or shutting-down"
    error(action(owner, iid, "terminate"), 409, f"instance {iid} is shutting-down; {need}")
    set_state(iid, "terminated")
    error(action(owner, iid, "terminate"), 409, f"instance {iid} is terminated; {need}")


def test_actions_need_owner_or_admin(owner, other, admin, inst):
    iid = inst["id"]
    set_state(iid, "running")
    error(action(other, iid, "stop"), 400,
          "Not authorized -- you do not have access to this instance.")
    assert field(iid, "state") == "running"
    assert status(action(admin, iid, "stop"), 202)["result"]["state"] == "stopping"


def test_racing_starts(owner, inst):
    """Of two starts of one stopped instance, one passes and one gets the 409."""
    iid = inst["id"]
    for _ in range(5):
        set_state(iid, "stopped")
        headers = dict(owner.session.headers)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            codes = sorted(ex.map(
                lambda _: requests.post(f"{owner.base}/instances/{iid}/start", headers=headers,
                                        timeout=30).status_code, range(2)))
        assert codes == [202, 409], codes
        assert field(iid, "state") == "pending"


@needs_mgmt
def test_commands_published(owner, inst):
    """A start is a message on [cloud] command_queue (here COMMAND_Q)."""
    iid = inst["id"]
    set_state(iid, "stopped")
    before = queue_info(COMMAND_Q).get("messages", 0)
    status(action(owner, iid, "start"), 202)
    wait_for(lambda: queue_info(COMMAND_Q).get("messages", 0) > before, timeout=15,
             what=f"a message on {COMMAND_Q}")
    assert queue_info(LAUNCH_Q)["durable"] is True
    assert queue_info(COMMAND_Q)["durable"] is True


def test_delete(owner, config, launched):
    a, b = launch(owner, launched, config, count=2)
    # not terminated: terminate first, the record goes once it is
    rec = status(keep(owner.delete(f"/instances/{a['id']}")), 202)["result"]
    assert rec["deleting"] is True and rec["state"] == "shutting-down"
    assert rec["desired_state"] == "terminated"
    error(action(owner, a["id"], "start"), 409, f"instance {a['id']} is being deleted")
    # terminated (or failed): at once
    set_state(b["id"], "failed")
    status(owner.delete(f"/instances/{b['id']}"), 200)
    error(owner.get(f"/instances/{b['id']}"), 404)
    assert redis_cmd("EXISTS", instance_key(b["id"])) == 0
    assert redis_cmd("SISMEMBER", "abaco:cloud:index:ABACO", f"{TENANT}:{b['id']}") == 0


def test_audit(owner, other, inst):
    iid = inst["id"]
    set_state(iid, "stopped")
    status(action(owner, iid, "start"), 202)
    docs = owner.ok("GET", f"/instances/{iid}/audit")
    assert [d["action"] for d in docs][:2] == ["start", "launch"], docs
    for d in docs:
        assert d["instance_id"] == iid and d["who"] == owner.name and d["outcome"] == "ok"
        assert d["tenant"] == TENANT and d["time"] and d["request_id"]
    error(other.get(f"/instances/{iid}/audit"), 400)


# ---- progress ----

def progress(iid, body=None, token=None, query=""):
    headers = {"X-Progress-Token": token} if token else {}
    return keep(Client().post(f"/instances/{iid}/progress{query}", json=body or {},
                              headers=headers))


def test_progress(owner, inst):
    iid = inst["id"]
    tok = token_of(iid)
    got = status(progress(iid, {"message": "Installing", "percent": 42}, tok), 200)["result"]
    assert got["ignored"] is False and got["progress"]["message"] == "Installing"
    assert got["progress"]["percent"] == 42
    assert owner.ok("GET", f"/instances/{iid}")["progress"]["percent"] == 42
    # the token in the query
    status(progress(iid, {"message": "q", "percent": 43}, query=f"?token={tok}"), 200)
    # clamped
    assert status(progress(iid, {"message": "over", "percent": 150}, tok),
                  200)["result"]["progress"]["percent"] == 100
    assert status(progress(iid, {"message": "under", "percent": -7}, tok),
                  200)["result"]["progress"]["percent"] == 0
    error(progress(iid, {"message": "x", "percent": "lots"}, tok), 400,
          "Invalid percent: a number from 0 to 100.")
    # wrong, missing, another instance's token
    error(progress(iid, {"message": "evil", "percent": 99}, "0" * 64), 403)
    error(progress(iid, {"message": "evil", "percent": 99}, tok[:-1]), 403)
    error(progress(iid, {"message": "evil", "percent": 99}), 403)
    assert field(iid, "progress")["message"] == "under"
    error(progress("nosuchinstance", {"message": "x"}, tok), 404)


def test_progress_path_form(inst):
    iid = inst["id"]
    tok = token_of(iid)
    report = urllib.parse.quote("Installing_R_packages(40)")
    r = keep(requests.get(f"{API}/instances/progress/{iid}/{report}?token={tok}", timeout=10))
    assert status(r, 200)["result"]["progress"] == {"message": "Installing R packages",
                                                     "percent": 40,
                                                     "time": field(iid, "progress")["time"]}
    # by the EC2 instance id, POST, URL-encoded, clamped
    ec2 = "i-0" + unique("")[:15]
    set_ec2(inst["id"], ec2)
    try:
        report = urllib.parse.quote("Almost done: 100% (really)(120)")
        r = keep(requests.post(f"{API}/instances/progress/{ec2}/{report}?token={tok}",
                               timeout=10))
        assert status(r, 200)["result"]["progress"]["percent"] == 100
        assert field(iid, "progress")["message"] == "Almost done: 100% (really)"
        r = requests.get(f"{API}/instances/progress/{ec2}/Hi(5)?token=wrong", timeout=10)
        error(r, 403)
        r = requests.get(f"{API}/instances/progress/{ec2}/no-percent?token={tok}", timeout=10)
        error(r, 400)
    finally:
        redis_cmd("DEL", f"abaco:cloud:ec2:{ec2}")


def test_progress_ignored_after_terminal(inst):
    iid = inst["id"]
    tok = token_of(iid)
    status(progress(iid, {"message": "before", "percent": 10}, tok), 200)
    for state in ("terminated", "failed"):
        set_state(iid, state)
        got = status(progress(iid, {"message": "after", "percent": 90}, tok), 200)["result"]
        assert got["ignored"] is True
        assert field(iid, "progress")["message"] == "before"
    # still a 403 with a wrong token
    error(progress(iid, {"message": "after"}, "f" * 64), 403)


# ---- metrics, secrets ----

def test_metrics(inst):
    set_fields(inst["id"], state="stopping")
    redis_cmd("HINCRBY", "abaco:metrics:aws_calls", "DescribeInstances|ok", 1)
    redis_cmd("HINCRBY", "abaco:metrics:aws_calls", "throttles", 0)
    redis_cmd("HSET", "abaco:metrics:reconcile", "duration_ms", 1500)

    def scrape():
        text = requests.get(f"{API}/metrics", timeout=10).text
        return text if re.search(r'^abaco_instances\{state="stopping"\} [1-9]', text, re.M) and \
            'abaco_aws_calls_total{op="DescribeInstances",outcome="ok"}' in text else None

    text = wait_for(scrape, timeout=10, what="the cloud series")
    for family in ("abaco_instances", "abaco_aws_calls_total", "abaco_aws_throttles_total",
                   "abaco_reconcile_duration_seconds", "abaco_reconcile_objects",
                   "abaco_reconcile_passes_total"):
        assert f"# TYPE {family} " in text, family
    for state in ("launching", "running", "terminated", "failed"):
        assert re.search(rf'^abaco_instances\{{state="{state}"\}} \d+$', text, re.M), state
    assert re.search(r"^abaco_reconcile_duration_seconds 1\.500$", text, re.M)
    assert re.search(r"^abaco_aws_throttles_total \d+$", text, re.M)


def test_no_secrets_in_answers(owner, admin, config, launched):
    """No answer of this module held a progress token or a credential."""
    recs = launch(owner, launched, config, count=2)
    for c in (owner, admin):
        ANSWERS.append(c.get("/instances").text)
        ANSWERS.append(c.get("/instances/configs").text)
        for r in recs:
            ANSWERS.append(c.get(f"/instances/{r['id']}").text)
            ANSWERS.append(c.get(f"/instances/{r['id']}/audit").text)
    tokens = [t for t in (token_of(r["id"]) for r in recs) if t]
    assert len(tokens) == 2
    for text in ANSWERS:
        assert "progress_token" not in text and "progressToken" not in text, text
        assert "secret_access_key" not in text and "access_key_id" not in text, text
        for t in tokens:
            assert t not in text
