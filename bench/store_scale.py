#!/usr/bin/env python3
"""Cost that should not grow with what is stored (issue 15, part 2).

1. Ticks: with N registered actors (100, 1,000, 10,000; 1% with a cron
   schedule, none due) and 1,000 READY workers spread over the first
   actors, the CPU one api process spends per autoscaler tick and per cron
   tick (each measured alone, ticking every second, over a window), and per
   /metrics scrape; plus the CPU Redis and RabbitMQ spend meanwhile, and
   the p50/p99 of GET /actors/{id} and of a message POST; and the CPU one
   health agent spends per tick (interval 1 s, its orphan-queue sweep off:
   that one lists the broker's queues) on a host that runs none of the
   1,000 workers.
2. Executions: with E executions stored (10,000, 100,000; BENCH_EXECS,
   which may add 1000000), p50/p99 of GET of an actor's execution list (100
   of its own), of a page of it (offset 40, limit 10), of a search and of
   GET of one execution (BENCH_SAMPLES requests, at most BENCH_SAMPLE_S
   seconds, at least 3); the time this tree's api takes to build its
   executions' indexes from the collection (first size); then the
   retention pass: the indexes built from the collection, and executions
   removed per second. BENCH_SEARCH_MAX (default 200,000): above it the
   search across all actors (a scan) is skipped; BENCH_KEEP_EXECS=1 leaves
   the seeded executions in the store (a throwaway stack).

Each figure is taken for the api binary of this tree and, when
BENCH_BASE_API names another build's api binary (e.g. main's), for that
one too, in the same run over the same data (BENCH_BASE_HEALTH likewise
for the health agent's binary). Actors are registered through
an api process of this tree (init_count 0, queue "benchq" that no spawner
serves, so no worker ever starts); workers and executions are written
straight into Redis and MongoDB in the records' own format. The stack's
api and health agent are paused (SIGSTOP) meanwhile, so only the measured
process ticks. Run inside the stack's lock after `make up`:
    var/venv/bin/python bench/store_scale.py [N ...]
"""
import concurrent.futures
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import pymongo
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "functional"))
from conftest import (BUILD, CONF, REPO, conf, free_port, index_worker,  # noqa: E402
                      redis_cmd, unindex_worker)

QUEUE = "benchq"
HZ = os.sysconf("SC_CLK_TCK")
WINDOW = float(os.environ.get("BENCH_WINDOW", "8"))


def pid_of(name):
    try:
        with open(os.path.join(REPO, "var", "run", f"{name}.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def cpu_ms(pid):
    """utime + stime of a process and its (reaped) children, in ms."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) * 1000.0 / HZ
    except OSError:
        return 0.0


def rabbit_pid():
    """The broker's Erlang VM (beam.smp) of the stack (BENCH_RABBIT_PID: another's)."""
    if os.environ.get("BENCH_RABBIT_PID"):
        return int(os.environ["BENCH_RABBIT_PID"])
    out = subprocess.run(["pgrep", "-f", "beam.smp.*rabbit"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    return pids[0] if pids else None


class Api:
    def __init__(self, binary, **overrides):
        self.port = free_port()
        env = dict(os.environ, web_port=str(self.port), web_bind="127.0.0.1", logs_directory="",
                   spawner_host_queues=QUEUE,
                   **{k: str(v) for k, v in overrides.items()})
        self.log = tempfile.NamedTemporaryFile(prefix="abaco-bench-api-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([binary, "-c", CONF], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self.s = requests.Session()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"api exited: {self.output()[-2000:]}")
            try:
                self.s.get(self.base + "/actors?limit=1", timeout=5)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("api never answered")

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def metric(self, name):
        text = self.s.get(self.base + "/metrics", timeout=60).text
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# ---- seeding ----

def register(api, n, start):
    """n actors through the api; 1 in 100 with a cron schedule (not due)."""
    year = time.gmtime().tm_year + 1

    def one(i):
        body = {"image": "abaco/samples-echo", "name": f"bench-{i}", "queue": QUEUE}
        if i % 100 == 0:
            body.update(cron_schedule=f"{year}-09-6 5 + 3 months", cron_on=True)
        r = requests.post(api.base + "/actors", json=body, timeout=60)
        r.raise_for_status()
        return r.json()["result"]["id"]

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        return list(ex.map(one, range(start, start + n)))


def db_ids(aids):
    want = {a for a in aids}
    return {m.rsplit("_", 1)[1]: m for m in redis_cmd("SMEMBERS", "abaco:actors")
            if m.rsplit("_", 1)[1] in want}


def seed_workers(dbs, total):
    """total READY workers over the given actors (round robin), in the
    records' format (every field JSON text), recently busy."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    made = []
    for k in range(total):
        db = dbs[k % len(dbs)]
        wid = "bw" + uuid.uuid4().hex[:12]
        rec = {"id": wid, "actor_id": db, "status": "READY", "image": "abaco/samples-echo",
               "tenant": db.rsplit("_", 1)[0], "ch_name": wid, "create_time": now,
               "start_time": now, "last_execution_time": now, "revision": 1, "location": None,
               "cid": None, "host_id": "bench", "host_ip": "127.0.0.1", "pid": None,
               "last_health_check_time": now, "status_message": None}
        args = ["HSET", f"abaco:worker:{db}:{wid}"]
        for k2, v in rec.items():
            args += [k2, json.dumps(v)]
        redis_cmd(*args)
        redis_cmd("SADD", f"abaco:workers:{db}", wid)
        redis_cmd("SADD", "abaco:autoscale:active", db)  # as model_worker_put does
        index_worker(db, wid, "READY", "bench")  # and its index entries
        made.append((db, wid))
    return made


def unseed_workers(made):
    for db, wid in made:
        redis_cmd("DEL", f"abaco:worker:{db}:{wid}")
        redis_cmd("SREM", f"abaco:workers:{db}", wid)
        unindex_worker(db, wid)


# ---- measurements ----

def http_latency(api, aids):
    """p50/p99 of GET /actors/{id} (300, over the actors) and of a message
    POST (200, to one actor), sequential."""
    s = requests.Session()
    g, p = [], []
    for i in range(300):
        t = time.perf_counter()
        r = s.get(f"{api.base}/actors/{aids[(i * 7919) % len(aids)]}", timeout=30)
        g.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    for i in range(200):
        t = time.perf_counter()
        r = s.post(f"{api.base}/actors/{aids[-1]}/messages", data={"message": "b"}, timeout=30)
        p.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    return (pct(g, 50), pct(g, 99), pct(p, 50), pct(p, 99))


def tick_cost(binary, label, n, aids):
    redis = int(os.environ["BENCH_REDIS_PID"]) if os.environ.get("BENCH_REDIS_PID") else \
        pid_of("redis")
    rabbit = rabbit_pid()
    rows = {}
    for job, over in (("autoscaler", dict(workers_autoscaling="true", workers_autoscale_interval=1,
                                          workers_autoscale_idle_grace=86400,
                                          web_cron_interval=3600)),
                      ("cron", dict(workers_autoscaling="false", web_cron_interval=1))):
        api = Api(binary, workers_init_count=0, **over)
        try:
            counter = "abaco_autoscaler_ticks_total" if job == "autoscaler" else \
                "abaco_cron_ticks_total"
            # settle: the first ticks of a fresh process (this tree's
            # autoscaler prunes the index every start fills)
            time.sleep(min(15, 3 + n / 1000))
            t0, a0, r0, q0 = api.metric(counter), cpu_ms(api.proc.pid), cpu_ms(redis), \
                cpu_ms(rabbit)
            time.sleep(WINDOW)
            a1, r1, q1 = cpu_ms(api.proc.pid), cpu_ms(redis), cpu_ms(rabbit)
            t1 = api.metric(counter)  # after: its scrape is not in the window
            ticks = max(1.0, t1 - t0)
            rows[job] = ((a1 - a0) / ticks, (r1 - r0) / ticks, (q1 - q0) / ticks, ticks)
            if job == "autoscaler":
                rows["http"] = http_latency(api, aids)
        finally:
            api.stop()
    api = Api(binary, workers_init_count=0, workers_autoscaling="false", web_cron_interval=3600)
    try:
        # a /metrics scrape with its store part refreshed (> 1 s apart)
        lat, cpu = [], 0.0
        for _ in range(4):
            time.sleep(1.1)
            c0, t = cpu_ms(api.proc.pid), time.perf_counter()
            api.s.get(api.base + "/metrics", timeout=60)
            lat.append((time.perf_counter() - t) * 1000)
            cpu += cpu_ms(api.proc.pid) - c0
        rows["metrics"] = (cpu / 4, statistics.median(lat))
    finally:
        api.stop()
    a, m, h = rows["autoscaler"], rows["metrics"], rows["http"]
    c = rows["cron"]
    print(f"  [{label}] {n:>6} actors, 1000 workers: autoscaler tick {a[0]:7.2f} ms api CPU "
          f"(+ Redis {a[1]:6.2f}, RabbitMQ {a[2]:6.2f}) over {a[3]:.0f} ticks; "
          f"cron tick {c[0]:7.2f} ms (+ Redis {c[1]:6.2f}); /metrics scrape {m[0]:6.1f} ms CPU, "
          f"{m[1]:6.1f} ms wall", flush=True)
    print(f"  [{label}] {n:>6} actors: GET /actors/{{id}} p50 {h[0]:.2f} ms p99 {h[1]:.2f} ms; "
          f"POST message p50 {h[2]:.2f} ms p99 {h[3]:.2f} ms", flush=True)


def health_cost(binary, label, n):
    """CPU of a health agent per tick: interval 1 s, a host id of its own
    (none of the workers is its), the orphan-queue sweep off; ticks counted
    from its debug log."""
    env = dict(os.environ, health_interval="1", spawner_host_id="benchhealth",
               rabbit_management_url="", logs_directory="", logs_level="DEBUG")
    log = tempfile.NamedTemporaryFile(prefix="abaco-bench-health-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary, "-c", CONF], env=env, stdout=log, stderr=subprocess.STDOUT)

    def ticks():
        with open(log.name, errors="replace") as f:
            return len(re.findall(r"tick \d+: ", f.read()))
    try:
        time.sleep(min(20, 4 + n / 1000))  # past its first ticks (and the index build)
        t0, c0 = ticks(), cpu_ms(proc.pid)
        time.sleep(WINDOW)
        c1, t1 = cpu_ms(proc.pid), ticks()
        k = max(1, t1 - t0)
        print(f"  [{label}] {n:>6} actors, 1000 workers elsewhere: health tick "
              f"{(c1 - c0) / k:7.2f} ms CPU over {t1 - t0} ticks", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


def mongo():
    return pymongo.MongoClient("mongodb://%s:%s" % (conf("store", "mongo_host", "127.0.0.1"),
                                                    conf("store", "mongo_port", "27017")),
                               serverSelectionTimeoutMS=5000)[conf("store", "mongo_db", "abaco")]


def exec_doc(db_id, when, tenant):
    eid = "bx" + uuid.uuid4().hex[:16]
    return {"_id": eid, "id": eid, "actor_id": db_id.rsplit("_", 1)[1], "actor_dbid": db_id,
            "tenant": tenant, "executor": "bench", "status": "COMPLETE",
            "message_received_time": when, "start_time": when, "finish_time": when,
            "worker_id": "w", "runtime": 1, "cpu": 0, "io": 0, "exit_code": 0,
            "final_state": None, "bench": True}


MARKS = ("abaco:executions:by_time:built", "abaco:executions:index:built")
# Per query: at most this many samples, for at most this many seconds
# (at least 3 samples).
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
SAMPLE_S = float(os.environ.get("BENCH_SAMPLE_S", "20"))
# Above this many stored executions the search across all actors (a
# collection scan on FerretDB: about 35 s a request at 100,000) is skipped.
SEARCH_MAX = int(os.environ.get("BENCH_SEARCH_MAX", "200000"))


def wait_indexes(api, deadline_s=3600):
    """This tree's api builds the executions' indexes on its first tick when
    their marks are missing; its lists read the collection until then.
    Returns the rebuild's (ids, ms) when it logged one."""
    t = time.time()
    while time.time() - t < deadline_s:
        if all(redis_cmd("EXISTS", k) == 1 for k in MARKS):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the executions' indexes were never built")
    time.sleep(0.3)
    m = re.search(r"indexed (\d+) execution\(s\) in (\d+) ms", api.output())
    return (int(m.group(1)), int(m.group(2))) if m else None


def exec_queries(binary, label, total, aid, own):
    if label == "this tree" and redis_cmd("EXISTS", MARKS[1]) == 1:
        # An api of a build before the per-actor index (main's) drops the
        # time index and its mark at start when retention is off; the
        # per-actor index it leaves alone is all the list needs (the time
        # index is rebuilt and measured by retention() below).
        redis_cmd("SET", MARKS[0], "1")
    api = Api(binary, workers_init_count=0, workers_autoscaling="false", web_cron_interval=3600)
    try:
        built = wait_indexes(api) if label == "this tree" else None
        if built:
            print(f"  [{label}] {total:>7} executions stored: indexes built from the collection "
                  f"in {built[1]} ms ({built[0]} ids)", flush=True)
        s = requests.Session()
        out = {}
        for name, path in (("list", f"/actors/{aid}/executions"),
                           ("page", f"/actors/{aid}/executions?offset=40&limit=10"),
                           ("search", "/actors/search/executions?status=COMPLETE&limit=10"),
                           ("search1", f"/actors/search/executions?actor_id={aid}&status=COMPLETE"
                                       "&limit=10"),
                           ("get", f"/actors/{aid}/executions/{own[len(own) // 2]}")):
            if name == "search" and total > SEARCH_MAX:
                continue
            lat = []
            t0 = time.time()
            while len(lat) < SAMPLES and (len(lat) < 3 or time.time() - t0 < SAMPLE_S):
                t = time.perf_counter()
                r = s.get(api.base + path, timeout=1800)
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                res = r.json()["result"]
                if name == "list":
                    assert res["total_executions"] == len(own) == len(res["executions"]), res
                elif name == "page" and label == "this tree":
                    assert [e["id"] for e in res["executions"]] == own[40:50]
            out[name] = (pct(lat, 50), pct(lat, 99), len(lat))
        for name, what in (("list", "list (the actor's 100)"), ("page", "page (10 of 100)"),
                           ("search", "search (all actors)"),
                           ("search1", "search (actor_id=)"), ("get", "GET one")):
            if name not in out:
                print(f"  [{label}] {total:>7} executions stored: {what:22} skipped (a scan; "
                      f"BENCH_SEARCH_MAX={SEARCH_MAX})", flush=True)
                continue
            p50, p99, n = out[name]
            print(f"  [{label}] {total:>7} executions stored: {what:22} p50 {p50:9.2f} ms "
                  f"p99 {p99:9.2f} ms ({n} requests)", flush=True)
    finally:
        api.stop()


def retention(binary, total):
    redis_cmd("DEL", "abaco:executions:by_time", *MARKS)
    api = Api(binary, workers_init_count=0, workers_autoscaling="false", web_cron_interval=3600,
              store_executions_retention="1", store_executions_retention_interval=1,
              store_executions_retention_batch=1000)
    try:
        deadline = time.time() + 300
        built = None
        while time.time() < deadline and built is None:
            m = re.search(r"indexed (\d+) execution\(s\) in (\d+) ms", api.output())
            built = (int(m.group(1)), int(m.group(2))) if m else None
            time.sleep(0.2)
        c0 = redis_cmd("ZCARD", "abaco:executions:by_time")
        t0, a0 = time.time(), cpu_ms(api.proc.pid)
        time.sleep(WINDOW)
        c1 = redis_cmd("ZCARD", "abaco:executions:by_time")
        dt, cpu = time.time() - t0, cpu_ms(api.proc.pid) - a0
        rate = (c0 - c1) / dt
        print(f"  [retention] {total:>7} executions stored: time index built from the "
              f"collection in {built[1] if built else -1} ms ({built[0] if built else 0} ids); "
              f"old executions removed at {rate:7.0f}/s with their logs "
              f"({cpu / max(1, c0 - c1) * 1000:.0f} ms api CPU per 1000)", flush=True)
    finally:
        api.stop()


def main():
    sizes = [int(x) for x in sys.argv[1:]] or [100, 1000, 10000]
    execs = [int(x) for x in os.environ.get("BENCH_EXECS", "10000 100000").split()]
    mine = os.path.join(BUILD, "bin", "api")
    builds = [("this tree", mine)]
    if os.environ.get("BENCH_BASE_API"):
        builds.insert(0, ("base", os.environ["BENCH_BASE_API"]))
    healths = [("this tree", os.path.join(BUILD, "bin", "health"))]
    if os.environ.get("BENCH_BASE_HEALTH"):
        healths.insert(0, ("base", os.environ["BENCH_BASE_HEALTH"]))
    paused = [p for p in (pid_of("api"), pid_of("health")) if p]
    for p in paused:
        os.kill(p, signal.SIGSTOP)
    reg = Api(mine, workers_init_count=0, workers_autoscaling="false", web_cron_interval=3600)
    aids, made, db = [], [], mongo()
    try:
        part = os.environ.get("BENCH_PART", "all")  # ticks, execs or all
        if part == "execs":
            sizes = sizes[:1]
        print("==> ticks and requests by number of registered actors", flush=True)
        for n in sizes:
            t = time.time()
            aids += register(reg, n - len(aids), len(aids))
            print(f"  ({n} actors registered, the last ones in {time.time() - t:.1f} s)",
                  flush=True)
            if not made:
                dbs = list(db_ids(aids[:1000]).values())
                made = seed_workers(dbs, 1000)
            for label, binary in builds:
                if part != "execs":
                    tick_cost(binary, label, n, aids)
            for label, binary in healths:
                if part != "execs":
                    health_cost(binary, label, n)
        if part == "ticks":
            return
        print("==> executions: queries and retention by number stored", flush=True)
        aid = aids[0]
        dbid = db_ids([aid])[aid]
        tenant = dbid.rsplit("_", 1)[0]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        own = [exec_doc(dbid, now, tenant) for _ in range(100)]
        for i, d in enumerate(own):  # one order for the index and the store
            d["message_received_time"] = d["start_time"] = d["finish_time"] = \
                now[:-4] + "%03dZ" % i
        db.executions.insert_many(own)
        own_ids = [d["_id"] for d in own]
        stored = 100
        # written behind the api's back: this tree's api rebuilds its indexes
        # (timed at the first size)
        redis_cmd("DEL", *MARKS)
        for total in execs:
            t = time.time()
            while stored < total:
                k = min(5000, total - stored)
                # executions of 50 deleted actors, a year old (in no
                # per-actor index: the actor measured is not theirs)
                db.executions.insert_many(
                    [exec_doc(f"{tenant}_GONE{(stored + i) % 50}", "2025-01-01T00:00:00.000Z",
                              tenant) for i in range(k)])
                stored += k
            print(f"  ({total} executions stored; inserted in {time.time() - t:.1f} s)",
                  flush=True)
            for label, binary in builds:
                exec_queries(binary, label, total, aid, own_ids)
        retention(mine, stored)
        if "1000000" not in os.environ.get("BENCH_EXECS", ""):
            print("  (1,000,000 executions: not run by default -- BENCH_EXECS='10000 100000 "
                  "1000000' adds it; FerretDB takes minutes to insert them, and the base "
                  "api's scans minutes per request)", flush=True)
    finally:
        reg.stop()
        for p in paused:
            os.kill(p, signal.SIGCONT)
        unseed_workers(made)
        # FerretDB deletes what one filter matches in one SQL statement
        # (at most 32766 variables): in chunks of ids. BENCH_KEEP_EXECS=1
        # leaves them (a throwaway stack: a million take FerretDB long to
        # delete)
        while os.environ.get("BENCH_KEEP_EXECS") != "1":
            ids = [d["_id"] for d in db.executions.find({"bench": True}, {"_id": 1}).limit(30000)]
            if not ids:
                break
            db.executions.delete_many({"_id": {"$in": ids}})
        api = Api(mine, workers_init_count=0, workers_autoscaling="false",
                  web_cron_interval=3600)
        def delete(a):
            try:
                return requests.delete(f"{api.base}/actors/{a}", timeout=120).status_code
            except requests.RequestException as e:
                return str(e)

        try:
            with concurrent.futures.ThreadPoolExecutor(4) as ex:
                codes = list(ex.map(delete, aids))
            bad = [c for c in codes if c != 200]
            if bad:
                print(f"  (cleanup: {len(bad)} of {len(aids)} actors not deleted: {bad[:3]})")
        finally:
            api.stop()


if __name__ == "__main__":
    main()
