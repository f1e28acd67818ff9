"""The health agent (docs/architecture.md "Processes", issue 5 "health"), each fault
created for real against the running stack: a worker killed while its
spawner cannot reap it, a worker alive but stopped (SIGSTOP: it no longer
answers `status`), a container killed under a running execution, an orphan
container and orphan execution files (a worker's own container, the
docker backend's, is left to its spawner), orphan queues, an idle worker past
worker_ttl, and records and containers of another host left alone.

Isolation: the module starts its own api + spawner pair from build/bin on a
host id and command queue of its own (actors registered there with that
"queue" run only on its workers, which inherit its environment), and each
test runs a private health process for that host with
health_interval=1 (and its own worker_ttl). The stack's own health and
workers belong to host 0 and are never touched by these agents, and the
stack's spawner is never stopped. Everything shares the stores, the broker
and the engine.

The orphan-queue tests need RabbitMQ's management API ([rabbit]
management_url, enabled by scripts/up.sh) and are skipped when it does not
answer. The whole module can run against another broker by overriding
rabbit_uri and rabbit_management_url in the environment (the private api,
spawner, workers and agents inherit it).
"""
import json
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

from conftest import (conf, declare_queue, delete_queue, free_port, host_dir, index_worker,
                      needs_mgmt, queue_exists, redis_cmd, unindex_worker, wait_for,
                      worker_pids)
from private_stack import PrivateStack, module_stack, stop_process

SOCK_DIR = host_dir("socket_host_path_dir", "var/run/sockets")
FIFO_DIR = host_dir("fifo_host_path_dir", "var/run/fifos")
TENANT = conf("web", "tenant_name", "DEV-DEVELOP").upper()


def docker(*args, check=False):
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def containers(flt, running=False):
    """Ids of the containers matching a `docker ps` filter ("label=k=v", "name=x")."""
    args = ["ps", "-q", "--no-trunc", "--filter", flt]
    if not running:
        args.insert(1, "-a")
    return docker(*args, check=True).stdout.split()


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def worker_record(db_id, wid):
    flat = redis_cmd("HGETALL", f"abaco:worker:{db_id}:{wid}") or []
    return {flat[i]: json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}


def put_fake_worker(db_id, wid, host_id, status="READY", pid=None):
    """A worker record as the spawner and worker write it (JSON field values),
    with the index entries they keep."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    fields = {"id": wid, "actor_id": db_id, "status": status, "image": "abaco/samples-echo",
              "tenant": TENANT, "ch_name": f"worker_{wid}", "create_time": now,
              "start_time": now, "revision": 1, "host_id": host_id, "host_ip": "127.0.0.1",
              "pid": pid, "location": None, "cid": None, "last_execution_time": None,
              "last_health_check_time": None, "status_message": None}
    args = []
    for k, v in fields.items():
        args += [k, json.dumps(v)]
    redis_cmd("HSET", f"abaco:worker:{db_id}:{wid}", *args)
    redis_cmd("SADD", f"abaco:workers:{db_id}", wid)
    index_worker(db_id, wid, status, host_id)


def drop_fake_worker(db_id, wid):
    redis_cmd("SREM", f"abaco:workers:{db_id}", wid)
    redis_cmd("DEL", f"abaco:worker:{db_id}:{wid}")
    unindex_worker(db_id, wid)


def dead_pid():
    """A pid that is no process now."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


# ---- private services ----

class Host(PrivateStack):
    """The module's api + spawner pair, with the lookups its tests share."""

    def db_id(self, aid):
        return f"{TENANT}_{aid}"

    def ready_worker(self, aid, timeout=30):
        ws = wait_for(lambda: [w for w in self.workers(aid) if w["status"] == "READY"], timeout,
                      f"a READY worker of {aid}")
        assert ws[0]["host_id"] == self.host_id, ws
        return ws[0]

    def execution(self, aid, eid):
        return self.client.ok("GET", f"/actors/{aid}/executions/{eid}")


# HEALTH_VALGRIND=1 runs every private health agent under valgrind (a leak or
# memory error makes its exit status non-zero, which fails the test).
VALGRIND = (["valgrind", "-q", "--leak-check=full", "--error-exitcode=9",
             "--errors-for-leak-kinds=definite,indirect"]
            if os.environ.get("HEALTH_VALGRIND") else [])


class Health:
    """A private health agent for the host, stopped (SIGTERM, exit 0) at the end."""

    def __init__(self, host, **overrides):
        self.host = host
        self.name = "health-" + uuid.uuid4().hex[:6]
        self.overrides = {"health_interval": "1", **overrides}

    def log(self):
        return self.host.log(self.name, tail=None)

    def __enter__(self):
        self.proc = self.host.start("health", log=self.name, wrap=VALGRIND,
                                    **self.overrides)
        wait_for(lambda: "started" in self.log() or self.proc.poll() is not None,
                 30, "health to start")
        assert self.proc.poll() is None, self.log()
        return self

    def __exit__(self, *exc):
        rc = stop_process(self.proc)
        assert rc == 0, f"health exited with {rc}: {self.log()[-3000:]}"


@pytest.fixture(scope="module")
def host(request):
    # No autoscaler on the private pair: the fake READY worker records the
    # tests plant would look idle to it, and it would stop them.
    yield from module_stack(request, "htest", stack=Host, serve_default=True,
                            env={"workers_autoscaling": "false"})


# ---------------------------------------------------------------- tests


def test_worker_killed_while_its_spawner_cannot_reap_it(host):
    c = host.client
    aid = host.register("abaco/samples-sleep")["id"]
    wid = host.ready_worker(aid)["id"]
    with Health(host) as health:
        # A live worker is checked, not touched.
        wait_for(lambda: worker_record(host.db_id(aid), wid).get("last_health_check_time"), 10,
                 "a recorded health check")
        eid = c.send(aid, "60")["execution_id"]
        wait_for(lambda: host.execution(aid, eid)["status"] == "RUNNING", 30, "RUNNING")
        cids = wait_for(lambda: containers(f"label=abaco.worker={wid}", running=True), 20,
                        "the execution's container")
        [pid] = worker_pids(wid)
        spawner = host.spawner
        spawner.send_signal(signal.SIGSTOP)  # its reaper cannot act
        try:
            os.kill(pid, signal.SIGKILL)
            t0 = time.time()
            ex = wait_for(lambda: (e := host.execution(aid, eid))["status"] != "RUNNING" and e,
                          45, "the execution to leave RUNNING")  # FerretDB scans: slow
            assert ex["status"] == "ERROR", ex
            assert "died" in ex.get("status_message", "") and wid in ex["status_message"], ex
            wait_for(lambda: wid not in [w["id"] for w in host.workers(aid)], 20,
                     "the dead worker's record to go")
            wait_for(lambda: not containers(f"label=abaco.worker={wid}"), 20,
                     "the dead worker's container to go")
            print(f"dead worker repaired in {time.time() - t0:.1f}s")
            for cid in cids:
                assert docker("inspect", cid).returncode != 0
            assert not os.path.exists(os.path.join(SOCK_DIR, f"{eid}.sock"))
            assert not os.path.exists(os.path.join(FIFO_DIR, eid))
            assert "its process is gone" in health.log()
        finally:
            spawner.send_signal(signal.SIGCONT)
    # The execution stays ERROR: the redelivered message is not run again.
    time.sleep(2)
    assert host.execution(aid, eid)["status"] == "ERROR"


def test_container_killed_under_a_running_execution(host):
    c = host.client
    aid = host.register("abaco/samples-sleep")["id"]
    wid = host.ready_worker(aid)["id"]
    with Health(host):
        eid = c.send(aid, "60")["execution_id"]
        wait_for(lambda: host.execution(aid, eid)["status"] == "RUNNING", 30, "RUNNING")
        [cid] = wait_for(lambda: containers(f"label=abaco.execution={eid}", running=True), 20,
                         "the container")
        docker("rm", "-f", cid, check=True)
        ex = c.wait_execution(aid, eid, timeout=30)
        assert ex["status"] in ("COMPLETE", "ERROR"), ex
        if ex["status"] == "COMPLETE":
            assert ex["exit_code"] != 0, ex
        # The worker survives it and nothing is left behind.
        assert worker_pids(wid), "the worker died with its container"
        wait_for(lambda: [w for w in host.workers(aid) if w["id"] == wid
                          and w["status"] == "READY"], 10, "the worker READY again")
        assert not containers(f"label=abaco.worker={wid}")
        time.sleep(2.5)  # a couple of health ticks: nothing to repair
        assert host.execution(aid, eid)["status"] == ex["status"]
        assert worker_pids(wid)
    eid2 = c.send(aid, "0")["execution_id"]
    assert c.wait_execution(aid, eid2)["status"] == "COMPLETE"


def test_orphan_container_and_files_are_removed(host):
    tag = uuid.uuid4().hex[:10]
    name = f"htest-orphan-{tag}"
    docker("run", "-d", "--name", name, "--label", "abaco.platform=1",
           "--label", f"abaco.host={host.host_id}", "--label", "abaco.worker=nosuch",
           "--label", f"abaco.execution=orphan{tag}", "-e", "MSG=60", "abaco/samples-sleep",
           check=True)
    assert containers(f"name={name}", running=True)
    # Files of an execution without a container: old ones are orphans,
    # new ones may belong to a container about to be created.
    os.makedirs(SOCK_DIR, exist_ok=True)
    os.makedirs(FIFO_DIR, exist_ok=True)
    old_fifo, new_fifo = os.path.join(FIFO_DIR, f"gone{tag}"), os.path.join(FIFO_DIR, f"new{tag}")
    old_sock = os.path.join(SOCK_DIR, f"gone{tag}.sock")
    kept_sock = os.path.join(SOCK_DIR, f"orphan{tag}.sock")  # its container exists, for now
    os.mkfifo(old_fifo)
    os.mkfifo(new_fifo)
    for path in (old_sock, kept_sock):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.close()
    past = time.time() - 600
    for path in (old_fifo, old_sock, kept_sock):
        os.utime(path, (past, past), follow_symlinks=False)
    try:
        with Health(host) as health:
            wait_for(lambda: not containers(f"name={name}"), 15, "the orphan container to go")
            wait_for(lambda: not os.path.exists(old_fifo) and not os.path.exists(old_sock), 10,
                     "the orphan files to go")
            # Its own socket goes with it; the young FIFO stays.
            wait_for(lambda: not os.path.exists(kept_sock), 10, "the container's socket to go")
            time.sleep(1.5)
            assert os.path.exists(new_fifo)
        assert "orphan container" in health.log()
    finally:
        docker("rm", "-f", name)
        for path in (old_fifo, new_fifo, old_sock, kept_sock):
            if os.path.lexists(path):
                os.unlink(path)


def test_worker_containers_are_left_to_their_spawner(host):
    # An ended worker container of the docker backend (abaco.role=worker) is
    # its spawner's to settle (output copied, a killed worker reaped); the
    # control is the same container without the role, an orphan.
    tag = uuid.uuid4().hex[:10]
    names = {role: f"htest-{role}-{tag}" for role in ("worker", "none")}
    for role, name in names.items():
        docker("create", "--name", name, "--label", "abaco.platform=1",
               "--label", f"abaco.host={host.host_id}", "--label", f"abaco.worker=nosuch{tag}",
               *(["--label", "abaco.role=worker"] if role == "worker" else []),
               "-e", "MSG=0", "abaco/samples-sleep", check=True)
        docker("start", "-a", name, check=True)  # runs and exits 0
    try:
        with Health(host) as health:
            wait_for(lambda: not containers(f"name={names['none']}"), 15,
                     "the orphan container to go")
            time.sleep(2.5)
            assert containers(f"name={names['worker']}")
        wid = containers(f"name={names['worker']}")[0]
        assert wid[:12] not in health.log()
    finally:
        for name in names.values():
            docker("rm", "-f", name)


def test_idle_worker_past_worker_ttl_is_stopped(host):
    aid = host.register("abaco/samples-echo")["id"]
    wid = host.ready_worker(aid)["id"]
    assert worker_pids(wid)
    with Health(host, workers_worker_ttl="2") as health:
        t0 = time.time()
        wait_for(lambda: wid not in [w["id"] for w in host.workers(aid)], 20,
                 "the idle worker's record to go")
        wait_for(lambda: not worker_pids(wid), 15, "the idle worker to exit")
        print(f"idle worker stopped {time.time() - t0:.1f}s after health started (ttl 2s)")
    assert "asked it to stop" in health.log()
    # The actor still works: the next message brings a worker up again.
    eid = host.client.send(aid, "after the ttl")["execution_id"]
    assert host.client.wait_execution(aid, eid)["status"] == "COMPLETE"


def test_worker_of_a_deleted_actor_is_stopped(host):
    """A worker the actor's deletion did not see (a message send that raced
    the DELETE requested it after the DELETE listed the workers) outlives
    its actor; the health agent asks it to stop."""
    aid = host.register("abaco/samples-echo")["id"]
    db_id = host.db_id(aid)
    wid = host.ready_worker(aid)["id"]
    assert worker_pids(wid)
    # the race's outcome: the worker is not among those the DELETE lists
    assert redis_cmd("SREM", f"abaco:workers:{db_id}", wid) == 1
    host.client.ok("DELETE", f"/actors/{aid}")
    assert redis_cmd("EXISTS", f"abaco:actor:{db_id}") == 0
    assert worker_record(db_id, wid)["status"] == "READY" and worker_pids(wid)
    with Health(host) as health:
        wait_for(lambda: not worker_record(db_id, wid), 20, "the orphan worker's record to go")
        wait_for(lambda: not worker_pids(wid), 15, "the orphan worker to exit")
    assert "the actor was deleted: asked it to stop" in health.log()
    assert redis_cmd("HGET", "abaco:index:worker_status", f"{db_id}:{wid}") is None


def test_other_hosts_workers_and_containers_are_left_alone(host):
    aid = host.register("abaco/samples-echo")["id"]
    db_id = host.db_id(aid)
    tag = uuid.uuid4().hex[:10]
    other_host = f"elsewhere-{tag}"
    foreign, ours = f"foreign{tag}", f"deadhere{tag}"
    name = f"htest-foreign-{tag}"
    pid = dead_pid()
    put_fake_worker(db_id, foreign, other_host, pid=pid)
    put_fake_worker(db_id, ours, host.host_id, pid=pid)  # the control: ours, dead
    docker("run", "-d", "--name", name, "--label", "abaco.platform=1",
           "--label", f"abaco.host={other_host}", "--label", "abaco.worker=nosuch",
           "-e", "MSG=60", "abaco/samples-sleep", check=True)
    try:
        with Health(host):
            # Once our dead one is gone the agent has looked at everything ...
            wait_for(lambda: not worker_record(db_id, ours), 15, "our dead worker's record to go")
            time.sleep(2.5)
            # ... and left the other host's alone.
            rec = worker_record(db_id, foreign)
            assert rec and rec["status"] == "READY" and rec["last_health_check_time"] is None, rec
            assert containers(f"name={name}", running=True)
        assert foreign in [w["id"] for w in host.workers(aid)]
    finally:
        drop_fake_worker(db_id, foreign)
        drop_fake_worker(db_id, ours)
        docker("rm", "-f", name)


def fake_worker_process(wid):
    """A process that looks like worker `wid` in /proc (`... -- <db_id> <wid>`)
    and ignores SIGTERM, like a worker hung on its way out."""
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    return subprocess.Popen(["python3", "-c", code, "--", "TENANT_fake", wid])


def test_worker_stuck_shutting_down_is_terminated_then_killed(host):
    aid = host.register("abaco/samples-echo")["id"]
    db_id = host.db_id(aid)
    wid = "stuck" + uuid.uuid4().hex[:10]
    proc = fake_worker_process(wid)
    try:
        wait_for(lambda: wid.encode() in cmdline(proc.pid), 10, "the fake worker process")
        put_fake_worker(db_id, wid, host.host_id, status="SHUTDOWN_REQUESTED", pid=proc.pid)
        with Health(host, health_shutdown_timeout="1") as health:
            t0 = time.time()
            wait_for(lambda: "sending SIGTERM" in health.log(), 15, "SIGTERM")
            assert proc.poll() is None  # it ignores SIGTERM ...
            wait_for(lambda: proc.poll() is not None, 30, "SIGKILL")  # ... not SIGKILL
            assert proc.returncode == -signal.SIGKILL
            wait_for(lambda: not worker_record(db_id, wid), 20, "the stuck worker's record to go")
            print(f"stuck worker removed in {time.time() - t0:.1f}s (shutdown_timeout 1s)")
        assert "stuck shutting down" in health.log()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        drop_fake_worker(db_id, wid)


def test_worker_that_never_starts_is_removed_after_spawn_timeout(host):
    aid = host.register("abaco/samples-echo")["id"]
    db_id = host.db_id(aid)
    host.ready_worker(aid)
    tag = uuid.uuid4().hex[:10]
    requested, setup = f"req{tag}", f"setup{tag}"
    put_fake_worker(db_id, requested, None, status="REQUESTED")  # no host yet: our queue's
    put_fake_worker(db_id, setup, host.host_id, status="SPAWNER SETUP")
    try:
        with Health(host, health_spawn_timeout="3") as health:
            time.sleep(1.5)
            assert worker_record(db_id, requested) and worker_record(db_id, setup)
            wait_for(lambda: not worker_record(db_id, requested) and
                     not worker_record(db_id, setup), 20, "the stale records to go")
        assert "never started" in health.log()
        assert host.ready_worker(aid)  # the real worker is untouched
    finally:
        drop_fake_worker(db_id, requested)
        drop_fake_worker(db_id, setup)


def test_worker_alive_but_not_answering_is_removed(host):
    """SIGSTOP: the process exists (so it is not dead) but never answers
    `status`; after [health] status_misses silent ticks it is killed and
    removed, and its execution is ERROR with the reason."""
    c = host.client
    aid = host.register("abaco/samples-sleep")["id"]
    wid = host.ready_worker(aid)["id"]
    db_id = host.db_id(aid)
    eid = c.send(aid, "60")["execution_id"]
    wait_for(lambda: host.execution(aid, eid)["status"] == "RUNNING", 30, "RUNNING")
    wait_for(lambda: containers(f"label=abaco.worker={wid}", running=True), 20, "its container")
    [pid] = worker_pids(wid)
    os.kill(pid, signal.SIGSTOP)
    try:
        with Health(host, health_status_misses="2") as health:
            t0 = time.time()
            # Alive, so recorded as silent first, not as dead.
            rec = wait_for(lambda: (r := worker_record(db_id, wid)).get("health_misses") and r,
                           15, "a recorded miss")
            assert rec["health_status"] == "NOT ANSWERING" and rec["status"] == "BUSY", rec
            ex = wait_for(lambda: (e := host.execution(aid, eid))["status"] != "RUNNING" and e,
                          45, "the execution to leave RUNNING")
            assert ex["status"] == "ERROR", ex
            assert "stopped answering" in ex.get("status_message", "") and \
                wid in ex["status_message"], ex
            wait_for(lambda: wid.encode() not in cmdline(pid), 15,
                     "the stuck worker to be killed")  # gone, or a zombie
            wait_for(lambda: wid not in [w["id"] for w in host.workers(aid)], 20,
                     "its record to go")
            wait_for(lambda: not containers(f"label=abaco.worker={wid}"), 20,
                     "its container to go")
            print(f"stuck worker removed in {time.time() - t0:.1f}s (status_misses 2)")
            assert not os.path.exists(os.path.join(SOCK_DIR, f"{eid}.sock"))
            assert not os.path.exists(os.path.join(FIFO_DIR, eid))
            log = health.log()
            assert "no answer to 2 status requests in a row" in log, log[-3000:]
            assert "its process is gone" not in log
    finally:
        if wid.encode() in cmdline(pid):
            os.kill(pid, signal.SIGKILL)
    # The redelivered message is not run again by the replacement.
    time.sleep(2)
    assert host.execution(aid, eid)["status"] == "ERROR"
    # The actor still works.
    eid2 = c.send(aid, "0")["execution_id"]
    assert c.wait_execution(aid, eid2)["status"] == "COMPLETE"


def test_ready_worker_answers_status_and_its_record_shows_it(host):
    aid = host.register("abaco/samples-echo")["id"]
    db_id = host.db_id(aid)
    wid = host.ready_worker(aid)["id"]
    before = worker_record(db_id, wid).get("last_health_check_time")
    with Health(host) as health:
        first = wait_for(lambda: (r := worker_record(db_id, wid)).get("last_health_check_time")
                         != before and r, 10, "a recorded health check")
        assert first["health_status"] == "READY" and first["health_misses"] == 0, first
        # Every tick asks again.
        wait_for(lambda: worker_record(db_id, wid)["last_health_check_time"] !=
                 first["last_health_check_time"], 10, "a later health check")
        shown = [w for w in host.workers(aid) if w["id"] == wid][0]
        assert shown["last_health_check_time"] not in (None, "None"), shown
        assert "health_status" not in shown  # internal
        assert worker_pids(wid)
    assert "no answer" not in health.log()


@needs_mgmt
def test_orphan_queues_are_deleted_after_two_sweeps(host):
    tag = uuid.uuid4().hex[:10]
    orphans = [f"actor_msg_{TENANT}_gone{tag}", f"worker_gone{tag}",
               f"spawner_worker_gone{tag}", f"results_{TENANT}_gone{tag}_E{tag}"]
    other = f"htest_notours_{tag}"
    # A live actor whose mailbox holds a message and has no consumer yet:
    # its spawner is stopped, so its worker cannot come up.
    spawner = host.spawner
    spawner.send_signal(signal.SIGSTOP)
    try:
        aid = host.register("abaco/samples-echo")["id"]
        live = f"actor_msg_{host.db_id(aid)}"
        eid = host.client.send(aid, "kept")["execution_id"]
        assert queue_exists(live)
        declare_queue(orphans[0], message="undeliverable")
        for name in orphans[1:] + [other]:
            declare_queue(name)
        with Health(host, health_interval="2", logs_level="DEBUG") as health:
            t0 = time.time()
            wait_for(lambda: not any(queue_exists(q) for q in orphans), 20,
                     "the orphan queues to go")
            print(f"orphan queues removed {time.time() - t0:.1f}s after health started "
                  f"(interval 2s)")
            time.sleep(2.5)  # one more sweep
            assert queue_exists(live) and queue_exists(other)
        log = health.log()
        for q in orphans:
            # Suspected at one sweep, deleted at the next.
            suspect = log.find(f"queue {q}: its ")
            removed = log.find(f"removed orphan queue {q} ")
            assert 0 <= suspect < removed, (q, log[-4000:])
        assert live not in log
    finally:
        spawner.send_signal(signal.SIGCONT)
        for name in orphans + [other]:
            delete_queue(name)
    # The live actor's message was kept and runs once its worker is up.
    assert host.client.wait_execution(aid, eid, timeout=60)["status"] == "COMPLETE"


def test_management_api_down_is_warned_once(host):
    with Health(host, rabbit_management_url=f"http://127.0.0.1:{free_port()}") as h:
        time.sleep(3.5)  # a few ticks
        assert h.proc.poll() is None
    log = h.log()
    assert log.count("management API at") == 1, log[-2000:]


def test_agent_survives_an_unreachable_store_and_engine(host):
    """Redis, Mongo and the engine down (wrong addresses): it keeps ticking,
    logs, and still exits cleanly on SIGTERM."""
    with Health(host, store_redis_port=str(free_port()), store_mongo_port=str(free_port()),
                docker_dd=f"unix:///tmp/no-such-engine-{uuid.uuid4().hex[:6]}.sock") as h:
        time.sleep(3.5)
        assert h.proc.poll() is None
    log = h.log()
    assert "Redis unavailable" in log and "docker engine unavailable" in log, log[-2000:]
