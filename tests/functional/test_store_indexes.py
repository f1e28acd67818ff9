"""The indexes kept where actor and worker records are written (libactor
model.h "indexes kept on writes"): counters of actors and workers by
status, which /metrics serves, and the sets of workers by host, which the
health agent's tick reads. They follow registrations, worker starts and
deletions, and an api start rebuilds them when they are gone (a stack
upgraded from a release without them). The figures are checked against
the records themselves, read one by one here."""
import json
import re
import time

import requests

from conftest import ApiProcess, redis_cmd, wait_for

IDX_PREFIX = "abaco:index:"


def record_status(key):
    v = redis_cmd("HGET", key, "status")
    return json.loads(v) if v is not None else None


def truth():
    """Actors and workers by status, and workers by host, from the records.
    Every worker record counts, its actor's or not: a worker requested by a
    send that raced its actor's deletion runs (and is counted) until the
    health agent stops it."""
    actors, workers, hosts = {}, {}, {}
    for db in redis_cmd("SMEMBERS", "abaco:actors"):
        st = record_status(f"abaco:actor:{db}")
        if st is not None:
            actors[st] = actors.get(st, 0) + 1
    for key in redis_cmd("KEYS", "abaco:worker:*"):
        db, _, wid = key[len("abaco:worker:"):].rpartition(":")
        st = record_status(key)
        if st is None or not db:
            continue
        workers[st] = workers.get(st, 0) + 1
        host = redis_cmd("HGET", key, "host_id")
        hosts[f"{db}:{wid}"] = json.loads(host) if host else None
    return actors, workers, hosts


def scraped(base):
    """abaco_actors and abaco_workers of a /metrics scrape (statuses > 0)."""
    time.sleep(1.1)  # past the scrape cache
    text = requests.get(base + "/metrics", timeout=30).text
    out = []
    for name in ("abaco_actors", "abaco_workers"):
        got = {m.group(1): int(float(m.group(2)))
               for m in re.finditer(rf'^{name}{{status="([^"]*)"}} (\S+)$', text, re.M)}
        out.append({k: v for k, v in got.items() if v > 0})
    return out


def indexed_hosts():
    """The workers' host index: member -> host (None: unplaced)."""
    flat = redis_cmd("HGETALL", IDX_PREFIX + "worker_host") or []
    out = {flat[i]: flat[i + 1] or None for i in range(0, len(flat), 2)}
    for m, h in out.items():
        key = IDX_PREFIX + (f"workers:host:{h}" if h else "workers:unplaced")
        assert redis_cmd("SISMEMBER", key, m) == 1, (m, h)
    return out


def matches(base):
    """True when /metrics and the host index agree with the records; else
    what differs (a non-empty list, false for wait_for, shown on time-out)."""
    actors, workers, hosts = truth()
    got = scraped(base)
    idx = indexed_hosts()
    diff = []
    if got[0] != actors:
        diff.append(("actors: scraped", got[0], "records", actors))
    if got[1] != workers:
        diff.append(("workers: scraped", got[1], "records", workers))
    if idx != hosts:
        diff.append(("host index only", {m: h for m, h in idx.items() if hosts.get(m, 0) != h},
                     "records only", {m: h for m, h in hosts.items() if idx.get(m, 0) != h}))
    return True if not diff else Mismatch(diff)


class Mismatch(list):
    """What differs, false in a boolean test."""

    def __bool__(self):
        return False


def db_id_of(aid):
    ids = [m for m in redis_cmd("SMEMBERS", "abaco:actors") if m.endswith("_" + aid)]
    assert len(ids) == 1, ids
    return ids[0]


def ready_worker(client, aid):
    return wait_for(lambda: [w for w in client.ok("GET", f"/actors/{aid}/workers")
                             if w["status"] == "READY"], 60, "a READY worker")[0]


def test_counts_follow_actors_and_workers(client, actor_cleanup):
    api = ApiProcess(workers_autoscaling="false")
    try:
        before_actors = truth()[0]
        a = client.register("abaco/samples-echo")
        actor_cleanup.append(a["id"])
        db_id = db_id_of(a["id"])
        w = ready_worker(client, a["id"])
        member = f"{db_id}:{w['id']}"
        wait_for(lambda: matches(api.base), 30, "/metrics to match the records")
        actors, workers, hosts = truth()
        assert actors.get("READY", 0) >= before_actors.get("READY", 0) + 1
        assert workers.get("READY", 0) >= 1, workers
        assert redis_cmd("HGET", IDX_PREFIX + "actor_status", db_id) == "READY"
        assert redis_cmd("HGET", IDX_PREFIX + "worker_status", member) == "READY"
        assert hosts[member] == w["host_id"] and w["host_id"]
        assert redis_cmd("SISMEMBER", IDX_PREFIX + f"workers:host:{w['host_id']}", member) == 1

        client.ok("DELETE", f"/actors/{a['id']}")
        actor_cleanup.remove(a["id"])
        wait_for(lambda: redis_cmd("HGET", IDX_PREFIX + "worker_host", member) is None, 30,
                 "the deleted actor's worker out of the host index")
        assert redis_cmd("HGET", IDX_PREFIX + "actor_status", db_id) is None
        assert redis_cmd("SISMEMBER", IDX_PREFIX + f"workers:host:{w['host_id']}", member) == 0
        wait_for(lambda: matches(api.base), 30, "/metrics to match the records after delete")
    finally:
        api.stop()


def test_indexes_rebuilt_at_api_start(client, actor_cleanup):
    a = client.register("abaco/samples-echo")
    actor_cleanup.append(a["id"])
    db_id = db_id_of(a["id"])
    w = ready_worker(client, a["id"])
    member = f"{db_id}:{w['id']}"
    wait_for(lambda: redis_cmd("HGET", IDX_PREFIX + "worker_host", member) == w["host_id"], 30,
             "the worker in the host index")
    # an upgraded stack: every index key gone, and a stale entry (a record
    # deleted behind the index's back) that the rebuild must drop
    for key in redis_cmd("KEYS", IDX_PREFIX + "*"):
        redis_cmd("DEL", key)
    redis_cmd("HSET", IDX_PREFIX + "actor_status", "GONE_nosuchactor", "READY")
    redis_cmd("HINCRBY", IDX_PREFIX + "actor_status:count", "READY", 1)
    api = ApiProcess(workers_autoscaling="false")
    try:
        assert redis_cmd("EXISTS", IDX_PREFIX + "built") == 1
        assert redis_cmd("HGET", IDX_PREFIX + "actor_status", "GONE_nosuchactor") is None
        assert redis_cmd("HGET", IDX_PREFIX + "actor_status", db_id) == "READY"
        assert redis_cmd("HGET", IDX_PREFIX + "worker_host", member) == w["host_id"]
        assert "by status and host" in api.output()
        wait_for(lambda: matches(api.base), 30, "/metrics of the new api to match the records")
    finally:
        api.stop()
