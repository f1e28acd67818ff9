"""docs/auth.md identity: access_control = jwt on a second api process.
Every way a token can be wrong is a 401 with a message (never a crash),
roles decide what a caller may set and reach, and access_control = none
keeps the anonymous behaviour (the rest of the suite runs against it).
Tokens exactly as WSO2 API Manager writes them (standard base64 with
padding, 100 roles, exp in milliseconds) pass, and tenant names with '_'
(Abaco ships tenant_name: dev_staging) work end to end and stay apart
from their prefixes (docs/auth.md)."""
import base64
import json
import time

import pytest
import requests

from authkit import (ADMIN, CLAIM_ROLE, CLAIM_USER, IMAGE, LIMITED, MISSING_ROLE, PRIVILEGED,
                     TENANT, USER, JwtApi, JwtClient, KeyPair, alg_none_token, b64url,
                     claims_for, error, hs256_token, register, unique, wso2_roles)
from conftest import API, ApiProcess, Client


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


def test_past_exp_in_milliseconds_reads_as_seconds(api):
    # RFC 7519 seconds: WSO2's millisecond exp is far in the future, even
    # when it is past (docs/auth.md; [web] jwt_exp_milliseconds changes it)
    tok = api.key.token("frank", exp_in=None, claims={"exp": int(time.time() * 1000) - 10_000})
    assert raw_get(api, hdr(tok)).status_code == 200


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
    for name in ("DEV*DEVELOP", "DEV!X", "T" * 64):
        r = raw_get(api, {f"X-Jwt-Assertion-{name}": tok})
        assert_401(r, "not a valid tenant name")


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


# ---- WSO2 API Manager's tokens, tenants with '_' ----

STAGING = "DEV_STAGING"


def ms_from_now(seconds):
    return int((time.time() + seconds) * 1000)


def test_wso2_token_through_the_api(api, key, made):
    tok = key.wso2_token("wso2user", wso2_roles("wso2user", 100, USER), ms_from_now(3600))
    head, body, sig = tok.split(".")
    assert set(tok) & set("+/") and sig.endswith("=")  # the shape under test
    assert len(json.loads(base64.b64decode(body))[CLAIM_ROLE].split(",")) == 100
    c = JwtClient(api.base, tok, tenant=STAGING)
    a = register(c)
    made_here = JwtClient(api.base, key.token("admin1", (ADMIN,)), tenant=STAGING)
    try:
        assert a["owner"] == "wso2user"
        assert c.ok("GET", f"/actors/{a['id']}")["id"] == a["id"]
        # an actor of DEV_STAGING, not of DEV-DEVELOP
        error(api.client("wso2user").get(f"/actors/{a['id']}"), 404)
        # WSO2's name of the algorithm, and an administrator's 69 roles (about
        # 4 KB: twice what a 2 KB role buffer held)
        admin = key.wso2_token("wso2adm", wso2_roles("wso2adm", 69, ADMIN), ms_from_now(3600),
                               alg="SHA256withRSA")
        assert len(json.loads(base64.b64decode(admin.split(".")[1]))[CLAIM_ROLE]) > 3900
        assert raw_get(api, hdr(admin, STAGING), f"/actors/{a['id']}").status_code == 200
        # a past millisecond exp still reads as the far future by default
        old = key.wso2_token("wso2user", wso2_roles("wso2user", 100, USER), ms_from_now(-3600))
        assert raw_get(api, hdr(old, STAGING)).status_code == 200
        # a role slipped into the payload breaks the signature
        claims = json.loads(base64.b64decode(body))
        claims[CLAIM_ROLE] = ADMIN
        forged = f"{head}.{base64.b64encode(json.dumps(claims).encode()).decode()}.{sig}"
        assert_401(raw_get(api, hdr(forged, STAGING)), "signature")
    finally:
        made_here.delete(f"/actors/{a['id']}")


def test_jwt_exp_milliseconds_setting(key):
    a = JwtApi(key, web_jwt_exp_milliseconds="true")
    try:
        roles = wso2_roles("msuser", 100, USER)
        assert raw_get(a, hdr(key.wso2_token("msuser", roles, ms_from_now(3600)),
                              STAGING)).status_code == 200
        msg = assert_401(raw_get(a, hdr(key.wso2_token("msuser", roles, ms_from_now(-60)),
                                        STAGING)))
        assert "expired" in msg
        # under this setting an exp in seconds is in January 1970
        assert "expired" in assert_401(raw_get(a, hdr(key.token("msuser"))))
    finally:
        a.stop()
    with pytest.raises(AssertionError) as e:
        JwtApi(key, web_jwt_exp_milliseconds="sometimes")
    assert "jwt_exp_milliseconds" in str(e.value)


@pytest.fixture(scope="module")
def staging(key):
    """A jwt api whose [web] tenant_name is Abaco's shipped dev_staging."""
    a = JwtApi(key, web_tenant_name="dev_staging")
    yield a
    a.stop()


def test_tenant_name_with_underscore(staging, key):
    # a Bearer token without a tenant claim lands in [web] tenant_name
    bearer = JwtClient(staging.base, key.token("stan"), bearer=True)
    a = register(bearer)
    try:
        for tenant in ("DEV_STAGING", "dev_staging", "Dev_Staging"):
            c = JwtClient(staging.base, key.token("stan"), tenant=tenant)
            assert c.ok("GET", f"/actors/{a['id']}")["owner"] == "stan"
        error(JwtClient(staging.base, key.token("stan"), tenant="DEV").get(
            f"/actors/{a['id']}"), 404)
    finally:
        bearer.delete(f"/actors/{a['id']}")


def test_underscore_tenants_stay_apart(staging, key):
    """DEV_STAGING's ids start with "DEV_": tenant DEV must not reach them,
    by listing, by id, or by an alias or config name that spells the
    rest ("STAGING_<name>")."""
    owner = JwtClient(staging.base, key.token(unique("st")), tenant=STAGING)
    dev = JwtClient(staging.base, key.token("devadmin", (ADMIN,)), tenant="DEV")
    a = register(owner)
    alias, cfg = unique("al_"), unique("cf_")
    try:
        owner.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": a["id"]})
        owner.ok("POST", "/actors/configs", json={"name": cfg, "value": "v", "is_secret": False,
                                                  "actors": a["id"]})
        nonce = owner.ok("POST", f"/actors/{a['id']}/nonces", json={"level": "READ"})["id"]
        assert nonce.startswith("DEV_STAGING_")
        # the nonce (split at its last '_') works on its own
        r = requests.get(f"{staging.base}/actors/{a['id']}", params={"x-nonce": nonce},
                         timeout=30)
        assert r.status_code == 200, r.text
        assert owner.ok("GET", f"/actors/{a['id']}/nonces/{nonce}")["id"] == nonce
        # tenant DEV sees none of it
        assert a["id"] not in [x["id"] for x in dev.ok("GET", "/actors")]
        assert alias not in [x["alias"] for x in dev.ok("GET", "/actors/aliases")]
        assert cfg not in [x["name"] for x in dev.ok("GET", "/actors/configs")]
        error(dev.get(f"/actors/{a['id']}"), 404)
        error(dev.get(f"/actors/aliases/STAGING_{alias}"), 404)
        error(dev.get(f"/actors/STAGING_{alias}"), 404)
        error(dev.get(f"/actors/configs/STAGING_{cfg}"), 404)
        error(dev.delete(f"/actors/aliases/STAGING_{alias}"), 404)
        # the shared id cannot be taken over either
        mine = register(dev)
        r = dev.post("/actors/aliases", json={"alias": f"STAGING_{alias}", "actor_id": mine["id"]})
        error(r, 400)
        dev.delete(f"/actors/{mine['id']}")
        assert owner.ok("GET", f"/actors/aliases/{alias}")["actor_id"] == a["id"]
        assert owner.ok("GET", f"/actors/{alias}")["id"] == a["id"]
    finally:
        owner.delete(f"/actors/configs/{cfg}")
        owner.delete(f"/actors/{a['id']}")


def test_underscore_tenant_without_access_control():
    # the shared api runs access_control = none: the `tenant` header ...
    c = Client(API, tenant="dev_staging")
    a = c.register(IMAGE)
    try:
        assert Client(API, tenant="DEV_STAGING").ok("GET", f"/actors/{a['id']}")["id"] == a["id"]
        error(Client(API, tenant="DEV").get(f"/actors/{a['id']}"), 404)
        error(Client(API, tenant="dev staging").get("/actors"), 400)
    finally:
        c.delete(f"/actors/{a['id']}")
    # ... and [web] tenant_name when there is none
    p = ApiProcess(web_tenant_name="dev_staging")
    try:
        b = p.client().register(IMAGE)
        assert Client(API, tenant="DEV_STAGING").ok("GET", f"/actors/{b['id']}")["id"] == b["id"]
        p.client().delete(f"/actors/{b['id']}")
    finally:
        p.stop()


def test_unusable_tenant_settings_are_start_up_errors(key, other_key):
    bad = {"web_tenant_name": "dev staging",
           "WEB_BROKEN_APIM_PUBLIC_KEY": "bm90IGEga2V5",
           "web_dev*x_apim_public_key": key.pub_der_b64()}
    for name, value in bad.items():
        with pytest.raises(AssertionError) as e:
            JwtApi(key, **{name: value})
        assert name.split("_", 1)[1].lower() in str(e.value).lower(), (name, str(e.value))
    # a per-tenant key in upper case from the environment is found at start-up
    a = JwtApi(key, WEB_DEV_STAGING_APIM_PUBLIC_KEY=other_key.pub_der_b64())
    try:
        assert raw_get(a, hdr(other_key.token("kim"), STAGING)).status_code == 200
        assert_401(raw_get(a, hdr(key.token("kim"), STAGING)), "signature")
        assert raw_get(a, hdr(key.token("kim"))).status_code == 200
    finally:
        a.stop()
