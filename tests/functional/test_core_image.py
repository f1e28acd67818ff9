"""The platform's image abaco/core:<ABACO_IMAGE_TAG> (docker/core/Dockerfile,
built by scripts/images.sh; `make test` builds it in its `images` stage):
every daemon starts in it as the non-root user abaco with tini as PID 1,
its libraries all load, and it finds its default config and data files."""
import json
import os
import subprocess
import time

import pytest

TAG = os.environ.get("ABACO_IMAGE_TAG", "dev")
IMAGE = f"abaco/core:{TAG}"
DAEMONS = ["api", "spawner", "worker", "health", "clientg", "launcher", "updater"]
LABEL = "abaco.test=core-image"


def docker(*args, timeout=60):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image():
    r = docker("image", "inspect", IMAGE)
    assert r.returncode == 0, f"{IMAGE} is not built (scripts/images.sh core): {r.stderr}"
    return json.loads(r.stdout)[0]


def test_the_image_runs_as_abaco_under_tini(image):
    cfg = image["Config"]
    assert cfg["User"] == "10001:10001"
    assert cfg["Entrypoint"] == ["/sbin/tini", "--"]
    assert "ABACO_CONF=/etc/abaco/abaco.conf" in cfg["Env"]
    assert cfg["WorkingDir"] == "/opt/abaco"


@pytest.mark.parametrize("daemon", DAEMONS)
def test_each_daemon_loads_and_checks_its_config(image, daemon):
    r = docker("run", "--rm", "--network", "none", "--label", LABEL, IMAGE, daemon, "-t")
    assert r.returncode == 0, r.stderr
    assert f"{daemon}: configuration /etc/abaco/abaco.conf OK" in r.stdout


def test_a_bad_setting_fails_the_check_naming_it(image):
    r = docker("run", "--rm", "--network", "none", "--label", LABEL, "-e", "logs_format=xml",
               IMAGE, "api", "-t")
    assert r.returncode != 0
    assert "format" in r.stderr, r.stderr


def test_an_unknown_daemon_is_refused(image):
    r = docker("run", "--rm", "--network", "none", "--label", LABEL, IMAGE, "nosuchdaemon")
    assert r.returncode != 0


def test_passwd_names_abaco_10001(image, tmp_path):
    c = docker("create", "--label", LABEL, IMAGE).stdout.strip()
    assert c
    try:
        for name in ("passwd", "group"):
            r = docker("cp", f"{c}:/etc/{name}", str(tmp_path / name))
            assert r.returncode == 0, r.stderr
        assert "abaco:x:10001:10001:" in (tmp_path / "passwd").read_text()
        assert "abaco:x:10001:" in (tmp_path / "group").read_text()
        r = docker("cp", f"{c}:/etc/ssl/certs/ca-certificates.crt", str(tmp_path / "ca.crt"))
        assert r.returncode == 0 and "BEGIN CERTIFICATE" in (tmp_path / "ca.crt").read_text()
    finally:
        docker("rm", "-f", c)


def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def test_a_running_daemon_is_not_root_and_reads_its_data_files(image):
    """The api, with no server reachable (network none), stays up, logs that
    it read ec2_instances.json from the working directory, and runs (like
    tini, PID 1) as uid 10001."""
    r = docker("run", "-d", "--network", "none", "--label", LABEL, IMAGE, "api")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        deadline = time.time() + 20
        logs = ""
        while time.time() < deadline and "ec2_instances.json" not in logs:
            time.sleep(0.3)
            logs = docker("logs", cid).stderr
        assert "instance types in services/api/share/ec2_instances.json" in logs, logs
        state = json.loads(docker("inspect", cid).stdout)[0]["State"]
        assert state["Running"], state
        pid = state["Pid"]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"/sbin/tini"
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(x) for x in f.read().split()]
        assert len(children) == 1
        with open(f"/proc/{children[0]}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"api"
        assert proc_uid(pid) == [10001] * 4
        assert proc_uid(children[0]) == [10001] * 4
    finally:
        docker("rm", "-f", cid)
