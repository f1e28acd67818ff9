"""An api + spawner pair of the running stack on a command queue and host id
of its own, with config overrides (for the autoscaler and cron tests).

The api's periodic jobs act only on actors of its own [spawner]
host_queues, so a pair started with, say, a 2 s idle grace or a shifted
cron clock never touches the stack's actors, and the stack's api never
touches the pair's. Stores, broker and engine are shared. The api can be
restarted with other overrides while the spawner and the actors stay.
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
    if proc.poll() is None:
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
    def __init__(self, prefix, extra_queues=(), **api_overrides):
        tag = uuid.uuid4().hex[:8]
        self.queue, self.host_id = f"{prefix}_{tag}", f"{prefix}-host-{tag}"
        self.extra_queues = [f"{self.queue}_{q}" for q in extra_queues]
        self.logdir = tempfile.mkdtemp(prefix=f"abaco-{prefix}-")
        self.env = dict(os.environ, spawner_host_queues=self.queue,
                        spawner_host_id=self.host_id, workers_init_count="1",
                        logs_directory="")
        self.api_overrides = api_overrides
        self.actors = []
        self.api = None
        self.spawner = self._start("spawner")
        self.start_api()

    def _start(self, name, **overrides):
        log = open(os.path.join(self.logdir, f"{name}.log"), "ab")
        env = dict(self.env, **{k: str(v) for k, v in overrides.items()})
        proc = subprocess.Popen([os.path.join(BIN, name), "-c", CONF], env=env, cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return proc

    def start_api(self, **overrides):
        """(Re)starts the api with the pair's overrides plus these."""
        if self.api is not None:
            assert stop_process(self.api) == 0, self.log("api")
        self.port = free_port()
        queues = ",".join([self.queue, *self.extra_queues])
        self.api = self._start("api", web_port=self.port, spawner_host_queues=queues,
                               **dict(self.api_overrides, **overrides))
        self.client = Client(base=f"http://127.0.0.1:{self.port}")
        deadline = time.time() + 20
        while True:
            try:
                self.client.session.get(self.client.base + "/actors", timeout=2)
                return
            except requests.ConnectionError:
                if time.time() > deadline or self.api.poll() is not None:
                    raise AssertionError(f"the private api did not come up: {self.log('api')}")
                time.sleep(0.1)

    def log(self, name):
        with open(os.path.join(self.logdir, f"{name}.log"), errors="replace") as f:
            return f.read()[-5000:]

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
        returned) and removes the logs unless keep_logs."""
        for aid in self.actors:
            try:
                self.client.delete(f"/actors/{aid}")
            except requests.RequestException:
                pass
        rcs = [stop_process(self.api), stop_process(self.spawner)]
        for q in [self.queue, *self.extra_queues]:
            rabbitmqctl("delete_queue", f"command_channel_{q}")
        if keep_logs or rcs != [0, 0]:
            print(f"private stack logs kept in {self.logdir}")
        else:
            shutil.rmtree(self.logdir, ignore_errors=True)
        return rcs
