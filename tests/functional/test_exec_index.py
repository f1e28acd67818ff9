"""The executions' per-actor index (libactor exec_retention.c,
docs/performance.md): an actor's list is read a page at a time (offset and
limit) from a Redis sorted set of its execution ids, its totals from
counters beside it; both are rebuilt from the collection when their keys
are lost, and retention takes removed executions out of them -- those of
deleted actors included."""
import time

from conftest import ApiProcess, redis_cmd, wait_for
from test_retention import mongo, old_execution, present

MARKS = ("abaco:executions:by_time:built", "abaco:executions:index:built")


def add(client, aid, runtime, cpu, io):
    client.ok("post", f"/actors/{aid}/executions", json={"runtime": runtime, "cpu": cpu, "io": io})
    time.sleep(0.003)  # a distinct message_received_time (ms): one order in both paths


def listing(client, aid, **params):
    return client.ok("get", f"/actors/{aid}/executions", params=params)


def stored(db, db_id):
    """The actor's executions as stored, oldest first (ids)."""
    docs = list(db.executions.find({"actor_dbid": db_id}))
    docs.sort(key=lambda d: (d["message_received_time"], d["_id"]))
    return docs


def db_id_of(db, client, aid):
    eid = listing(client, aid)["executions"][0]["id"]
    return db.executions.find_one({"_id": eid})["actor_dbid"]


def test_list_pages_equal_what_is_stored(client, actor_cleanup):
    a = client.register("abaco/samples-echo")
    actor_cleanup.append(a["id"])
    for i in range(7):
        add(client, a["id"], runtime=i + 1, cpu=10 * i, io=100 * i)
    db = mongo()
    docs = stored(db, db_id_of(db, client, a["id"]))
    full = listing(client, a["id"])
    assert [e["id"] for e in full["executions"]] == [d["_id"] for d in docs]
    assert full["total_executions"] == 7
    assert full["total_runtime"] == sum(d["runtime"] for d in docs) == 28
    assert full["total_cpu"] == 210 and full["total_io"] == 2100
    assert set(full) == {"actor_id", "owner", "executions", "total_executions", "total_cpu",
                         "total_io", "total_runtime", "_links"}
    pages = []
    for off in range(0, 9, 3):
        p = listing(client, a["id"], offset=off, limit=3)
        assert p["total_executions"] == 7 and p["total_runtime"] == 28
        pages += [e["id"] for e in p["executions"]]
    assert pages == [d["_id"] for d in docs]
    assert listing(client, a["id"], offset=5)["executions"] == full["executions"][5:]
    assert listing(client, a["id"], limit=0)["executions"] == []
    assert listing(client, a["id"], offset=50)["executions"] == []
    for bad in ({"limit": "x"}, {"offset": "-1"}, {"limit": ""}):
        r = client.get(f"/actors/{a['id']}/executions", params=bad)
        assert r.status_code == 400, r.text
        assert list(bad)[0] in r.json()["message"]


def test_index_rebuilt_after_a_flush_of_its_keys(client, actor_cleanup):
    a = client.register("abaco/samples-echo")
    actor_cleanup.append(a["id"])
    for i in range(4):
        add(client, a["id"], runtime=2, cpu=3, io=5)
    before = listing(client, a["id"])
    db = mongo()
    db_id = db_id_of(db, client, a["id"])
    keys = redis_cmd("KEYS", "abaco:executions:*")
    assert f"abaco:executions:of:{db_id}" in keys
    redis_cmd("DEL", *keys)
    # without the marks the list is read from the collection: the same
    assert listing(client, a["id"]) == before
    # an api starting rebuilds the indexes (its first tick)
    api = ApiProcess(store_executions_retention_interval="1")
    try:
        wait_for(lambda: all(redis_cmd("EXISTS", k) == 1 for k in MARKS), timeout=60,
                 what="the executions' indexes to be rebuilt")
        assert redis_cmd("ZCARD", f"abaco:executions:of:{db_id}") == 4
        assert "building the executions' indexes" in api.output()
        got = listing(api.client(), a["id"])
        assert got["total_executions"] == 4 and got["total_runtime"] == 8
        assert got["total_cpu"] == 12 and got["total_io"] == 20
        assert got["executions"] == before["executions"]
        # a rebuild over an index that is there counts nothing twice
        redis_cmd("DEL", *MARKS)
        wait_for(lambda: all(redis_cmd("EXISTS", k) == 1 for k in MARKS), timeout=60,
                 what="the executions' indexes to be rebuilt again")
        assert listing(client, a["id"]) == before
    finally:
        api.stop()


def test_retention_removes_deleted_actors_executions_and_their_index(client, actor_cleanup):
    db = mongo()
    live = client.register("abaco/samples-echo")
    actor_cleanup.append(live["id"])
    gone = client.register("abaco/samples-echo")
    add(client, live["id"], runtime=1, cpu=1, io=1)
    add(client, gone["id"], runtime=1, cpu=1, io=1)
    live_db, gone_db = db_id_of(db, client, live["id"]), db_id_of(db, client, gone["id"])
    tenant = live_db.rsplit("_", 1)[0]
    old = []
    for db_id, n in ((live_db, 3), (gone_db, 5)):
        for i in range(n):
            doc = old_execution(db_id, f"2020-02-{i + 1:02d}T00:00:00.000Z", tenant)
            db.executions.insert_one(doc)
            db.logs.insert_one({"_id": doc["_id"], "actor_dbid": db_id, "tenant": tenant,
                                "logs": "old"})
            old.append(doc["_id"])
    redis_cmd("DEL", *MARKS)  # written behind the api's back: rebuild
    assert client.delete(f"/actors/{gone['id']}").status_code == 200
    # Abaco keeps a deleted actor's executions (accounting)
    assert db.executions.count_documents({"actor_dbid": gone_db}) == 6
    api = ApiProcess(store_executions_retention="30", store_executions_retention_interval="1",
                     store_executions_retention_batch="2")
    try:
        wait_for(lambda: all(redis_cmd("EXISTS", k) == 1 for k in MARKS), timeout=60,
                 what="the executions' indexes to be built")
        wait_for(lambda: not present(db, old), timeout=60, what="old executions removed")
        assert db.logs.count_documents({"_id": {"$in": old}}) == 0
        # the deleted actor's recent accounting execution stays, and its index
        assert redis_cmd("ZCARD", f"abaco:executions:of:{gone_db}") == 1
        got = listing(client, live["id"])
        assert got["total_executions"] == 1 and got["total_runtime"] == 1
        assert redis_cmd("ZCARD", f"abaco:executions:of:{live_db}") == 1
        removed = [int(n) for n in __import__("re").findall(
            r"retention: removed (\d+) execution", api.output())]
        assert removed and max(removed) <= 2, removed
    finally:
        api.stop()
        db.executions.delete_many({"actor_dbid": gone_db})


def test_retention_drops_the_keys_of_an_actor_left_with_none(client):
    db = mongo()
    gone = client.register("abaco/samples-echo")
    add(client, gone["id"], runtime=1, cpu=1, io=1)
    gone_db = db_id_of(db, client, gone["id"])
    tenant = gone_db.rsplit("_", 1)[0]
    assert client.delete(f"/actors/{gone['id']}").status_code == 200
    # make its only execution old, in the store and in the indexes
    eid = db.executions.find_one({"actor_dbid": gone_db})["_id"]
    db.executions.update_one({"_id": eid},
                             {"$set": {"message_received_time": "2020-03-01T00:00:00.000Z"}})
    extra = old_execution(gone_db, "2020-03-02T00:00:00.000Z", tenant)
    db.executions.insert_one(extra)
    redis_cmd("DEL", "abaco:executions:by_time", f"abaco:executions:of:{gone_db}",
              f"abaco:executions:totals:{gone_db}", *MARKS)
    api = ApiProcess(store_executions_retention="30", store_executions_retention_interval="1")
    try:
        wait_for(lambda: not present(db, [eid, extra["_id"]]), timeout=60,
                 what="the deleted actor's executions removed")
        wait_for(lambda: redis_cmd("EXISTS", f"abaco:executions:of:{gone_db}") == 0, timeout=10,
                 what="its index removed")
        assert redis_cmd("EXISTS", f"abaco:executions:totals:{gone_db}") == 0
    finally:
        api.stop()


def test_search_naming_an_actor_answers_as_the_scan(client, actor_cleanup):
    """With the indexes built, an executions search with actor_id=<id> reads
    that actor's executions by _id and matches them in the api; without them
    it is the collection scan. Both answer the same."""
    a = client.register("abaco/samples-echo")
    actor_cleanup.append(a["id"])
    other = client.register("abaco/samples-echo")
    actor_cleanup.append(other["id"])
    for i in range(6):
        add(client, a["id"], runtime=i, cpu=i * 2, io=7)
    add(client, other["id"], runtime=3, cpu=1, io=1)
    aid = a["id"]
    queries = [{"actor_id": aid}, {"actor_id": aid, "runtime.gt": "2"},
               {"actor_id": aid, "search": "compl"}, {"actor_id": aid, "search": "nothing-x"},
               {"actor_id": aid, "exactsearch": "COMPLETE", "skip": "1", "limit": "2"},
               {"actor_id": aid, "status.like": "omp"}, {"actor_id": aid, "runtime.like": "3"},
               {"actor_id": aid, "cpu.in": "[2, 4, 100]"}, {"actor_id": aid, "io.neq": "7"},
               {"actor_id": aid, "runtime.between": "1,3", "status": "COMPLETE"},
               {"actor_id": "nosuchactor"}]

    def run():
        return [client.ok("get", "/actors/search/executions", params=q) for q in queries]

    assert all(redis_cmd("EXISTS", k) == 1 for k in MARKS)
    indexed = run()
    assert indexed[0]["_metadata"]["total_count"] == 6
    assert indexed[1]["_metadata"]["total_count"] == 3
    assert indexed[4]["_metadata"]["count_returned"] == 2
    assert indexed[6]["_metadata"]["total_count"] == 0  # a regex matches strings only
    assert indexed[-1]["_metadata"]["total_count"] == 0
    for attempt in range(3):
        redis_cmd("DEL", MARKS[1])
        scanned = run()
        if redis_cmd("EXISTS", MARKS[1]) == 0:  # no api rebuilt it meanwhile
            break
    else:
        raise AssertionError("the mark came back during every attempt")
    try:
        assert scanned == indexed
    finally:
        api = ApiProcess()  # rebuilds the indexes
        try:
            wait_for(lambda: redis_cmd("EXISTS", MARKS[1]) == 1, timeout=60,
                     what="the indexes rebuilt")
        finally:
            api.stop()
