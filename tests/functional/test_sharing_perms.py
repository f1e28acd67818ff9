"""docs/auth.md permissions: NONE < READ < EXECUTE < UPDATE per actor, the
creator's UPDATE, ABACO_WORLD, the level each route needs, the exact
denial message, /actors listing only what the caller can READ, and the
/actors/{id}/permissions routes. Runs on a jwt api (authkit.JwtApi)."""
import pytest

from authkit import DENIED, IMAGE, error, register, unique
from authkit import actor, admin, api, other, owner  # noqa: F401 (fixtures)

USER_PREFIX = "p"
ACTOR_FIELDS = {"stateless": False}


def grant(c, aid, user, level):
    return c.ok("POST", f"/actors/{aid}/permissions", json={"user": user, "level": level})


def test_creator_gets_update(owner, actor):
    perms = owner.ok("GET", f"/actors/{actor['id']}/permissions")
    assert perms == {actor["owner"]: "UPDATE"}


def test_stranger_is_denied_everywhere(other, actor):
    aid = actor["id"]
    for method, path, kw in [
            ("GET", f"/actors/{aid}", {}),
            ("PUT", f"/actors/{aid}", {"json": {"image": IMAGE}}),
            ("DELETE", f"/actors/{aid}", {}),
            ("GET", f"/actors/{aid}/state", {}),
            ("POST", f"/actors/{aid}/state", {"json": {"x": 1}}),
            ("GET", f"/actors/{aid}/messages", {}),
            ("POST", f"/actors/{aid}/messages", {"data": {"message": "hi"}}),
            ("DELETE", f"/actors/{aid}/messages", {}),
            ("GET", f"/actors/{aid}/executions", {}),
            ("POST", f"/actors/{aid}/executions", {"json": {"runtime": 1, "cpu": 1, "io": 1}}),
            ("GET", f"/actors/{aid}/executions/nope", {}),
            ("DELETE", f"/actors/{aid}/executions/nope", {}),
            ("GET", f"/actors/{aid}/executions/nope/logs", {}),
            ("GET", f"/actors/{aid}/executions/nope/results", {}),
            ("GET", f"/actors/{aid}/workers", {}),
            ("GET", f"/actors/{aid}/workers/nope", {}),
            ("DELETE", f"/actors/{aid}/workers/nope", {}),
            ("GET", f"/actors/{aid}/permissions", {}),
            ("POST", f"/actors/{aid}/permissions", {"json": {"user": other.name, "level": "UPDATE"}}),
            ("GET", f"/actors/{aid}/nonces", {}),
            ("POST", f"/actors/{aid}/nonces", {"json": {}}),
            ("GET", f"/actors/{aid}/nonces/DEV-DEVELOP_x", {}),
            ("DELETE", f"/actors/{aid}/nonces/DEV-DEVELOP_x", {})]:
        error(other.request(method, path, **kw), 400, DENIED)
    assert aid not in [a["id"] for a in other.ok("GET", "/actors")]


# (method, path suffix, kw, level needed)
ROUTES = [
    ("GET", "", {}, "READ"),
    ("GET", "/state", {}, "READ"),
    ("GET", "/messages", {}, "READ"),
    ("GET", "/executions", {}, "READ"),
    ("GET", "/executions/nope", {}, "READ"),
    ("GET", "/executions/nope/logs", {}, "READ"),
    ("GET", "/workers", {}, "READ"),
    ("GET", "/workers/nope", {}, "READ"),
    ("GET", "/permissions", {}, "READ"),
    ("POST", "/messages", {"data": {"message": "hi"}}, "EXECUTE"),
    ("PUT", "", {"json": {"image": IMAGE}}, "UPDATE"),
    ("POST", "/state", {"json": {"x": 1}}, "UPDATE"),
    ("DELETE", "/messages", {}, "UPDATE"),
    ("POST", "/executions", {"json": {"runtime": 1, "cpu": 1, "io": 1}}, "UPDATE"),
    ("DELETE", "/executions/nope", {}, "UPDATE"),
    ("DELETE", "/workers/nope", {}, "UPDATE"),
    ("GET", "/nonces", {}, "UPDATE"),
    ("GET", "/nonces/DEV-DEVELOP_x", {}, "UPDATE"),
    ("DELETE", "/nonces/DEV-DEVELOP_x", {}, "UPDATE"),
]
ORDER = ["NONE", "READ", "EXECUTE", "UPDATE"]


@pytest.mark.parametrize("level", ["READ", "EXECUTE", "UPDATE"])
def test_each_route_needs_its_level(owner, other, actor, level):
    aid = actor["id"]
    grant(owner, aid, other.name, level)
    for method, suffix, kw, need in ROUTES:
        r = other.request(method, f"/actors/{aid}{suffix}", **kw)
        if ORDER.index(level) >= ORDER.index(need):
            assert r.status_code != 400 or r.json()["message"] != DENIED, (method, suffix, r.text)
        else:
            error(r, 400, DENIED)
    # a grant is only about that actor
    assert aid in [a["id"] for a in other.ok("GET", "/actors")]


def test_update_may_share_and_delete(owner, other, admin):
    a = register(owner)
    grant(owner, a["id"], other.name, "UPDATE")
    third = unique("third")
    assert grant(other, a["id"], third, "READ")[third] == "READ"
    other.ok("DELETE", f"/actors/{a['id']}")
    error(owner.get(f"/actors/{a['id']}"), 404)


def test_world_read(owner, api, actor):
    aid = actor["id"]
    stranger = api.client(unique("s"))
    error(stranger.get(f"/actors/{aid}"), 400, DENIED)
    grant(owner, aid, "ABACO_WORLD", "READ")
    assert stranger.ok("GET", f"/actors/{aid}")["id"] == aid
    assert aid in [a["id"] for a in stranger.ok("GET", "/actors")]
    error(stranger.post(f"/actors/{aid}/messages", data={"message": "x"}), 400, DENIED)
    error(stranger.request("PUT", f"/actors/{aid}", json={"image": IMAGE}), 400, DENIED)


def test_level_none_removes_a_grant(owner, other, actor):
    aid = actor["id"]
    grant(owner, aid, other.name, "READ")
    assert other.get(f"/actors/{aid}").status_code == 200
    perms = grant(owner, aid, other.name, "NONE")
    assert other.name not in perms
    error(other.get(f"/actors/{aid}"), 400, DENIED)


def test_lowering_a_grant(owner, other, actor):
    aid = actor["id"]
    grant(owner, aid, other.name, "UPDATE")
    grant(owner, aid, other.name, "READ")
    error(other.request("PUT", f"/actors/{aid}", json={"image": IMAGE}), 400, DENIED)


@pytest.mark.parametrize("body,field", [({"level": "READ"}, "user"),
                                        ({"user": "x"}, "level"),
                                        ({"user": "x", "level": "ADMIN"}, "level"),
                                        ({"user": "", "level": "READ"}, "user")])
def test_permission_body_is_checked(owner, actor, body, field):
    msg = error(owner.post(f"/actors/{actor['id']}/permissions", json=body), 400)
    assert field in msg


def test_permissions_as_form(owner, other, actor):
    r = owner.post(f"/actors/{actor['id']}/permissions",
                   data={"user": other.name, "level": "execute"})
    assert r.status_code == 200 and r.json()["result"][other.name] == "EXECUTE"


def test_execute_grant_sends_messages_as_the_caller(owner, other, actor):
    aid = actor["id"]
    grant(owner, aid, other.name, "EXECUTE")
    eid = other.ok("POST", f"/actors/{aid}/messages", data={"message": "hi"})["execution_id"]
    ex = owner.ok("GET", f"/actors/{aid}/executions/{eid}")
    assert ex["executor"] == other.name


def test_link_needs_execute_on_the_target(owner, other, actor, admin):
    r = other.post("/actors", json={"image": IMAGE, "link": actor["id"]})
    assert error(r, 400).startswith("Invalid link")
    grant(owner, actor["id"], other.name, "EXECUTE")
    a = register(other, link=actor["id"])
    admin.delete(f"/actors/{a['id']}")


def test_admin_holds_update_on_every_actor(admin, actor):
    aid = actor["id"]
    assert admin.ok("GET", f"/actors/{aid}/permissions")
    admin.ok("PUT", f"/actors/{aid}", json={"image": IMAGE, "description": "x"})


def test_only_admins_add_workers(owner, admin, actor):
    """UPDATE is not enough: Abaco's own message."""
    error(owner.post(f"/actors/{actor['id']}/workers", json={"num": 1}), 400,
          "Not authorized -- only admins are authorized to update workers.")
    assert admin.ok("POST", f"/actors/{actor['id']}/workers", json={"num": 1}) is None


def test_permissions_go_with_the_actor(owner, admin, api):
    from authkit import redis
    a = register(owner)
    db_id = f"DEV-DEVELOP_{a['id']}"
    assert redis("EXISTS", f"abaco:perms:actor:{db_id}").strip() == "1"
    owner.ok("DELETE", f"/actors/{a['id']}")
    assert redis("EXISTS", f"abaco:perms:actor:{db_id}").strip() == "0"


def test_same_user_in_another_tenant_is_a_stranger(api, owner, actor):
    name = actor["owner"]
    twin = api.client(name, tenant="OTHERTENANT")
    error(twin.get(f"/actors/{actor['id']}"), 404)
    assert actor["id"] not in [a["id"] for a in twin.ok("GET", "/actors")]
    error(twin.post(f"/actors/{actor['id']}/permissions",
                    json={"user": name, "level": "UPDATE"}), 404)
