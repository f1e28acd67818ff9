"""Functional tests: drive the running stack over HTTP as a client would.

The stack (make up) must be running; ABACO_API points at it (default
http://127.0.0.1:8000). Sample images come from `make samples`.
"""
import os
import time
import uuid

import pytest
import requests

API = os.environ.get("ABACO_API", "http://127.0.0.1:8000").rstrip("/")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Client:
    """A thin client that checks the envelope on every JSON response."""

    def __init__(self, base=API, tenant=None):
        self.base = base
        self.session = requests.Session()
        if tenant:
            self.session.headers["tenant"] = tenant

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        r = self.session.request(method, self.base + path, **kw)
        if r.headers.get("Content-Type", "").startswith("application/json"):
            body = r.json()
            assert set(body) == {"status", "message", "result", "version"}, body
            assert body["status"] == ("success" if 200 <= r.status_code < 300 else "error"), body
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, **kw):
        r = self.request(method, path, **kw)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["result"]

    def register(self, image, **fields):
        fields.setdefault("name", "test-" + uuid.uuid4().hex[:8])
        return self.ok("POST", "/actors", json=dict(image=image, **fields))

    def wait_status(self, path, statuses, timeout, failure, interval=0.1):
        """GETs path until its status is one of statuses; else fails with
        `failure: <the last object>`."""
        deadline = time.time() + timeout
        obj = None
        while time.time() < deadline:
            obj = self.ok("GET", path)
            if obj["status"] in statuses:
                return obj
            time.sleep(interval)
        raise AssertionError(f"{failure}: {obj}")

    def wait_actor_status(self, aid, statuses, timeout=30):
        return self.wait_status(f"/actors/{aid}", statuses, timeout,
                                f"actor {aid} never reached {statuses}")

    def send(self, aid, message="hello", **kw):
        if "json" not in kw and "data" not in kw:
            kw["data"] = {"message": message}
        return self.ok("POST", f"/actors/{aid}/messages", **kw)

    def wait_execution(self, aid, eid, timeout=60):
        return self.wait_status(f"/actors/{aid}/executions/{eid}", ("COMPLETE", "ERROR"),
                                timeout, f"execution {eid} did not finish", interval=0.05)

    def logs(self, aid, eid):
        return self.ok("GET", f"/actors/{aid}/executions/{eid}/logs")["logs"]


@pytest.fixture(scope="session")
def client():
    c = Client()
    try:
        c.session.get(API + "/actors", timeout=5)
    except requests.ConnectionError as e:  # the stack must be up: fail, never skip
        pytest.fail(f"the API at {API} is not reachable ({e}); run `make up` first")
    return c


@pytest.fixture
def actor_cleanup(client):
    made = []
    yield made
    for aid in made:
        client.delete(f"/actors/{aid}")


@pytest.fixture
def echo_actor(client, actor_cleanup):
    actor = client.register("abaco/samples-echo")
    actor_cleanup.append(actor["id"])
    return actor


# ---- helpers for the api tests (tests/functional/test_api_*.py) ----

import signal as _signal
import socket as _socket
import subprocess as _subprocess
import tempfile as _tempfile

BUILD = os.environ.get("ABACO_BUILD", os.path.join(REPO, "build"))
CONF = os.environ.get("ABACO_CONF", os.path.join(REPO, "abaco.conf"))


def free_port():
    s = _socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ApiProcess:
    """A second api process of the same stack (same stores and broker) on a
    free port, with config overrides given as <section>_<option> variables,
    e.g. ApiProcess(web_case="camel"). Its log is shown when it fails."""

    def __init__(self, **overrides):
        self.port = free_port()
        env = dict(os.environ, web_port=str(self.port), web_bind="127.0.0.1",
                   **{k: str(v) for k, v in overrides.items()})
        self.log = _tempfile.NamedTemporaryFile(prefix="abaco-api-", suffix=".log", delete=False)
        self.proc = _subprocess.Popen([os.path.join(BUILD, "bin", "api"), "-c", CONF],
                                      env=dict(env, logs_directory=""),
                                      stdout=self.log, stderr=_subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"api exited with {self.proc.returncode}: {self.output()}")
            try:
                requests.get(self.base + "/actors", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"api on port {self.port} never answered: {self.output()}")

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def client(self, tenant=None):
        return Client(self.base, tenant=tenant)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(_signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except _subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def wait_for(fn, timeout=60, what="condition", interval=0.2):
    """Polls fn() until it returns a true value, which is returned."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


# ---- config, Redis and worker processes, as the services see them ----

import configparser as _configparser


def conf(section, key, default=""):
    """A config value as the services see it: environment override first."""
    if f"{section}_{key}" in os.environ:
        return os.environ[f"{section}_{key}"]
    cp = _configparser.ConfigParser(interpolation=None)
    cp.read(CONF)
    return cp.get(section, key, fallback=default)


def host_dir(key, default):
    """A [workers] directory as an absolute path (the services run in REPO)."""
    d = conf("workers", key, default)
    return d if d.startswith("/") else os.path.join(REPO, d)


def _resp_read(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise AssertionError(f"redis error: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise AssertionError(f"bad RESP reply {line!r}")


def redis_cmd(*args):
    """One command to the stack's Redis over RESP (no client library
    needed); its reply decoded (str, int, None or a list). An error reply
    fails the test."""
    host = conf("store", "redis_host", "127.0.0.1")
    port = int(conf("store", "redis_port", "6379"))
    with _socket.create_connection((host, port), timeout=5) as s:
        f = s.makefile("rb")
        pw = conf("store", "redis_password", "")
        reply = None
        for cmd in ([["AUTH", pw]] if pw else []) + [list(args)]:
            s.sendall(f"*{len(cmd)}\r\n".encode() +
                      b"".join(f"${len(str(a).encode())}\r\n{a}\r\n".encode() for a in cmd))
            reply = _resp_read(f)
        return reply


# The stack spawner's [spawner] worker_backend: scripts/test.sh runs the
# worker modules a second time with ABACO_WORKER_BACKEND=docker against a
# spawner started with spawner_worker_backend=docker.
WORKER_BACKEND = os.environ.get("ABACO_WORKER_BACKEND", "process")


# The worker indexes the record writers keep (libactor model.h "indexes
# kept on writes"), for worker records a test or bench writes straight
# into Redis: what model_index_worker would make of the record.
IDX_WORKER_STATUS = "abaco:index:worker_status"
IDX_WORKER_COUNTS = "abaco:index:worker_status:count"
IDX_WORKER_HOST = "abaco:index:worker_host"


def _host_set(host):
    return f"abaco:index:workers:host:{host}" if host else "abaco:index:workers:unplaced"


def unindex_worker(db_id, wid):
    m = f"{db_id}:{wid}"
    old = redis_cmd("HGET", IDX_WORKER_STATUS, m)
    if old is not None:
        redis_cmd("HINCRBY", IDX_WORKER_COUNTS, old, -1)
        redis_cmd("HDEL", IDX_WORKER_STATUS, m)
    host = redis_cmd("HGET", IDX_WORKER_HOST, m)
    if host is not None:
        redis_cmd("SREM", _host_set(host), m)
        redis_cmd("HDEL", IDX_WORKER_HOST, m)


def index_worker(db_id, wid, status, host_id):
    m = f"{db_id}:{wid}"
    unindex_worker(db_id, wid)
    redis_cmd("HSET", IDX_WORKER_STATUS, m, status)
    redis_cmd("HINCRBY", IDX_WORKER_COUNTS, status, 1)
    redis_cmd("HSET", IDX_WORKER_HOST, m, host_id or "")
    redis_cmd("SADD", _host_set(host_id), m)


def worker_pids(wid):
    """Pids of the worker processes of worker id wid: build/bin/worker under
    the process backend, `worker` in its abaco/core container under docker
    (seen from here, in the host's pid namespace)."""
    out = _subprocess.run(["pgrep", "-f", f"(^|/)worker -c .* {wid}$"], capture_output=True,
                          text=True)
    return [int(p) for p in out.stdout.split()]


def expected_cid(w):
    """The cid a worker record must carry: its process under the process
    backend, its container's full id under docker."""
    if WORKER_BACKEND == "docker":
        out = _subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                               f"label=abaco.worker={w['id']}"], capture_output=True, text=True)
        ids = out.stdout.split()
        assert len(ids) == 1, f"containers of worker {w['id']}: {ids}"
        return ids[0]
    pids = worker_pids(w["id"])
    assert len(pids) == 1, f"processes of worker {w['id']}: {pids}"
    return f"process:{pids[0]}@{w['host_id']}"


import urllib.parse


# ---- RabbitMQ management API (tests of queues the API cannot show) ----

def mgmt():
    """(base URL, auth, quoted vhost) of the management API, as health reads them."""
    url = conf("rabbit", "management_url", "http://127.0.0.1:15672").rstrip("/")
    uri = urllib.parse.urlsplit(conf("rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f"))
    user = conf("rabbit", "management_user", "") or urllib.parse.unquote(uri.username or "guest")
    password = (conf("rabbit", "management_password", "") if conf("rabbit", "management_user", "")
                else urllib.parse.unquote(uri.password or ("" if uri.username else "guest")))
    vhost = urllib.parse.unquote(uri.path[1:]) if len(uri.path) > 1 else "/"
    return url, (user, password), urllib.parse.quote(vhost, safe="")


def mgmt_reachable():
    url, auth, _ = mgmt()
    try:
        return requests.get(f"{url}/api/overview", auth=auth, timeout=3).status_code == 200
    except requests.RequestException:
        return False


needs_mgmt = pytest.mark.skipif(
    not mgmt_reachable(), reason="RabbitMQ management API not reachable ([rabbit] management_url;"
                                 " scripts/up.sh enables the plugin at the broker's next start)")


def queue_exists(name):
    url, auth, vh = mgmt()
    r = requests.get(f"{url}/api/queues/{vh}/{urllib.parse.quote(name, safe='')}", auth=auth,
                     timeout=10)
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


def declare_queue(name, message=None):
    url, auth, vh = mgmt()
    r = requests.put(f"{url}/api/queues/{vh}/{urllib.parse.quote(name, safe='')}", auth=auth,
                     json={"durable": True, "auto_delete": False}, timeout=10)
    assert r.status_code in (201, 204), r.text
    if message is not None:
        r = requests.post(f"{url}/api/exchanges/{vh}/amq.default/publish", auth=auth, timeout=10,
                          json={"properties": {"delivery_mode": 2}, "routing_key": name,
                                "payload": message, "payload_encoding": "string"})
        assert r.status_code == 200 and r.json()["routed"], r.text


def delete_queue(name):
    url, auth, vh = mgmt()
    requests.delete(f"{url}/api/queues/{vh}/{urllib.parse.quote(name, safe='')}", auth=auth,
                    timeout=10)


def queue_info(name):
    """The management API's record of a queue (its arguments, messages...)."""
    url, auth, vh = mgmt()
    r = requests.get(f"{url}/api/queues/{vh}/{urllib.parse.quote(name, safe='')}", auth=auth,
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()
