"""The autoscaler ([workers] autoscaling; issue 5 "Autoscaler and /metrics"),
each situation created for real on a private api + spawner pair (see
private_stack.py) with a 1 s tick, a 2 s idle grace and a 6 s
sync_max_idle_time:

- an idle worker is stopped once the grace is over (scale to zero), the
  actor stays READY, and its next message brings a worker back;
- five messages to an actor with max_workers 3 that was scaled to zero:
  the workers grow to 3 and never beyond (the time from the mailbox
  filling up to each new worker being up is measured and printed), then
  scale back to zero after the grace;
- an actor with the `sync` hint keeps one warm worker past the grace until
  it has been idle sync_max_idle_time;
- a command queue longer than [spawner] max_cmd_length puts scale-ups off
  until the spawner catches up.
"""
import signal
import time

import pytest
import requests

from conftest import wait_for
from private_stack import PrivateStack, module_stack

GRACE = 2
SYNC_IDLE = 6
LEAVING = ("SHUTDOWN_REQUESTED", "SHUTTING_DOWN")


@pytest.fixture(scope="module")
def stack(request):
    yield from module_stack(request, "ascale", workers_autoscale_interval=1,
                            workers_autoscale_idle_grace=GRACE,
                            workers_sync_max_idle_time=SYNC_IDLE)


def live(stack, aid):
    return [w for w in stack.workers(aid) if w["status"] not in LEAVING]


def up(stack, aid):
    return [w for w in live(stack, aid) if w["status"] in ("READY", "BUSY")]


def metric(stack, name):
    text = requests.get(stack.client.base + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_idle_worker_is_scaled_to_zero_after_the_grace(stack):
    c = stack.client
    aid = stack.register("abaco/samples-echo")["id"]
    c.wait_actor_status(aid, {"READY"})
    wait_for(lambda: up(stack, aid), timeout=30, interval=0.1, what="a READY worker")
    t_ready = time.time()
    time.sleep(GRACE * 0.4)
    assert up(stack, aid), "stopped before the grace was over"
    wait_for(lambda: not stack.workers(aid), timeout=GRACE + 15, interval=0.1,
             what="the idle worker to be stopped")
    waited = time.time() - t_ready
    print(f"\nautoscaler: idle worker stopped {waited:.1f} s after it was READY "
          f"(grace {GRACE} s, tick 1 s)")
    assert waited >= GRACE * 0.75
    assert c.ok("GET", f"/actors/{aid}")["status"] == "READY"
    # Scaled to zero, the next message brings a worker on the spot.
    ex = c.wait_execution(aid, c.send(aid, "after zero")["execution_id"], timeout=60)
    assert ex["status"] == "COMPLETE", ex
    assert "Contents of MSG: after zero" in c.logs(aid, ex["id"])


def test_messages_scale_up_to_max_workers_then_back_to_zero(stack):
    c = stack.client
    requested0 = metric(stack, "abaco_autoscaler_workers_requested_total")
    stopped0 = metric(stack, "abaco_autoscaler_workers_stopped_total")
    aid = stack.register("abaco/samples-sleep", max_workers=3)["id"]
    c.wait_actor_status(aid, {"READY"})
    wait_for(lambda: not stack.workers(aid), timeout=GRACE + 30, interval=0.2,
             what="the first worker to be scaled away")

    t0 = time.time()
    eids = [c.send(aid, "4")["execution_id"] for _ in range(5)]
    first_up, most = {}, 0
    done = set()
    deadline = t0 + 90
    while len(done) < len(eids) and time.time() < deadline:
        lv = live(stack, aid)
        most = max(most, len(lv))
        for w in lv:
            if w["status"] in ("READY", "BUSY") and w["id"] not in first_up:
                first_up[w["id"]] = time.time() - t0
        for eid in eids:
            if eid not in done and c.ok("GET", f"/actors/{aid}/executions/{eid}")["status"] in (
                    "COMPLETE", "ERROR"):
                done.add(eid)
        time.sleep(0.1)
    assert len(done) == len(eids), f"executions left: {set(eids) - done}"
    for eid in eids:
        assert c.ok("GET", f"/actors/{aid}/executions/{eid}")["status"] == "COMPLETE"
    assert most <= 3, f"{most} live workers for max_workers 3"
    times = sorted(first_up.values())
    assert len(times) == 3, first_up
    print(f"\nautoscaler: 5 messages at t=0 to an actor scaled to zero (max_workers 3): "
          f"workers up at {', '.join(f'{t:.2f}' for t in times)} s "
          f"(the first requested by the send, the others by the autoscaler)")
    assert times[1] < 10 and times[2] < 15, times
    assert metric(stack, "abaco_autoscaler_workers_requested_total") >= requested0 + 2

    # Idle again: every worker goes once the grace is over.
    wait_for(lambda: not stack.workers(aid), timeout=GRACE + 20, interval=0.2,
             what="scale back to zero")
    assert metric(stack, "abaco_autoscaler_workers_stopped_total") >= stopped0 + 3
    assert c.ok("GET", f"/actors/{aid}")["status"] == "READY"


def test_sync_hint_keeps_one_warm_worker(stack):
    c = stack.client
    aid = stack.register("abaco/samples-echo", hints=["sync"])["id"]
    c.wait_actor_status(aid, {"READY"})
    # A second worker: the grace stops one, never the last.
    c.ok("POST", f"/actors/{aid}/workers", json={"num": 2})
    wait_for(lambda: len(up(stack, aid)) == 2, timeout=30, interval=0.1, what="two workers")
    ex = c.wait_execution(aid, c.send(aid, "warm")["execution_id"])
    t_idle = time.time()
    assert ex["status"] == "COMPLETE"
    wait_for(lambda: len(live(stack, aid)) == 1, timeout=GRACE + 10, interval=0.1,
             what="one of the two workers to be stopped")
    time.sleep(max(0.0, t_idle + GRACE + 2 - time.time()))
    assert len(up(stack, aid)) == 1, "the warm worker stays past the grace"
    wait_for(lambda: not stack.workers(aid), timeout=SYNC_IDLE + 15, interval=0.2,
             what="the warm worker to go after sync_max_idle_time")
    idle = time.time() - t_idle
    print(f"\nautoscaler: sync actor's warm worker stopped after {idle:.1f} s idle "
          f"(sync_max_idle_time {SYNC_IDLE} s)")
    assert idle >= SYNC_IDLE - 1


def test_long_command_queue_defers_scale_up():
    # max_cmd_length 1, and a spawner that is paused (SIGSTOP) while another
    # actor's worker requests pile up in its command queue (commands no
    # spawner has taken yet): the autoscaler waits; once the spawner catches
    # up it adds workers again.
    with PrivateStack("acmd", workers_autoscale_interval=1, workers_autoscale_idle_grace=300,
                      spawner_max_cmd_length=1) as s:
        c = s.client
        aid = s.register("abaco/samples-sleep", max_workers=3)["id"]
        c.wait_actor_status(aid, {"READY"})
        wait_for(lambda: up(s, aid), timeout=30, what="a worker")
        s.spawner.send_signal(signal.SIGSTOP)
        try:
            # Another actor's worker requests pile up: the paused spawner
            # holds at most its prefetch (4) of them, the rest stay queued.
            other = s.register("abaco/samples-echo")["id"]
            c.ok("POST", f"/actors/{other}/workers", json={"num": 8})
            deferred0 = metric(s, "abaco_autoscaler_scale_up_deferred_total")
            for _ in range(5):
                c.send(aid, "2")
            time.sleep(3)
            assert len(live(s, aid)) == 1, live(s, aid)
            assert metric(s, "abaco_autoscaler_scale_up_deferred_total") >= deferred0 + 2
        finally:
            s.spawner.send_signal(signal.SIGCONT)
        wait_for(lambda: len(up(s, aid)) >= 2, timeout=30, what="a second worker")
