"""The docker worker backend ([spawner] worker_backend = docker): a private
api + spawner pair (private_stack.py) on a queue of its own whose spawner
runs each worker as a container of the platform image abaco/core (built by
scripts/images.sh; `make test` builds it). Checked as a client and the
engine see it: the worker record's cid is the container, labelled so that
health and `make down` find it; messages run with their logs, results
(socket) and binary messages (FIFO) through the bind-mounted host
directories; DELETE of a worker removes its container; a killed worker
container is noticed and replaced; stopping the spawner leaves no
container; a container left `created` by a failed start is removed; a
redelivered command (its spawner killed) finds the worker's running
container instead of starting a second one. The pair's autoscaler is off, so workers come only from
init_count, POST .../workers and the spawner's replacements."""
import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from conftest import REPO, conf, wait_for
from private_stack import BIN, CONF, PrivateStack, module_stack

TAG = os.environ.get("ABACO_IMAGE_TAG", "dev")
IMAGE = f"abaco/core:{TAG}"
TENANT = conf("web", "tenant_name", "DEV-DEVELOP").upper()
ENV = dict(spawner_worker_backend="docker", spawner_worker_image=IMAGE,
           spawner_worker_network="host", workers_autoscaling="false")


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def inspect(cid):
    r = docker("inspect", cid)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def host_containers(host_id):
    return docker("ps", "-aq", "--filter", "label=abaco.role=worker",
                  "--filter", f"label=abaco.host={host_id}").stdout.split()


@pytest.fixture(scope="module")
def dstack(request):
    assert docker("image", "inspect", IMAGE).returncode == 0, \
        f"{IMAGE} is not built (scripts/images.sh core)"
    yield from module_stack(request, "dkr", env=ENV)


def fake_worker(stack, wid, run, db_id="nosuch"):
    """A container labelled as stack's worker wid of actor db_id
    (samples-sleep, sleeping 300 s when run): what a spawner that died or
    failed mid-start leaves."""
    labels = ["abaco.platform=1", "abaco.role=worker", f"abaco.host={stack.host_id}",
              f"abaco.actor={db_id}", f"abaco.worker={wid}"]
    args = [a for lb in labels for a in ("--label", lb)]
    r = docker(*(["run", "-d"] if run else ["create"]), "-e", "MSG=300", *args,
               "abaco/samples-sleep")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def ready_worker(stack, aid, timeout=60, not_cid=None):
    def ready():
        ws = [w for w in stack.workers(aid)
              if w["status"] == "READY" and w["cid"] != not_cid]
        return ws[0] if ws else None
    return wait_for(ready, timeout, f"a READY worker of {aid} (logs: {stack.logdir})")


def test_a_worker_is_a_labelled_container_of_the_image(dstack):
    aid = dstack.register("abaco/samples-echo")["id"]
    w = ready_worker(dstack, aid)
    assert re.fullmatch(r"[0-9a-f]{64}", w["cid"]), w
    assert w["location"] == conf("docker", "dd", "unix:///var/run/docker.sock")
    c = inspect(w["cid"])
    assert c and c["State"]["Running"], c
    assert c["Config"]["Image"] == IMAGE
    labels = c["Config"]["Labels"]
    assert labels["abaco.platform"] == "1" and labels["abaco.role"] == "worker"
    assert labels["abaco.worker"] == w["id"] and labels["abaco.host"] == dstack.host_id
    assert labels["abaco.actor"]
    assert c["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    assert c["Config"]["Cmd"][:4] == ["worker", "-c", "/etc/abaco/abaco.conf", "--"]
    assert c["Config"]["Cmd"][-1] == w["id"]
    assert c["HostConfig"]["NetworkMode"] == "host"
    # The worker process runs (under tini) in the container's own pid 1.
    with open(f"/proc/{c['State']['Pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"/sbin/tini"


def test_a_message_runs_with_its_logs(dstack):
    aid = dstack.register("abaco/samples-echo")["id"]
    ready_worker(dstack, aid)
    eid = dstack.client.send(aid, "from a container worker")["execution_id"]
    ex = dstack.client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    logs = dstack.client.logs(aid, eid)
    assert "Contents of MSG: from a container worker" in logs
    assert f"_abaco_actor_id={aid}" in logs


def test_results_and_binary_messages_use_the_host_directories(dstack):
    aid = dstack.register("abaco/samples-results")["id"]
    ready_worker(dstack, aid)
    eid = dstack.client.send(aid, "datagram")["execution_id"]
    assert dstack.client.wait_execution(aid, eid)["status"] == "COMPLETE"
    r = dstack.client.get(f"/actors/{aid}/executions/{eid}/results")
    assert r.status_code == 200 and r.content == b"datagram"

    bid = dstack.register("abaco/samples-binary")["id"]
    ready_worker(dstack, bid)
    data = os.urandom(100_000)
    res = dstack.client.ok("POST", f"/actors/{bid}/messages", data=data,
                           headers={"Content-Type": "application/octet-stream"})
    ex = dstack.client.wait_execution(bid, res["execution_id"])
    assert ex["status"] == "COMPLETE", ex
    assert f"bytes: {len(data)}" in dstack.client.logs(bid, res["execution_id"])


def test_deleting_a_worker_removes_its_container(dstack):
    aid = dstack.register("abaco/samples-echo")["id"]
    w = ready_worker(dstack, aid)
    dstack.client.ok("DELETE", f"/actors/{aid}/workers/{w['id']}")
    wait_for(lambda: inspect(w["cid"]) is None, 30, f"container {w['cid'][:12]} removed")
    wait_for(lambda: all(x["id"] != w["id"] for x in dstack.workers(aid)), 30,
             f"worker {w['id']} gone")


def test_a_killed_worker_container_is_replaced(dstack):
    aid = dstack.register("abaco/samples-echo")["id"]
    w = ready_worker(dstack, aid)
    assert docker("kill", w["cid"]).returncode == 0
    new = ready_worker(dstack, aid, not_cid=w["cid"])
    assert new["id"] != w["id"]
    wait_for(lambda: inspect(w["cid"]) is None, 30, f"container {w['cid'][:12]} removed")
    assert all(x["id"] != w["id"] for x in dstack.workers(aid))
    assert f"worker {w['id']} of actor" in dstack.log("spawner", None)
    # The replacement serves.
    eid = dstack.client.send(aid, "after the kill")["execution_id"]
    assert dstack.client.wait_execution(aid, eid)["status"] == "COMPLETE"


def test_deleting_the_actor_and_stopping_the_spawner_leave_no_container():
    with PrivateStack("dkrstop", env=ENV) as s:
        aid = s.register("abaco/samples-echo")["id"]
        first = ready_worker(s, aid)
        s.client.ok("POST", f"/actors/{aid}/workers", json={"num": 2})
        wait_for(lambda: len([w for w in s.workers(aid) if w["status"] == "READY"]) == 2, 60,
                 "two READY workers")
        s.client.ok("DELETE", f"/actors/{aid}")
        s.actors.remove(aid)
        wait_for(lambda: inspect(first["cid"]) is None, 30, "the actor's containers removed")
        bid = s.register("abaco/samples-echo")["id"]
        ready_worker(s, bid)
        assert host_containers(s.host_id)
        # close() deletes the actor and stops the spawner (exit 0 asserted).
        s.client.ok("DELETE", f"/actors/{bid}")
        s.actors.remove(bid)
        host_id = s.host_id
    assert host_containers(host_id) == []


def test_a_missing_image_stops_the_spawner_naming_the_key():
    env = dict(os.environ, spawner_host_queues="dkrbad_none", spawner_host_id="dkrbad",
               logs_directory="", **dict(ENV, spawner_worker_image="abaco/no-such-image:x"))
    r = subprocess.run([os.path.join(BIN, "spawner"), "-c", CONF], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "[spawner] worker_image: the Docker engine has no image 'abaco/no-such-image:x'" \
        in r.stderr, r.stderr


def test_a_worker_container_left_created_is_removed(dstack):
    cid = fake_worker(dstack, "fixc-created-" + uuid.uuid4().hex[:8], run=False)
    try:
        # Younger than 10 s it may be a start in progress: left alone.
        time.sleep(3)
        c = inspect(cid)
        assert c and c["State"]["Status"] == "created", c
        wait_for(lambda: inspect(cid) is None, 30, f"container {cid[:12]} removed")
        assert f"its container {cid[:12]} was never started: removed" in \
            dstack.log("spawner", None)
    finally:
        docker("rm", "-f", cid)


def test_a_redelivered_command_finds_the_running_container():
    with PrivateStack("dkrre", env=ENV) as s:
        # The spawner gets the command but cannot act on it, and dies: the
        # broker redelivers it to the next spawner.
        s.spawner.send_signal(signal.SIGSTOP)
        cid = None
        try:
            aid = s.register("abaco/samples-echo")["id"]
            w = wait_for(lambda: s.workers(aid), 20, "the requested worker")[0]
            time.sleep(0.5)
            # What a spawner killed between starting the container and
            # recording it leaves: a running container the record does not name.
            cid = fake_worker(s, w["id"], run=True, db_id=f"{TENANT}_{aid}")
        finally:
            s.spawner.kill()
            s.spawner.wait()
        try:
            s.spawner = s.start("spawner")
            rec = wait_for(lambda: [x for x in s.workers(aid) if x["cid"] == cid], 30,
                           f"the record naming {cid[:12]} (logs: {s.logdir})")[0]
            assert rec["id"] == w["id"]
            assert rec["location"] == conf("docker", "dd", "unix:///var/run/docker.sock")
            log = s.log("spawner", None)
            assert f"found its running container {cid[:12]}" in log
            # No second container for the worker.
            time.sleep(2)
            assert docker("ps", "-aq", "--no-trunc", "--filter",
                          f"label=abaco.worker={w['id']}").stdout.split() == [cid]
            # It is the spawner's now: killed, it is reaped and replaced.
            assert docker("kill", cid).returncode == 0
            wait_for(lambda: inspect(cid) is None, 30, f"container {cid[:12]} removed")
            ready_worker(s, aid, not_cid=cid)
        finally:
            docker("rm", "-f", cid)
