"""The compose stack (compose/compose.yaml) end to end, through its published
port: scripts/compose.sh test (make compose-test) starts the stack under a
project of its own with the monitoring profile, then runs this module with

  ABACO_API              the api's published URL
  ABACO_PROMETHEUS       Prometheus's published URL
  ABACO_COMPOSE_PROJECT  the compose project (its containers' label)
  ABACO_HOST_ID          the stack's [spawner] host_id (its actor containers' label)

Helpers (the envelope-checking Client) are tests/functional's."""
import importlib.util
import json
import os
import signal
import subprocess
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "abaco_functional_helpers", os.path.join(HERE, "..", "functional", "conftest.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

ENV = ("ABACO_API", "ABACO_PROMETHEUS", "ABACO_COMPOSE_PROJECT", "ABACO_HOST_ID")
missing = [k for k in ENV if not os.environ.get(k)]
if missing:  # never skipped: run through scripts/compose.sh test
    raise RuntimeError(f"tests/compose needs {missing} (run it with `make compose-test`)")
API = os.environ["ABACO_API"].rstrip("/")
PROMETHEUS = os.environ["ABACO_PROMETHEUS"].rstrip("/")
PROJECT = os.environ["ABACO_COMPOSE_PROJECT"]
HOST_ID = os.environ["ABACO_HOST_ID"]


@pytest.fixture(scope="module")
def client():
    c = helpers.Client(API)
    c.ok("GET", "/actors")
    return c


# Actors a test registers, deleted after it (the functional suite's fixture).
actor_cleanup = helpers.actor_cleanup


def docker(*args):
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def test_every_service_of_the_project_is_healthy():
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").split()
    info = json.loads(docker("inspect", *ids))
    health = {c["Config"]["Labels"]["com.docker.compose.service"]: c["State"]["Health"]["Status"]
              for c in info}
    assert health == {s: "healthy" for s in ("redis", "rabbitmq", "ferretdb", "api", "spawner",
                                             "health", "clientg", "launcher", "updater",
                                             "prometheus")}, health


def test_actor_message_logs_and_result(client, actor_cleanup):
    echo = client.register("abaco/samples-echo")
    actor_cleanup.append(echo["id"])
    eid = client.send(echo["id"], "hello compose")["execution_id"]
    ex = client.wait_execution(echo["id"], eid, timeout=90)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    logs = client.logs(echo["id"], eid)
    assert logs.startswith("Contents of MSG: hello compose\n"), logs
    assert f"_abaco_execution_id={eid}" in logs

    # A result travels over the worker's socket, a host path (ABACO_RUN_HOST_DIR)
    # the spawner's container shares with the engine.
    res = client.register("abaco/samples-results")
    actor_cleanup.append(res["id"])
    eid = client.send(res["id"], "résultat")["execution_id"]
    ex = client.wait_execution(res["id"], eid, timeout=90)
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    r = client.get(f"/actors/{res['id']}/executions/{eid}/results")
    assert r.status_code == 200 and r.content == "résultat".encode(), (r.status_code, r.content)


def worker_containers(wid):
    return docker("ps", "-aq", "--filter", f"label=abaco.worker={wid}",
                  "--filter", "label=abaco.role=worker").split()


def worker_pids(wid):
    """Host pids of worker wid's process (the spawner shares the host's pid
    namespace: pid: host)."""
    out = subprocess.run(["pgrep", "-f", f"worker .*{wid}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_a_killed_worker_is_replaced(client, actor_cleanup):
    actor = client.register("abaco/samples-sleep")
    aid = actor["id"]
    actor_cleanup.append(aid)
    client.wait_actor_status(aid, {"READY"}, timeout=60)
    eid = client.send(aid, "3")["execution_id"]
    ex = helpers.wait_for(lambda: (e := client.ok("GET", f"/actors/{aid}/executions/{eid}"))
                          ["status"] == "RUNNING" and e, 60, "execution RUNNING")
    old = ex["worker_id"]
    boxes = worker_containers(old)
    if boxes:  # [spawner] worker_backend = docker: the worker is a container
        docker("rm", "-f", *boxes)
        how = "docker rm -f"
    else:  # process backend: a child of the spawner
        pids = worker_pids(old)
        assert len(pids) == 1, (old, pids)
        os.kill(pids[0], signal.SIGKILL)
        how = "SIGKILL"
    # The execution is not left RUNNING, and a replacement worker runs the next message.
    done = client.wait_execution(aid, eid, timeout=90)
    assert done["status"] in ("COMPLETE", "ERROR"), (how, done)
    eid2 = client.send(aid, "0")["execution_id"]
    ex2 = client.wait_execution(aid, eid2, timeout=90)
    assert ex2["status"] == "COMPLETE" and ex2["exit_code"] == 0, (how, ex2)
    assert ex2["worker_id"] != old, (how, ex2)
    # The dead worker's record goes, and nothing of it stays on the engine.
    # Both are the health agent's work (a pass every ABACO_HEALTH_INTERVAL,
    # 5 s under scripts/compose.sh test): a container removed by `docker rm
    # -f` never shows as exited, so the spawner's watch of exited worker
    # containers does not see it; health finds the worker's process dead,
    # removes its record, and removes its orphaned actor container.
    helpers.wait_for(lambda: old not in [w["id"] for w in
                                         client.ok("GET", f"/actors/{aid}/workers")],
                     30, f"the record of worker {old} to go ({how})")
    helpers.wait_for(lambda: not docker("ps", "-aq", "--filter", f"label=abaco.worker={old}").split(),
                     60, f"the containers of worker {old} to go ({how})")


def test_prometheus_scrapes_the_api():
    def scraped():
        r = requests.get(f"{PROMETHEUS}/api/v1/query", params={"query": 'up{job="abaco-api"}'},
                         timeout=5)
        res = r.json()["data"]["result"]
        return res and res[0]["value"][1] == "1" and res
    res = helpers.wait_for(scraped, 60, "Prometheus to scrape the api", interval=1)
    assert res[0]["metric"]["instance"] == "api:8000", res
    # A metric of the api itself, not only Prometheus's own `up`.
    r = requests.get(f"{PROMETHEUS}/api/v1/label/__name__/values", timeout=5).json()
    assert any(n.startswith("abaco_") for n in r["data"]), r["data"][:50]
