#!/usr/bin/env python3
"""Cost that should not grow with what is stored (issue 15, part 2).

1. Ticks: with N registered actors (100, 1,000, 10,000; 1% with a cron
   schedule, none due) and 1,000 READY workers spread over the first
   actors, the CPU one api process spends per autoscaler tick and per cron
   tick (each measured alone, ticking every second, over a window), and per
   /metrics scrape; plus the CPU Redis and RabbitMQ spend meanwhile, and
   the p50/p99 of GET /actors/{id} and of a message POST.
2. Executions: with E executions stored (10,000, 100,000; BENCH_EXECS),
   GET of an actor's execution list (100 of its own), a search, and GET of
   one execution; then the retention pass: the time index built from the
   collection, and executions removed per second.

Each figure is taken for the api binary of this tree and, when
BENCH_BASE_API names another build's api binary (e.g. main's), for that
one too, in the same run over the same data. Actors are registered through
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
from conftest import BUILD, CONF, REPO, conf, free_port, redis_cmd  # noqa: E402

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
    """The broker's Erlang VM (beam.smp) of the stack."""
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
        made.append((db, wid))
    return made


def unseed_workers(made):
    for db, wid in made:
        redis_cmd("DEL", f"abaco:worker:{db}:{wid}")
        redis_cmd("SREM", f"abaco:workers:{db}", wid)


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
    redis, rabbit = pid_of("redis"), rabbit_pid()
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


def exec_queries(binary, label, total, aid, own):
    api = Api(binary, workers_init_count=0, workers_autoscaling="false", web_cron_interval=3600)
    try:
        s = requests.Session()
        out = {}
        for name, path in (("list", f"/actors/{aid}/executions"),
                           ("search", "/actors/search/executions?status=COMPLETE&limit=10"),
                           ("get", f"/actors/{aid}/executions/{own[len(own) // 2]}")):
            lat = []
            for _ in range(2 if total > 50000 else 5):
                t = time.perf_counter()
                r = s.get(api.base + path, timeout=300)
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
            out[name] = (statistics.median(lat), max(lat))
        print(f"  [{label}] {total:>7} executions stored: list (100 of the actor's) "
              f"{out['list'][0]:8.1f} ms (max {out['list'][1]:.1f}); search "
              f"{out['search'][0]:8.1f} ms (max {out['search'][1]:.1f}); GET one "
              f"{out['get'][0]:6.2f} ms (max {out['get'][1]:.2f})", flush=True)
    finally:
        api.stop()


def retention(binary, total):
    redis_cmd("DEL", "abaco:executions:by_time", "abaco:executions:by_time:built")
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
        redis_cmd("DEL", "abaco:executions:by_time", "abaco:executions:by_time:built")


def main():
    sizes = [int(x) for x in sys.argv[1:]] or [100, 1000, 10000]
    execs = [int(x) for x in os.environ.get("BENCH_EXECS", "10000 100000").split()]
    mine = os.path.join(BUILD, "bin", "api")
    builds = [("this tree", mine)]
    if os.environ.get("BENCH_BASE_API"):
        builds.insert(0, ("base", os.environ["BENCH_BASE_API"]))
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
        if part == "ticks":
            return
        print("==> executions: queries and retention by number stored", flush=True)
        aid = aids[0]
        dbid = db_ids([aid])[aid]
        tenant = dbid.rsplit("_", 1)[0]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        own = [exec_doc(dbid, now, tenant) for _ in range(100)]
        db.executions.insert_many(own)
        own_ids = [d["_id"] for d in own]
        stored = 100
        for total in execs:
            t = time.time()
            while stored < total:
                k = min(5000, total - stored)
                # executions of 50 deleted actors, a year old
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
                  "1000000' adds it; FerretDB takes minutes to insert them)", flush=True)
    finally:
        reg.stop()
        for p in paused:
            os.kill(p, signal.SIGCONT)
        unseed_workers(made)
        db.executions.delete_many({"bench": True})
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
