"""Crash safety (docs/architecture.md "Channels"): a worker or spawner killed with
SIGKILL loses no message and leaves nothing RUNNING forever; the dead
worker's container is removed and a replacement takes over."""
import os
import signal
import subprocess
import time

from conftest import REPO, wait_for

RUN = os.path.join(REPO, "var", "run")


def pids(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def containers(label):
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def spawner_pid():
    with open(os.path.join(RUN, "spawner.pid")) as f:
        return int(f.read().strip())


def restart_missing_services():
    env = dict(os.environ, ABACO_NO_BUILD="1")
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", "up.sh")], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_worker_killed_mid_execution_loses_nothing(client, actor_cleanup):
    actor = client.register("abaco/samples-sleep")
    aid = actor["id"]
    actor_cleanup.append(aid)
    client.wait_actor_status(aid, {"READY"})
    eid = client.send(aid, "4")["execution_id"]
    ex = wait_for(lambda: (e := client.ok("GET", f"/actors/{aid}/executions/{eid}"))["status"]
                  == "RUNNING" and e, 30, "execution RUNNING")
    old_wid = ex["worker_id"]
    wait_for(lambda: containers(f"abaco.worker={old_wid}"), 10, "the container")
    victims = pids(f"bin/worker .*{old_wid}")
    assert len(victims) == 1, victims
    os.kill(victims[0], signal.SIGKILL)

    # The dead worker's container goes away, and the message is run again
    # by a replacement: never lost, never RUNNING forever.
    wait_for(lambda: not containers(f"abaco.worker={old_wid}"), 20, "container removal")
    done = client.wait_execution(aid, eid, timeout=60)
    assert done["status"] in ("COMPLETE", "ERROR"), done
    if done["status"] == "COMPLETE":
        assert done["worker_id"] != old_wid
        assert done["exit_code"] == 0
    else:
        assert done.get("status_message"), done
    workers = client.ok("GET", f"/actors/{aid}/workers")
    assert old_wid not in [w["id"] for w in workers]
    assert any(w["status"] in ("READY", "BUSY") for w in workers), workers


def test_spawner_killed_with_an_unacked_command(client, actor_cleanup):
    victim = spawner_pid()
    os.kill(victim, signal.SIGSTOP)  # it receives the command but cannot act on it
    try:
        actor = client.register("abaco/samples-echo")
        actor_cleanup.append(actor["id"])
        time.sleep(0.5)
    finally:
        os.kill(victim, signal.SIGKILL)
        os.kill(victim, signal.SIGCONT)
    wait_for(lambda: not os.path.exists(f"/proc/{victim}/status") or
             "zombie" in open(f"/proc/{victim}/status").read(), 10, "the spawner to die")
    restart_missing_services()
    assert spawner_pid() != victim

    aid = actor["id"]
    client.wait_actor_status(aid, {"READY"}, timeout=30)
    eid = client.send(aid, "after the crash")["execution_id"]
    ex = client.wait_execution(aid, eid)
    assert ex["status"] == "COMPLETE"
    assert "Contents of MSG: after the crash" in client.logs(aid, eid)


def test_spawner_killed_right_after_starting_a_worker(client, actor_cleanup):
    victim = spawner_pid()
    actor = client.register("abaco/samples-echo")
    aid = actor["id"]
    actor_cleanup.append(aid)
    # Kill it as soon as the worker exists, possibly before the command's ack.
    wid = wait_for(lambda: [w["id"] for w in client.ok("GET", f"/actors/{aid}/workers")
                            if pids(f"bin/worker .*{w['id']}")], 20, "a worker process")[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{victim}/status") or
             "zombie" in open(f"/proc/{victim}/status").read(), 10, "the spawner to die")
    restart_missing_services()

    # Whether or not the command was acked, exactly one worker runs for it.
    time.sleep(1.0)
    assert len(pids(f"bin/worker .*{wid}")) == 1
    client.wait_actor_status(aid, {"READY"})
    eid = client.send(aid, "still works")["execution_id"]
    assert client.wait_execution(aid, eid)["status"] == "COMPLETE"
