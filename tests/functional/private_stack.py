"""An api + spawner pair of the running stack on a command queue and host id
of its own, with config overrides (the autoscaler, cron and worker
contract tests).

The api's periodic jobs act only on actors of its own [spawner]
host_queues, so a pair started with, say, a 2 s idle grace or a shifted
cron clock never touches the stack's actors, and the stack's api never
touches the pair's; actors registered with the pair's queue run only on
its workers, which inherit the spawner's environment. Stores, broker and
engine are shared. The api can be restarted with other overrides while
the spawner and the actors stay, and more processes (another spawner on
an extra queue) can be started with the pair's environment.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import requests

from conftest import REPO, Client, free_port

BIN = os.path.join(os.environ.get("ABACO_BUILD", os.path.join(REPO, "build")), "bin")
CONF = os.environ.get("ABACO_CONF", os.path.join(REPO, "abaco.conf"))


def stop_process(proc, timeout=30):
    """SIGTERM (after SIGCONT, should a test have paused it), then SIGKILL
    after timeout; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def rabbitmqctl(*args):
    node = os.environ.get("ABACO_RABBIT_NODENAME", "rabbit@localhost")
    try:
        with open(os.path.join(REPO, "var", "run", "rabbitmq.node")) as f:
            node = f.read().strip() or node
    except OSError:
        pass
    return subprocess.run(["rabbitmqctl", "-q", "-n", node, *args], capture_output=True,
                          text=True, timeout=60)


class PrivateStack:
    """prefix names the queue ("<prefix>_<tag>") and host id; extra_queues
    are more queues the api accepts ("<queue>_<name>", served by no spawner
    of the pair until one is started for them); env overrides apply to
    every process of the pair (and so to its workers), api_overrides to the
    api only; serve_default makes the api accept the `default` queue too.
    Logs go to a temporary folder removed by a clean close(), or to logdir,
    emptied at the start and kept."""

    def __init__(self, prefix, extra_queues=(), env=None, logdir=None, serve_default=False,
                 **api_overrides):
        tag = uuid.uuid4().hex[:8]
        self.queue, self.host_id = f"{prefix}_{tag}", f"{prefix}-host-{tag}"
        self.extra_queues = [f"{self.queue}_{q}" for q in extra_queues]
        self.serve_default = serve_default
        self.logdir_given = logdir is not None
        if logdir is None:
            self.logdir = tempfile.mkdtemp(prefix=f"abaco-{prefix}-")
        else:
            shutil.rmtree(logdir, ignore_errors=True)
            os.makedirs(logdir)
            self.logdir = logdir
        self.env = dict(os.environ, spawner_host_queues=self.queue,
                        spawner_host_id=self.host_id, workers_init_count="1",
                        logs_directory="")
        self.env.update({k: str(v) for k, v in (env or {}).items()})
        self.api_overrides = api_overrides
        self.actors = []
        self.api = None
        self.spawner = self.start("spawner")
        try:
            self.start_api()
        except BaseException:
            stop_process(self.spawner)
            raise

    def start(self, name, log=None, wrap=(), **overrides):
        """Starts bin/<name> with the pair's environment plus overrides,
        its output appended to <log or name>.log; wrap is a command line
        to run it under (e.g. valgrind)."""
        out = open(os.path.join(self.logdir, f"{log or name}.log"), "ab")
        env = dict(self.env, **{k: str(v) for k, v in overrides.items()})
        proc = subprocess.Popen([*wrap, os.path.join(BIN, name), "-c", CONF], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return proc

    def start_api(self, **overrides):
        """(Re)starts the api with the pair's overrides plus these."""
        if self.api is not None:
            assert stop_process(self.api) == 0, self.log("api")
        self.port = free_port()
        queues = ",".join([*(["default"] if self.serve_default else []), self.queue,
                           *self.extra_queues])
        self.api = self.start("api", web_port=self.port, spawner_host_queues=queues,
                              **dict(self.api_overrides, **overrides))
        self.client = Client(base=f"http://127.0.0.1:{self.port}")
        deadline = time.time() + 20
        while True:
            try:
                self.client.session.get(self.client.base + "/actors", timeout=2)
                return
            except requests.ConnectionError:
                if time.time() > deadline or self.api.poll() is not None:
                    self.api.kill()
                    self.api.wait()
                    raise AssertionError(f"the private api did not come up: {self.log('api')}")
                time.sleep(0.1)

    def log(self, name, tail=5000):
        """The end of <name>.log (all of it when tail is None)."""
        with open(os.path.join(self.logdir, f"{name}.log"), errors="replace") as f:
            text = f.read()
        return text if tail is None else text[-tail:]

    def register(self, image, queue=None, **fields):
        fields.setdefault("name", "priv-" + uuid.uuid4().hex[:8])
        actor = self.client.ok("POST", "/actors",
                               json=dict(image=image, queue=queue or self.queue, **fields))
        self.actors.append(actor["id"])
        return actor

    def workers(self, aid):
        return self.client.ok("GET", f"/actors/{aid}/workers")

    def close(self, keep_logs=False):
        """Deletes the actors, stops both processes (their exit codes are
        returned) and removes the logs unless keep_logs, a logdir was given
        or a process failed."""
        for aid in self.actors:
            try:
                self.client.delete(f"/actors/{aid}")
            except requests.RequestException:
                pass
        rcs = [stop_process(self.api), stop_process(self.spawner)]
        for q in [self.queue, *self.extra_queues]:
            rabbitmqctl("delete_queue", f"command_channel_{q}")
        if keep_logs or self.logdir_given or rcs != [0, 0]:
            print(f"private stack logs kept in {self.logdir}")
        else:
            shutil.rmtree(self.logdir, ignore_errors=True)
        return rcs

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """Closes the pair, keeping the logs when the block failed; both
        processes must exit 0."""
        rcs = self.close(keep_logs=exc_type is not None)
        assert rcs == [0, 0], f"exit codes {rcs}; logs in {self.logdir}"


def module_stack(request, prefix, stack=PrivateStack, **kw):
    """The body of a module-scoped fixture (`yield from module_stack(...)`):
    a pair (of class stack) for the module's tests, closed after them with
    its logs kept when one of them failed; both processes must exit 0."""
    failed = request.session.testsfailed
    s = stack(prefix, **kw)
    yield s
    assert s.close(keep_logs=request.session.testsfailed > failed) == [0, 0]
