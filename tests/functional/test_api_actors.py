"""API.md §3 Actors: registration (every field, every validation, JSON and
form bodies), read, 405, full update with revisions and worker replacement,
links, cron validation, delete, and the state routes."""
import datetime
import json
import os
import re
import time

import pymongo
import pytest

from conftest import wait_for

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ECHO = "abaco/samples-echo"
SLEEP = "abaco/samples-sleep"


def register(client, actor_cleanup, image=ECHO, **fields):
    actor = client.register(image, **fields)
    actor_cleanup.append(actor["id"])
    return actor


def error(r, status=400):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "error" and body["result"] is None, body
    return body["message"]


# ---- registration ----

def test_register_defaults(client, actor_cleanup):
    a = register(client, actor_cleanup)
    expected = {"description": "", "stateless": True, "link": "", "webhook": "", "hints": [],
                "default_environment": {}, "privileged": False, "use_container_uid": False,
                "queue": "default", "revision": 1, "type": "none", "state": {}, "token": False,
                "max_workers": None, "mem_limit": None, "max_cpus": None, "log_ex": None,
                "cron_schedule": None, "cron_on": False, "mounts": [], "owner": "anonymous",
                "image": ECHO}
    for k, v in expected.items():
        assert a[k] == v, (k, a[k])
    for k in ("gid", "uid", "tasdir", "status_message", "name", "cron_next_ex"):
        assert k in a, k
    assert a["status"] in ("SUBMITTED", "READY")
    assert ISO.match(a["create_time"]) and ISO.match(a["last_update_time"])
    for internal in ("db_id", "tenant", "api_server", "executions", "_id", "permissions"):
        assert internal not in a


def test_register_every_field(client, actor_cleanup):
    target = register(client, actor_cleanup)
    a = register(client, actor_cleanup, name="full", description="all of it",
                 stateless=True, hints=["fast", "small"], default_environment={"K": "v"},
                 privileged=True, max_workers=3, mem_limit="1g", max_cpus=500000000,
                 use_container_uid=True, queue="default", log_ex=120, token=True,
                 link=target["id"], webhook="http://example.com/hook",
                 cron_schedule="now + 2 hours", mounts=[])
    assert a["name"] == "full"
    assert a["description"] == "all of it"
    assert a["hints"] == ["fast", "small"]
    assert a["default_environment"] == {"K": "v"}
    assert a["privileged"] is True and a["use_container_uid"] is True and a["token"] is True
    assert a["max_workers"] == 3 and a["mem_limit"] == "1g" and a["max_cpus"] == 500000000
    assert a["log_ex"] == 120
    assert a["link"] == target["id"]
    assert a["webhook"] == "http://example.com/hook"
    assert a["cron_schedule"] == "now + 2 hours"
    assert a["cron_on"] is True
    now = datetime.datetime.now(datetime.timezone.utc)
    assert a["cron_next_ex"] in (now.strftime("%Y-%m-%d %H"),
                                 (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H"))
    # and it reads back the same
    assert client.ok("GET", f"/actors/{a['id']}")["max_workers"] == 3


HINT_CHARS = ['"', "'", "{", "}", "[", "]"]


@pytest.mark.parametrize("body,needle", [
    ({"name": "no-image"}, "image"),
    ({"image": ""}, "image"),
    ({"image": 42}, "image"),
    ({"image": ECHO, "name": 5}, "name"),
    ({"image": ECHO, "stateless": "maybe"}, "stateless"),
    ({"image": ECHO, "stateless": 1}, "stateless"),
    ({"image": ECHO, "privileged": 3}, "privileged"),
    ({"image": ECHO, "use_container_uid": "yes"}, "use_container_uid"),
    ({"image": ECHO, "token": "sometimes"}, "token"),
    ({"image": ECHO, "default_environment": [1, 2]}, "default_environment"),
    ({"image": ECHO, "default_environment": "not json"}, "default_environment"),
    ({"image": ECHO, "default_environment": 7}, "default_environment"),
    ({"image": ECHO, "stateless": False, "max_workers": 3},
     "stateful actors can only have 1 worker"),
    ({"image": ECHO, "queue": "nosuchqueue"}, "Invalid queue name."),
    ({"image": ECHO, "max_workers": "many"}, "max_workers"),
    ({"image": ECHO, "max_workers": 0}, "max_workers"),
    ({"image": ECHO, "max_workers": -2}, "max_workers"),
    ({"image": ECHO, "max_workers": 1.5}, "max_workers"),
    ({"image": ECHO, "mem_limit": "lots"}, "mem_limit"),
    ({"image": ECHO, "mem_limit": "-1g"}, "mem_limit"),
    ({"image": ECHO, "mem_limit": ["1g"]}, "mem_limit"),
    ({"image": ECHO, "max_cpus": "x"}, "max_cpus"),
    ({"image": ECHO, "max_cpus": 0}, "max_cpus"),
    ({"image": ECHO, "log_ex": 0}, "log_ex"),
    ({"image": ECHO, "log_ex": "soon"}, "log_ex"),
    ({"image": ECHO, "log_ex": 86401}, "log_ex"),
    ({"image": ECHO, "hints": {"a": 1}}, "hints"),
    ({"image": ECHO, "hints": [["nested"]]}, "hints"),
    ({"image": ECHO, "mounts": "nope"}, "mounts"),
    ({"image": ECHO, "link": "nosuchactor123"}, "link"),
    # cron_schedule errors in Abaco's words (docs/differences.md for the
    # ones Abaco answers with a 500)
    ({"image": ECHO, "cron_schedule": "every day"}, "The cron is not in the correct format"),
    ({"image": ECHO, "cron_schedule": "now + 0 hours"}, "The increment 0 is not a whole number"),
    ({"image": ECHO, "cron_schedule": "now + 1 fortnight"}, "fortnight is an invalid unit of time"),
    ({"image": ECHO, "cron_schedule": "2099-13-01 10 + 1 hour"}, "2099-13-01 10 is not a valid date"),
    ({"image": ECHO, "cron_schedule": "2099-02-30 10 + 1 hour"}, "2099-02-30 10 is not a valid date"),
    ({"image": ECHO, "cron_schedule": "2099-01-01 24 + 1 hour"}, "2099-01-01 24 is not a valid date"),
    ({"image": ECHO, "cron_schedule": "2020-01-01 10 + 1 hour"}, "The starting datetime is old"),
] + [({"image": ECHO, "hints": ["ok", f"b{c}ad"]}, "hints") for c in HINT_CHARS])
def test_validation_errors(client, body, needle):
    before = len(client.ok("GET", "/actors"))
    msg = error(client.post("/actors", json=body))
    assert needle in msg, msg
    assert len(client.ok("GET", "/actors")) == before


def test_stateful_actor_may_have_max_workers_1(client, actor_cleanup):
    a = register(client, actor_cleanup, stateless=False, max_workers=1)
    assert a["stateless"] is False and a["max_workers"] == 1


def test_log_ex_at_the_limit(client, actor_cleanup):
    assert register(client, actor_cleanup, log_ex=86400)["log_ex"] == 86400


def test_cron_with_a_start_date(client, actor_cleanup):
    a = register(client, actor_cleanup, cron_schedule="2099-01-01 10 + 2 days", cron_on=False)
    assert a["cron_schedule"] == "2099-01-01 10 + 2 days"
    assert a["cron_next_ex"] == "2099-01-01 10"
    assert a["cron_on"] is False
    assert register(client, actor_cleanup, cron_schedule="now + 1 week")["cron_on"] is True
    assert register(client, actor_cleanup, cron_schedule="now + 3 months")["cron_on"] is True


def test_form_urlencoded_registration(client, actor_cleanup):
    a = client.ok("POST", "/actors", data={
        "image": ECHO, "stateless": "False", "privileged": "true", "token": "False",
        "use_container_uid": "True", "hints": '["a", "b"]', "default_environment": '{"A": "1"}',
        "max_workers": "1", "max_cpus": "1000", "log_ex": "30", "mem_limit": "512m",
        "mounts": "[]", "description": "from a form"})
    actor_cleanup.append(a["id"])
    assert a["stateless"] is False and a["privileged"] is True and a["token"] is False
    assert a["use_container_uid"] is True
    assert a["hints"] == ["a", "b"]
    assert a["default_environment"] == {"A": "1"}
    assert a["max_workers"] == 1 and a["max_cpus"] == 1000 and a["log_ex"] == 30
    assert a["mem_limit"] == "512m" and a["mounts"] == []
    assert a["description"] == "from a form"


def test_form_hints_as_comma_list(client, actor_cleanup):
    a = client.ok("POST", "/actors", data={"image": ECHO, "hints": "a, b"})
    actor_cleanup.append(a["id"])
    assert a["hints"] == ["a", "b"]


def test_multipart_registration(client, actor_cleanup):
    a = client.ok("POST", "/actors", files={
        "image": (None, ECHO), "stateless": (None, "True"), "privileged": (None, "False"),
        "default_environment": (None, '{"M": "p"}'), "name": (None, "multi")})
    actor_cleanup.append(a["id"])
    assert a["image"] == ECHO and a["name"] == "multi"
    assert a["stateless"] is True and a["privileged"] is False
    assert a["default_environment"] == {"M": "p"}


@pytest.mark.parametrize("value,expected", [("true", True), ("True", True), ("false", False),
                                            ("False", False)])
def test_form_booleans(client, actor_cleanup, value, expected):
    a = client.ok("POST", "/actors", data={"image": ECHO, "privileged": value})
    actor_cleanup.append(a["id"])
    assert a["privileged"] is expected


def test_form_validation_names_the_field(client):
    assert "stateless" in error(client.post("/actors", data={"image": ECHO, "stateless": "yes"}))
    assert "default_environment" in error(
        client.post("/actors", data={"image": ECHO, "default_environment": "{bad"}))
    assert "max_workers" in error(client.post("/actors", data={"image": ECHO, "max_workers": "x"}))


# ---- read, 405, 404 ----

def test_get_actor_and_405(client, actor_cleanup):
    a = register(client, actor_cleanup, name="getme")
    got = client.ok("GET", f"/actors/{a['id']}")
    assert got["id"] == a["id"] and got["name"] == "getme"
    assert got["_links"]["executions"].endswith(f"/actors/v2/{a['id']}/executions")
    r = client.post(f"/actors/{a['id']}", json={"image": ECHO})
    assert error(r, 405) == ("Invalid request: the API endpoint does not exist or the provided "
                             "HTTP method is not allowed.")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_actor_404(client, method):
    r = client.request(method, "/actors/NoSuchActor42", json={"image": ECHO})
    assert error(r, 404) == "Actor with identifier 'NoSuchActor42' not found"


# ---- update ----

def test_put_keeps_owner_and_create_time(client, actor_cleanup):
    a = register(client, actor_cleanup, name="keep", description="one",
                 default_environment={"A": "1"})
    time.sleep(0.01)
    u = client.ok("PUT", f"/actors/{a['id']}", json={"image": ECHO, "description": "two"})
    assert u["id"] == a["id"]
    assert u["owner"] == a["owner"] and u["create_time"] == a["create_time"]
    assert u["last_update_time"] > a["last_update_time"]
    assert u["description"] == "two"
    assert u["name"] == "keep"                  # not repeated: kept
    assert u["default_environment"] == {}       # full update: back to the default
    assert u["revision"] == 1                   # same image, no force
    assert client.ok("GET", f"/actors/{a['id']}")["description"] == "two"


def test_put_message(client, actor_cleanup):
    a = register(client, actor_cleanup)
    r = client.request("PUT", f"/actors/{a['id']}", json={"image": ECHO})
    assert r.status_code == 200 and r.json()["message"] == "Actor updated successfully."


def test_put_validates_like_register(client, actor_cleanup):
    a = register(client, actor_cleanup)
    path = f"/actors/{a['id']}"
    assert "image" in error(client.request("PUT", path, json={"description": "x"}))
    assert "force" in error(client.request("PUT", path, json={"image": ECHO, "force": "hard"}))
    assert "Invalid queue name." in error(
        client.request("PUT", path, json={"image": ECHO, "queue": "elsewhere"}))
    assert "hints" in error(client.request("PUT", path, json={"image": ECHO, "hints": ["{"]}))
    assert "The starting datetime is old" in error(client.request(
        "PUT", path, json={"image": ECHO, "cron_schedule": "2001-01-01 01 + 1 day"}))
    assert client.ok("GET", path)["revision"] == 1


def test_put_with_form_body(client, actor_cleanup):
    a = register(client, actor_cleanup)
    u = client.ok("PUT", f"/actors/{a['id']}", data={"image": ECHO, "force": "True",
                                                      "default_environment": '{"F": "1"}'})
    assert u["revision"] == 2 and u["default_environment"] == {"F": "1"}


def test_put_force_bumps_revision(client, actor_cleanup):
    a = register(client, actor_cleanup)
    u = client.ok("PUT", f"/actors/{a['id']}", json={"image": ECHO, "force": True})
    assert u["revision"] == 2
    assert u["status"] in ("SUBMITTED", "READY")
    u = client.ok("PUT", f"/actors/{a['id']}", json={"image": ECHO, "force": False})
    assert u["revision"] == 2


def test_stateful_cannot_become_stateless(client, actor_cleanup):
    a = register(client, actor_cleanup, stateless=False)
    path = f"/actors/{a['id']}"
    msg = error(client.request("PUT", path, json={"image": ECHO, "stateless": True}))
    assert "stateless" in msg
    u = client.ok("PUT", path, json={"image": ECHO})   # not repeated: stays stateful
    assert u["stateless"] is False
    assert "stateful actors can only have 1 worker" in error(
        client.request("PUT", path, json={"image": ECHO, "max_workers": 2}))


def test_put_new_image_replaces_workers(client, actor_cleanup):
    a = register(client, actor_cleanup)
    aid = a["id"]
    client.wait_actor_status(aid, {"READY"})
    old = wait_for(lambda: [w["id"] for w in client.ok("GET", f"/actors/{aid}/workers")
                            if w["status"] == "READY"], what="a READY worker")
    u = client.ok("PUT", f"/actors/{aid}", json={"image": SLEEP})
    assert u["revision"] == 2 and u["image"] == SLEEP and u["status"] == "SUBMITTED"

    def replaced():
        ws = client.ok("GET", f"/actors/{aid}/workers")
        return (ws and all(w["id"] not in old for w in ws)
                and all(w["image"] == SLEEP and w["status"] == "READY" for w in ws) and ws)
    ws = wait_for(replaced, timeout=90, what="workers of revision 2 only")
    assert len(ws) == len(old)
    assert client.wait_actor_status(aid, {"READY"})["revision"] == 2
    ex = client.send(aid, "0")
    done = client.wait_execution(aid, ex["execution_id"])
    assert done["status"] == "COMPLETE" and done["worker_id"] in [w["id"] for w in ws]
    assert "sleep" in client.logs(aid, ex["execution_id"])


# ---- links ----

def test_links_and_cycles(client, actor_cleanup):
    a = register(client, actor_cleanup)
    b = register(client, actor_cleanup)
    c = register(client, actor_cleanup, link=a["id"])      # a new actor cannot make a cycle
    assert c["link"] == a["id"]
    u = client.ok("PUT", f"/actors/{a['id']}", json={"image": ECHO, "link": b["id"]})
    assert u["link"] == b["id"]
    cycle = "this update would result in a cycle of linked actors"
    assert cycle in error(client.request("PUT", f"/actors/{b['id']}",
                                         json={"image": ECHO, "link": c["id"]}))
    assert cycle in error(client.request("PUT", f"/actors/{b['id']}",
                                         json={"image": ECHO, "link": a["id"]}))
    assert cycle in error(client.request("PUT", f"/actors/{a['id']}",
                                         json={"image": ECHO, "link": a["id"]}))
    assert "link" in error(client.request("PUT", f"/actors/{a['id']}",
                                          json={"image": ECHO, "link": "gone42"}))
    assert client.ok("GET", f"/actors/{b['id']}")["link"] == ""


# ---- delete ----

def test_delete_removes_actor_workers_and_logs(client):
    a = client.register(ECHO)
    aid = a["id"]
    ex = client.send(aid, "bye")
    client.wait_execution(aid, ex["execution_id"])
    assert "bye" in client.logs(aid, ex["execution_id"])
    r = client.delete(f"/actors/{aid}")
    assert r.status_code == 200 and r.json()["message"] == "Actor deleted successfully."
    for path in ("", "/workers", "/messages", "/executions", "/state"):
        assert client.get(f"/actors/{aid}{path}").status_code == 404
    db = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017"),
                             serverSelectionTimeoutMS=5000)["abaco"]
    assert db.logs.find_one({"_id": ex["execution_id"]}) is None
    assert client.delete(f"/actors/{aid}").status_code == 404


# ---- state ----

def test_state_of_a_stateful_actor(client, actor_cleanup):
    a = register(client, actor_cleanup, stateless=False)
    path = f"/actors/{a['id']}/state"
    r = client.get(path)
    assert r.status_code == 200 and r.json()["result"] == {"state": {}}
    for value in ({"count": 1, "nested": {"k": [1, 2]}}, [1, "two"], "text", 42, None):
        res = client.ok("POST", path, data=json.dumps(value),
                        headers={"Content-Type": "application/json"})
        assert res["id"] == a["id"] and res["state"] == value   # the result is the actor
        assert client.ok("GET", path) == {"state": value}
    client.ok("POST", path, json={"kept": True})
    client.ok("PUT", f"/actors/{a['id']}", json={"image": ECHO, "force": True})
    assert client.ok("GET", path) == {"state": {"kept": True}}


def test_state_bad_body(client, actor_cleanup):
    a = register(client, actor_cleanup, stateless=False)
    r = client.post(f"/actors/{a['id']}/state", data="{nope",
                    headers={"Content-Type": "application/json"})
    assert "state" in error(r)
    assert "state" in error(client.post(f"/actors/{a['id']}/state"))


def test_state_of_a_stateless_actor_is_404(client, echo_actor):
    path = f"/actors/{echo_actor['id']}/state"
    assert error(client.get(path), 404) == "actor is stateless."
    assert error(client.post(path, json={"a": 1}), 404) == "actor is stateless."



def test_put_repairs_an_actor_in_error(client, actor_cleanup):
    a = register(client, actor_cleanup, image="abaco/no-such-image-anywhere")
    aid = a["id"]
    client.wait_actor_status(aid, {"ERROR"})
    failed = [w["id"] for w in client.ok("GET", f"/actors/{aid}/workers")]
    u = client.ok("PUT", f"/actors/{aid}", json={"image": ECHO})
    assert u["revision"] == 2 and u["status"] == "SUBMITTED"
    assert client.wait_actor_status(aid, {"READY"}, timeout=60)["image"] == ECHO
    ws = client.ok("GET", f"/actors/{aid}/workers")
    assert ws and not [w for w in ws if w["id"] in failed]
    ex = client.send(aid, "repaired")
    assert client.wait_execution(aid, ex["execution_id"])["status"] == "COMPLETE"
