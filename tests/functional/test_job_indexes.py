"""The indexes of the api's periodic jobs (libactor model.h): the
autoscaler's set of actors with workers (abaco:autoscale:active) and the
cron tick's sorted set of cron actors by next run (abaco:cron:due). They
are kept as actors and workers are written, and rebuilt at api start, so a
stack upgraded from a release without them (the keys absent) works."""
import calendar
import time

from conftest import ApiProcess, redis_cmd, wait_for

ACTIVE = "abaco:autoscale:active"
CRON = "abaco:cron:due"


def db_id_of(aid):
    ids = [m for m in redis_cmd("SMEMBERS", "abaco:actors") if m.endswith("_" + aid)]
    assert len(ids) == 1, ids
    return ids[0]


def test_indexes_kept_and_rebuilt_at_start(client, actor_cleanup):
    year = time.gmtime().tm_year + 1  # a run far enough ahead that no tick fires it
    a = client.register("abaco/samples-echo", cron_schedule=f"{year}-09-6 5 + 3 months",
                        cron_on=True)
    actor_cleanup.append(a["id"])
    db_id = db_id_of(a["id"])
    # kept: a registered actor has a worker (init_count) and its cron run
    assert a["cron_next_ex"] == f"{year}-09-06 05", a
    due = calendar.timegm((year, 9, 6, 5, 0, 0)) * 1000
    assert int(float(redis_cmd("ZSCORE", CRON, db_id))) == due
    wait_for(lambda: redis_cmd("SISMEMBER", ACTIVE, db_id) == 1, timeout=10,
             what="the actor in the autoscaler's index")
    # an upgraded stack: both indexes gone; an api start rebuilds them
    redis_cmd("DEL", ACTIVE, CRON)
    api = ApiProcess(workers_autoscaling="false")
    try:
        assert redis_cmd("SISMEMBER", ACTIVE, db_id) == 1
        assert int(float(redis_cmd("ZSCORE", CRON, db_id))) == due
        # cron off: out of the cron index
        c = api.client()
        c.ok("PUT", f"/actors/{a['id']}", json={"image": "abaco/samples-echo",
                                                 "cron_schedule": f"{year}-09-6 5 + 3 months",
                                                 "cron_on": False})
        assert redis_cmd("ZSCORE", CRON, db_id) is None
    finally:
        api.stop()
