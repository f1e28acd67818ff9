"""Abaco's own configuration files start every service (docs/configuration.md).

fixtures/abaco-shipped.conf and fixtures/abaco-local-dev.conf carry every
key and value of Abaco's abaco.conf and local-dev.conf (`key: value`,
`TAG: :dev`, capitalised booleans, `dd: unix://var/run/docker.sock`,
`host_queues: default, special`, per-tenant keys, keys we do not use),
with hosts pointed at the local stack and an RSA-1024 test key of ours.
From each, all six services (api, spawner, health, clientg, updater,
launcher) are started side by side with the running stack. Overrides, as
environment variables, only keep them apart from it: the api's port, the
command queues (still written "a, b"), the host id, clientg's queue and
key file, and the two [workers] directories, which Abaco puts at /_abaco_*.

Each service must stay up, warn exactly once for each key no service of
the platform uses (naming it) and for no other key, and the api must
serve: with the file's access_control jwt and its public key, and the
per-tenant default_token of local-dev.conf. A setting a service cannot use
is a start-up error naming it.

The file's tenant_name, dev_staging, is the tenant of tokens that name
none, and the JWT verifier checks it for every token, so every test that
sends a JWT also shows that name is valid.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from authkit import ADMIN, KeyPair, error
from conftest import REPO, Client, free_port
from private_stack import BIN, rabbitmqctl, stop_process

# The fixtures' key has Abaco's 1024 bits on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
SERVICES = ["api", "spawner", "health", "clientg", "updater", "launcher"]
# What each file holds that no service of the platform uses.
UNUSED = {
    "abaco-shipped.conf": {("workers", "global_mounts"), ("workers", "use_tas_uid")},
    "abaco-local-dev.conf": {("workers", "auto_remove"), ("workers", "designsafe_global_mounts"),
                             ("workers", "dev-develop_global_mounts"),
                             ("workers", "use_tas_uid"), ("workers", "sd2e_use_tas_uid"),
                             ("web", "all_queues")},
}
USER_ROLE = {"abaco-shipped.conf": "Internal/abaco-user",  # not set: our default
             "abaco-local-dev.conf": "Internal/everyone"}
CONFIG_WARNING = re.compile(r" WARNING \S+\[config\]: \[([^\]]+)\] (\S+): ")


def fixture_key():
    """The fixtures' key pair: their apim_public_key is its public half."""
    with open(os.path.join(FIXTURES, "abaco-test-key.pem"), "rb") as f:
        return KeyPair(serialization.load_pem_private_key(f.read(), None))


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


class AbacoConfStack:
    """The six services started from one fixture, each logging to its file."""

    def __init__(self, fixture):
        self.fixture = fixture
        self.conf = os.path.join(FIXTURES, fixture)
        self.tmp = tempfile.mkdtemp(prefix="abaco-conf-")
        tag = uuid.uuid4().hex[:8]
        self.queue = f"abacoconf_{tag}"
        self.port = free_port()
        # Abaco's files have no [cloud]: nor does the environment here
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env = dict(env, ABACO_CONF=self.conf, logs_directory="",
                        web_port=str(self.port), web_bind="127.0.0.1",
                        spawner_host_queues=f"{self.queue}, {self.queue}_special",
                        spawner_host_id=f"abacoconf-{tag}",
                        clientg_queue=f"clients_{tag}",
                        clientg_private_key_file=os.path.join(self.tmp, "clientg", "key.pem"),
                        workers_socket_host_path_dir=os.path.join(self.tmp, "sockets"),
                        workers_fifo_host_path_dir=os.path.join(self.tmp, "fifos"))
        self.procs = {}

    def start(self, name, **overrides):
        env = dict(self.env, **{k: str(v) for k, v in overrides.items()})
        with open(self.log_path(name), "ab") as out:
            return subprocess.Popen([os.path.join(BIN, name), "-c", self.conf], env=env,
                                    cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

    def start_all(self):
        """Starts the six and waits until each runs its loop (clientg makes
        its RSA key first) and the api answers."""
        for name in SERVICES:
            self.procs[name] = self.start(name)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        waiting = set(SERVICES)
        while waiting:
            waiting = {n for n in waiting if "started (pid" not in self.log(n)}
            if "api" not in waiting:
                try:
                    requests.get(self.base + "/actors", timeout=2)
                except requests.ConnectionError:
                    waiting.add("api")
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if dead or (waiting and time.time() > deadline):
                raise AssertionError(f"not up: {sorted(waiting)}; exited: {dead}; logs in "
                                     f"{self.tmp}")
            time.sleep(0.1)

    def log_path(self, name):
        return os.path.join(self.tmp, f"{name}.log")

    def log(self, name):
        with open(self.log_path(name), errors="replace") as f:
            return f.read()

    def client(self, token, tenant=None):
        c = Client(self.base)
        if tenant:
            c.session.headers[f"X-Jwt-Assertion-{tenant}"] = token
        else:
            c.session.headers["Authorization"] = f"Bearer {token}"
        return c

    def close(self, keep_logs=False):
        rcs = {n: stop_process(p) for n, p in self.procs.items()}
        for q in (self.queue, f"{self.queue}_special"):
            rabbitmqctl("delete_queue", f"command_channel_{q}")
        if keep_logs or any(rcs.values()):
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rcs


@pytest.fixture(scope="module")
def network():
    """local-dev.conf's docker_network, made when the engine lacks it."""
    made = docker("network", "inspect", "abaco_abaco").returncode != 0
    if made:
        r = docker("network", "create", "abaco_abaco")
        assert r.returncode == 0, r.stderr
    yield "abaco_abaco"
    if made:
        docker("network", "rm", "abaco_abaco")


@pytest.fixture(scope="module", params=sorted(UNUSED))
def stack(request, network):
    failed = request.session.testsfailed
    s = AbacoConfStack(request.param)
    try:
        s.start_all()
    except BaseException:
        s.close(keep_logs=True)
        raise
    yield s
    rcs = s.close(keep_logs=request.session.testsfailed > failed)
    assert set(rcs.values()) == {0}, f"exit codes {rcs}; logs in {s.tmp}"


def test_every_service_stays_up(stack):
    time.sleep(3)  # past the health agent's first tick and the spawner's subscriptions
    for name, proc in stack.procs.items():
        assert proc.poll() is None, f"{name} exited {proc.returncode}: {stack.log(name)[-3000:]}"
    for name in SERVICES:
        assert "started (pid" in stack.log(name), stack.log(name)[-3000:]
        assert " ERROR " not in stack.log(name), stack.log(name)[-3000:]


def test_without_aws_credentials_the_cloud_daemons_say_so_once(stack):
    """Abaco's files carry no [cloud] credentials: the updater warns once and
    does not reconcile (no pass, so no AWS call and no error); the launcher
    warns that launches will fail."""
    time.sleep(1)
    updater, launcher = stack.log("updater"), stack.log("launcher")
    assert updater.count("WARNING updater[updater]: no AWS credentials") == 1, updater[-3000:]
    assert "is not reconciled by this updater" in updater
    assert "updater[aws]" not in updater, updater[-3000:]  # not one call made
    assert launcher.count("WARNING launcher[launcher]: no AWS credentials") == 1, launcher[-3000:]


def test_each_unused_key_is_warned_once_by_name(stack):
    for name in SERVICES:
        warned = Counter(CONFIG_WARNING.findall(stack.log(name)))
        assert set(warned) == UNUSED[stack.fixture], (name, warned)
        assert set(warned.values()) == {1}, (name, warned)


def test_the_api_answers_in_jwt_mode(stack):
    """Without credentials: Abaco's 401, the file's TAG as the version."""
    r = Client(stack.base).get("/actors")
    message = error(r, 401)
    assert message.startswith("No JWT or nonce provided"), message
    assert r.json()["version"] == (":dev" if "shipped" in stack.fixture else "dev")


def test_jwt_with_the_files_public_key_serves(stack):
    """The verifier checks the default tenant (dev_staging) even for a token
    that names its own."""
    key = fixture_key()
    role = USER_ROLE[stack.fixture]
    r = stack.client(key.token("alice", (role,)), "DEV-DEVELOP").get("/actors")
    assert r.status_code == 200 and r.json()["result"] == [], r.text
    # A token signed by another key is refused.
    r = stack.client(KeyPair().token("alice", (role,)), "DEV-DEVELOP").get("/actors")
    error(r, 401)


def test_default_token_per_tenant(stack):
    """local-dev.conf: default_token false, DEV-STAGING_default_token true."""
    key = fixture_key()
    roles = (USER_ROLE[stack.fixture], ADMIN)
    expected = {"DEV-DEVELOP": False, "DEV-STAGING": "local-dev" in stack.fixture}
    for tenant, token in expected.items():
        c = stack.client(key.token("admin", roles), tenant)
        actor = c.ok("POST", "/actors", json={"image": "abaco/samples-echo",
                                              "queue": stack.queue})
        try:
            assert actor["token"] is token, (tenant, actor)
            c.wait_actor_status(actor["id"], {"READY"})  # its worker is up before the delete
        finally:
            c.delete(f"/actors/{actor['id']}")


def test_tenant_name_dev_staging_serves(stack):
    """A Bearer token without a tenant claim is of [web] tenant_name,
    dev_staging."""
    key = fixture_key()
    r = stack.client(key.token("alice", (USER_ROLE[stack.fixture],))).get("/actors")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("service,key,value", [
    ("spawner", "spawner_docker_network", "no_such_network_abaco"),
    ("spawner", "workers_mem_limit", "lots"),
    ("spawner", "workers_max_run_time", "-2"),
    ("spawner", "web_sd2e_log_ex", "soon"),
    ("spawner", "docker_dd", "ftp://engine"),
    ("health", "docker_dd", "unix://"),
    ("api", "web_DEV_log_ex_limit", "0"),
    ("api", "web_DEV-STAGING_default_token", "perhaps"),
    ("api", "workers_max_run_time", "-3"),
])
def test_a_setting_a_service_cannot_use_stops_it_at_start(network, service, key, value):
    s = AbacoConfStack("abaco-local-dev.conf")
    proc = s.start(service, **{key: value})
    try:
        rc = proc.wait(timeout=30)
        assert rc != 0, s.log(service)
        section, option = key.split("_", 1)
        assert f"[{section}] {option}" in s.log(service), s.log(service)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        shutil.rmtree(s.tmp, ignore_errors=True)
