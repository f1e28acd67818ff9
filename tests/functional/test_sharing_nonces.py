"""docs/auth.md/§3 nonces: creation rules, the record shown, ?x-nonce=
authenticating as the owner for one actor or alias up to the nonce's
level, exactly max_uses uses even under 50 concurrent requests, and
nonces going away with their actor or alias."""
import concurrent.futures

import pytest
import requests

from authkit import DENIED, IMAGE, JwtApi, KeyPair, error, register, unique
from authkit import actor, admin, api, other, owner  # noqa: F401 (fixtures)

USER_PREFIX = "n"


def make(c, aid, **body):
    return c.ok("POST", f"/actors/{aid}/nonces", json=body)


def use(api, method, path, nonce, **kw):
    return requests.request(method, api.base + path, params={"x-nonce": nonce}, timeout=30,
                            **kw)


def test_nonce_record(api, owner, actor):
    n = make(owner, actor["id"], description="for the test")
    assert set(n) == {"id", "owner", "roles", "level", "max_uses", "current_uses",
                      "remaining_uses", "actor_id", "create_time", "last_use_time",
                      "description", "api_server", "_links"}
    assert n["api_server"] == api.base
    assert n["id"].startswith("DEV-DEVELOP_")
    assert n["owner"] == owner.name and n["actor_id"] == actor["id"]
    assert n["level"] == "EXECUTE" and n["max_uses"] == -1 and n["remaining_uses"] == -1
    assert n["current_uses"] == 0 and n["last_use_time"] == "None"
    assert n["description"] == "for the test"
    assert "Internal/abaco-user" in n["roles"]
    assert n["_links"]["self"].endswith(f"/actors/v2/{actor['id']}/nonces/{n['id']}")
    assert owner.ok("GET", f"/actors/{actor['id']}/nonces/{n['id']}")["id"] == n["id"]
    assert n["id"] in [x["id"] for x in owner.ok("GET", f"/actors/{actor['id']}/nonces")]


@pytest.mark.parametrize("body,field", [({"max_uses": 0}, "max_uses"),
                                        ({"max_uses": -2}, "max_uses"),
                                        ({"max_uses": "many"}, "max_uses"),
                                        ({"level": "ADMIN"}, "level"),
                                        ({"level": "NONE"}, "level")])
def test_bad_nonce_bodies(owner, actor, body, field):
    assert field in error(owner.post(f"/actors/{actor['id']}/nonces", json=body), 400)


def test_unknown_nonce_is_400(owner, actor, admin):
    aid = actor["id"]
    for nid in ("DEV-DEVELOP_nope", "nope", "OTHER_abc"):
        error(owner.get(f"/actors/{aid}/nonces/{nid}"), 400, "Nonce not found.")
        error(owner.delete(f"/actors/{aid}/nonces/{nid}"), 400, "Nonce not found.")
    # a nonce of another actor is not found under this one
    b = register(owner)
    try:
        n = make(owner, b["id"])
        error(owner.get(f"/actors/{aid}/nonces/{n['id']}"), 400, "Nonce not found.")
        error(owner.delete(f"/actors/{aid}/nonces/{n['id']}"), 400, "Nonce not found.")
    finally:
        admin.delete(f"/actors/{b['id']}")


def test_nonce_authenticates_as_the_owner(api, owner, actor):
    aid = actor["id"]
    n = make(owner, aid)
    r = use(api, "GET", f"/actors/{aid}", n["id"])
    assert r.status_code == 200 and r.json()["result"]["id"] == aid
    r = use(api, "POST", f"/actors/{aid}/messages", n["id"], data={"message": "by nonce"})
    assert r.status_code == 200, r.text
    eid = r.json()["result"]["execution_id"]
    assert owner.ok("GET", f"/actors/{aid}/executions/{eid}")["executor"] == owner.name
    # and the message environment does not get the nonce
    n2 = owner.ok("GET", f"/actors/{aid}/nonces/{n['id']}")
    assert n2["current_uses"] == 2 and n2["last_use_time"] != "None"


def test_nonce_level_is_enforced(api, owner, actor):
    aid = actor["id"]
    read = make(owner, aid, level="READ")
    assert use(api, "GET", f"/actors/{aid}", read["id"]).status_code == 200
    r = use(api, "POST", f"/actors/{aid}/messages", read["id"], data={"message": "x"})
    assert error(r, 400).startswith("Not authorized")
    ex = make(owner, aid)
    r = use(api, "PUT", f"/actors/{aid}", ex["id"], json={"image": IMAGE})
    assert error(r, 400).startswith("Not authorized")
    upd = make(owner, aid, level="UPDATE")
    r = use(api, "PUT", f"/actors/{aid}", upd["id"], json={"image": IMAGE, "description": "n"})
    assert r.status_code == 200, r.text


def test_nonce_reaches_only_its_actor(api, owner, actor, admin):
    aid = actor["id"]
    n = make(owner, aid, level="UPDATE")
    b = register(owner)
    try:
        r = use(api, "GET", f"/actors/{b['id']}", n["id"])
        assert error(r, 400).startswith("Not authorized")
    finally:
        admin.delete(f"/actors/{b['id']}")
    for method, path in [("GET", "/actors"), ("POST", "/actors"), ("GET", "/actors/aliases"),
                         ("GET", "/actors/configs"), ("GET", f"/actors/{aid}/nonces"),
                         ("POST", f"/actors/{aid}/nonces"),
                         ("GET", f"/actors/{aid}/permissions"),
                         ("POST", f"/actors/{aid}/permissions")]:
        r = use(api, method, path, n["id"], json={"image": IMAGE, "user": "x", "level": "UPDATE"})
        assert error(r, 400).startswith("Not authorized"), (method, path)


def test_max_uses(api, owner, actor):
    aid = actor["id"]
    n = make(owner, aid, max_uses=3, level="READ")
    assert n["remaining_uses"] == 3
    for _ in range(3):
        assert use(api, "GET", f"/actors/{aid}", n["id"]).status_code == 200
    r = use(api, "GET", f"/actors/{aid}", n["id"])
    assert "no remaining uses" in error(r, 400)
    n = owner.ok("GET", f"/actors/{aid}/nonces/{n['id']}")
    assert n["current_uses"] == 3 and n["remaining_uses"] == 0


def test_denied_request_does_not_use_the_nonce(api, owner, actor):
    aid = actor["id"]
    n = make(owner, aid, max_uses=1, level="READ")
    error(use(api, "DELETE", f"/actors/{aid}/messages", n["id"]), 400)
    assert use(api, "GET", f"/actors/{aid}", n["id"]).status_code == 200


def test_fifty_concurrent_uses_of_ten(api, owner, actor):
    aid = actor["id"]
    n = make(owner, aid, max_uses=10, level="READ")
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(lambda _: use(api, "GET", f"/actors/{aid}", n["id"]).status_code,
                              range(50)))
    assert codes.count(200) == 10, codes
    assert codes.count(400) == 40, codes
    n = owner.ok("GET", f"/actors/{aid}/nonces/{n['id']}")
    assert n["current_uses"] == 10 and n["remaining_uses"] == 0


def test_deleted_or_unknown_nonce_is_401(api, owner, actor):
    aid = actor["id"]
    n = make(owner, aid)
    owner.ok("DELETE", f"/actors/{aid}/nonces/{n['id']}")
    assert use(api, "GET", f"/actors/{aid}", n["id"]).status_code == 401
    for bad in ("", "x", "DEV-DEVELOP_", "DEV-DEVELOP_nope", "_abc", "a_b_c", "DEV-DEVELOP_a b",
                "x" * 500):
        assert use(api, "GET", f"/actors/{aid}", bad).status_code == 401, bad


def test_jwt_wins_over_a_nonce(api, owner, actor):
    aid = actor["id"]
    n = make(owner, aid)
    stranger = api.client(unique("s"))
    r = stranger.get(f"/actors/{aid}", params={"x-nonce": n["id"]})
    error(r, 400, DENIED)


def test_nonces_go_with_the_actor(api, owner):
    a = register(owner)
    n = make(owner, a["id"])
    owner.ok("DELETE", f"/actors/{a['id']}")
    assert use(api, "GET", f"/actors/{a['id']}", n["id"]).status_code == 401


def test_nonce_of_another_tenant(api, owner, actor):
    other = api.client(unique("o"), tenant="NONCETENANT")
    b = register(other)
    try:
        n = make(other, b["id"], level="UPDATE")
        assert n["id"].startswith("NONCETENANT_")
        # the nonce works in its own tenant only: DEV-DEVELOP's actor is not there
        error(use(api, "GET", f"/actors/{actor['id']}", n["id"]), 404)
        assert use(api, "GET", f"/actors/{b['id']}", n["id"]).status_code == 200
        # and DEV-DEVELOP's users cannot see the nonce under their actor
        error(owner.get(f"/actors/{actor['id']}/nonces/{n['id']}"), 400, "Nonce not found.")
    finally:
        other.delete(f"/actors/{b['id']}")


def test_nonces_refused_when_accept_nonce_is_off():
    key = KeyPair()
    a = JwtApi(key, web_accept_nonce="false")
    try:
        c = a.client(unique("o"))
        act = register(c)
        n = make(c, act["id"])
        r = use(a, "GET", f"/actors/{act['id']}", n["id"])
        assert r.status_code == 401
        c.delete(f"/actors/{act['id']}")
    finally:
        a.stop()


# ---- alias nonces ----

@pytest.fixture
def alias(owner, actor):
    name = unique("al")
    owner.ok("POST", "/actors/aliases", json={"alias": name, "actor_id": actor["id"]})
    return name


def test_alias_nonce(api, owner, actor, alias):
    r = owner.post(f"/actors/aliases/{alias}/nonces", json={"level": "READ"})
    assert r.status_code == 200 and r.json()["message"] == "Alias nonce created successfully."
    n = r.json()["result"]
    assert n["actor_id"] == actor["id"] and n["alias"] == alias
    assert n["api_server"] == api.base
    assert n["_links"]["self"].endswith(f"/actors/v2/aliases/{alias}/nonces/{n['id']}")
    assert use(api, "GET", f"/actors/{alias}", n["id"]).status_code == 200
    # made for the alias: not valid through the actor id
    assert error(use(api, "GET", f"/actors/{actor['id']}", n["id"]), 400).startswith(
        "Not authorized")
    assert owner.ok("GET", f"/actors/aliases/{alias}/nonces/{n['id']}")["id"] == n["id"]
    assert [x["id"] for x in owner.ok("GET", f"/actors/aliases/{alias}/nonces")] == [n["id"]]
    # the alias' nonces are not the actor's
    error(owner.get(f"/actors/{actor['id']}/nonces/{n['id']}"), 400, "Nonce not found.")
    owner.ok("DELETE", f"/actors/aliases/{alias}/nonces/{n['id']}")
    error(owner.get(f"/actors/aliases/{alias}/nonces/{n['id']}"), 400, "Nonce not found.")


def test_actor_nonce_through_an_alias(api, owner, actor, alias):
    n = make(owner, actor["id"], level="READ")
    assert use(api, "GET", f"/actors/{alias}", n["id"]).status_code == 200


def test_alias_nonces_need_both_alias_and_actor(owner, other, actor, alias):
    denied = "Not authorized -- you do not have access to this alias and actor."
    error(other.get(f"/actors/aliases/{alias}/nonces"), 400, denied)
    # UPDATE on the actor only
    owner.ok("POST", f"/actors/{actor['id']}/permissions",
             json={"user": other.name, "level": "UPDATE"})
    error(other.get(f"/actors/aliases/{alias}/nonces"), 400, denied)
    # UPDATE on the alias only
    owner.ok("POST", f"/actors/{actor['id']}/permissions", json={"user": other.name, "level": "NONE"})
    owner.ok("POST", f"/actors/aliases/{alias}/permissions",
             json={"user": other.name, "level": "UPDATE"})
    error(other.post(f"/actors/aliases/{alias}/nonces", json={}), 400, denied)
    error(other.get(f"/actors/aliases/nosuchalias{alias}/nonces"), 404)
    # both
    owner.ok("POST", f"/actors/{actor['id']}/permissions",
             json={"user": other.name, "level": "UPDATE"})
    assert other.ok("POST", f"/actors/aliases/{alias}/nonces", json={})["owner"] == other.name


def test_alias_nonces_go_with_the_alias(api, owner, actor, alias):
    n = owner.ok("POST", f"/actors/aliases/{alias}/nonces", json={"level": "READ"})
    owner.ok("DELETE", f"/actors/aliases/{alias}")
    assert use(api, "GET", f"/actors/{actor['id']}", n["id"]).status_code == 401
