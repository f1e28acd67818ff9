"""docs/api.md "Routes" Workers: list and detail (every field Abaco's clients read,
`cid` naming the worker for its whole life), "make sure there are at least
num" (a stateful actor too; test_stateful_workers.py shows it still runs
one execution at a time), stopping one worker, and a message always
having a worker."""
import pytest

from conftest import expected_cid, wait_for, worker_pids

ECHO = "abaco/samples-echo"
SLEEP = "abaco/samples-sleep"
SHOWN = {"id", "status", "image", "location", "cid", "tenant", "ch_name", "host_id", "host_ip",
         "create_time", "last_execution_time", "last_health_check_time"}


def error(r, status=400):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "error" and body["result"] is None, body
    return body["message"]


def workers(client, aid):
    return client.ok("GET", f"/actors/{aid}/workers")


def ready(client, aid):
    """The actor's first READY worker once its cid is recorded."""
    return wait_for(lambda: [w for w in workers(client, aid)
                             if w["status"] == "READY" and w["cid"]], what="a READY worker")[0]


def test_init_count_worker_and_fields(client, echo_actor):
    aid = echo_actor["id"]
    w = ready(client, aid)
    assert len(workers(client, aid)) == 1   # [workers] init_count = 1
    assert set(w) == SHOWN
    assert w["image"] == ECHO and w["ch_name"] == f"worker_{w['id']}"
    assert w["tenant"] == "DEV-DEVELOP" and w["host_id"] and w["host_ip"]
    # process backend: cid names its process; docker: its container
    assert w["cid"] == expected_cid(w)
    assert client.ok("GET", f"/actors/{aid}/workers/{w['id']}") == w


def test_cid_names_the_worker_for_its_life(client, actor_cleanup):
    aid = client.register(SLEEP)["id"]
    actor_cleanup.append(aid)
    w = ready(client, aid)
    eid = client.send(aid, "2")["execution_id"]
    client.wait_status(f"/actors/{aid}/executions/{eid}", ("RUNNING",), 60, "never RUNNING")
    assert client.ok("GET", f"/actors/{aid}/workers/{w['id']}")["cid"] == w["cid"]
    assert client.wait_execution(aid, eid)["status"] == "COMPLETE"
    after = client.ok("GET", f"/actors/{aid}/workers/{w['id']}")
    assert after["cid"] == w["cid"] and after["last_execution_time"] != "None"


def test_unknown_worker_is_404(client, echo_actor):
    aid = echo_actor["id"]
    assert "nosuchworker" in error(client.get(f"/actors/{aid}/workers/nosuchworker"), 404)
    assert "nosuchworker" in error(client.delete(f"/actors/{aid}/workers/nosuchworker"), 404)
    assert error(client.get("/actors/nosuchactor42/workers"), 404)


def test_ensure_workers(client, echo_actor):
    aid = echo_actor["id"]
    r = client.post(f"/actors/{aid}/workers", json={"num": 3})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == ("Scheduled 2 new worker(s) to start. Previously, there were 1 "
                                   "workers.")
    assert len(workers(client, aid)) == 3
    wait_for(lambda: all(w["status"] in ("READY", "BUSY") for w in workers(client, aid)),
             what="three running workers")
    r = client.post(f"/actors/{aid}/workers", data={"num": "2"})
    assert r.json()["message"] == f"Actor {aid} already had 3 worker(s)."
    r = client.post(f"/actors/{aid}/workers")          # num defaults to 1
    assert r.status_code == 200 and "already had" in r.json()["message"]
    assert len(workers(client, aid)) == 3


@pytest.mark.parametrize("body", [{"num": "many"}, {"num": -1}, {"num": 1.5}])
def test_ensure_workers_validation(client, echo_actor, body):
    assert "num" in error(client.post(f"/actors/{echo_actor['id']}/workers", json=body))


def test_stateful_actor_gets_more_workers(client, actor_cleanup):
    """As in Abaco, an admin may add workers to a stateful actor."""
    a = client.register(ECHO, stateless=False)
    actor_cleanup.append(a["id"])
    aid = a["id"]
    assert client.ok("POST", f"/actors/{aid}/workers", json={"num": 1}) is None
    r = client.post(f"/actors/{aid}/workers", json={"num": 2})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == ("Scheduled 1 new worker(s) to start. Previously, there were 1 "
                                   "workers.")
    assert len(workers(client, aid)) == 2


def test_stop_a_worker_and_messages_still_run(client, echo_actor):
    aid = echo_actor["id"]
    w = wait_for(lambda: [w for w in workers(client, aid) if w["status"] == "READY"],
                 what="a READY worker")[0]
    r = client.delete(f"/actors/{aid}/workers/{w['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Worker scheduled to be stopped."
    r = client.get(f"/actors/{aid}/workers/{w['id']}")
    assert r.status_code == 404 or r.json()["result"]["status"] in ("SHUTDOWN_REQUESTED",
                                                                   "SHUTTING_DOWN")
    wait_for(lambda: w["id"] not in [x["id"] for x in workers(client, aid)],
             what="the worker to remove itself")
    # the actor has no worker now: a message gets one
    eid = client.send(aid, "after stop")["execution_id"]
    ex = client.wait_execution(aid, eid, timeout=90)
    assert ex["status"] == "COMPLETE" and ex["worker_id"] != w["id"]


def test_one_worker_for_a_burst_of_messages(client, actor_cleanup):
    a = client.register(ECHO)
    actor_cleanup.append(a["id"])
    aid = a["id"]
    w = wait_for(lambda: [w for w in workers(client, aid) if w["status"] == "READY"],
                 what="a READY worker")[0]
    client.delete(f"/actors/{aid}/workers/{w['id']}")
    wait_for(lambda: not workers(client, aid), what="no workers")
    eids = [client.send(aid, f"burst {i}")["execution_id"] for i in range(5)]
    assert len(workers(client, aid)) == 1
    for eid in eids:
        assert client.wait_execution(aid, eid, timeout=90)["status"] == "COMPLETE"
