#!/usr/bin/env python3
"""Memory of idle workers and of the services at rest. Prints figures only.

    rss.py [N] [--per-actor K]

registers ceil(N / K) actors of abaco/samples-echo (K workers each, default
1; asked through POST /actors/{id}/workers as a user would), waits until N
workers are READY (started by the stack's spawner), lets them settle and
prints, per idle worker, the median RSS, USS (private: Private_Clean +
Private_Dirty) and PSS (proportional) from /proc/<pid>/smaps_rollup, then
the host's total for all of them: sum of USS, sum of PSS, and the drop of
MemAvailable from before the first actor was registered. The actors are
deleted at the end (their workers stop). The autoscaler must not stop idle
workers meanwhile: bench/run.sh runs this on a stack started with
workers_autoscaling=false, or with a grace longer than the measurement.
"""
import argparse
import os
import statistics
import subprocess
import time

import requests

API = os.environ.get("ABACO_API", "http://127.0.0.1:8000").rstrip("/")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rollup(pid):
    """{'rss','uss','pss'} in KiB from /proc/pid/smaps_rollup, or None."""
    vals = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    vals[parts[0][:-1]] = int(parts[1])
    except OSError:
        return None
    return {"rss": vals.get("Rss", 0), "pss": vals.get("Pss", 0),
            "uss": vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0)}


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def worker_pids():
    """pid -> worker id of every process-backend worker on this host."""
    out = subprocess.run(["pgrep", "-a", "-f", r"(^|/)worker -c "], capture_output=True,
                         text=True).stdout
    pids = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3:
            pids[int(f[0])] = f[-1]
    return pids


def port_of(url, default):
    """The port of a redis:// or amqp:// URL from the environment."""
    rest = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return int(rest.rsplit(":", 1)[1]) if ":" in rest else default


def established_to(port):
    """Established TCP connections to a local port (from /proc/net/tcp*)."""
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    p = line.split()
                    if p[3] == "01" and int(p[2].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            pass
    return n


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


SERVERS = {"RabbitMQ": ("var", "rabbitmq", "rabbit.pid"), "Redis": ("var", "run", "redis.pid")}


def servers_rss():
    """RSS (KiB) of the stack's RabbitMQ (beam) and Redis, when started by
    scripts/up.sh (their pid files); absent ones are left out."""
    out = {}
    for name, parts in SERVERS.items():
        try:
            pid = int(open(os.path.join(REPO, *parts)).read().split()[0])
            m = rollup(pid)
            if m:
                out[name] = m["rss"]
        except (OSError, ValueError, IndexError):
            pass
    return out


def mib(kib):
    return kib / 1024


def ran_once(s, actors, label):
    """One message to each actor; the memory of the workers that ran them
    (their execution module loaded), measured once they are idle again."""
    eids = {}
    for aid in actors:
        r = s.post(f"{API}/actors/{aid}/messages", json={"message": "rss"}, timeout=30)
        if r.status_code == 200:
            eids[aid] = r.json()["result"]["execution_id"]
    wids = set()
    deadline = time.time() + 120
    while eids and time.time() < deadline:
        for aid, eid in list(eids.items()):
            r = s.get(f"{API}/actors/{aid}/executions/{eid}", timeout=30)
            res = r.json().get("result") or {} if r.status_code == 200 else {}
            if res.get("status") in ("COMPLETE", "ERROR"):
                wids.add(res.get("worker_id") or res.get("workerId"))
                del eids[aid]
        time.sleep(0.5)
    if eids:
        print(f"{label}{len(eids)} execution(s) did not finish within 120 s")
    time.sleep(1.0)
    return [m for pid, wid in worker_pids().items() if wid in wids for m in [rollup(pid)] if m]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=20, help="idle workers wanted")
    ap.add_argument("--per-actor", type=int, default=1, help="workers per actor")
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("BENCH_RSS_TIMEOUT", 300)))
    ap.add_argument("--ran", type=int, default=5,
                    help="actors sent one message afterwards (their workers measured again)")
    ap.add_argument("--label", default="", help="prefix of the summary lines")
    a = ap.parse_args()
    n, k = a.n, max(1, a.per_actor)
    label = a.label + " " if a.label else ""
    s = requests.Session()
    made = []
    avail0 = mem_available_kib()
    srv0 = servers_rss()
    t0 = time.time()
    try:
        while len(made) * k < n:
            r = s.post(API + "/actors", json={"image": "abaco/samples-echo",
                                              "name": f"rss-{len(made)}"}, timeout=30)
            r.raise_for_status()
            aid = r.json()["result"]["id"]
            made.append(aid)
            if k > 1:
                r = s.post(f"{API}/actors/{aid}/workers", json={"num": k}, timeout=30)
                r.raise_for_status()
        ready = {}  # actor id -> ids of its READY workers (complete ones are not asked again)
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            for aid in made:
                if len(ready.get(aid, ())) >= k:
                    continue
                r = s.get(f"{API}/actors/{aid}/workers", timeout=30)
                if r.status_code == 200:
                    ready[aid] = {w["id"] for w in r.json()["result"] if w["status"] == "READY"}
            if sum(len(v) for v in ready.values()) >= n:
                break
            time.sleep(1.0)
        wids = set().union(*ready.values()) if ready else set()
        ready_s = time.time() - t0
        time.sleep(3.0)  # let them settle
        avail1 = mem_available_kib()
        mem = []
        for pid, wid in worker_pids().items():
            if wid in wids:
                m = rollup(pid)
                if m:
                    mem.append(m)
        if not mem:
            print(f"{label}idle workers: none READY of {n} within {a.timeout:.0f} s")
            return
        med = {key: statistics.median(m[key] for m in mem) for key in ("rss", "uss", "pss")}
        print(f"{label}idle worker over {len(mem)} workers (median): RSS {mib(med['rss']):.2f} MiB"
              f"  USS {mib(med['uss']):.2f} MiB  PSS {mib(med['pss']):.2f} MiB")
        print(f"{label}{len(mem)} idle workers ({len(wids)} READY of {n} asked, in {ready_s:.1f} s):"
              f" sum USS {mib(sum(m['uss'] for m in mem)):.1f} MiB,"
              f" sum PSS {mib(sum(m['pss'] for m in mem)):.1f} MiB,"
              f" MemAvailable -{mib(avail0 - avail1):.1f} MiB"
              f" ({mib(avail0 - avail1) / len(mem):.2f} MiB per worker, servers' share included)")
        ran = ran_once(s, made[:a.ran], label)
        if ran:
            print(f"{label}worker after one execution (worker-ext.so loaded) over {len(ran)}"
                  f" workers (median): RSS {mib(statistics.median(m['rss'] for m in ran)):.2f} MiB"
                  f"  USS {mib(statistics.median(m['uss'] for m in ran)):.2f} MiB"
                  f"  PSS {mib(statistics.median(m['pss'] for m in ran)):.2f} MiB")
        # What the platform holds for them (the limits 500 workers meet).
        try:
            spid = int(open(os.path.join(REPO, "var", "run", "spawner.pid")).read())
        except (OSError, ValueError):
            spid = -1
        amqp = port_of(os.environ.get("AMQP_URI", ""), 5672)
        redis = port_of(os.environ.get("REDIS_URL", ""), 6379)
        srv1 = servers_rss()
        grew = ", ".join(f"{k} +{mib(srv1[k] - srv0[k]):.1f} MiB" for k in srv1 if k in srv0)
        print(f"{label}held meanwhile: {established_to(amqp)} AMQP connections (port {amqp}),"
              f" {established_to(redis)} Redis connections (port {redis}),"
              f" spawner fds {fds(spid)}" + (f"; servers' RSS: {grew}" if grew else ""))
    finally:
        for aid in made:
            try:
                s.delete(f"{API}/actors/{aid}", timeout=30)
            except requests.RequestException as e:
                print(f"  deleting actor {aid}: {e}")
    print(f"{label}services at rest:")
    for svc in ("api", "spawner", "clientg", "health", "updater", "launcher"):
        try:
            pid = int(open(os.path.join(REPO, "var", "run", f"{svc}.pid")).read())
            m = rollup(pid)
            print(f"  {svc:10} RSS {mib(m['rss']):6.2f} MiB  USS {mib(m['uss']):6.2f} MiB"
                  f"  PSS {mib(m['pss']):6.2f} MiB")
        except (OSError, ValueError, TypeError):
            print(f"  {svc:10} not running")


if __name__ == "__main__":
    main()
