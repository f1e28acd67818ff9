"""Per-worker access tokens and actor configs inside containers (docs/api.md "What a container sees",
issue 4 "clientg"): with [workers] generate_clients on, the spawner asks a
clientg for a token for each new worker of an actor with `token` true, the
worker hands it to the container as `_abaco_access_token`, the container
uses it to message another actor through an api that checks JWTs, and the
token is revoked when the worker goes. Configs that list an actor reach
its containers in `_actor_configs`, secret values decrypted.

Everything runs on a private api + spawner pair (private_stack.py) and a
private clientg on a queue of its own, so the stack's own clientg (which
has no secret) is not involved. Containers use the host network so that
they reach the private api on 127.0.0.1.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from authkit import PRIVILEGED, TENANT, USER, JwtClient, KeyPair
from conftest import redis_cmd, wait_for, worker_pids
from private_stack import BIN, CONF, PrivateStack, rabbitmqctl, stop_process

MESSENGER = "abaco/samples-messenger"
ECHO = "abaco/samples-echo"
SECRET = "clientg-test-secret-" + uuid.uuid4().hex[:8]
ENC_KEY = "clients-test-encryption-key"


def client_key_exists(wid):
    return redis_cmd("EXISTS", f"abaco:client:{TENANT}:{wid}") == 1


def private_pair(prefix, key, queue, secret):
    """A private api + spawner whose spawner and workers ask the clientg on
    `queue` for tokens with `secret`; the api checks JWTs of `key`."""
    env = dict(workers_generate_clients="true", clientg_queue=queue, clientg_secret=secret,
               spawner_docker_network="host", web_encryption_key=ENC_KEY,
               web_access_control="jwt", web_apim_public_key=key.pub_der_b64(),
               workers_autoscaling="false")
    stack = PrivateStack(prefix, env=env)
    # privileged: only privileged users may choose a queue (the pair's own)
    alice = JwtClient(stack.client.base, key.token("alice", roles=(USER, PRIVILEGED)))
    stack.client = alice  # registers and cleans up as alice
    return stack, alice


@pytest.fixture(scope="module")
def setup():
    key = KeyPair()
    queue = "clients_test_" + uuid.uuid4().hex[:8]
    stack, alice = private_pair("clients", key, queue, SECRET)
    keydir = tempfile.mkdtemp(prefix="abaco-clientg-")
    clientg = stack.start("clientg", clientg_private_key_file=os.path.join(keydir, "key.pem"),
                          clientg_token_ttl="600")
    yield stack, alice, key, lambda: stack.log("clientg"), queue
    rcs = stack.close(keep_logs=True)  # the workers revoke their tokens on the way out
    assert stop_process(clientg) == 0, stack.log("clientg")
    assert rcs == [0, 0], (stack.log("api"), stack.log("spawner"))
    rabbitmqctl("delete_queue", queue)
    shutil.rmtree(keydir, ignore_errors=True)
    shutil.rmtree(stack.logdir, ignore_errors=True)


def run(stack, client, aid, message):
    eid = client.send(aid, message)["execution_id"]
    ex = client.wait_execution(aid, eid, timeout=90)
    return ex, client.logs(aid, eid)


def ready_worker(stack, aid):
    return wait_for(lambda: [w for w in stack.workers(aid) if w["status"] == "READY"],
                    timeout=60, what=f"a READY worker of {aid}")[0]


def test_a_container_messages_another_actor_with_its_token(setup):
    stack, alice, _, clientg_log, _ = setup
    target = stack.register(ECHO)
    sender = stack.register(MESSENGER, token=True)
    ex, logs = run(stack, alice, sender["id"], f"{target['id']} hello-from-a-container")
    assert "token=yes" in logs, logs
    assert "status=200" in logs, (logs, stack.log("spawner"), clientg_log())
    assert ex["status"] == "COMPLETE" and ex["exit_code"] == 0, ex
    # The target ran the message the container sent, as alice.
    answer = logs[logs.index("status=200\n") + len("status=200\n"):]
    sent_eid = json.loads(answer)["result"]["execution_id"]
    got = alice.wait_execution(target["id"], sent_eid, timeout=90)
    assert got["status"] == "COMPLETE", got
    assert "hello-from-a-container" in alice.logs(target["id"], sent_eid)
    assert got.get("executor") == "alice", got


def test_an_actor_without_token_gets_none_and_is_refused(setup):
    stack, alice, _, _, _ = setup
    target = stack.register(ECHO)
    sender = stack.register(MESSENGER)  # token defaults to false
    ex, logs = run(stack, alice, sender["id"], f"{target['id']} no-token")
    assert "token=no" in logs and "status=401" in logs, logs
    assert ex["exit_code"] == 1, ex


def test_the_token_is_revoked_when_the_worker_stops(setup):
    stack, alice, _, _, _ = setup
    sender = stack.register(MESSENGER, token=True)
    target = stack.register(ECHO)
    run(stack, alice, sender["id"], f"{target['id']} first")
    wid = ready_worker(stack, sender["id"])["id"]
    assert client_key_exists(wid), "clientg's record of the worker's token is missing"
    alice.ok("DELETE", f"/actors/{sender['id']}")
    stack.actors.remove(sender["id"])
    wait_for(lambda: not client_key_exists(wid), timeout=30,
             what="the token to be revoked when its worker stopped")


def test_a_killed_worker_has_its_token_revoked_by_the_spawner(setup):
    stack, alice, _, _, _ = setup
    sender = stack.register(MESSENGER, token=True)
    w = ready_worker(stack, sender["id"])
    assert client_key_exists(w["id"])
    pids = worker_pids(w["id"])
    assert len(pids) == 1, pids
    os.kill(pids[0], 9)
    wait_for(lambda: not client_key_exists(w["id"]), timeout=30,
             what="the spawner to revoke a killed worker's token")


def test_configs_reach_the_container_with_secrets_decrypted(setup):
    stack, alice, _, _, _ = setup
    sender = stack.register(MESSENGER)
    other = stack.register(MESSENGER)
    tag = uuid.uuid4().hex[:8]
    plain, secret = f"plain-{tag}", f"secret-{tag}"
    alice.ok("POST", "/actors/configs", json={"name": plain, "value": "visible",
                                               "is_secret": False, "actors": sender["id"]})
    alice.ok("POST", "/actors/configs", json={"name": secret, "value": {"pw": "s3cr3t"},
                                               "is_secret": True, "actors": sender["id"]})
    try:
        _, logs = run(stack, alice, sender["id"], "nobody nothing")
        configs = json.loads(re.search(r"^configs=(.*)$", logs, re.M).group(1))
        assert configs == {plain: "visible", secret: {"pw": "s3cr3t"}}, logs
        # An actor the configs do not list sees none of them.
        _, logs = run(stack, alice, other["id"], "nobody nothing")
        assert re.search(r"^configs=\{\}$", logs, re.M), logs
        # An update shows in the next execution.
        alice.ok("PUT", f"/actors/configs/{plain}",
                 json={"value": "changed", "is_secret": False, "actors": sender["id"]})
        _, logs = run(stack, alice, sender["id"], "nobody nothing")
        assert json.loads(re.search(r"^configs=(.*)$", logs, re.M).group(1))[plain] == "changed"
    finally:
        for name in (plain, secret):
            alice.delete(f"/actors/configs/{name}")


def test_a_refused_token_request_starts_no_worker_and_keeps_the_message(setup):
    """A spawner with the wrong secret starts no worker for a token actor
    and says why in its log (clientg logs the refusal); the message waits,
    SUBMITTED, instead of running without its token."""
    _, _, key, clientg_log, queue = setup
    bad, alice = private_pair("clients_bad", key, queue, "wrong-secret")
    try:
        sender = bad.register(MESSENGER, token=True)
        eid = alice.send(sender["id"], "nobody nothing")["execution_id"]
        wait_for(lambda: "check [clientg] secret" in bad.log("spawner"), timeout=30,
                 what="the spawner to report clientg's refusal")
        assert "request refused (bad secret)" in clientg_log()
        assert all(w["status"] in ("REQUESTED", "SPAWNER SETUP") for w in bad.workers(sender["id"]))
        assert alice.ok("GET", f"/actors/{sender['id']}/executions/{eid}")["status"] == "SUBMITTED"
        assert alice.ok("GET", f"/actors/{sender['id']}")["status"] != "ERROR"
    finally:
        bad.close()


def test_tokens_on_without_a_secret_is_a_start_up_error():
    env = dict(os.environ, workers_generate_clients="true", clientg_secret="",
               spawner_host_queues="clients_nosecret_" + uuid.uuid4().hex[:6], logs_directory="")
    r = subprocess.run([os.path.join(BIN, "spawner"), "-c", CONF], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert "[clientg] secret" in r.stderr + r.stdout, r.stderr
