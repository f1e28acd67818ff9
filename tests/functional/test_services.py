"""Every service exits cleanly (status 0, promptly) on SIGTERM, and refuses
to start on a bad config value with an error naming the key."""
import os
import signal
import subprocess
import time

import pytest

from conftest import REPO, free_port, worker_pids

BIN = os.path.join(os.environ.get("ABACO_BUILD", os.path.join(REPO, "build")), "bin")
CONF = os.path.join(REPO, "abaco.conf")


def start(name, env_extra, *args):
    env = dict(os.environ, **env_extra)
    return subprocess.Popen([os.path.join(BIN, name), "-c", CONF, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_log(proc, needle, timeout=10):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"never saw {needle!r}: {''.join(seen)}")


@pytest.mark.parametrize("name", ["api", "spawner", "clientg", "health", "updater", "launcher"])
def test_sigterm_exits_cleanly(name):
    # A private port and command queue so the real stack is not disturbed.
    env = {"web_port": str(free_port()), "spawner_host_queues": "sigterm_test_" + name}
    proc = start(name, env)
    try:
        wait_for_log(proc, "started")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, out
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("key,value", [("web_port", "eighty"), ("web_case", "kebab"),
                                       ("workers_init_count", "-4")])
def test_bad_config_value_is_a_startup_error_naming_the_key(key, value):
    proc = start("api", {key: value})
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode != 0
    section, option = key.split("_", 1)
    assert f"[{section}] {option}" in out, out


def test_worker_exits_cleanly_on_sigterm_and_removes_its_record(client, echo_actor):
    aid = echo_actor["id"]
    client.wait_actor_status(aid, {"READY"})
    deadline = time.time() + 10
    workers = []
    while time.time() < deadline and not workers:
        workers = [w for w in client.ok("GET", f"/actors/{aid}/workers") if w["status"] == "READY"]
        time.sleep(0.1)
    assert workers, "no READY worker"
    wid = workers[0]["id"]
    pids = worker_pids(wid)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGTERM)
    deadline = time.time() + 10
    while time.time() < deadline and worker_pids(wid):
        time.sleep(0.1)
    assert worker_pids(wid) == [], "worker still running 10 s after SIGTERM"
    assert wid not in [w["id"] for w in client.ok("GET", f"/actors/{aid}/workers")]
    # The spawner saw a clean exit (status 0), not a crash.
    log_path = os.path.join(REPO, "var", "log", "spawner.log")
    deadline = time.time() + 5
    lines = []
    while time.time() < deadline:
        lines = [l for l in open(log_path) if f"worker {wid} of actor" in l and "pid" not in l]
        if lines:
            break
        time.sleep(0.1)
    assert lines and lines[-1].rstrip().endswith("exited"), lines
