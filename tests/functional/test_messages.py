"""One message end to end: mailbox -> worker -> container -> execution and logs."""
import re

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_message_runs_and_is_recorded(client, echo_actor):
    aid = echo_actor["id"]
    res = client.send(aid, "hello world")
    eid = res["execution_id"]
    assert res["msg"] == "hello world"
    assert res["_links"]["self"].endswith(f"/actors/v2/{aid}/executions/{eid}")

    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE", ex
    assert ex["id"] == eid
    assert ex["actor_id"] == aid
    assert ex["exit_code"] == 0
    assert ex["executor"] == "anonymous"
    assert ex["worker_id"]
    for f in ("message_received_time", "start_time", "finish_time"):
        assert ISO.match(ex[f]), (f, ex[f])
    assert ex["start_time"] >= ex["message_received_time"]
    assert ex["finish_time"] >= ex["start_time"]
    assert isinstance(ex["runtime"], int)
    assert ex["final_state"]["Status"] == "exited"
    assert ex["final_state"]["ExitCode"] == 0
    for internal in ("_id", "actor_dbid", "tenant"):
        assert internal not in ex

    logs = client.logs(aid, eid)
    assert "Contents of MSG: hello world" in logs
    assert f"_abaco_execution_id={eid}" in logs
    assert f"_abaco_actor_id={aid}" in logs
    assert "_abaco_Content_Type=str" in logs

    listing = client.ok("GET", f"/actors/{aid}/executions")
    assert listing["actor_id"] == aid
    assert listing["total_executions"] == 1
    assert [e["id"] for e in listing["executions"]] == [eid]
    assert listing["executions"][0]["status"] == "COMPLETE"


def test_json_message_is_python_repr_in_msg(client, echo_actor):
    aid = echo_actor["id"]
    res = client.ok("POST", f"/actors/{aid}/messages", json={"key": "value", "flag": True, "n": None})
    assert res["msg"] == {"key": "value", "flag": True, "n": None}
    ex = client.wait_execution(aid, res["execution_id"])
    assert ex["status"] == "COMPLETE"
    logs = client.logs(aid, res["execution_id"])
    assert "Contents of MSG: {'key': 'value', 'flag': True, 'n': None}" in logs
    assert "_abaco_Content_Type=application/json" in logs


def test_query_parameters_become_environment(client, echo_actor):
    aid = echo_actor["id"]
    res = client.ok("POST", f"/actors/{aid}/messages?COLOR=blue&_abaco_ignored=1",
                    data={"message": "env"})
    client.wait_execution(aid, res["execution_id"])
    logs = client.logs(aid, res["execution_id"])
    assert "COLOR=blue" in logs
    assert "_abaco_ignored" not in logs


def test_default_environment_reaches_the_container(client, actor_cleanup):
    actor = client.register("abaco/samples-echo", default_environment={"GREETING": "hi there"})
    actor_cleanup.append(actor["id"])
    res = client.send(actor["id"], "x")
    client.wait_execution(actor["id"], res["execution_id"])
    assert "GREETING=hi there" in client.logs(actor["id"], res["execution_id"])


def test_exit_code_is_recorded(client, actor_cleanup):
    actor = client.register("abaco/samples-exit")
    actor_cleanup.append(actor["id"])
    res = client.send(actor["id"], "3")
    ex = client.wait_execution(actor["id"], res["execution_id"])
    assert ex["status"] == "COMPLETE"
    assert ex["exit_code"] == 3
    assert ex["final_state"]["ExitCode"] == 3


def test_messages_are_run_in_order_one_at_a_time(client, echo_actor):
    aid = echo_actor["id"]
    eids = [client.send(aid, f"m{i}")["execution_id"] for i in range(5)]
    execs = [client.wait_execution(aid, e) for e in eids]
    assert all(e["status"] == "COMPLETE" for e in execs)
    for i, e in enumerate(eids):
        assert f"Contents of MSG: m{i}" in client.logs(aid, e)
    listing = client.ok("GET", f"/actors/{aid}/executions")
    assert listing["total_executions"] == 5


def test_message_count(client, echo_actor):
    r = client.ok("GET", f"/actors/{echo_actor['id']}/messages")
    assert isinstance(r["messages"], int) and r["messages"] >= 0


def test_unserializable_message_is_400(client, echo_actor):
    r = client.post(f"/actors/{echo_actor['id']}/messages", data="not json at all",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"] == "message POST body could not be serialized"


def test_unknown_execution_is_404(client, echo_actor):
    r = client.get(f"/actors/{echo_actor['id']}/executions/nope")
    assert r.status_code == 404


def test_message_to_unknown_actor_is_404(client):
    r = client.post("/actors/nosuchactor/messages", data={"message": "x"})
    assert r.status_code == 404
