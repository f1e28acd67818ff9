"""[store] executions_retention (docs/configuration.md): executions older
than the retention and their logs are removed in bounded batches, those of
deleted actors included; recent ones stay; the default keeps everything.
The executions' time index (Redis) is rebuilt from the collection when
missing, as on a stack upgraded from a release without it, and kept for
every new execution while retention is on.

Old executions are written straight into the store (a stack does not run
for a month in a test); the api under test is a second api process of the
stack with the retention overrides (conftest.ApiProcess)."""
import os
import re
import time
import uuid

import pymongo

from conftest import ApiProcess, conf, redis_cmd, wait_for

INDEX = "abaco:executions:by_time"
BUILT = "abaco:executions:by_time:built"


def mongo():
    url = os.environ.get("MONGO_URL") or "mongodb://%s:%s" % (
        conf("store", "mongo_host", "127.0.0.1"), conf("store", "mongo_port", "27017"))
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)[conf("store", "mongo_db",
                                                                       "abaco")]


def accounting(client, aid):
    """Adds an accounting execution to the actor; its document."""
    client.ok("post", f"/actors/{aid}/executions", json={"runtime": 1, "cpu": 2, "io": 3})
    eids = [e["id"] for e in client.ok("get", f"/actors/{aid}/executions")["executions"]]
    db = mongo()
    docs = [db.executions.find_one({"_id": e}) for e in eids]
    return max(docs, key=lambda d: d["message_received_time"])


def old_execution(db_id, when, tenant):
    eid = "old" + uuid.uuid4().hex[:16]
    return {"_id": eid, "id": eid, "actor_id": db_id.rsplit("_", 1)[1], "actor_dbid": db_id,
            "tenant": tenant, "executor": "test", "status": "COMPLETE",
            "message_received_time": when, "start_time": when, "finish_time": when,
            "worker_id": None, "runtime": 1, "cpu": 0, "io": 0, "exit_code": 0,
            "final_state": None}


def present(db, eids):
    return {e for e in eids if db.executions.find_one({"_id": e}) is not None}


def logs_present(db, eids):
    return {e for e in eids if db.logs.find_one({"_id": e}) is not None}


def seed(client, actor_cleanup):
    """A live actor and a deleted one, each with recent executions and old
    ones (with logs) written straight into the store. Returns (old, recent)."""
    db = mongo()
    live = client.register("abaco/samples-echo")
    actor_cleanup.append(live["id"])
    gone = client.register("abaco/samples-echo")
    live_doc = accounting(client, live["id"])
    gone_doc = accounting(client, gone["id"])
    assert client.delete(f"/actors/{gone['id']}").status_code == 200
    tenant = live_doc["tenant"]
    old = []
    for db_id, n in ((live_doc["actor_dbid"], 7), (gone_doc["actor_dbid"], 5)):
        for i in range(n):
            doc = old_execution(db_id, f"2020-01-{i + 1:02d}T00:00:00.000Z", tenant)
            db.executions.insert_one(doc)
            db.logs.insert_one({"_id": doc["_id"], "actor_dbid": db_id, "tenant": tenant,
                                "logs": "old output"})
            old.append(doc["_id"])
    # a recent execution of the deleted actor, written the same way
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    recent_gone = old_execution(gone_doc["actor_dbid"], now, tenant)
    db.executions.insert_one(recent_gone)
    recent = [live_doc["_id"], gone_doc["_id"], recent_gone["_id"]]
    return live, old, recent


def removed_counts(output):
    return [int(n) for n in re.findall(r"retention: removed (\d+) execution", output)]


def test_default_keeps_everything(client, actor_cleanup):
    db = mongo()
    _, old, recent = seed(client, actor_cleanup)
    api = ApiProcess(store_executions_retention_interval="1")
    try:
        time.sleep(3)  # three intervals, had retention been on
        assert present(db, old + recent) == set(old + recent)
        assert logs_present(db, old) == set(old)
        assert removed_counts(api.output()) == []
        # with retention off the index is not kept: dropped at start
        assert redis_cmd("EXISTS", INDEX) == 0 and redis_cmd("EXISTS", BUILT) == 0
    finally:
        api.stop()
        db.executions.delete_many({"_id": {"$in": old}})
        db.logs.delete_many({"_id": {"$in": old}})


def test_retention_removes_old_in_batches_and_repairs_the_index(client, actor_cleanup):
    db = mongo()
    live, old, recent = seed(client, actor_cleanup)
    # an upgraded stack: no index at all
    redis_cmd("DEL", INDEX, BUILT)
    api = ApiProcess(store_executions_retention="30", store_executions_retention_interval="1",
                     store_executions_retention_batch="3")
    try:
        wait_for(lambda: not present(db, old), timeout=60,
                 what="the old executions to be removed")
        assert logs_present(db, old) == set()
        assert present(db, recent) == set(recent)
        out = api.output()
        assert "building the executions' time index" in out
        counts = removed_counts(out)
        assert counts and max(counts) <= 3 and sum(counts) >= len(old), counts
        assert redis_cmd("EXISTS", BUILT) == 1
        for e in old:
            assert redis_cmd("ZSCORE", INDEX, e) is None
        for e in recent:
            assert redis_cmd("ZSCORE", INDEX, e) is not None
        # new executions are indexed as they are written: an accounting
        # record, and a message (the group commit)
        c = api.client()
        doc = accounting(c, live["id"])
        assert redis_cmd("ZSCORE", INDEX, doc["_id"]) is not None
        r = c.post(f"/actors/{live['id']}/messages", data={"message": "hi"})
        assert r.status_code == 200, r.text
        eid = r.json()["result"]["execution_id"]
        assert redis_cmd("ZSCORE", INDEX, eid) is not None
    finally:
        api.stop()
        redis_cmd("DEL", INDEX, BUILT)
