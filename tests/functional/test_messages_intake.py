"""The message intake path (docs/performance.md "Message intake"): a send reads only the
actor fields it needs, together with the caller's permissions, fresh from Redis on every
request. A message to an actor deleted right before is refused, one sent right after an
update uses the updated actor, a send to an actor with no live worker gets one, and a
form value longer than the HTTP server's form buffer arrives whole."""
import uuid

from conftest import wait_for

ECHO = "abaco/samples-echo"


def refused_404(client, path):
    r = client.post(path, data={"message": "too late"})
    assert r.status_code == 404, (r.status_code, r.text)
    assert r.json()["status"] == "error"


def test_message_to_an_actor_deleted_right_before_is_refused(client, actor_cleanup):
    a = client.register(ECHO)
    aid = a["id"]
    alias = "intake-" + uuid.uuid4().hex[:8]
    client.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": aid})
    client.send(aid, "while it exists")          # the send path has read the actor
    client.ok("DELETE", f"/actors/{aid}")
    refused_404(client, f"/actors/{aid}/messages")
    refused_404(client, f"/actors/{alias}/messages")
    client.delete(f"/actors/aliases/{alias}")


def test_message_right_after_an_update_uses_the_updated_actor(client, actor_cleanup):
    # A stateless actor made stateful: its mailbox is re-made single-active-consumer,
    # and a publish declares the mailbox with the arguments of the actor it read. A send
    # that used the actor as it was before the update would declare the queue without
    # the argument, which the broker refuses (a 503), or run it on the old image.
    a = client.register(ECHO, stateless=True)
    aid = a["id"]
    actor_cleanup.append(aid)
    first = client.send(aid, "before")
    client.wait_execution(aid, first["execution_id"])
    u = client.ok("PUT", f"/actors/{aid}", json={"image": ECHO, "stateless": False,
                                                  "force": True})
    assert u["stateless"] is False and u["revision"] == 2
    res = client.send(aid, "right after the update")
    ex = client.wait_execution(aid, res["execution_id"], timeout=120)
    assert ex["status"] == "COMPLETE", ex
    assert "Contents of MSG: right after the update" in client.logs(aid, res["execution_id"])


def test_message_to_an_actor_without_a_worker_gets_one(client, actor_cleanup):
    # The send path holds only some of the actor's fields; a worker request needs the
    # whole record (image, queue, ...): it is read again, and the worker runs the message.
    a = client.register(ECHO)
    aid = a["id"]
    actor_cleanup.append(aid)
    client.wait_actor_status(aid, {"READY"})
    for w in client.ok("GET", f"/actors/{aid}/workers"):
        client.ok("DELETE", f"/actors/{aid}/workers/{w['id']}")
    wait_for(lambda: client.ok("GET", f"/actors/{aid}/workers") == [], timeout=60,
             what="the actor's workers to be gone")
    res = client.send(aid, "needs a worker")
    ex = client.wait_execution(aid, res["execution_id"], timeout=120)
    assert ex["status"] == "COMPLETE", ex
    assert "Contents of MSG: needs a worker" in client.logs(aid, res["execution_id"])


def test_long_form_message_arrives_whole(client, echo_actor):
    aid = echo_actor["id"]
    text = "".join(f"{i:06d}," for i in range(3000))  # 21 000 bytes, over the 4 KiB buffer
    res = client.send(aid, text)
    assert res["msg"] == text
    ex = client.wait_execution(aid, res["execution_id"])
    assert ex["status"] == "COMPLETE", ex
    assert text in client.logs(aid, res["execution_id"])
