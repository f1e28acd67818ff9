"""The worker's side of the container contract (docs/api.md "What a container sees") and its failure
rules, checked as a client sees them: results, binary messages, logs of a
running execution, exit codes, force quit, stop, limits and privileges,
cleanup, the five-failures rule and revisions.

Tests that need another configuration (max_run_time, max_log_length, the
actors' uid:gid, a memory limit, a host id of their own) run against a
second api + spawner pair that the `limited` fixture starts (see
private_stack.py) with environment overrides. It serves a command queue of
its own, so actors registered there with that "queue" run only on its
workers (which inherit its environment). Both pairs share the stores, the
broker and the engine. Its logs stay in var/log/worker-contract/ until the
next run.
"""
import json
import os
import subprocess
import time

import pytest

from conftest import REPO, conf, expected_cid, free_port, host_dir, redis_cmd, worker_pids
from private_stack import PrivateStack, stop_process

LOG_MARK = "LOG LIMIT EXCEEDED"


SOCK_DIR = host_dir("socket_host_path_dir", "var/run/sockets")
FIFO_DIR = host_dir("fifo_host_path_dir", "var/run/fifos")


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


# [workers] runtime: scripts/test.sh's stage workers-oci runs this module
# again with ABACO_WORKER_RUNTIME=oci against workers started with
# workers_runtime=oci; their containers are runc's (state in RUNC_ROOT,
# id abaco-<execution id>-<attempt>), their settings in the bundle's config.json.
RUNTIME = os.environ.get("ABACO_WORKER_RUNTIME", "docker")
RUNC_ROOT = "/run/abaco-oci/runc"
LEASE_DIR = "/run/abaco-oci/ip"


def runc_state(eid):
    """runc's state of the execution's container (id abaco-<eid>-<attempt>)."""
    r = subprocess.run(["runc", "--root", RUNC_ROOT, "list", "-f", "json"],
                       capture_output=True, text=True, timeout=30)
    for c in (json.loads(r.stdout or "null") or []) if r.returncode == 0 else []:
        if c["id"].startswith(f"abaco-{eid}-"):
            return c
    return None


def oci_as_inspect(state):
    """The parts of `docker inspect` the tests read, from the runtime spec
    runc was given (config.json of the bundle)."""
    with open(os.path.join(state["bundle"], "config.json")) as f:
        spec = json.load(f)
    res = spec["linux"].get("resources", {})
    cpu = res.get("cpu", {})
    labels = spec.get("annotations", {})
    user = spec["process"]["user"]
    return {"Config": {"Labels": labels, "User": f"{user['uid']}:{user['gid']}"},
            "HostConfig": {
                "Memory": res.get("memory", {}).get("limit", 0),
                "NanoCpus": cpu["quota"] * 1000000000 // cpu["period"] if cpu else 0,
                "Privileged": labels.get("abaco.privileged") == "true",
                "Binds": [f"{m['source']}:{m['destination']}" for m in spec["mounts"]
                          if m["type"] == "bind"]}}


def containers_of(eid, running=False):
    if RUNTIME == "oci":
        st = runc_state(eid)
        if st is None or (running and st["status"] != "running"):
            return []
        return [st["id"]]
    args = ["ps", "-q", "--filter", f"label=abaco.execution={eid}"]
    if running:
        args += ["--filter", "status=running"]
    else:
        args.insert(1, "-a")
    return docker(*args).stdout.split()


def running_container(eid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if RUNTIME == "oci":
            st = runc_state(eid)
            if st is not None and st["status"] == "running":
                return oci_as_inspect(st)
        else:
            cids = containers_of(eid, running=True)
            if cids:
                return json.loads(docker("inspect", cids[0]).stdout)[0]
        time.sleep(0.1)
    raise AssertionError(f"no running container for execution {eid}")


def oci_leftovers(eid):
    """What of an OCI execution is left on the host: its address lease
    (the file holds the execution id) and its bundle."""
    left = []
    if os.path.isdir(LEASE_DIR):
        for name in os.listdir(LEASE_DIR):
            try:
                with open(os.path.join(LEASE_DIR, name)) as f:
                    if f.read() == eid:
                        left.append(f"lease {name}")
            except FileNotFoundError:
                pass
    run = os.path.join(host_dir("oci_dir", "var/oci"), "run")
    if os.path.isdir(run):
        left += [f"bundle {b}" for b in os.listdir(run) if b.startswith(f"abaco-{eid}-")]
    return left


def assert_cleaned(eid, timeout=10):
    """No container, results socket or FIFO of the execution is left."""
    deadline = time.time() + timeout
    left = None
    while time.time() < deadline:
        left = {"containers": containers_of(eid),
                "socket": os.path.exists(os.path.join(SOCK_DIR, eid + ".sock")),
                "fifo": os.path.exists(os.path.join(FIFO_DIR, eid)),
                "oci": oci_leftovers(eid) if RUNTIME == "oci" else []}
        if not any(left.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"execution {eid} left {left}")


def wait_status(client, aid, eid, statuses, timeout=60):
    return client.wait_status(f"/actors/{aid}/executions/{eid}", statuses, timeout,
                              f"execution {eid} never reached {statuses}")


def running_sleep(client, actor_cleanup, seconds):
    """A new sleep actor's execution of `seconds`, once RUNNING: (aid, eid, execution)."""
    aid = client.register("abaco/samples-sleep")["id"]
    actor_cleanup.append(aid)
    eid = client.send(aid, str(seconds))["execution_id"]
    return aid, eid, wait_status(client, aid, eid, {"RUNNING"})


def results(client, aid, eid, n):
    """The next n results (raw bytes), one GET each."""
    out = []
    for _ in range(n):
        r = client.get(f"/actors/{aid}/executions/{eid}/results")
        assert r.status_code == 200, (r.status_code, r.text)
        out.append(r.content)
    return out


def send_binary(client, aid, data):
    return client.ok("POST", f"/actors/{aid}/messages", data=data,
                     headers={"Content-Type": "application/octet-stream"})


def ready_workers(client, aid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ws = [w for w in client.ok("GET", f"/actors/{aid}/workers") if w["status"] == "READY"]
        if ws:
            return ws
        time.sleep(0.1)
    raise AssertionError(f"actor {aid} has no READY worker")


# ---------------------------------------------------------------- results


def test_each_datagram_is_one_result(client, actor_cleanup):
    actor = client.register("abaco/samples-results",
                            default_environment={"RESULTS_COUNT": "3", "RESULTS_NUMBERED": "1"})
    aid = actor["id"]
    actor_cleanup.append(aid)
    eid = client.send(aid, "part")["execution_id"]
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    r = client.get(f"/actors/{aid}/executions/{eid}/results")
    assert r.headers["Content-Type"].startswith("application/octet-stream")
    assert [r.content] + results(client, aid, eid, 3) == [b"part 1", b"part 2", b"part 3", b""]
    assert_cleaned(eid)


def test_binary_result_bytes_are_kept_as_sent(client, actor_cleanup):
    # The datagram's bytes are the result, untouched (here: non-ASCII text).
    actor = client.register("abaco/samples-results")
    actor_cleanup.append(actor["id"])
    eid = client.send(actor["id"], "héllo wörld")["execution_id"]
    assert client.wait_execution(actor["id"], eid)["status"] == "COMPLETE"
    assert results(client, actor["id"], eid, 2) == ["héllo wörld".encode(), b""]


# ---------------------------------------------------------------- binary messages


def test_binary_message_is_read_from_the_fifo(client, actor_cleanup):
    actor = client.register("abaco/samples-binary")
    aid = actor["id"]
    actor_cleanup.append(aid)
    data = os.urandom(300_000)
    res = send_binary(client, aid, data)
    assert res["msg"] == "binary - omitted"
    eid = res["execution_id"]
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, (ex, client.logs(aid, eid))
    assert f"bytes: {len(data)}" in client.logs(aid, eid)
    assert_cleaned(eid)


def test_binary_message_nobody_reads_does_not_block(client, actor_cleanup):
    # echo never opens the FIFO: the execution still ends, without MSG.
    actor = client.register("abaco/samples-echo")
    aid = actor["id"]
    actor_cleanup.append(aid)
    eid = send_binary(client, aid, b"\x00\x01binary\xff" * 1000)["execution_id"]
    ex = client.wait_execution(aid, eid, timeout=30)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    lines = client.logs(aid, eid).splitlines()
    assert "_abaco_Content_Type=application/octet-stream" in lines
    assert not [l for l in lines if l.startswith("MSG=")], lines
    assert_cleaned(eid)


# ---------------------------------------------------------------- running executions


def test_logs_are_readable_while_running(client, actor_cleanup):
    aid, eid, _ = running_sleep(client, actor_cleanup, 4)
    deadline = time.time() + 30
    logs = ""
    while time.time() < deadline and "sleep: start" not in logs:
        logs = client.logs(aid, eid)
        time.sleep(0.2)
    assert logs == "sleep: start 4 s\n", logs
    # Still running: the logs were read before the end.
    assert client.ok("GET", f"/actors/{aid}/executions/{eid}")["status"] == "RUNNING"
    workers = client.ok("GET", f"/actors/{aid}/workers")
    assert [w["status"] for w in workers] == ["BUSY"], workers

    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    assert client.logs(aid, eid) == "sleep: start 4 s\nsleep: end\n"
    assert 3 <= ex["runtime"] <= 6, ex
    assert ex["cpu"] > 0, ex  # sampled while it ran
    assert isinstance(ex["io"], int) and ex["io"] >= 0
    assert ex["final_state"]["Status"] == "exited"
    workers = ready_workers(client, aid, timeout=5)  # BUSY -> READY right after the record
    assert len(workers) == 1, workers
    assert workers[0]["last_execution_time"] >= ex["start_time"]
    assert workers[0]["cid"] == expected_cid(workers[0])
    assert_cleaned(eid)


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_code_is_recorded(client, actor_cleanup, code):
    actor = client.register("abaco/samples-exit")
    actor_cleanup.append(actor["id"])
    eid = client.send(actor["id"], str(code))["execution_id"]
    ex = client.wait_execution(actor["id"], eid)
    assert ex["status"] == "COMPLETE", ex
    assert ex["exit_code"] == code
    assert ex["final_state"]["ExitCode"] == code
    assert_cleaned(eid)


# ---------------------------------------------------------------- limits and privilege


def test_limits_mounts_and_no_privilege(client, actor_cleanup):
    actor = client.register("abaco/samples-probe", mem_limit="256m", max_cpus=500000000)
    aid = actor["id"]
    actor_cleanup.append(aid)
    eid = client.send(aid, "3")["execution_id"]
    info = running_container(eid)
    host = info["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 500000000
    assert host["Privileged"] is False
    binds = host["Binds"]
    assert f"{SOCK_DIR}/{eid}.sock:/_abaco_results.sock" in binds, binds
    assert not [b for b in binds if "docker.sock" in b], binds
    assert info["Config"]["Labels"]["abaco.execution"] == eid
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    lines = client.logs(aid, eid).splitlines()
    for want in ("results_sock=yes", "results_send=ok", "binary_fifo=no", "docker_sock=no"):
        assert want in lines, lines
    assert results(client, aid, eid, 1) == [b"probe"]
    assert_cleaned(eid)


def engine_runs_privileged():
    """Whether this engine can run a privileged container at all (inside an
    unprivileged container it cannot: runc fails to apply the capabilities)."""
    r = docker("run", "--rm", "--privileged", "--label", "abaco.test=1",
               "abaco/samples-probe")
    return r.returncode == 0


def test_privileged_actor_gets_the_engine_socket(client, actor_cleanup):
    # What the container is given is also checked without an engine by
    # tests/unit/test_worker_spec.c.
    if not engine_runs_privileged():
        pytest.skip("this Docker engine cannot run privileged containers")
    actor = client.register("abaco/samples-probe", privileged=True)
    aid = actor["id"]
    actor_cleanup.append(aid)
    eid = client.send(aid, "3")["execution_id"]
    host = running_container(eid)["HostConfig"]
    assert host["Privileged"] is True
    assert "/var/run/docker.sock:/var/run/docker.sock" in host["Binds"], host["Binds"]
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE", ex
    assert "docker_sock=yes" in client.logs(aid, eid).splitlines()
    assert_cleaned(eid)


# ---------------------------------------------------------------- revisions


def test_a_worker_never_runs_a_message_of_a_newer_revision(client, actor_cleanup):
    # The actor moves to revision 2 behind its worker's back (as a PUT does
    # before the new workers exist): the old worker must requeue the
    # message and go; a worker of the new revision runs it.
    actor = client.register("abaco/samples-echo")
    aid = actor["id"]
    actor_cleanup.append(aid)
    old = ready_workers(client, aid)[0]["id"]
    db_id = f"{conf('web', 'tenant_name', 'DEV-DEVELOP').upper()}_{aid}"
    redis_cmd("HSET", f"abaco:actor:{db_id}", "revision", "2")
    eid = client.send(aid, "after the update")["execution_id"]
    deadline = time.time() + 20
    while time.time() < deadline and worker_pids(old):
        time.sleep(0.1)
    assert worker_pids(old) == [], "the old worker did not stop"
    assert old not in [w["id"] for w in client.ok("GET", f"/actors/{aid}/workers")]
    ex = client.ok("GET", f"/actors/{aid}/executions/{eid}")
    # Requeued, not run by the old worker; a new-revision worker that the
    # autoscaler started meanwhile may already have taken it.
    assert ex["status"] == "SUBMITTED" or ex.get("worker_id") not in (None, "", old), ex
    client.ok("POST", f"/actors/{aid}/workers", json={"num": 1})
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE", ex
    assert ex["worker_id"] != old


# ---------------------------------------------------------------- control


def test_stop_finishes_the_execution_in_hand(client, actor_cleanup):
    aid, eid, ex = running_sleep(client, actor_cleanup, 3)
    wid = ex["worker_id"]
    client.ok("DELETE", f"/actors/{aid}/workers/{wid}")
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    assert "sleep: end" in client.logs(aid, eid)
    deadline = time.time() + 10
    while time.time() < deadline and worker_pids(wid):
        time.sleep(0.1)
    assert worker_pids(wid) == []
    assert wid not in [w["id"] for w in client.ok("GET", f"/actors/{aid}/workers")]
    assert_cleaned(eid)


def test_force_quit_kills_the_container(client, actor_cleanup):
    aid, eid, _ = running_sleep(client, actor_cleanup, 120)
    running_container(eid)
    r = client.delete(f"/actors/{aid}/executions/{eid}")
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"Issued force quit command for execution {eid}."
    t0 = time.time()
    ex = client.wait_execution(aid, eid, timeout=30)
    assert time.time() - t0 < 20
    assert ex["status"] == "COMPLETE", ex
    assert ex["exit_code"] != 0
    assert "sleep: end" not in client.logs(aid, eid)
    assert_cleaned(eid)
    # The worker goes on with the next message.
    eid2 = client.send(aid, "0")["execution_id"]
    ex2 = client.wait_execution(aid, eid2)
    assert ex2["status"] == "COMPLETE" and ex2["exit_code"] == 0, ex2


# ---------------------------------------------------------------- a second configuration


@pytest.fixture(scope="module")
def limited():
    """A pair whose api also accepts a spare queue that no spawner serves
    (extra_queues[0]); its logs stay in var/log/worker-contract/."""
    s = PrivateStack("wtest", extra_queues=("spare",),
                     logdir=os.path.join(REPO, "var", "log", "worker-contract"),
                     env=dict(workers_max_run_time="2", web_max_log_length="100",
                              workers_actor_uid="1000", workers_actor_gid="1000",
                              workers_mem_limit="300m"))
    yield s
    s.close()


def test_max_run_time_kills_the_container(limited):
    c = limited.client
    aid = limited.register("abaco/samples-sleep")["id"]
    eid = c.send(aid, "60")["execution_id"]
    ex = c.wait_execution(aid, eid, timeout=40)
    assert ex["status"] == "COMPLETE", ex
    assert ex["exit_code"] != 0, ex
    assert ex["runtime"] <= 5, ex
    logs = c.logs(aid, eid)
    assert "sleep: start" in logs and "sleep: end" not in logs, logs
    assert_cleaned(eid)


def test_logs_are_cut_at_max_log_length(limited):
    c = limited.client
    aid = limited.register("abaco/samples-echo")["id"]
    eid = c.send(aid, "x" * 300)["execution_id"]
    assert c.wait_execution(aid, eid)["status"] == "COMPLETE"
    logs = c.logs(aid, eid)
    assert LOG_MARK in logs, logs
    kept = logs[:logs.index(LOG_MARK)].rstrip("\n")
    assert len(kept.encode()) <= 100
    assert kept == ("Contents of MSG: " + "x" * 300)[:len(kept)]
    assert len(kept) >= 90


def test_containers_run_as_the_configured_user(limited):
    c = limited.client
    aid = limited.register("abaco/samples-probe")["id"]
    eid = c.send(aid, "2")["execution_id"]
    info = running_container(eid)
    assert info["Config"]["User"] == "1000:1000"
    assert info["HostConfig"]["Memory"] == 300 * 1024 * 1024  # [workers] mem_limit
    ex = c.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    lines = c.logs(aid, eid).splitlines()
    assert "uid=1000 gid=1000" in lines, lines
    assert "results_send=ok" in lines, lines  # the socket is open to a non-root user
    assert results(c, aid, eid, 1) == [b"probe"]
    assert_cleaned(eid)


def test_use_container_uid_keeps_the_image_user(limited):
    c = limited.client
    aid = limited.register("abaco/samples-probe", use_container_uid=True)["id"]
    eid = c.send(aid, "0")["execution_id"]
    assert c.wait_execution(aid, eid)["status"] == "COMPLETE"
    assert "uid=0 gid=0" in c.logs(aid, eid).splitlines()


def test_binary_message_as_a_non_root_user(limited):
    c = limited.client
    aid = limited.register("abaco/samples-binary")["id"]
    eid = send_binary(c, aid, b"z" * 5000)["execution_id"]
    ex = c.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, (ex, c.logs(aid, eid))
    assert "bytes: 5000" in c.logs(aid, eid)
    assert_cleaned(eid)


def test_five_start_failures_put_the_actor_in_error(limited):
    c = limited.client
    aid = limited.register("abaco/samples-badentry")["id"]
    eid = c.send(aid, "never runs")["execution_id"]
    ex = c.wait_execution(aid, eid, timeout=90)
    assert ex["status"] == "ERROR", ex
    prefix = f"Error on host {limited.host_id}: "
    assert ex["status_message"].startswith(prefix), ex
    assert "no/such/entrypoint" in ex["status_message"], ex
    actor = c.ok("GET", f"/actors/{aid}")
    assert actor["status"] == "ERROR", actor
    assert actor["status_message"] == ex["status_message"], actor
    assert_cleaned(eid)
    # The message was acked: the mailbox is empty.
    assert c.ok("GET", f"/actors/{aid}/messages")["messages"] == 0


def test_platform_fault_requeues_and_never_errors_the_actor(limited):
    # A spawner whose workers cannot reach MongoDB (a closed port): the
    # execution cannot start, so the message goes back to the mailbox with
    # back-off, the actor stays READY and nothing is lost; once workers
    # that reach the store come, the message runs.
    c, spare = limited.client, limited.extra_queues[0]
    faulty = limited.start("spawner", log="spawner-faulty", spawner_host_queues=spare,
                           store_mongo_url="", store_mongo_host="127.0.0.1",
                           store_mongo_port=free_port())
    try:
        aid = limited.register("abaco/samples-echo", queue=spare)["id"]
        wid = ready_workers(c, aid)[0]["id"]
        eid = c.send(aid, "survives")["execution_id"]
        time.sleep(12)  # several store timeouts and back-off pauses
        ex = c.ok("GET", f"/actors/{aid}/executions/{eid}")
        assert ex["status"] == "SUBMITTED", ex
        actor = c.ok("GET", f"/actors/{aid}")
        assert actor["status"] == "READY", actor
    finally:
        assert stop_process(faulty) == 0  # its worker gave the message back and went
    assert wid not in [w["id"] for w in c.ok("GET", f"/actors/{aid}/workers")]
    healthy = limited.start("spawner", log="spawner-healthy", spawner_host_queues=spare)
    try:
        c.ok("POST", f"/actors/{aid}/workers", json={"num": 1})
        ex = c.wait_execution(aid, eid)
        assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
        assert "Contents of MSG: survives" in c.logs(aid, eid)
        assert c.ok("GET", f"/actors/{aid}")["status"] == "READY"
    finally:
        c.delete(f"/actors/{aid}")
        stop_process(healthy)
