"""Instance events (docs/cloud.md "Channels"): an INSTANCE_* event on the
`events` queue reaches the instance record's webhook (a JSON POST) and its
link (a message to the linked actor, executor "Abaco Event"), as actor
events do; a record without either takes its software configuration's;
an event naming no instance is dead-lettered once, not dropped, not
looping.

The instance and configuration records are written straight into Redis
(record = a hash of JSON-text fields, libactor/src/store_record.c) in a
tenant of the test's own, and the event is published through RabbitMQ's
management API, as the launcher and updater would with
chan_instance_event_publish(). The webhook receiver is the real HTTP
server of test_events.py."""
import json
import time
import uuid

import pytest
import requests

from conftest import Client, mgmt, mgmt_reachable, redis_cmd, wait_for
from test_events import Hook

EVENT_FIELDS = {"tenant_id", "event_type", "event_time_utc", "event_time_display", "instance_id",
                "ec2_instance_id", "name", "owner", "config", "state", "error"}


@pytest.fixture
def tenant():
    t = "CLOUDEV-" + uuid.uuid4().hex[:8].upper()
    yield t
    for key in redis_cmd("KEYS", f"abaco:*:{t}:*") + redis_cmd("KEYS", f"abaco:*:{t}"):
        redis_cmd("DEL", key)


@pytest.fixture
def tclient(tenant):
    return Client(tenant=tenant)


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def made(tclient):
    ids = []
    yield ids
    for aid in ids:
        tclient.delete(f"/actors/{aid}")


def put_record(key, fields):
    """Writes a store_record.h record: one hash field per key, its value as JSON text."""
    args = []
    for k, v in fields.items():
        args += [k, json.dumps(v, separators=(",", ":"))]
    redis_cmd("DEL", key)
    redis_cmd("HSET", key, *args)


def put_instance(tenant, iid, **extra):
    rec = {"id": iid, "tenant": tenant, "tag": "ABACO", "owner": "alice", "name": "box " + iid,
           "config": "cfg-" + iid, "instance_type": "t3.micro", "state": "running",
           "ec2_instance_id": "i-0" + uuid.uuid4().hex[:16], "error": None,
           "progress_token": "never-in-an-event"}
    rec.update(extra)
    put_record(f"abaco:instance:{tenant}:{iid}", rec)
    redis_cmd("SADD", f"abaco:instances:{tenant}", iid)
    return rec


def event_for(rec, event_type, **over):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    ev = {"tenant_id": rec["tenant"], "event_type": event_type, "event_time_utc": now,
          "event_time_display": now, "instance_id": rec["id"],
          "ec2_instance_id": rec.get("ec2_instance_id"), "name": rec.get("name"),
          "owner": rec.get("owner"), "config": rec.get("config"), "state": rec.get("state"),
          "error": rec.get("error")}
    ev.update(over)
    return ev


def publish_event(ev):
    """Publishes ev on the durable `events` queue (persistent), as a producer would."""
    assert mgmt_reachable(), ("the RabbitMQ management API is needed to publish the event "
                              "([rabbit] management_url)")
    url, auth, vh = mgmt()
    r = requests.post(f"{url}/api/exchanges/{vh}/amq.default/publish", auth=auth, timeout=10,
                      json={"properties": {"delivery_mode": 2, "content_type": "application/json"},
                            "routing_key": "events", "payload": json.dumps(ev),
                            "payload_encoding": "string"})
    assert r.status_code == 200 and r.json()["routed"], r.text


def hooked(hook, iid, event_type):
    return [(p, ct, e) for (p, ct, e) in hook.events
            if isinstance(e, dict) and e.get("instance_id") == iid
            and e.get("event_type") == event_type]


def linked_execution(client, aid, iid, event_type):
    """The linked actor's finished execution whose message is this instance's event."""
    for ex in client.ok("GET", f"/actors/{aid}/executions")["executions"]:
        full = client.ok("GET", f"/actors/{aid}/executions/{ex['id']}")
        if full["status"] != "COMPLETE":
            continue
        logs = client.logs(aid, ex["id"])
        if f"'event_type': '{event_type}'" in logs and f"'instance_id': '{iid}'" in logs:
            return full, logs
    return None


def test_instance_event_reaches_webhook_and_link(tenant, tclient, hook, made):
    b = tclient.register("abaco/samples-echo")
    made.append(b["id"])
    iid = "I" + uuid.uuid4().hex[:10]
    url = f"http://127.0.0.1:{hook.port}/instance-hook"
    rec = put_instance(tenant, iid, link=b["id"], webhook=url)
    ev = event_for(rec, "INSTANCE_READY")
    publish_event(ev)

    got = wait_for(lambda: hooked(hook, iid, "INSTANCE_READY"), timeout=30,
                   what="INSTANCE_READY at the instance's webhook")
    path, ctype, body = got[0]
    assert path == "/instance-hook"
    assert ctype == "application/json"
    assert body == ev  # the event as published, every instance field
    assert set(body) == EVENT_FIELDS
    assert body["ec2_instance_id"] == rec["ec2_instance_id"]
    assert body["owner"] == "alice" and body["state"] == "running" and body["error"] is None
    assert "never-in-an-event" not in json.dumps(body)

    ex, logs = wait_for(lambda: linked_execution(tclient, b["id"], iid, "INSTANCE_READY"),
                        timeout=90, what="the linked actor's execution of INSTANCE_READY")
    assert ex["executor"] == "Abaco Event"
    assert f"'ec2_instance_id': '{rec['ec2_instance_id']}'" in logs
    assert f"'tenant_id': '{tenant}'" in logs
    # Delivered: nothing of it in the dead letters, and it came once.
    time.sleep(1)
    assert len(hooked(hook, iid, "INSTANCE_READY")) == 1
    assert not [d for d in tclient.ok("GET", "/actors/admin/events/dead-letter")
                if d["event"].get("instance_id") == iid]


def test_instance_without_targets_uses_its_configuration(tenant, tclient, hook):
    iid = "I" + uuid.uuid4().hex[:10]
    cfg = "cfg-" + iid
    url = f"http://127.0.0.1:{hook.port}/from-config"
    put_record(f"abaco:swconfig:{tenant}:{cfg}",
               {"name": cfg, "image_id": "ami-12345678", "template": "{}", "user_data": "",
                "volume": None, "instance_types": ["t3.micro"], "owner": "alice",
                "webhook": url})
    redis_cmd("SADD", f"abaco:swconfigs:{tenant}", cfg)
    rec = put_instance(tenant, iid, config=cfg, state="stopped")  # no link, no webhook field
    publish_event(event_for(rec, "INSTANCE_STOPPED"))
    got = wait_for(lambda: hooked(hook, iid, "INSTANCE_STOPPED"), timeout=30,
                   what="INSTANCE_STOPPED at the configuration's webhook")
    assert got[0][0] == "/from-config"
    assert got[0][2]["state"] == "stopped"

    # A record whose fields say "none" (null) does not fall back.
    iid2 = "I" + uuid.uuid4().hex[:10]
    rec2 = put_instance(tenant, iid2, config=cfg, link=None, webhook=None)
    publish_event(event_for(rec2, "INSTANCE_TERMINATED"))
    time.sleep(3)
    assert not hooked(hook, iid2, "INSTANCE_TERMINATED")


def test_event_of_missing_instance_is_dead_lettered_once(tenant, tclient):
    iid = "I" + uuid.uuid4().hex[:10]  # no record
    ev = {"tenant_id": tenant, "event_type": "INSTANCE_ERROR", "event_time_utc": "x",
          "event_time_display": "x", "instance_id": iid, "ec2_instance_id": None,
          "name": "gone", "owner": "alice", "config": "c", "state": "failed",
          "error": "CREATE_FAILED"}
    publish_event(ev)

    def dead():
        return [d for d in tclient.ok("GET", "/actors/admin/events/dead-letter")
                if d["event"].get("instance_id") == iid]

    d = wait_for(dead, timeout=30, what="the dead letter of the event naming no instance")[0]
    assert d["kind"] == "instance"
    assert d["target"] == iid
    assert d["attempts"] == 0
    assert d["event"] == ev
    assert "not found" in d["error"] and iid in d["error"]
    assert d["time"]
    # Acked, not looping: after the back-offs it would have gone through, still one letter.
    time.sleep(4)
    assert len(dead()) == 1
    # Only its tenant sees it.
    other = Client(tenant="OTHER-" + uuid.uuid4().hex[:6].upper())
    assert not [x for x in other.ok("GET", "/actors/admin/events/dead-letter")
                if x["event"].get("instance_id") == iid]
