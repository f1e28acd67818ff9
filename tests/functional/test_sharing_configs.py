"""docs/api.md "Routes" configs: the fields and their checks, UPDATE on every listed
actor (ids or aliases), secrets encrypted at rest and never shown, the
per-actor index the worker reads, config permissions, and tenancy."""
import json

import pytest

from authkit import (ADMIN, DENIED, JwtApi, KeyPair, error, redis, redis_dump, register,
                     unique)
from authkit import actor, admin, api, other, owner  # noqa: F401 (fixtures)

DENIED_CONFIG = "Not authorized -- you do not have access to this config."
SECRET = "s3cr3t-value-that-must-never-leak"
USER_PREFIX = "c"


@pytest.fixture
def configs(owner, admin):
    names = []
    yield names
    for n in names:
        admin.delete(f"/actors/configs/{n}")


def make(c, configs, actors, value="v", secret=False, name=None):
    name = name or unique("cfg")
    configs.append(name)
    return c.ok("POST", "/actors/configs", json={"name": name, "value": value,
                                                 "is_secret": secret, "actors": actors})


def test_create_get_list_update_delete(owner, actor, configs):
    c = make(owner, configs, actor["id"], value={"k": [1, 2]})
    name = c["name"]
    assert c["value"] == {"k": [1, 2]} and c["is_secret"] is False
    assert c["actors"] == actor["id"] and c["owner"] == owner.name
    assert c["_links"]["self"].endswith(f"/actors/v2/configs/{name}")
    assert owner.ok("GET", f"/actors/configs/{name}")["value"] == {"k": [1, 2]}
    assert name in [x["name"] for x in owner.ok("GET", "/actors/configs")]
    assert owner.ok("GET", f"/actors/configs/{name}/permissions") == {owner.name: "UPDATE"}
    u = owner.ok("PUT", f"/actors/configs/{name}",
                 json={"value": "new", "is_secret": False, "actors": actor["id"]})
    assert u["value"] == "new" and u["create_time"] == c["create_time"]
    owner.ok("DELETE", f"/actors/configs/{name}")
    error(owner.get(f"/actors/configs/{name}"), 404, f"Config {name} not found.")
    assert name not in [x["name"] for x in owner.ok("GET", "/actors/configs")]


@pytest.mark.parametrize("body,field", [
    ({"value": "v", "is_secret": False}, "name"),
    ({"name": "x y", "value": "v", "is_secret": False}, "name"),
    ({"name": "ok", "value": "v"}, "is_secret"),
    ({"name": "ok", "value": "v", "is_secret": "maybe"}, "is_secret"),
    ({"name": "ok", "is_secret": False}, "value"),
])
def test_config_body_is_checked(owner, body, field):
    assert field in error(owner.post("/actors/configs", json=body), 400)


def test_duplicate_config(owner, actor, configs):
    c = make(owner, configs, actor["id"])
    error(owner.post("/actors/configs", json={"name": c["name"], "value": 1, "is_secret": False,
                                              "actors": actor["id"]}), 400,
          f"Config {c['name']} already exists.")


def test_listed_actors_must_exist_and_be_updatable(owner, other, actor, configs):
    r = owner.post("/actors/configs", json={"name": unique("c"), "value": 1, "is_secret": False,
                                            "actors": f"{actor['id']},nosuchactor9"})
    error(r, 404, "Actor with identifier 'nosuchactor9' not found")
    r = other.post("/actors/configs", json={"name": unique("c"), "value": 1, "is_secret": False,
                                            "actors": actor["id"]})
    error(r, 400, DENIED)
    owner.ok("POST", f"/actors/{actor['id']}/permissions",
             json={"user": other.name, "level": "EXECUTE"})
    error(other.post("/actors/configs", json={"name": unique("c"), "value": 1,
                                              "is_secret": False, "actors": actor["id"]}),
          400, DENIED)
    owner.ok("POST", f"/actors/{actor['id']}/permissions",
             json={"user": other.name, "level": "UPDATE"})
    assert make(other, configs, actor["id"])["owner"] == other.name


def test_aliases_in_the_actor_list_and_the_index(owner, actor, configs, admin):
    alias = unique("ca")
    owner.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": actor["id"]})
    b = register(owner)
    try:
        c = make(owner, configs, f"{alias}, {b['id']}")
        cid = f"DEV-DEVELOP_{c['name']}"
        for aid in (actor["id"], b["id"]):
            members = redis("SMEMBERS", f"abaco:actor_configs:DEV-DEVELOP_{aid}").split()
            assert cid in members
        # moving the config off b updates the index
        owner.ok("PUT", f"/actors/configs/{c['name']}",
                 json={"value": 2, "is_secret": False, "actors": alias})
        assert cid not in redis("SMEMBERS", f"abaco:actor_configs:DEV-DEVELOP_{b['id']}").split()
    finally:
        admin.delete(f"/actors/{b['id']}")
    assert redis("EXISTS", f"abaco:actor_configs:DEV-DEVELOP_{b['id']}").strip() == "0"


def test_secret_is_never_in_clear(owner, actor, configs):
    c = make(owner, configs, actor["id"], value=SECRET, secret=True)
    assert c["is_secret"] is True and SECRET not in json.dumps(c)
    name = c["name"]
    for path in (f"/actors/configs/{name}", "/actors/configs"):
        r = owner.get(path)
        assert r.status_code == 200 and SECRET not in r.text
    stored = redis("HGET", f"abaco:config:DEV-DEVELOP_{name}", "value").strip()
    assert stored.startswith('"v1:') and SECRET not in stored
    assert SECRET not in redis_dump("abaco:*")
    r = owner.request("PUT", f"/actors/configs/{name}",
                      json={"value": {"pw": SECRET}, "is_secret": True, "actors": actor["id"]})
    assert r.status_code == 200 and SECRET not in r.text
    assert SECRET not in redis_dump("abaco:config*")


def test_secret_needs_an_encryption_key():
    a = JwtApi(KeyPair(), web_encryption_key="")
    try:
        c = a.client(unique("o"))
        act = register(c)
        r = c.post("/actors/configs", json={"name": unique("s"), "value": SECRET,
                                            "is_secret": True, "actors": act["id"]})
        assert "encryption_key" in error(r, 400)
        c.delete(f"/actors/{act['id']}")
    finally:
        a.stop()


def test_config_permissions(owner, other, actor, configs):
    c = make(owner, configs, actor["id"])
    name = c["name"]
    error(other.get(f"/actors/configs/{name}"), 400, DENIED_CONFIG)
    assert name not in [x["name"] for x in other.ok("GET", "/actors/configs")]
    owner.ok("POST", f"/actors/configs/{name}/permissions", json={"user": other.name, "level": "READ"})
    assert other.ok("GET", f"/actors/configs/{name}")["name"] == name
    assert other.ok("GET", f"/actors/configs/{name}/permissions")[other.name] == "READ"
    error(other.request("PUT", f"/actors/configs/{name}",
                        json={"value": 1, "is_secret": False, "actors": ""}), 400, DENIED_CONFIG)
    error(other.delete(f"/actors/configs/{name}"), 400, DENIED_CONFIG)
    error(other.post(f"/actors/configs/{name}/permissions",
                     json={"user": other.name, "level": "UPDATE"}), 400, DENIED_CONFIG)
    # UPDATE on the config still needs UPDATE on each listed actor
    owner.ok("POST", f"/actors/configs/{name}/permissions",
             json={"user": other.name, "level": "UPDATE"})
    error(other.request("PUT", f"/actors/configs/{name}",
                        json={"value": 1, "is_secret": False, "actors": actor["id"]}), 400, DENIED)
    assert other.ok("PUT", f"/actors/configs/{name}",
                    json={"value": 1, "is_secret": False, "actors": ""})["value"] == 1


def test_configs_are_per_tenant(api, owner, actor, configs):
    c = make(owner, configs, actor["id"])
    foreign = api.client(unique("f"), (ADMIN,), tenant="CONFIGTENANT")
    error(foreign.get(f"/actors/configs/{c['name']}"), 404)
    error(foreign.delete(f"/actors/configs/{c['name']}"), 404)
    assert c["name"] not in [x["name"] for x in foreign.ok("GET", "/actors/configs")]
    error(foreign.post("/actors/configs", json={"name": unique("c"), "value": 1,
                                                "is_secret": False, "actors": actor["id"]}), 404)
    # the same name is free in the other tenant
    foreign.ok("POST", "/actors/configs", json={"name": c["name"], "value": 2,
                                                "is_secret": False, "actors": ""})
    foreign.ok("DELETE", f"/actors/configs/{c['name']}")
    assert owner.ok("GET", f"/actors/configs/{c['name']}")["value"] == "v"
