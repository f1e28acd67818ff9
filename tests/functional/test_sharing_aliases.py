"""docs/api.md "Routes" aliases: naming rules, uniqueness per tenant (also under
concurrent creation), UPDATE on the actor to name it, the alias' own
permissions, {id} resolving aliases on every actor route, and aliases
going away with their actor."""
import concurrent.futures

import pytest

from authkit import ADMIN, DENIED, DENIED_ALIAS, IMAGE, error, redis, register, unique
from authkit import actor, admin, api, other, owner  # noqa: F401 (fixtures)

USER_PREFIX = "a"
ACTOR_FIELDS = {"stateless": False}


def make(c, alias, aid):
    return c.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": aid})


def test_create_get_list(owner, actor):
    name = unique("my.alias-")
    a = make(owner, name, actor["id"])
    assert a["alias"] == name and a["actor_id"] == actor["id"] and a["owner"] == owner.name
    assert a["_links"]["self"].endswith(f"/actors/v2/aliases/{name}")
    assert a["_links"]["actor"].endswith(f"/actors/v2/{actor['id']}")
    assert owner.ok("GET", f"/actors/aliases/{name}")["actor_id"] == actor["id"]
    assert name in [x["alias"] for x in owner.ok("GET", "/actors/aliases")]
    assert owner.ok("GET", f"/actors/aliases/{name}/permissions") == {owner.name: "UPDATE"}


def test_duplicate_alias(owner, actor, other):
    name = unique("dup")
    make(owner, name, actor["id"])
    error(owner.post("/actors/aliases", json={"alias": name, "actor_id": actor["id"]}), 400,
          f"Alias {name} already exists.")
    b = register(other)
    try:
        error(other.post("/actors/aliases", json={"alias": name, "actor_id": b["id"]}), 400,
              f"Alias {name} already exists.")
    finally:
        other.delete(f"/actors/{b['id']}")


def test_concurrent_creation_has_one_winner(owner, actor):
    name = unique("race")
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(lambda _: owner.post("/actors/aliases", json={
            "alias": name, "actor_id": actor["id"]}).status_code, range(10)))
    assert codes.count(200) == 1 and codes.count(400) == 9, codes


@pytest.mark.parametrize("bad", ["executions", "nonces", "logs", "messages", "adapters", "admin",
                                 "a b", "a/b", "a?b", "a#b", "a%b", "a:b", "a@b", "\u00e9t\u00e9",
                                 "..", ".", "a" * 200])
def test_bad_alias_names(owner, actor, bad):
    msg = error(owner.post("/actors/aliases", json={"alias": bad, "actor_id": actor["id"]}), 400)
    assert msg.startswith("Invalid alias"), msg


def test_hashid_like_names_are_refused(owner, actor):
    msg = error(owner.post("/actors/aliases", json={"alias": actor["id"], "actor_id": actor["id"]}),
                400)
    assert "hashid" in msg


def test_alias_needs_fields_and_a_real_actor(owner, actor):
    assert "alias" in error(owner.post("/actors/aliases", json={"actor_id": actor["id"]}), 400)
    assert "actor_id" in error(owner.post("/actors/aliases", json={"alias": unique("a")}), 400)
    error(owner.post("/actors/aliases", json={"alias": unique("a"), "actor_id": "nosuchactor1"}),
          404, "Actor with identifier 'nosuchactor1' not found")


def test_naming_needs_update_on_the_actor(owner, other, actor):
    """Abaco's own denial when creating: it names the actor."""
    name = unique("n")
    denied = f"Not authorized -- you do not have access to {actor['id']}."
    error(other.post("/actors/aliases", json={"alias": name, "actor_id": actor["id"]}), 400,
          denied)
    owner.ok("POST", f"/actors/{actor['id']}/permissions", json={"user": other.name, "level": "EXECUTE"})
    error(other.post("/actors/aliases", json={"alias": name, "actor_id": actor["id"]}), 400,
          denied)
    owner.ok("POST", f"/actors/{actor['id']}/permissions", json={"user": other.name, "level": "UPDATE"})
    made = other.post("/actors/aliases", json={"alias": name, "actor_id": actor["id"]})
    assert made.json()["message"] == "Actor alias created successfully.", made.text
    assert made.json()["result"]["owner"] == other.name


def test_moving_needs_update_on_the_new_actor(owner, other, actor, admin):
    """Abaco's own denial when updating: UPDATE on the alias, and on the
    actor it is to name."""
    name, mine = unique("mvd"), register(other)
    try:
        make(other, name, mine["id"])
        owner.ok("POST", f"/actors/{actor['id']}/permissions",
                 json={"user": other.name, "level": "READ"})
        error(other.request("PUT", f"/actors/aliases/{name}", json={"actor_id": actor["id"]}),
              400, "Not authorized -- you do not have UPDATE access to the actor you want to "
                   "associate with this alias.")
        owner.ok("POST", f"/actors/{actor['id']}/permissions",
                 json={"user": other.name, "level": "UPDATE"})
        r = other.request("PUT", f"/actors/aliases/{name}", json={"actor_id": actor["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["message"] == "Actor alias updated successfully."
        assert r.json()["result"]["actor_id"] == actor["id"]
        r = other.delete(f"/actors/aliases/{name}")
        assert r.json()["message"] == f"Alias {name} deleted successfully.", r.text
    finally:
        admin.delete(f"/actors/{mine['id']}")


def test_id_resolves_aliases_everywhere(owner, actor):
    name = unique("res")
    make(owner, name, actor["id"])
    aid = actor["id"]
    assert owner.ok("GET", f"/actors/{name}")["id"] == aid
    assert owner.ok("GET", f"/actors/{name}/state")["state"] == {}
    owner.ok("POST", f"/actors/{name}/state", json={"via": "alias"})
    assert owner.ok("GET", f"/actors/{aid}/state")["state"] == {"via": "alias"}
    assert "messages" in owner.ok("GET", f"/actors/{name}/messages")
    owner.ok("POST", f"/actors/{name}/executions", json={"runtime": 1, "cpu": 2, "io": 3})
    assert owner.ok("GET", f"/actors/{name}/executions")["total_executions"] == 1
    assert owner.ok("GET", f"/actors/{name}/executions")["actor_id"] == aid
    assert isinstance(owner.ok("GET", f"/actors/{name}/workers"), list)
    assert owner.ok("GET", f"/actors/{name}/permissions") == {owner.name: "UPDATE"}
    owner.ok("PUT", f"/actors/{name}", json={"image": IMAGE, "description": "via alias"})
    assert owner.ok("GET", f"/actors/{aid}")["description"] == "via alias"
    n = owner.ok("POST", f"/actors/{name}/nonces", json={})
    assert n["actor_id"] == aid


def test_alias_as_link(owner, actor, admin):
    name = unique("lnk")
    make(owner, name, actor["id"])
    b = register(owner, link=name)
    try:
        assert b["link"] == name
    finally:
        admin.delete(f"/actors/{b['id']}")


def test_alias_permissions(owner, other, actor):
    name = unique("ap")
    make(owner, name, actor["id"])
    error(other.get(f"/actors/aliases/{name}"), 400, DENIED_ALIAS)
    error(other.get(f"/actors/aliases/{name}/permissions"), 400, DENIED_ALIAS)
    assert name not in [x["alias"] for x in other.ok("GET", "/actors/aliases")]
    owner.ok("POST", f"/actors/aliases/{name}/permissions", json={"user": other.name, "level": "READ"})
    assert other.ok("GET", f"/actors/aliases/{name}")["alias"] == name
    assert name in [x["alias"] for x in other.ok("GET", "/actors/aliases")]
    error(other.request("PUT", f"/actors/aliases/{name}", json={"actor_id": actor["id"]}), 400,
          DENIED_ALIAS)
    error(other.delete(f"/actors/aliases/{name}"), 400, DENIED_ALIAS)
    error(other.post(f"/actors/aliases/{name}/permissions",
                     json={"user": other.name, "level": "UPDATE"}), 400, DENIED_ALIAS)
    # READ on the alias is not READ on the actor
    error(other.get(f"/actors/{name}"), 400, DENIED)


def test_put_moves_the_alias(owner, actor, admin):
    name = unique("mv")
    make(owner, name, actor["id"])
    b = register(owner)
    try:
        a = owner.ok("PUT", f"/actors/aliases/{name}", json={"actor_id": b["id"]})
        assert a["actor_id"] == b["id"]
        assert owner.ok("GET", f"/actors/{name}")["id"] == b["id"]
        error(owner.request("PUT", f"/actors/aliases/{name}", json={"actor_id": "nosuch1"}), 404)
    finally:
        admin.delete(f"/actors/{b['id']}")
    # the alias went with b
    error(owner.get(f"/actors/aliases/{name}"), 404)


def test_delete_alias(owner, actor):
    name = unique("del")
    make(owner, name, actor["id"])
    owner.ok("DELETE", f"/actors/aliases/{name}")
    error(owner.get(f"/actors/{name}"), 404, f"Actor with identifier '{name}' not found")
    error(owner.get(f"/actors/aliases/{name}"), 404)
    error(owner.delete(f"/actors/aliases/{name}"), 404)
    assert owner.ok("GET", f"/actors/{actor['id']}")["id"] == actor["id"]
    make(owner, name, actor["id"])  # the name is free again


def test_aliases_go_with_the_actor(owner):
    a = register(owner)
    name = unique("gone")
    make(owner, name, a["id"])
    owner.ok("DELETE", f"/actors/{a['id']}")
    error(owner.get(f"/actors/aliases/{name}"), 404)
    assert redis("SISMEMBER", "abaco:aliases", f"DEV-DEVELOP_{name}").strip() == "0"
    assert redis("EXISTS", f"abaco:perms:alias:DEV-DEVELOP_{name}").strip() == "0"


def test_aliases_are_per_tenant(api, owner, actor):
    name = unique("ten")
    make(owner, name, actor["id"])
    foreign = api.client(unique("f"), (ADMIN,), tenant="ALIASTENANT")
    error(foreign.get(f"/actors/{name}"), 404)
    error(foreign.get(f"/actors/aliases/{name}"), 404)
    assert name not in [x["alias"] for x in foreign.ok("GET", "/actors/aliases")]
    # the same name is free in the other tenant, and cannot name a foreign actor
    error(foreign.post("/actors/aliases", json={"alias": name, "actor_id": actor["id"]}), 404)
    b = register(foreign)
    try:
        assert make(foreign, name, b["id"])["actor_id"] == b["id"]
        assert foreign.ok("GET", f"/actors/{name}")["id"] == b["id"]
        assert owner.ok("GET", f"/actors/{name}")["id"] == actor["id"]
    finally:
        foreign.delete(f"/actors/{b['id']}")
