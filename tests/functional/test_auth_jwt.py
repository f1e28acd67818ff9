"""API.md §2 identity: access_control = jwt on a second api process.
Every way a token can be wrong is a 401 with a message (never a crash),
roles decide what a caller may set and reach, and access_control = none
keeps the anonymous behaviour (the rest of the suite runs against it)."""
import base64
import json
import time

import pytest
import requests

from authkit import (ADMIN, CLAIM_ROLE, CLAIM_USER, IMAGE, LIMITED, MISSING_ROLE, PRIVILEGED,
                     TENANT, USER, JwtApi, JwtClient, KeyPair, alg_none_token, b64url,
                     claims_for, error, hs256_token, register, unique)
from conftest import ApiProcess


@pytest.fixture(scope="module")
def key():
    return KeyPair()


@pytest.fixture(scope="module")
def other_key():
    return KeyPair()


@pytest.fixture(scope="module")
def tenant_key():
    return KeyPair()


@pytest.fixture(scope="module")
def api(key, tenant_key):
    a = JwtApi(key, **{"web_tenantb_apim_public_key": tenant_key.pub_der_b64()})
    yield a
    a.stop()


@pytest.fixture
def admin(api):
    return api.client("admin1", (ADMIN,))


@pytest.fixture
def made(admin):
    """Actor ids to delete after the test (as admin)."""
    ids = []
    yield ids
    for aid in ids:
        admin.delete(f"/actors/{aid}")


def raw_get(api, headers, path="/actors"):
    return requests.get(api.base + path, headers=headers, timeout=30)


def assert_401(r, part="Invalid JWT"):
    assert r.status_code == 401, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "error" and body["result"] is None
    assert part in body["message"], body
    return body["message"]


def hdr(token, tenant=TENANT):
    return {f"X-Jwt-Assertion-{tenant}": token}


# ---- valid tokens ----

def test_valid_assertion_is_accepted(api):
    c = api.client("alice")
    r = c.get("/actors")
    assert r.status_code == 200, r.text


def test_header_name_is_case_insensitive_and_tenant_upper_cased(api, made):
    tok = api.key.token("alice")
    r = raw_get(api, {"x-jwt-assertion-dev-develop": tok})
    assert r.status_code == 200, r.text
    c = JwtClient(api.base, tok, tenant="dev-develop")
    a = register(c)
    made.append(a["id"])
    assert a["owner"] == "alice"
    # the same actor is visible under the upper-case tenant
    assert api.client("alice").ok("GET", f"/actors/{a['id']}")["id"] == a["id"]


def test_username_is_cut_at_the_first_at(api, made):
    c = JwtClient(api.base, api.key.token("bob.smith"))
    a = register(c)
    made.append(a["id"])
    assert a["owner"] == "bob.smith"


def test_bearer_token_uses_tenant_name(api, made):
    c = api.client("carol", bearer=True)
    a = register(c)
    made.append(a["id"])
    assert a["owner"] == "carol"
    # the actor lives in [web] tenant_name: an assertion for that tenant sees it
    assert api.client("carol").ok("GET", f"/actors/{a['id']}")["id"] == a["id"]


def test_bearer_token_tenant_claim(api, made):
    c = api.client("dave", bearer=True, tenant_claim="TENANTC")
    a = register(c)
    made_c = api.client("admin1", (ADMIN,), tenant="TENANTC")
    try:
        # in TENANTC, not in DEV-DEVELOP
        assert made_c.ok("GET", f"/actors/{a['id']}")["owner"] == "dave"
        error(api.client("dave").get(f"/actors/{a['id']}"), 404)
    finally:
        made_c.delete(f"/actors/{a['id']}")


def test_exp_in_milliseconds_is_accepted(api):
    tok = api.key.token("erin", exp_in=None, claims={"exp": int(time.time() * 1000) + 3600_000})
    assert raw_get(api, hdr(tok)).status_code == 200


def test_token_without_exp_is_accepted(api):
    tok = api.key.token("erin", exp_in=None)
    assert raw_get(api, hdr(tok)).status_code == 200


# ---- refused tokens: 401 with a message, and the api lives on ----

def test_no_credentials_is_401(api):
    msg = assert_401(api.anonymous().get("/actors"), "No JWT")
    assert "X-Jwt-Assertion" in msg


def test_expired_token_is_401(api):
    assert_401(raw_get(api, hdr(api.key.token("frank", exp_in=-10))))


def test_expired_token_in_milliseconds_is_401(api):
    tok = api.key.token("frank", exp_in=None, claims={"exp": int(time.time() * 1000) - 10_000})
    assert_401(raw_get(api, hdr(tok)))


def test_alg_none_is_401(api):
    assert_401(raw_get(api, hdr(alg_none_token(claims_for("mallory", (ADMIN,))))))


def test_alg_none_with_a_signature_is_401(api):
    tok = alg_none_token(claims_for("mallory", (ADMIN,))) + b64url(b"x" * 256)
    assert_401(raw_get(api, hdr(tok)))


@pytest.mark.parametrize("form", ["pem", "der_b64", "der"])
def test_hs256_signed_with_the_public_key_is_401(api, key, form):
    secret = {"pem": key.pub_pem(), "der_b64": key.pub_der_b64().encode(),
              "der": base64.b64decode(key.pub_der_b64())}[form]
    tok = hs256_token(secret, claims_for("mallory", (ADMIN,)))
    assert_401(raw_get(api, hdr(tok)))


def test_token_of_another_key_is_401(api, other_key):
    assert_401(raw_get(api, hdr(other_key.token("mallory", (ADMIN,)))))


def test_changed_claims_break_the_signature(api, key):
    head, body, sig = key.token("mallory", (USER,)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims[CLAIM_ROLE] = ADMIN
    forged = f"{head}.{b64url(json.dumps(claims).encode())}.{sig}"
    assert_401(raw_get(api, hdr(forged)))


@pytest.mark.parametrize("tok", [
    "", "abc", "a.b", "a.b.c", "...", "a.b.c.d", "%%%.%%%.%%%",
    b64url(b"{") + "." + b64url(b"{") + "." + b64url(b"x"),
    b64url(b'"str"') + "." + b64url(b"[]") + ".x",
    b64url(json.dumps({"alg": "RS256"}).encode()) + "." + b64url(b"not json") + ".sig",
    b64url(json.dumps({"alg": "RS256", "crit": ["x"]}).encode()) + ".e30.c2ln",
    "x" * 20000,
    "\u00e9\u00e9.\u00e9.\u00e9",
])
def test_malformed_tokens_are_401(api, tok):
    r = requests.get(api.base + "/actors", headers=hdr(tok.encode("utf-8")), timeout=30)
    assert_401(r, "")
    assert api.client("alice").get("/actors").status_code == 200


def test_truncated_tokens_are_401(api, key):
    tok = key.token("alice")
    for cut in (1, 10, len(tok) // 2, len(tok) - 5):
        assert_401(raw_get(api, hdr(tok[:cut])), "")
    assert_401(raw_get(api, hdr(tok + "A")), "")


def test_bad_authorization_header_is_401(api):
    assert_401(raw_get(api, {"Authorization": "Basic dXNlcjpwdw=="}), "Authorization")
    assert_401(raw_get(api, {"Authorization": "Bearer not-a-jwt"}))


def test_tenant_claim_must_match_the_header(api, key):
    tok = key.token("alice", tenant_claim="OTHER")
    assert_401(raw_get(api, hdr(tok)))


def test_bad_tenant_name_in_header_is_refused(api, key):
    tok = key.token("alice")
    r = raw_get(api, {"X-Jwt-Assertion-DEV_DEVELOP": tok})
    assert r.status_code == 401, r.text


# ---- per-tenant keys ----

def test_tenant_key_overrides_the_global_key(api, tenant_key, key, made):
    tb = api.client("tina", (ADMIN,), tenant="TENANTB", key=tenant_key)
    a = register(tb)
    try:
        assert tb.ok("GET", f"/actors/{a['id']}")["owner"] == "tina"
        # the global key no longer vouches for TENANTB ...
        assert_401(raw_get(api, hdr(key.token("tina", (ADMIN,)), "TENANTB")))
        # ... and TENANTB's key does not vouch for other tenants
        assert_401(raw_get(api, hdr(tenant_key.token("tina", (ADMIN,)))))
        assert_401(raw_get(api, {"Authorization": "Bearer " + tenant_key.token("tina", (ADMIN,))}))
        # a Bearer token naming TENANTB is checked with TENANTB's key
        bearer = {"Authorization": "Bearer " + tenant_key.token("tina", (ADMIN,),
                                                                tenant_claim="TENANTB")}
        assert raw_get(api, bearer, f"/actors/{a['id']}").status_code == 200
    finally:
        tb.delete(f"/actors/{a['id']}")


def test_bad_public_key_is_a_start_up_error():
    with pytest.raises(AssertionError) as e:
        ApiProcess(web_access_control="jwt", web_apim_public_key="bm90IGEga2V5")
    assert "apim_public_key" in str(e.value)


def test_bad_tenant_key_is_a_start_up_error(tmp_path, key):
    # a per-tenant key in the file is checked at start-up too
    import conftest
    conf = tmp_path / "abaco.conf"
    text = open(conftest.CONF).read().replace(
        "[web]\n", "[web]\nbroken_apim_public_key = bm90IGEga2V5\n", 1)
    conf.write_text(text)
    old = conftest.CONF
    conftest.CONF = str(conf)
    try:
        with pytest.raises(AssertionError) as e:
            ApiProcess(web_access_control="jwt", web_apim_public_key=key.pub_der_b64())
    finally:
        conftest.CONF = old
    assert "broken_apim_public_key" in str(e.value)


# ---- roles ----

def test_no_abaco_role_is_400(api):
    c = api.client("nobody", ("Internal/everyone", "Application/other"))
    error(c.get("/actors"), 400, MISSING_ROLE)
    error(api.client("nobody", ()).get("/actors"), 400, MISSING_ROLE)


def test_roles_are_exact(api):
    error(api.client("x", ("internal/abaco-user",)).get("/actors"), 400, MISSING_ROLE)
    error(api.client("x", ("Internal/abaco-user2",)).get("/actors"), 400, MISSING_ROLE)


@pytest.mark.parametrize("roles", [(USER,), (LIMITED,), (PRIVILEGED,), (ADMIN,),
                                   ("Internal/everyone", USER)])
def test_each_role_may_use_the_api(api, made, roles):
    c = api.client(unique("r"), roles)
    a = register(c)
    made.append(a["id"])
    assert c.ok("GET", f"/actors/{a['id']}")["id"] == a["id"]


PRIVILEGED_FIELDS = [("privileged", True), ("max_workers", 3), ("max_cpus", 1000000000),
                     ("mem_limit", "1g"), ("queue", "special")]


@pytest.mark.parametrize("field,value", PRIVILEGED_FIELDS)
@pytest.mark.parametrize("roles", [(USER,), (LIMITED,)])
def test_privileged_fields_are_refused_to_ordinary_users(api, made, field, value, roles):
    c = api.client(unique("p"), roles)
    r = c.post("/actors", json={"image": IMAGE, field: value})
    msg = error(r, 400)
    assert msg.startswith("Not authorized"), msg
    assert field in msg
    # and on update
    a = register(c)
    made.append(a["id"])
    r = c.request("PUT", f"/actors/{a['id']}", json={"image": IMAGE, field: value})
    assert error(r, 400).startswith("Not authorized")


@pytest.mark.parametrize("roles", [(PRIVILEGED,), (ADMIN,)])
def test_privileged_fields_are_allowed_to_privileged_and_admin(api, made, roles):
    c = api.client(unique("p"), roles)
    a = register(c, privileged=True, max_workers=3, max_cpus=1000000000, mem_limit="1g")
    made.append(a["id"])
    assert a["privileged"] is True and a["max_workers"] == 3


def test_workers_post_is_admin_only(api, made):
    owner = api.client(unique("o"), (PRIVILEGED,))
    a = register(owner)
    made.append(a["id"])
    r = owner.post(f"/actors/{a['id']}/workers", json={"num": 1})
    assert error(r, 400).startswith("Not authorized")


def test_admin_sees_every_actor_of_the_tenant(api, admin, made):
    c = api.client(unique("o"))
    a = register(c)
    made.append(a["id"])
    assert admin.ok("GET", f"/actors/{a['id']}")["id"] == a["id"]
    assert a["id"] in [x["id"] for x in admin.ok("GET", "/actors")]
    assert admin.ok("PUT", f"/actors/{a['id']}", json={"image": IMAGE, "description": "by admin"})


def test_options_needs_no_credentials(api):
    r = requests.options(api.base + "/actors", timeout=10)
    assert r.status_code == 200


def test_api_survives_a_burst_of_garbage(api, key):
    good = key.token("alice")
    bad = [alg_none_token(claims_for("m", (ADMIN,))), "a.b.c", good[:-3], "x" * 17000,
           hs256_token(key.pub_pem(), claims_for("m", (ADMIN,)))]
    for i in range(100):
        r = raw_get(api, hdr(bad[i % len(bad)]))
        assert r.status_code == 401
    assert raw_get(api, hdr(good)).status_code == 200
    assert api.proc.proc.poll() is None
