"""docs/api.md "Routes" Messages and executions: every way to send a message (text from
a form, JSON or the query string; a JSON document; binary bytes), the
binary size rule, purge, synchronous messages, accounting records,
force-quit, and results."""
import os

import pytest

from conftest import ApiProcess, wait_for

ECHO = "abaco/samples-echo"
SLEEP = "abaco/samples-sleep"
BINARY = "abaco/samples-binary"
RESULTS = "abaco/samples-results"


def error(r, status=400):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "error" and body["result"] is None, body
    return body["message"]


@pytest.fixture
def actor(client, actor_cleanup):
    def make(image=ECHO, **fields):
        a = client.register(image, **fields)
        actor_cleanup.append(a["id"])
        return a["id"]
    return make


def run(client, aid, **kw):
    res = client.ok("POST", f"/actors/{aid}/messages", **kw)
    ex = client.wait_execution(aid, res["execution_id"])
    return res, ex, client.logs(aid, res["execution_id"])


# ---- the message ----

def test_text_from_the_query_string(client, actor):
    aid = actor()
    res, ex, logs = run(client, aid, params={"message": "from the query"})
    assert res["msg"] == "from the query"
    assert "Contents of MSG: from the query" in logs and "_abaco_Content_Type=str" in logs
    assert "message=" not in logs   # `message` is not an extra variable


def test_text_from_a_json_field(client, actor):
    res, ex, logs = run(client, actor(), json={"message": "json field"})
    assert res["msg"] == "json field"
    assert "Contents of MSG: json field" in logs and "_abaco_Content_Type=str" in logs


def test_text_from_multipart(client, actor):
    res, ex, logs = run(client, actor(), files={"message": (None, "multi part")})
    assert res["msg"] == "multi part"
    assert "Contents of MSG: multi part" in logs and "_abaco_Content_Type=str" in logs


def test_json_document(client, actor):
    res, ex, logs = run(client, actor(), json=[1, "two", {"three": 3}])
    assert res["msg"] == [1, "two", {"three": 3}]
    assert "Contents of MSG: [1, 'two', {'three': 3}]" in logs
    assert "_abaco_Content_Type=application/json" in logs


def test_result_shape(client, echo_actor):
    aid = echo_actor["id"]
    r = client.post(f"/actors/{aid}/messages", data={"message": "x"})
    assert r.status_code == 200 and r.json()["message"] == "The request was successful"
    res = r.json()["result"]
    assert set(res) == {"execution_id", "msg", "_links"}
    assert res["_links"]["messages"].endswith(f"/actors/v2/{aid}/messages")
    ex = client.ok("GET", f"/actors/{aid}/executions/{res['execution_id']}")
    assert ex["executor"] == "anonymous" and ex["status"] in ("SUBMITTED", "RUNNING", "COMPLETE")


@pytest.mark.parametrize("kw", [
    {},
    {"data": "plain words", "headers": {"Content-Type": "text/plain"}},
    {"data": "{broken", "headers": {"Content-Type": "application/json"}},
    {"data": "[]", "headers": {"Content-Type": "application/json"}},
    {"data": {"other": "field"}},
])
def test_unserializable_messages(client, echo_actor, kw):
    r = client.post(f"/actors/{echo_actor['id']}/messages", **kw)
    assert error(r) == "message POST body could not be serialized"


def test_extra_query_parameters_are_environment(client, actor):
    res, ex, logs = run(client, actor(), params={"FOO": "bar", "x-nonce": "X_abc",
                                                 "_abaco_custom": "1"},
                        data={"message": "env"})
    assert "FOO=bar" in logs
    assert "x-nonce" not in logs and "_abaco_custom" not in logs


# ---- binary ----

def test_binary_message(client, actor):
    aid = actor(BINARY)
    payload = os.urandom(5000)
    res, ex, logs = run(client, aid, data=payload,
                        headers={"Content-Type": "application/octet-stream"})
    assert res["msg"] == "binary - omitted"
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, (ex, logs)
    assert "bytes: 5000" in logs


def test_binary_needs_content_length(client, echo_actor):
    def chunks():
        yield b"abc"
        yield b"def"
    r = client.post(f"/actors/{echo_actor['id']}/messages", data=chunks(),
                    headers={"Content-Type": "application/octet-stream"})
    assert "Content Length" in error(r)


@pytest.fixture(scope="module")
def small_api():
    api = ApiProcess(web_max_content_length="1000")
    yield api
    api.stop()


def test_binary_within_max_content_length(small_api, client, actor):
    aid = actor(BINARY)
    c = small_api.client()
    r = c.post(f"/actors/{aid}/messages", data=b"x" * 1001,
               headers={"Content-Type": "application/octet-stream"})
    assert error(r) == "Message exceeds max content length of: 1000"
    res = c.ok("POST", f"/actors/{aid}/messages", data=b"y" * 1000,
               headers={"Content-Type": "application/octet-stream"})
    client.wait_execution(aid, res["execution_id"])
    assert "bytes: 1000" in client.logs(aid, res["execution_id"])


# ---- mailbox: count, purge, synchronous refusal, force quit ----

def test_busy_actor_mailbox_purge_and_force_quit(client, actor):
    aid = actor(SLEEP, max_workers=1)  # one worker: the autoscaler adds none, messages wait
    first = client.send(aid, "120")["execution_id"]
    wait_for(lambda: client.ok("GET", f"/actors/{aid}/executions/{first}")["status"] == "RUNNING",
             what="the first execution to run")
    queued = [client.send(aid, "0")["execution_id"] for _ in range(4)]
    assert client.ok("GET", f"/actors/{aid}/messages")["messages"] == 4

    # a synchronous message would wait behind more than 3: refused, nothing created
    r = client.post(f"/actors/{aid}/messages", params={"_abaco_synchronous": "true"},
                    data={"message": "0"})
    assert "mailbox" in error(r)
    assert client.ok("GET", f"/actors/{aid}/executions")["total_executions"] == 5

    # cannot force-quit what is not running
    msg = error(client.delete(f"/actors/{aid}/executions/{queued[0]}"))
    assert "RUNNING" in msg and "SUBMITTED" in msg

    r = client.delete(f"/actors/{aid}/messages")
    assert r.status_code == 200, r.text
    assert client.ok("GET", f"/actors/{aid}/messages")["messages"] == 0

    r = client.delete(f"/actors/{aid}/executions/{first}")
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"Issued force quit command for execution {first}."
    ex = client.wait_execution(aid, first, timeout=30)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] != 0, ex
    assert ex["runtime"] < 100


def test_force_quit_of_finished_or_unknown_execution(client, echo_actor):
    aid = echo_actor["id"]
    eid = client.send(aid, "done")["execution_id"]
    client.wait_execution(aid, eid)
    msg = error(client.delete(f"/actors/{aid}/executions/{eid}"))
    assert "Cannot force quit" in msg and "COMPLETE" in msg
    assert error(client.delete(f"/actors/{aid}/executions/nosuchexec"), 404)


# ---- synchronous messages ----

def test_synchronous_message_answers_with_logs(client, echo_actor):
    aid = echo_actor["id"]
    r = client.post(f"/actors/{aid}/messages", params={"_abaco_synchronous": "true"},
                    data={"message": "sync hello"}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Contents of MSG: sync hello" in r.text
    assert '"status"' not in r.text[:20]   # no envelope
    listing = client.ok("GET", f"/actors/{aid}/executions")
    assert listing["total_executions"] == 1
    assert listing["executions"][0]["status"] == "COMPLETE"


def test_synchronous_message_answers_with_the_result(client, actor):
    aid = actor(RESULTS)
    r = client.post(f"/actors/{aid}/messages", params={"_abaco_synchronous": "True"},
                    data={"message": "the answer"}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.content == b"the answer"


# ---- results ----

def test_results_are_popped_in_order(client, actor):
    aid = actor(RESULTS)
    res, ex, logs = run(client, aid, params={"RESULTS_COUNT": "3", "RESULTS_NUMBERED": "1"},
                        data={"message": "r"})
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, (ex, logs)
    path = f"/actors/{aid}/executions/{res['execution_id']}/results"
    got = []
    for _ in range(4):
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/octet-stream"
        got.append(r.content)
    assert got == [b"r 1", b"r 2", b"r 3", b""]


def test_results_empty_when_none(client, echo_actor):
    aid = echo_actor["id"]
    eid = client.send(aid, "no results")["execution_id"]
    client.wait_execution(aid, eid)
    r = client.get(f"/actors/{aid}/executions/{eid}/results")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert error(client.get(f"/actors/{aid}/executions/nosuchexec/results"), 404)


# ---- executions: accounting records, listing, detail ----

def test_accounting_execution_counts_in_totals(client, echo_actor):
    aid = echo_actor["id"]
    r = client.post(f"/actors/{aid}/executions", json={"runtime": 10, "cpu": 200, "io": 30})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Actor execution added successfully."
    assert r.json()["result"]["id"] == aid
    client.ok("POST", f"/actors/{aid}/executions", data={"runtime": "5", "cpu": "1", "io": "2"})
    listing = client.ok("GET", f"/actors/{aid}/executions")
    assert listing["total_executions"] == 2
    assert (listing["total_runtime"], listing["total_cpu"], listing["total_io"]) == (15, 201, 32)
    for e in listing["executions"]:
        assert set(e) == {"id", "status", "start_time", "finish_time", "message_received_time"}
        assert e["status"] == "COMPLETE"
        detail = client.ok("GET", f"/actors/{aid}/executions/{e['id']}")
        assert detail["runtime"] in (10, 5) and detail["actor_id"] == aid


@pytest.mark.parametrize("body,needle", [
    ({"cpu": 1, "io": 1}, "runtime"),
    ({"runtime": 1, "io": 1}, "cpu"),
    ({"runtime": 1, "cpu": 1}, "io"),
    ({"runtime": -1, "cpu": 1, "io": 1}, "runtime"),
    ({"runtime": 1, "cpu": "lots", "io": 1}, "cpu"),
])
def test_accounting_validation(client, echo_actor, body, needle):
    assert needle in error(client.post(f"/actors/{echo_actor['id']}/executions", json=body))


def test_execution_detail_fields(client, echo_actor):
    aid = echo_actor["id"]
    eid = client.send(aid, "fields")["execution_id"]
    ex = client.wait_execution(aid, eid)
    for f in ("id", "actor_id", "worker_id", "executor", "status", "message_received_time",
              "start_time", "finish_time", "runtime", "cpu", "io", "exit_code", "final_state",
              "_links"):
        assert f in ex, f
    assert ex["_links"]["logs"].endswith(f"/executions/{eid}/logs")
    logs = client.ok("GET", f"/actors/{aid}/executions/{eid}/logs")
    assert "Contents of MSG: fields" in logs["logs"]
    assert logs["_links"]["execution"].endswith(f"/executions/{eid}")
    assert error(client.get(f"/actors/{aid}/executions/nosuchexec/logs"), 404)
