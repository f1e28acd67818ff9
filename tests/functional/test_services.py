"""Every service exits cleanly (status 0, promptly) on SIGTERM, and refuses
to start on a bad config value with an error naming the key."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO

BIN = os.path.join(os.environ.get("ABACO_BUILD", os.path.join(REPO, "build")), "bin")
CONF = os.path.join(REPO, "abaco.conf")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
