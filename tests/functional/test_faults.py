"""Faults survived (issue 5): RabbitMQ, Redis and the MongoDB-wire server
are restarted in turn while messages are being sent and executed. Every
message the API accepted (200 with an execution id) must end COMPLETE
exactly once, or visibly ERROR; the services reconnect by themselves; no
actor goes to ERROR for a platform fault; while the broker is down a POST
gets a prompt 503, not a hang and not a false 200.

The servers must be the ones `make up` started (pid files in var/run)."""
import os
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import API, REPO

RUN = os.path.join(REPO, "var", "run")


def our_pid(name):
    try:
        pid = int(open(os.path.join(RUN, f"{name}.pid")).read().strip())
    except (OSError, ValueError):
        pytest.fail(f"{name} was not started by `make up` (no var/run/{name}.pid): cannot restart it")
    os.kill(pid, 0)
    return pid


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_server(name):
    pid = our_pid(name)
    if name == "rabbitmq":
        node = open(os.path.join(RUN, "rabbitmq.node")).read().strip()
        subprocess.run(["rabbitmqctl", "-n", node, "stop"], capture_output=True, timeout=60)
    else:
        os.kill(pid, 15)
    port = {"rabbitmq": 5672, "redis": 6379, "ferretdb": 27017}[name]
    deadline = time.time() + 30
    while time.time() < deadline and port_open(port):
        time.sleep(0.1)
    assert not port_open(port), f"{name} did not stop"
    return port


def start_servers():
    env = dict(os.environ, ABACO_SERVERS_ONLY="1")
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", "up.sh")], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


class Sender(threading.Thread):
    """Posts a message every `period` seconds and records what came back."""

    def __init__(self, aid, period=0.1):
        super().__init__(daemon=True)
        self.aid, self.period = aid, period
        self.accepted, self.refused, self.slow = [], [], []
        self.stop = threading.Event()
        self.session = requests.Session()

    def run(self):
        i = 0
        while not self.stop.is_set():
            t = time.time()
            try:
                r = self.session.post(f"{API}/actors/{self.aid}/messages",
                                      data={"message": f"m{i}"}, timeout=20)
                if r.status_code == 200:
                    self.accepted.append((r.json()["result"]["execution_id"], t))
                else:
                    self.refused.append((r.status_code, t))
            except requests.RequestException as e:
                self.refused.append((str(e), t))
            if time.time() - t > 10:
                self.slow.append(time.time() - t)
            i += 1
            time.sleep(self.period)


def first_success_after(sender, t0):
    times = [t for _, t in sender.accepted if t > t0]
    return min(times) - t0 if times else None


@pytest.mark.parametrize("server", ["rabbitmq", "redis", "ferretdb"])
def test_restart_loses_no_accepted_message(client, actor_cleanup, server):
    actor = client.register("abaco/samples-echo")
    aid = actor["id"]
    actor_cleanup.append(aid)
    client.wait_actor_status(aid, {"READY"})

    sender = Sender(aid)
    sender.start()
    time.sleep(2)
    stop_server(server)
    down_at = time.time()
    time.sleep(3)
    if server == "rabbitmq":
        # The broker is down: a POST answers promptly with 503, never a false 200.
        t = time.time()
        r = requests.post(f"{API}/actors/{aid}/messages", data={"message": "while down"}, timeout=30)
        assert r.status_code == 503, r.text
        assert r.json()["status"] == "error"
        assert time.time() - t < 10
    start_servers()
    up_at = time.time()
    time.sleep(8)
    sender.stop.set()
    sender.join(30)

    recovery = first_success_after(sender, up_at)
    print(f"\n{server}: down {up_at - down_at:.1f}s, first accepted message {recovery}s after restart; "
          f"{len(sender.accepted)} accepted, {len(sender.refused)} refused")
    assert recovery is not None and recovery < 10, f"no message accepted within 10 s of {server} restart"
    assert not sender.slow, f"requests hung: {sender.slow}"

    # Every accepted message ends COMPLETE (once) or visibly ERROR; none lost.
    lost, errors = [], []
    for eid, _ in sender.accepted:
        ex = client.wait_execution(aid, eid, timeout=120)
        if ex["status"] == "ERROR":
            errors.append((eid, ex.get("status_message")))
        elif ex["status"] != "COMPLETE":
            lost.append(eid)
    print(f"{server}: lost {len(lost)}, ERROR {len(errors)}")
    assert lost == []
    for eid, why in errors:
        assert why, f"execution {eid} is ERROR without a reason"
    listing = client.ok("GET", f"/actors/{aid}/executions")
    ids = [e["id"] for e in listing["executions"]]
    assert len(ids) == len(set(ids))
    assert client.ok("GET", f"/actors/{aid}")["status"] != "ERROR"
