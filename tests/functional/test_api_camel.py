"""docs/api.md "Conventions" Case: a second api of the same stack with `[web] case = camel`
(environment override web_case=camel) takes camelCase input and converts
every output key, leaving `_links` and user data (environment, state,
messages) as they are; storage stays snake_case, so both apis see the same
actors."""
import re

import pytest

from conftest import ApiProcess

ECHO = "abaco/samples-echo"


@pytest.fixture(scope="module")
def camel():
    api = ApiProcess(web_case="camel")
    yield api.client()
    api.stop()


@pytest.fixture
def cleanup(client):
    made = []
    yield made
    for aid in made:
        client.delete(f"/actors/{aid}")


def snake_keys(value, path=""):
    """Keys holding an underscore (other than _links), outside user data."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if "_" in k.lstrip("_") and k != "_links":
                found.append(path + k)
            if k not in ("defaultEnvironment", "state", "_links", "finalState", "msg"):
                found += snake_keys(v, path + k + ".")
    elif isinstance(value, list):
        for v in value:
            found += snake_keys(v, path)
    return found


def test_register_and_read_in_camel_case(camel, client, cleanup):
    a = camel.ok("POST", "/actors", json={
        "image": ECHO, "name": "camel", "defaultEnvironment": {"my_var": "x", "OTHER": "y"},
        "maxWorkers": 2, "useContainerUid": True, "memLimit": "1g", "maxCpus": 1000,
        "logEx": 60, "cronSchedule": "now + 1 day"})
    cleanup.append(a["id"])
    assert snake_keys(a) == []
    assert a["defaultEnvironment"] == {"my_var": "x", "OTHER": "y"}
    assert a["maxWorkers"] == 2 and a["useContainerUid"] is True
    assert a["memLimit"] == "1g" and a["maxCpus"] == 1000 and a["logEx"] == 60
    assert a["cronOn"] is True and re.match(r"^\d{4}-\d\d-\d\d \d\d$", a["cronNextEx"])
    for k in ("createTime", "lastUpdateTime", "statusMessage"):
        assert k in a
    assert set(a["_links"]) == {"self", "owner", "executions"}
    # the snake api sees the same actor, stored in snake_case
    s = client.ok("GET", f"/actors/{a['id']}")
    assert s["max_workers"] == 2 and s["default_environment"] == {"my_var": "x", "OTHER": "y"}
    assert snake_keys(camel.ok("GET", "/actors")) == []


def test_form_input_in_camel_case(camel, cleanup):
    a = camel.ok("POST", "/actors", data={"image": ECHO, "defaultEnvironment": '{"A_B": "1"}',
                                          "useContainerUid": "True"})
    cleanup.append(a["id"])
    assert a["defaultEnvironment"] == {"A_B": "1"} and a["useContainerUid"] is True


def test_errors_in_camel_case(camel):
    r = camel.post("/actors", json={"image": ECHO, "stateless": False, "maxWorkers": 2})
    assert r.status_code == 400
    assert "stateful actors can only have 1 worker" in r.json()["message"]
    assert set(r.json()) == {"status", "message", "result", "version"}


def test_update_in_camel_case(camel, cleanup):
    a = camel.ok("POST", "/actors", json={"image": ECHO, "stateless": False})
    cleanup.append(a["id"])
    u = camel.ok("PUT", f"/actors/{a['id']}", json={"image": ECHO, "defaultEnvironment":
                                                    {"K": "v"}, "force": True})
    assert u["revision"] == 2 and u["defaultEnvironment"] == {"K": "v"}
    st = camel.ok("POST", f"/actors/{a['id']}/state", json={"some_key": {"inner_key": 1}})
    assert st["state"] == {"some_key": {"inner_key": 1}}
    assert camel.ok("GET", f"/actors/{a['id']}/state") == {"state": {"some_key": {"inner_key": 1}}}


def test_messages_and_executions_in_camel_case(camel, client, cleanup):
    a = camel.ok("POST", "/actors", json={"image": ECHO})
    cleanup.append(a["id"])
    aid = a["id"]
    res = camel.ok("POST", f"/actors/{aid}/messages", json={"user_key": {"nested_key": 1}})
    assert set(res) == {"executionId", "msg", "_links"}
    assert res["msg"] == {"user_key": {"nested_key": 1}}
    eid = res["executionId"]
    client.wait_execution(aid, eid)
    ex = camel.ok("GET", f"/actors/{aid}/executions/{eid}")
    assert snake_keys(ex) == []
    for k in ("actorId", "workerId", "messageReceivedTime", "startTime", "finishTime",
              "exitCode", "finalState"):
        assert k in ex, k
    listing = camel.ok("GET", f"/actors/{aid}/executions")
    assert snake_keys(listing) == []
    assert listing["totalExecutions"] == 1 and listing["actorId"] == aid
    assert "messageReceivedTime" in listing["executions"][0]
    camel.ok("POST", f"/actors/{aid}/workers", json={"num": 1})   # at least one to show
    ws = camel.ok("GET", f"/actors/{aid}/workers")
    assert snake_keys(ws) == []
    assert set(ws[0]) == {"id", "status", "image", "location", "cid", "chName", "tenant",
                          "hostId", "hostIp", "createTime", "lastExecutionTime",
                          "lastHealthCheckTime"}
    assert "logs" in camel.ok("GET", f"/actors/{aid}/executions/{eid}/logs")
