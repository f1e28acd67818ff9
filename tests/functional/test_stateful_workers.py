"""Stateful actors with several workers (POST /actors/{id}/workers, as
Abaco's admins use it): the actor's mailbox is a single-active-consumer
queue, so its executions never overlap however many workers it has; when
the consuming worker dies (kill -9) another takes over and every message
completes. A mailbox made before it had the argument (an actor registered
earlier, or a stateless actor updated to stateful) is re-made with it,
its waiting messages kept."""
import os
import signal

from conftest import (conf, declare_queue, delete_queue, needs_mgmt, queue_exists, queue_info,
                      wait_for, worker_pids)

SLEEP = "abaco/samples-sleep"
ECHO = "abaco/samples-echo"
TENANT = conf("web", "tenant_name", "DEV-DEVELOP").upper()


def workers(client, aid):
    return client.ok("GET", f"/actors/{aid}/workers")


def ready_workers(client, aid, n):
    return wait_for(lambda: (lambda ws: ws if len(ws) >= n and all(
        w["status"] == "READY" and w["cid"] for w in ws) else None)(workers(client, aid)),
        timeout=90, what=f"{n} READY workers")


def add_workers(client, aid, num):
    r = client.post(f"/actors/{aid}/workers", json={"num": num})
    assert r.status_code == 200, r.text
    return r.json()["message"]


def finished(client, aid, eids, timeout=180):
    return [client.wait_execution(aid, eid, timeout=timeout) for eid in eids]


def assert_no_overlap(execs):
    """Each execution starts after the one before it finished (the times
    the platform recorded, and the container's own)."""
    for key, start, end in (("record", "start_time", "finish_time"),
                            ("container", "StartedAt", "FinishedAt")):
        spans = []
        for e in execs:
            src = e if key == "record" else e["final_state"]
            spans.append((src[start], src[end], e["id"]))
        spans.sort()
        for (s1, f1, e1), (s2, f2, e2) in zip(spans, spans[1:]):
            assert f1 <= s2, f"{key} times overlap: {e1} [{s1}, {f1}] and {e2} [{s2}, {f2}]"


def test_stateful_actor_runs_one_execution_at_a_time(client, actor_cleanup):
    a = client.register(SLEEP, stateless=False)
    actor_cleanup.append(a["id"])
    aid = a["id"]
    ready_workers(client, aid, 1)
    assert add_workers(client, aid, 3) == ("Scheduled 2 new worker(s) to start. Previously, "
                                           "there were 1 workers.")
    ws = ready_workers(client, aid, 3)
    assert len({w["cid"] for w in ws}) == 3
    eids = [client.send(aid, "1")["execution_id"] for _ in range(6)]
    execs = finished(client, aid, eids)
    assert [e["status"] for e in execs] == ["COMPLETE"] * 6, execs
    assert_no_overlap(execs)
    # one consumer at a time: the others stood by
    assert len({e["worker_id"] for e in execs}) == 1
    assert len(workers(client, aid)) == 3


def test_another_worker_takes_over_when_the_consumer_dies(client, actor_cleanup):
    a = client.register(SLEEP, stateless=False)
    actor_cleanup.append(a["id"])
    aid = a["id"]
    ready_workers(client, aid, 1)
    add_workers(client, aid, 3)
    ready_workers(client, aid, 3)
    eids = [client.send(aid, "2")["execution_id"] for _ in range(4)]
    running = wait_for(lambda: next((e for e in (client.ok(
        "GET", f"/actors/{aid}/executions/{eid}") for eid in eids) if e["status"] == "RUNNING"),
        None), timeout=90, what="a RUNNING execution")
    victim = running["worker_id"]
    pids = worker_pids(victim)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    execs = finished(client, aid, eids)
    assert [e["status"] for e in execs] == ["COMPLETE"] * 4, execs
    assert_no_overlap(execs)
    assert victim not in {e["worker_id"] for e in execs}  # all ran (or ran again) elsewhere
    assert victim not in {w["id"] for w in workers(client, aid)}


@needs_mgmt
def test_a_mailbox_without_the_argument_is_remade(client, actor_cleanup):
    """A stateful actor whose mailbox was declared without
    x-single-active-consumer (as before it existed): adding workers re-makes
    it with the argument and keeps the messages that wait in it."""
    a = client.register(SLEEP, stateless=False)
    actor_cleanup.append(a["id"])
    aid = a["id"]
    mailbox = f"actor_msg_{TENANT}_{aid}"
    w = ready_workers(client, aid, 1)[0]
    assert queue_info(mailbox)["arguments"] == {"x-single-active-consumer": True}
    client.delete(f"/actors/{aid}/workers/{w['id']}")
    wait_for(lambda: not workers(client, aid), what="no workers")
    delete_queue(mailbox)
    declare_queue(mailbox)  # the old way: no arguments
    assert queue_info(mailbox)["arguments"] == {}
    # the messages go into the old mailbox, and one worker runs them there
    eids = [client.send(aid, "1.5")["execution_id"] for _ in range(4)]
    wait_for(lambda: client.ok("GET", f"/actors/{aid}/executions/{eids[0]}")["status"]
             == "RUNNING", timeout=90, what="the first execution RUNNING")
    add_workers(client, aid, 3)
    assert queue_info(mailbox)["arguments"] == {"x-single-active-consumer": True}
    assert not queue_exists(f"mailbox_upgrade_{TENANT}_{aid}")
    execs = finished(client, aid, eids)
    assert [e["status"] for e in execs] == ["COMPLETE"] * 4, execs
    assert_no_overlap(execs)


@needs_mgmt
def test_stateless_actor_made_stateful_gets_the_argument(client, actor_cleanup):
    a = client.register(ECHO)
    actor_cleanup.append(a["id"])
    aid = a["id"]
    mailbox = f"actor_msg_{TENANT}_{aid}"
    assert queue_info(mailbox)["arguments"] == {}
    eid = client.send(aid, "before")["execution_id"]
    assert client.wait_execution(aid, eid)["status"] == "COMPLETE"
    client.ok("PUT", f"/actors/{aid}", json={"image": ECHO, "stateless": False})
    assert queue_info(mailbox)["arguments"] == {"x-single-active-consumer": True}
    eid = client.send(aid, "after")["execution_id"]
    assert client.wait_execution(aid, eid, timeout=90)["status"] == "COMPLETE"
