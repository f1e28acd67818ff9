"""Cron (API.md §5, issue 5 "Cron") on a private api + spawner pair (see
private_stack.py) whose cron tick runs every second. The clock is shifted
with [web] cron_clock_offset (seconds added to the clock of cron schedules)
by restarting the pair's api, instead of waiting hours:

- "now + 1 hour" names the current hour as the first run: the actor gets
  "This is your cron execution" from executor "cron" at once, and
  cron_next_ex moves on by one hour;
- an hour later (clock +1 h) the next run fires and cron_next_ex moves on;
- after a long downtime (clock +10 h more) exactly one execution fires, not
  the ten missed ones, and cron_next_ex is the first hour after "now";
- with cron_on false nothing fires even when due;
- validation: Abaco's grammar (unpadded numbers, plural units) and its messages for a
  bad schedule, a start in the past and a bad unit (400s).
"""
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import wait_for
from private_stack import module_stack

CRON_MSG = "This is your cron execution"
HOUR = 3600


@pytest.fixture(scope="module")
def stack(request):
    yield from module_stack(request, "cron", web_cron_interval=1, workers_autoscaling="false")


def hour_str(dt):
    return dt.strftime("%Y-%m-%d %H")


def executions(c, aid):
    return c.ok("GET", f"/actors/{aid}/executions")["executions"]


def cron_runs(c, aid):
    """The actor's executions from executor cron (all of them are, here)."""
    runs = []
    for e in executions(c, aid):
        ex = c.ok("GET", f"/actors/{aid}/executions/{e['id']}")
        assert ex["executor"] == "cron", ex
        runs.append(ex)
    return runs


def settle(c, aid, n, seconds=3):
    """Exactly n cron executions now and still n a few ticks later."""
    wait_for(lambda: len(executions(c, aid)) >= n, timeout=30, interval=0.2,
             what=f"{n} cron execution(s)")
    time.sleep(seconds)
    runs = cron_runs(c, aid)
    assert len(runs) == n, [r["id"] for r in runs]
    return runs


def test_validation(stack):
    """Abaco's grammar and messages (the forms one by one are in
    tests/unit/test_api_cron.c)."""
    c = stack.client

    def register(schedule):
        return c.post("/actors", json={"image": "abaco/samples-echo", "queue": stack.queue,
                                       "cron_schedule": schedule, "cron_on": True})

    r = register("every hour")
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "The cron is not in the correct format"
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    r = register(f"{hour_str(past)} + 1 hour")
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(
        "The starting datetime is old. The current UTC time is "), r.text
    r = register("now + 1 fortnight")
    assert r.status_code == 400 and r.json()["message"] == "fortnight is an invalid unit of time"
    # Numbers without leading zeros, plural units: accepted, the next run
    # written with its zeros.
    later = datetime.now(timezone.utc) + timedelta(days=400)
    later = later.replace(month=9, day=6)
    actor = stack.register("abaco/samples-echo", cron_schedule=f"{later.year}-09-6 5 + 3 months",
                           cron_on=False)
    assert actor["cron_schedule"] == f"{later.year}-09-6 5 + 3 months", actor
    assert actor["cron_next_ex"] == f"{later.year}-09-06 05", actor


def test_cron_runs_once_per_due_time_and_never_in_bulk(stack):
    c = stack.client
    left = HOUR - time.time() % HOUR
    if left < 90:  # the expectations below assume the real hour does not change
        time.sleep(left + 1)
    now = datetime.now(timezone.utc)
    actor = stack.register("abaco/samples-echo", cron_schedule="now + 1 hour", cron_on=True)
    aid = actor["id"]
    assert actor["cron_next_ex"] == hour_str(now), actor

    # The current hour is the first run: it fires on the next tick.
    runs = settle(c, aid, 1)
    ex = c.wait_execution(aid, runs[0]["id"])
    assert ex["status"] == "COMPLETE" and ex["executor"] == "cron", ex
    assert f"Contents of MSG: {CRON_MSG}" in c.logs(aid, ex["id"])
    assert c.ok("GET", f"/actors/{aid}")["cron_next_ex"] == hour_str(now + timedelta(hours=1))

    # An hour later: the next run.
    stack.start_api(web_cron_clock_offset=HOUR)
    runs = settle(c := stack.client, aid, 2)
    assert c.ok("GET", f"/actors/{aid}")["cron_next_ex"] == hour_str(now + timedelta(hours=2))
    assert all(c.wait_execution(aid, r["id"])["status"] == "COMPLETE" for r in runs)

    # Ten more hours of "downtime": one execution, and the next run is the
    # first hour after the shifted now.
    stack.start_api(web_cron_clock_offset=11 * HOUR)
    runs = settle(c := stack.client, aid, 3)
    assert c.ok("GET", f"/actors/{aid}")["cron_next_ex"] == hour_str(now + timedelta(hours=12))
    ex = c.wait_execution(aid, runs[-1]["id"])
    assert f"Contents of MSG: {CRON_MSG}" in c.logs(aid, ex["id"])

    # Switched off (the same schedule keeps its cron_next_ex): due again
    # twenty hours later, but nothing fires.
    a = c.ok("PUT", f"/actors/{aid}", json={"image": "abaco/samples-echo", "queue": stack.queue,
                                             "cron_schedule": "now + 1 hour", "cron_on": False})
    assert a["cron_on"] is False and a["cron_next_ex"] == hour_str(now + timedelta(hours=12))
    stack.start_api(web_cron_clock_offset=30 * HOUR)
    time.sleep(3)
    assert len(executions(stack.client, aid)) == 3
    stack.start_api()
