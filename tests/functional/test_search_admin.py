"""docs/api.md "Routes" search, admin and utilization: every operator on actors
(filtered in the api) and on executions (a Mongo filter), dotted fields,
time comparison, skip/limit and the _metadata block, the internal fields
Abaco strips removed, results scoped as Abaco scopes them (the caller's
tenant, and actors on which the caller has a permission entry of their
own: administrators are not widened, ABACO_WORLD does not count, deleted
actors' executions and logs never come back); /actors/admin* for admins
only; /actors/utilization."""
import json
import time

import pytest

from authkit import ADMIN, IMAGE, MISSING_ROLE, JwtApi, KeyPair, error, register, unique
from conftest import wait_for

HIDDEN_ACTOR = {"db_id", "tenant", "api_server", "executions", "_id", "permissions"}
HIDDEN_EXEC = {"_id", "actor_dbid", "tenant", "exp", "permissions", "api_server"}
HIDDEN_WORKER = {"_id", "permissions", "tenant"}
HIDDEN_LOG = {"_id", "permissions", "tenant", "exp", "actor_dbid"}


@pytest.fixture(scope="module")
def api():
    a = JwtApi(KeyPair())
    yield a
    a.stop()


@pytest.fixture(scope="module")
def world(api):
    """Three actors of `owner` (one marked), one of `other`, accounting
    executions on them, and the time between the first and the rest."""
    tag = unique("tag")
    owner_name, other_name = unique("sowner"), unique("sother")
    owner, other = api.client(owner_name), api.client(other_name)
    admin = api.client("sadmin", (ADMIN,))
    a1 = register(owner, name=f"{tag}-alpha", description="first one",
                  default_environment={"color": "red", "n": "1"})
    time.sleep(1.1)
    t_mid = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    time.sleep(1.1)
    a2 = register(owner, name=f"{tag}-beta", description="second",
                  default_environment={"color": "blue"})
    a3 = register(owner, name=f"{tag}-gamma", description="third", stateless=False)
    b1 = register(other, name=f"{tag}-other", description="not yours")
    for i, a in enumerate([a1, a2, a3]):
        owner.ok("POST", f"/actors/{a['id']}/executions",
                 json={"runtime": 10 * (i + 1), "cpu": i, "io": 5})
    other.ok("POST", f"/actors/{b1['id']}/executions", json={"runtime": 999, "cpu": 9, "io": 9})
    w = dict(tag=tag, owner=owner, other=other, admin=admin, owner_name=owner_name,
             other_name=other_name, a1=a1, a2=a2, a3=a3, b1=b1, t_mid=t_mid)
    yield w
    for a in (a1, a2, a3, b1):
        admin.delete(f"/actors/{a['id']}")


def search(c, kind, **params):
    return c.ok("GET", f"/actors/search/{kind}", params=params)


def names(res):
    return sorted(x["name"] for x in res["search"])


def test_result_shape(world):
    res = search(world["owner"], "actors", search=world["tag"])
    assert set(res) == {"_metadata", "search"}
    assert res["_metadata"] == {"total_count": 3, "records_skipped": 0, "record_limit": 100,
                                "count_returned": 3}
    for a in res["search"]:
        assert not HIDDEN_ACTOR & set(a), a
        assert a["owner"] == world["owner_name"]


def test_only_actors_with_an_entry_of_ones_own(world):
    t = world["tag"]
    assert names(search(world["other"], "actors", search=t)) == [f"{t}-other"]
    # Abaco does not widen search for administrators: only their own entries
    admin = world["admin"]
    assert search(admin, "actors", search=t)["search"] == []
    assert admin.ok("GET", f"/actors/{world['b1']['id']}")["id"] == world["b1"]["id"]
    world["other"].ok("POST", f"/actors/{world['b1']['id']}/permissions",
                      json={"user": world["owner_name"], "level": "READ"})
    try:
        assert len(search(world["owner"], "actors", search=t)["search"]) == 4
    finally:
        world["other"].ok("POST", f"/actors/{world['b1']['id']}/permissions",
                          json={"user": world["owner_name"], "level": "NONE"})
    assert len(search(world["owner"], "actors", search=t)["search"]) == 3
    # an ABACO_WORLD grant lets the owner read b1, but is not an entry of its own
    world["other"].ok("POST", f"/actors/{world['b1']['id']}/permissions",
                      json={"user": "ABACO_WORLD", "level": "READ"})
    try:
        assert world["owner"].ok("GET", f"/actors/{world['b1']['id']}")["name"] == f"{t}-other"
        assert names(search(world["owner"], "actors", search=t)) == [
            f"{t}-alpha", f"{t}-beta", f"{t}-gamma"]
        assert search(world["owner"], "executions",
                      actor_id=world["b1"]["id"])["_metadata"]["total_count"] == 0
    finally:
        world["other"].ok("POST", f"/actors/{world['b1']['id']}/permissions",
                          json={"user": "ABACO_WORLD", "level": "NONE"})


@pytest.mark.parametrize("params,expect", [
    ({"name": "{t}-beta"}, ["beta"]),
    ({"name.eq": "{t}-beta"}, ["beta"]),
    ({"name.neq": "{t}-beta"}, ["alpha", "gamma"]),
    ({"name.like": "{t}-AL"}, ["alpha"]),
    ({"name.nlike": "ALP"}, ["beta", "gamma"]),
    ({"name.in": '["{t}-alpha", "{t}-gamma", "x"]'}, ["alpha", "gamma"]),
    ({"name.nin": '["{t}-alpha"]'}, ["beta", "gamma"]),
    ({"default_environment.color": "red"}, ["alpha"]),
    ({"default_environment.color.like": "bl"}, ["beta"]),
    ({"stateless": "false"}, ["gamma"]),
    ({"stateless.eq": "true"}, ["alpha", "beta"]),
    ({"revision.gte": "1", "revision.lt": "2"}, ["alpha", "beta", "gamma"]),
    ({"revision.gt": "1"}, []),
    ({"description.like": "ir"}, ["alpha", "gamma"]),
    ({"exactsearch": "second"}, ["beta"]),
    ({"exactsearch": "secon"}, []),
    ({"search": "THIRD"}, ["gamma"]),
])
def test_actor_operators(world, params, expect):
    t = world["tag"]
    p = {k: v.replace("{t}", t) for k, v in params.items()}
    p.setdefault("search", t)
    got = names(search(world["owner"], "actors", **p))
    assert got == [f"{t}-{x}" for x in expect], (p, got)


def test_times_compare_as_times(world):
    t, mid = world["tag"], world["t_mid"]
    assert names(search(world["owner"], "actors", search=t, **{"create_time.gt": mid})) == [
        f"{t}-beta", f"{t}-gamma"]
    assert names(search(world["owner"], "actors", search=t, **{"create_time.lt": mid})) == [
        f"{t}-alpha"]
    day = mid[:10]
    assert len(search(world["owner"], "actors", search=t,
                      **{"create_time.gte": day})["search"]) == 3
    assert len(search(world["owner"], "actors", search=t,
                      **{"create_time.between": f"2000-01-01,{mid}Z"})["search"]) == 1


def test_skip_and_limit(world):
    t = world["tag"]
    res = search(world["owner"], "actors", search=t, skip="1", limit="1")
    assert res["_metadata"] == {"total_count": 3, "records_skipped": 1, "record_limit": 1,
                                "count_returned": 1}
    assert len(res["search"]) == 1
    assert search(world["owner"], "actors", search=t, skip="5")["search"] == []
    assert search(world["owner"], "actors", search=t, limit="100000")["_metadata"][
        "record_limit"] == 1000


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"skip": "x"}, {"name.in": "notalist"},
                                    {"name.in": '[{"$gt": ""}]'}, {"name.between": "a"},
                                    {"na$me": "x"}, {"a..b": "x"}, {"$where": "1"}])
def test_bad_search_parameters(world, params):
    error(world["owner"].get("/actors/search/actors", params=params), 400)


def test_bad_search_type(world):
    assert "actors, workers, executions, logs" in error(
        world["owner"].get("/actors/search/things"), 400)


def exec_ids(res):
    return sorted(e["actor_id"] for e in res["search"])


def test_executions(world):
    """Each operator is in a query where ignoring it, or matching nothing
    with it, changes the answer. (Every query is one scan of the
    executions collection in FerretDB: few queries, many conditions.)"""
    o = world["owner"]
    a1, a2, a3 = world["a1"]["id"], world["a2"]["id"], world["a3"]["id"]
    res = search(o, "executions", **{"runtime.gt": "15", "cpu.lt": "2", "io": "5",
                                     "executor": world["owner_name"],
                                     "message_received_time.gt": "2000-01-01"})
    assert exec_ids(res) == [a2]
    e = res["search"][0]
    assert not HIDDEN_EXEC & set(e), e
    assert e["executor"] == world["owner_name"] and e["runtime"] == 20
    assert e["_links"]["self"].endswith(f"/actors/v2/{a2}/executions/{e['id']}")
    assert e["_links"]["owner"].endswith(f"/profiles/v2/{world['owner_name']}")
    assert e["_links"]["logs"].endswith(f"/actors/v2/{a2}/executions/{e['id']}/logs")
    assert res["_metadata"] == {"total_count": 1, "records_skipped": 0, "record_limit": 100,
                                "count_returned": 1}
    assert exec_ids(search(o, "executions", **{
        "runtime.gte": "20", "cpu.lte": "1", "status.neq": "ERROR",
        "executor.like": world["owner_name"][2:].upper()})) == [a2]
    assert exec_ids(search(o, "executions", **{
        "runtime.between": "10,20", "actor_id.nin": json.dumps([a1]),
        "status.nlike": "ERR", "message_received_time.lt": "2999-01-01T00:00:00Z"})) == [a2]
    assert exec_ids(search(o, "executions", **{
        "actor_id.in": json.dumps([a1, a3]), "cpu.neq": "0", "exactsearch": a3})) == [a3]
    res = search(o, "executions", search=a1[1:].lower(), limit="1", skip="0")
    assert exec_ids(res) == [a1] and res["_metadata"]["total_count"] == 1
    res = search(o, "executions", limit="2", skip="1", **{"runtime.lt": "100"})
    assert res["_metadata"] == {"total_count": 3, "records_skipped": 1, "record_limit": 2,
                                "count_returned": 2}


def test_executions_are_scoped(world, api):
    o = world["other"]
    got = search(o, "executions", **{"runtime.gte": "0"})
    assert exec_ids(got) == [world["b1"]["id"]]
    # naming the internal fields does not widen the scope
    got = search(o, "executions", tenant="DEV-DEVELOP",
                 **{"actor_dbid": f"DEV-DEVELOP_{world['a1']['id']}"})
    assert got["search"] == [] and got["_metadata"]["total_count"] == 0
    both = {"actor_id.in": json.dumps([world["a1"]["id"], world["b1"]["id"]])}
    assert exec_ids(search(o, "executions", **both)) == [world["b1"]["id"]]
    # an administrator sees what it has an entry on, like anyone
    assert search(world["admin"], "executions", **both)["search"] == []
    world["owner"].ok("POST", f"/actors/{world['a1']['id']}/permissions",
                      json={"user": "sadmin", "level": "READ"})
    try:
        assert exec_ids(search(world["admin"], "executions", **both)) == [world["a1"]["id"]]
    finally:
        world["owner"].ok("POST", f"/actors/{world['a1']['id']}/permissions",
                          json={"user": "sadmin", "level": "NONE"})
    foreign = api.client("sadmin", (ADMIN,), tenant="SEARCHTENANT")
    for kind in ("actors", "workers", "logs"):
        assert search(foreign, kind, search=world["tag"])["search"] == [], kind
    assert search(foreign, "executions", **{"actor_id.in": json.dumps(
        [world["a1"]["id"], world["b1"]["id"]])})["search"] == []


def test_workers_search(world, api):
    o = world["owner"]
    aid = register(o, name=unique("workers-"))["id"]
    try:
        o.ok("POST", f"/actors/{aid}/messages", data={"message": "a worker, please"})
        res = wait_for(lambda: search(o, "workers", actor_id=aid)["search"], what="a worker")
        for w in res:
            assert not HIDDEN_WORKER & set(w), w
            assert w["actor_id"] == aid
            assert {"id", "status", "image", "location", "cid", "ch_name", "host_id", "host_ip",
                    "create_time", "last_execution_time", "last_health_check_time"} <= set(w)
        assert search(o, "workers", id=res[0]["id"])["_metadata"]["count_returned"] == 1
        assert search(world["other"], "workers", actor_id=aid)["search"] == []
        assert search(world["admin"], "workers", actor_id=aid)["search"] == []
    finally:
        world["admin"].delete(f"/actors/{aid}")
    error(o.get("/actors/search/workers", params={"status.in": "READY"}), 400)


def test_logs_search(world):
    o = world["owner"]
    a = register(o, name=unique("logs-"))
    try:
        marker = unique("marker")
        eid = o.ok("POST", f"/actors/{a['id']}/messages", data={"message": marker})["execution_id"]
        o.wait_execution(a["id"], eid, timeout=120)
        res = search(o, "logs", search=marker)
        assert [x["execution_id"] for x in res["search"]] == [eid]
        log = res["search"][0]
        assert log["actor_id"] == a["id"] and marker in log["logs"]
        assert not HIDDEN_LOG & set(log), log
        assert log["_links"]["self"].endswith(f"/actors/v2/{a['id']}/executions/{eid}/logs")
        assert log["_links"]["execution"].endswith(f"/actors/v2/{a['id']}/executions/{eid}")
        assert log["_links"]["owner"].endswith(f"/profiles/v2/{world['owner_name']}")
        assert search(o, "logs", actor_id=a["id"])["_metadata"]["total_count"] == 1
        assert search(world["other"], "logs", search=marker)["search"] == []
        assert search(world["admin"], "logs", search=marker)["search"] == []
        # dotted fields into the container's final state, compared as times
        got = search(o, "executions", **{"id": eid, "final_state.StartedAt.gt": "2000-01-01",
                                         "final_state.FinishedAt.lt": "2999-01-01"})["search"]
        assert [e["id"] for e in got] == [eid] and got[0]["status"] == "COMPLETE"
    finally:
        world["admin"].delete(f"/actors/{a['id']}")


def test_deleted_actors_leave_search(world):
    """A deleted actor's permissions go with it: its executions and logs
    (which stay stored) never come back in a search, for anyone."""
    o = world["owner"]
    a = register(o, name=unique("gone-"))
    marker = unique("gonemark")
    eid = o.ok("POST", f"/actors/{a['id']}/messages", data={"message": marker})["execution_id"]
    o.wait_execution(a["id"], eid, timeout=120)
    assert search(o, "executions", id=eid)["_metadata"]["total_count"] == 1
    assert search(o, "logs", search=marker)["_metadata"]["total_count"] == 1
    o.ok("DELETE", f"/actors/{a['id']}")
    for c in (o, world["admin"]):
        assert search(c, "executions", id=eid)["search"] == []
        assert search(c, "executions", actor_id=a["id"])["search"] == []
        assert search(c, "logs", search=marker)["search"] == []
        assert search(c, "actors", id=a["id"])["search"] == []


# ---- admin and utilization ----

@pytest.mark.parametrize("path", ["/actors/admin", "/actors/admin/workers",
                                  "/actors/admin/executions"])
def test_admin_routes_need_the_admin_role(world, path):
    error(world["owner"].get(path), 400, MISSING_ROLE)
    assert world["admin"].get(path).status_code == 200


def test_admin_actors_and_workers(world, api):
    res = world["admin"].ok("GET", "/actors/admin")
    ids = {a["id"] for a in res}
    assert {world["a1"]["id"], world["b1"]["id"]} <= ids
    for a in res:
        assert not HIDDEN_ACTOR & set(a) and isinstance(a["workers"], list)
    assert isinstance(world["admin"].ok("GET", "/actors/admin/workers"), list)
    foreign = api.client("sadmin", (ADMIN,), tenant="ADMINTENANT")
    assert not {a["id"] for a in foreign.ok("GET", "/actors/admin")} & ids


def test_admin_executions(world, api):
    res = world["admin"].ok("GET", "/actors/admin/executions")
    per = {a["actor_id"]: a for a in res["actors"]}
    assert per[world["a2"]["id"]]["total_executions"] == 1
    assert per[world["a2"]["id"]]["total_execution_runtime"] == 20
    assert per[world["b1"]["id"]]["total_execution_cpu"] == 9
    assert res["total_executions"] >= 4 and res["total_actors"] >= 4
    foreign = api.client("sadmin", (ADMIN,), tenant="ADMINTENANT")
    assert world["a2"]["id"] not in {a["actor_id"] for a in
                                     foreign.ok("GET", "/actors/admin/executions")["actors"]}


def test_utilization(world, api):
    u = world["owner"].ok("GET", "/actors/utilization")
    assert set(u) == {"currentActors", "totalActors", "workers", "commandQueue"}
    assert u["currentActors"] >= 4 and u["totalActors"] >= u["currentActors"]
    tenant = unique("UT").upper()
    c = api.client("u", tenant=tenant)
    empty = c.ok("GET", "/actors/utilization")
    assert empty == {"currentActors": 0, "totalActors": 0, "workers": 0,
                     "commandQueue": empty["commandQueue"]}
    a = register(c)
    assert c.ok("GET", "/actors/utilization")["currentActors"] == 1
    c.ok("DELETE", f"/actors/{a['id']}")
    u = c.ok("GET", "/actors/utilization")
    assert u["currentActors"] == 0 and u["totalActors"] == 1
