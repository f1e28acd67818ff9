"""Tenancy (docs/auth.md): nothing of one tenant is visible or reachable from
another. One tenant (DEV-DEVELOP) holds an actor with state, an
execution, a worker, an alias, nonces of both, and a config; then every
route is called by callers of other tenants, each role, and the answer
must be 404 or 400 for a route naming a home object (200 for the
collections), and no answer may contain anything of the home tenant
that the caller did not put in the request itself. Finally the home
objects must be unchanged.

Foreign tenants include "DEV" and "DEV-DEVELOPX", a prefix and an
extension of the home tenant, which catch prefix comparisons of
tenant-scoped ids, and "DEV-DEVELOP_X", whose ids start with the home
tenant's id prefix "DEV-DEVELOP_" (tenant names may hold '_'). Routes that
scan the executions collection in FerretDB (seconds each) are called with
the admin role only: the admin's scope is the whole tenant, every other
role's is narrower."""
import concurrent.futures
import json

import pytest
import requests

from authkit import ADMIN, IMAGE, LIMITED, PRIVILEGED, USER, JwtClient, register, unique
from authkit import api  # noqa: F401 (a fixture)
from conftest import API, Client, wait_for

HOME = "DEV-DEVELOP"
FOREIGN = ["MATRIXOTHER", "DEV", "DEV-DEVELOPX", "DEV-DEVELOP_X"]
ROLES = {"user": (USER,), "limited": (LIMITED,), "privileged": (PRIVILEGED,), "admin": (ADMIN,)}
SCANS = {"/actors/search/executions", "/actors/admin/executions"}


@pytest.fixture(scope="module")
def home(api):
    owner_name = unique("hm")
    owner = api.client(owner_name)
    admin = api.client(unique("hmadmin"), (ADMIN,))
    h = {"owner": owner_name, "name": unique("home-name-"), "desc": unique("home-desc-"),
         "env": unique("home-env-"), "state": unique("home-state-"), "cval": unique("home-cval-")}
    a = register(owner, name=h["name"], description=h["desc"], stateless=False,
                 default_environment={"marker": h["env"]})
    h["A"] = a["id"]
    owner.ok("POST", f"/actors/{h['A']}/state", json={"marker": h["state"]})
    owner.ok("POST", f"/actors/{h['A']}/executions", json={"runtime": 7, "cpu": 7, "io": 7})
    h["E"] = owner.ok("GET", f"/actors/{h['A']}/executions")["executions"][0]["id"]
    admin.ok("POST", f"/actors/{h['A']}/workers", json={"num": 1})
    h["W"] = wait_for(lambda: [w["id"] for w in owner.ok("GET", f"/actors/{h['A']}/workers")],
                      timeout=30, what="a worker record")[0]
    h["AL"] = unique("home-alias-")
    owner.ok("POST", "/actors/aliases", json={"alias": h["AL"], "actor_id": h["A"]})
    h["N"] = owner.ok("POST", f"/actors/{h['A']}/nonces", json={"level": "UPDATE"})["id"]
    h["NA"] = owner.ok("POST", f"/actors/aliases/{h['AL']}/nonces", json={"level": "UPDATE"})["id"]
    h["C"] = unique("home-config-")
    owner.ok("POST", "/actors/configs", json={"name": h["C"], "value": h["cval"],
                                              "is_secret": False, "actors": h["A"]})
    h["client"] = owner
    h["admin"] = admin
    yield h
    admin.delete(f"/actors/configs/{h['C']}")
    admin.delete(f"/actors/{h['A']}")


def actor_routes(x):
    """Every route under /actors/{id}, with x as the id or alias."""
    return [
        ("GET", f"/actors/{x}", None), ("PUT", f"/actors/{x}", {"image": IMAGE}),
        ("GET", f"/actors/{x}/state", None), ("POST", f"/actors/{x}/state", {"m": 1}),
        ("GET", f"/actors/{x}/messages", None), ("POST", f"/actors/{x}/messages", {"message": "m"}),
        ("DELETE", f"/actors/{x}/messages", None),
        ("GET", f"/actors/{x}/executions", None),
        ("POST", f"/actors/{x}/executions", {"runtime": 1, "cpu": 1, "io": 1}),
        ("GET", f"/actors/{x}/executions/{{E}}", None),
        ("DELETE", f"/actors/{x}/executions/{{E}}", None),
        ("GET", f"/actors/{x}/executions/{{E}}/logs", None),
        ("GET", f"/actors/{x}/executions/{{E}}/results", None),
        ("GET", f"/actors/{x}/workers", None), ("POST", f"/actors/{x}/workers", {"num": 2}),
        ("GET", f"/actors/{x}/workers/{{W}}", None),
        ("DELETE", f"/actors/{x}/workers/{{W}}", None),
        ("GET", f"/actors/{x}/permissions", None),
        ("POST", f"/actors/{x}/permissions", {"user": "intruder", "level": "UPDATE"}),
        ("GET", f"/actors/{x}/nonces", None), ("POST", f"/actors/{x}/nonces", {}),
        ("GET", f"/actors/{x}/nonces/{{N}}", None),
        ("DELETE", f"/actors/{x}/nonces/{{N}}", None),
        ("DELETE", f"/actors/{x}", None),
    ]


# Routes naming a home object: the answer must be 404 or 400.
OBJECT_ROUTES = actor_routes("{A}") + actor_routes("{AL}") + [
    ("POST", "/actors", {"image": IMAGE, "link": "{A}"}),
    ("POST", "/actors", {"image": IMAGE, "link": "{AL}"}),
    ("POST", "/actors/aliases", {"alias": "intruder-{AL}", "actor_id": "{A}"}),
    ("GET", "/actors/aliases/{AL}", None),
    ("PUT", "/actors/aliases/{AL}", {"actor_id": "{A}"}),
    ("GET", "/actors/aliases/{AL}/permissions", None),
    ("POST", "/actors/aliases/{AL}/permissions", {"user": "intruder", "level": "UPDATE"}),
    ("GET", "/actors/aliases/{AL}/nonces", None),
    ("POST", "/actors/aliases/{AL}/nonces", {}),
    ("GET", "/actors/aliases/{AL}/nonces/{NA}", None),
    ("DELETE", "/actors/aliases/{AL}/nonces/{NA}", None),
    ("DELETE", "/actors/aliases/{AL}", None),
    ("POST", "/actors/configs", {"name": "intruder-{C}", "value": 1, "is_secret": False,
                                 "actors": "{A}"}),
    ("POST", "/actors/configs", {"name": "intruder2-{C}", "value": 1, "is_secret": False,
                                 "actors": "{AL}"}),
    ("GET", "/actors/configs/{C}", None),
    ("PUT", "/actors/configs/{C}", {"value": 1, "is_secret": False, "actors": ""}),
    ("GET", "/actors/configs/{C}/permissions", None),
    ("POST", "/actors/configs/{C}/permissions", {"user": "intruder", "level": "UPDATE"}),
    ("DELETE", "/actors/configs/{C}", None),
]

# Collections: answered (200, or 400 for a role that may not list them),
# but without anything of the home tenant.
COLLECTION_ROUTES = [
    ("GET", "/actors", None), ("GET", "/actors/aliases", None), ("GET", "/actors/configs", None),
    ("GET", "/actors/search/actors?search={name}", None),
    ("GET", "/actors/search/actors?id={A}", None),
    ("GET", "/actors/search/workers?id={W}", None),
    ("GET", "/actors/search/logs?execution_id={E}", None),
    ("GET", "/actors/search/executions?id={E}", None),
    ("GET", "/actors/admin", None), ("GET", "/actors/admin/workers", None),
    ("GET", "/actors/admin/executions", None), ("GET", "/actors/utilization", None),
]
SENTINELS = ["owner", "name", "desc", "env", "state", "cval", "A", "AL", "E", "W", "N", "NA", "C"]

CHECKED = []


def fill(text, h):
    for k in sorted(SENTINELS, key=len, reverse=True):
        text = text.replace("{" + k + "}", h[k])
    return text


def check(c, h, method, path, body, collection, label):
    path = fill(path, h)
    body = json.loads(fill(json.dumps(body), h)) if body is not None else None
    sent = path + json.dumps(body)
    r = c.request(method, path, json=body) if body is not None else c.request(method, path)
    if collection:
        assert r.status_code in (200, 400), (label, method, path, r.status_code, r.text)
    else:
        assert r.status_code in (400, 404), (label, method, path, r.status_code, r.text)
    for k in SENTINELS:
        if h[k] not in sent:
            assert h[k] not in r.text, (label, method, path, k, r.text)
    CHECKED.append((label, method, path))


def callers(api):
    """(label, client) of every foreign tenant x role, plus Bearer tokens
    naming a foreign tenant and the access_control = none api with a
    foreign `tenant` header."""
    out = []
    for t in FOREIGN:
        for role, roles in ROLES.items():
            out.append((f"{t}/{role}", role, api.client(unique("f"), roles, tenant=t)))
    out.append((f"{FOREIGN[0]}/bearer-admin", "admin",
                JwtClient(api.base, api.key.token(unique("f"), (ADMIN,), tenant_claim=FOREIGN[0]),
                          bearer=True)))
    for t in FOREIGN:
        out.append((f"{t}/none-mode", "admin", Client(API, tenant=t)))
    return out


def test_tenancy_matrix(api, home):
    combos = callers(api)
    routes = [(m, p, b, False) for m, p, b in OBJECT_ROUTES] + \
             [(m, p, b, True) for m, p, b in COLLECTION_ROUTES]

    def run(combo):
        label, role, c = combo
        for method, path, body, coll in routes:
            if path.split("?")[0] in SCANS and role != "admin":
                continue
            check(c, home, method, path, body, coll, label)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(run, combos))

    # nothing changed at home
    o = home["client"]
    a = o.ok("GET", f"/actors/{home['A']}")
    assert a["name"] == home["name"] and a["description"] == home["desc"]
    assert o.ok("GET", f"/actors/{home['A']}/state")["state"] == {"marker": home["state"]}
    assert o.ok("GET", f"/actors/{home['A']}/permissions") == {home["owner"]: "UPDATE"}
    assert o.ok("GET", f"/actors/aliases/{home['AL']}")["actor_id"] == home["A"]
    assert o.ok("GET", f"/actors/aliases/{home['AL']}/permissions") == {home["owner"]: "UPDATE"}
    assert o.ok("GET", f"/actors/{home['A']}/nonces/{home['N']}")["current_uses"] == 0
    assert o.ok("GET", f"/actors/aliases/{home['AL']}/nonces/{home['NA']}")["current_uses"] == 0
    assert len(o.ok("GET", f"/actors/{home['A']}/nonces")) == 1
    assert o.ok("GET", f"/actors/configs/{home['C']}")["value"] == home["cval"]
    assert o.ok("GET", f"/actors/configs/{home['C']}/permissions") == {home["owner"]: "UPDATE"}
    ex = o.ok("GET", f"/actors/{home['A']}/executions")
    assert ex["total_executions"] == 1
    assert [w["id"] for w in o.ok("GET", f"/actors/{home['A']}/workers")] == [home["W"]]

    n_scans = sum(1 for m, p, b, c in routes if p.split("?")[0] in SCANS)
    full = len(routes)
    admins = sum(1 for _, role, _ in combos if role == "admin")
    expected = full * len(combos) - n_scans * (len(combos) - admins)
    assert len(CHECKED) == expected
    tenants = {label.split("/")[0] for label, _, _ in combos}
    print(f"\ntenancy matrix: {len(routes)} routes x {len(combos)} foreign callers "
          f"({len(tenants)} tenants; roles user, limited, privileged, admin, a Bearer admin and "
          f"access_control=none) = {len(CHECKED)} checked requests")


def test_foreign_nonce_reaches_nothing_at_home(api, home):
    """A nonce of another tenant authenticates in that tenant only."""
    other = api.client(unique("fo"), tenant=FOREIGN[0])
    b = register(other)
    try:
        nid = other.ok("POST", f"/actors/{b['id']}/nonces", json={"level": "UPDATE"})["id"]
        for method, path, body in actor_routes("{A}") + actor_routes("{AL}"):
            p = fill(path, home)
            r = requests.request(method, api.base + p, params={"x-nonce": nid}, timeout=30,
                                 json=json.loads(fill(json.dumps(body), home)) if body else None)
            assert r.status_code in (400, 404), (method, p, r.text)
            for k in SENTINELS:
                if home[k] not in p + json.dumps(body):
                    assert home[k] not in r.text, (method, p, k)
        # and it was never used
        assert other.ok("GET", f"/actors/{b['id']}/nonces/{nid}")["current_uses"] == 0
    finally:
        other.delete(f"/actors/{b['id']}")
