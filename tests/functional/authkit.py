"""Helpers of the identity and sharing tests (API.md §2): an RSA key pair
made per test module, tokens as WSO2 API Manager makes them, the forged
tokens a verifier must refuse, and a second api process run with
access_control = jwt on the same stores (conftest.ApiProcess).

Import what a module needs: `from authkit import JwtApi, KeyPair, ...`,
and so the fixtures at the end (api, admin, owner, other, actor).
"""
import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import ApiProcess, Client

TENANT = "DEV-DEVELOP"
ADMIN = "Internal/abaco-admin"
PRIVILEGED = "Internal/abaco-privileged"
USER = "Internal/abaco-user"
LIMITED = "Internal/abaco-limited"
CLAIM_USER = "http://wso2.org/claims/enduser"
CLAIM_ROLE = "http://wso2.org/claims/role"
IMAGE = "abaco/samples-echo"
DENIED = "Not authorized -- you do not have access to this actor."
DENIED_ALIAS = "Not authorized -- you do not have access to this alias."
MISSING_ROLE = "Not authorized -- missing required role."


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wso2_roles(user, n, role):
    """n roles as WSO2 lists a user's application subscriptions, `role`
    (an abaco role) in the middle."""
    roles = [f"Internal/DEV_STAGING_{user}_client-{1496345350 + i}_PRODUCTION" for i in range(n)]
    roles[n // 2] = role
    return roles


class KeyPair:
    def __init__(self, priv=None):
        """A new RSA-2048 pair, or the pair of an existing private key."""
        self.priv = priv or rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def pub_der_b64(self):
        der = self.priv.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def pub_pem(self):
        return self.priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, user, roles=(USER,), exp_in=3600, tenant_claim=None, claims=None,
              headers=None):
        body = {CLAIM_USER: f"{user}@carbon.super", CLAIM_ROLE: ",".join(roles),
                "iss": "wso2.org/products/am"}
        if exp_in is not None:
            body["exp"] = int(time.time()) + exp_in
        if tenant_claim:
            body["tenant"] = tenant_claim
        body.update(claims or {})
        return jwt.encode(body, self.priv, algorithm="RS256", headers=headers)

    def wso2_token(self, user, roles, exp_ms, alg="RS256", tenant_claim=None):
        """A token exactly as WSO2 API Manager writes it: each part in the
        standard base64 alphabet with '=' padding, an x5t header, its
        claims (enduser user@carbon.super), exp in milliseconds."""
        der = base64.b64decode(self.pub_der_b64())
        x5t = base64.b64encode(hashlib.sha1(der).hexdigest().encode()).decode()
        head = {"typ": "JWT", "alg": alg, "x5t": x5t}
        body = {"iss": "wso2.org/products/am", "exp": exp_ms,
                "http://wso2.org/claims/subscriber": f"DEV_STAGING/{user}",
                "http://wso2.org/claims/applicationid": "236",
                "http://wso2.org/claims/applicationname": "test",
                "http://wso2.org/claims/applicationtier": "Unlimited",
                "http://wso2.org/claims/apicontext": "/actors/v2",
                "http://wso2.org/claims/version": "v2",
                "http://wso2.org/claims/tier": "Unlimited",
                "http://wso2.org/claims/keytype": "PRODUCTION",
                "http://wso2.org/claims/usertype": "APPLICATION",
                CLAIM_USER: f"{user}@carbon.super",
                "http://wso2.org/claims/enduserTenantId": "-1234",
                "http://wso2.org/claims/emailaddress": f"{user}@test.com",
                CLAIM_ROLE: ",".join(roles)}
        if tenant_claim:
            body["tenant"] = tenant_claim
        signed = (base64.b64encode(json.dumps(head, separators=(",", ":")).encode()) + b"." +
                  base64.b64encode(json.dumps(body, separators=(",", ":")).encode()))
        sig = self.priv.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return (signed + b"." + base64.b64encode(sig)).decode()


def claims_for(user, roles=(USER,)):
    return {CLAIM_USER: user, CLAIM_ROLE: ",".join(roles), "exp": int(time.time()) + 3600}


def alg_none_token(claims):
    return (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." +
            b64url(json.dumps(claims).encode()) + ".")


def hs256_token(secret, claims):
    """HS256 signed with `secret` (the algorithm-confusion attack when the
    secret is the server's public key text)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


class JwtClient(Client):
    """A Client that sends one JWT on every request."""

    def __init__(self, base, token, tenant=TENANT, bearer=False):
        super().__init__(base)
        if bearer:
            self.session.headers["Authorization"] = f"Bearer {token}"
        else:
            self.session.headers[f"X-Jwt-Assertion-{tenant}"] = token


class JwtApi:
    """A second api with access_control = jwt verifying tokens of `key`."""

    def __init__(self, key, **overrides):
        env = dict(web_access_control="jwt", web_apim_public_key=key.pub_der_b64(),
                   workers_init_count="0", workers_autoscaling="false",
                   web_encryption_key="functional-test-encryption-key",
                   spawner_host_queues="default,special")
        env.update(overrides)
        self.key = key
        self.proc = ApiProcess(**env)
        self.base = self.proc.base

    def client(self, user, roles=(USER,), tenant=TENANT, key=None, bearer=False, **kw):
        k = key or self.key
        if bearer:
            return JwtClient(self.base, k.token(user, roles, **kw), bearer=True)
        return JwtClient(self.base, k.token(user, roles, **kw), tenant=tenant)

    def anonymous(self):
        return Client(self.base)

    def stop(self):
        self.proc.stop()


def unique(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def register(c, **fields):
    fields.setdefault("name", unique("t-"))
    return c.ok("POST", "/actors", json=dict(image=IMAGE, **fields))


def error(r, status, message=None):
    """Checks an error response and returns its message."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "error" and body["result"] is None, body
    if message is not None:
        assert body["message"] == message, body
    return body["message"]


def redis(*args):
    """One redis-cli command against the stack's Redis; its raw output."""
    import os
    import subprocess
    import urllib.parse
    url = urllib.parse.urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    cmd = ["redis-cli", "--raw", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 6379)]
    if url.password:
        cmd += ["-a", url.password, "--no-auth-warning"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=10,
                          check=True).stdout


def redis_dump(pattern):
    """Every key matching pattern with its whole content, as one text."""
    out = []
    for key in redis("--scan", "--pattern", pattern).split():
        kind = redis("TYPE", key).strip()
        cmd = {"hash": "HGETALL", "set": "SMEMBERS", "string": "GET"}.get(kind)
        out.append(key + "\n" + (redis(cmd, key) if cmd else ""))
    return "\n".join(out)


# ---- fixtures of the sharing tests ----
# A module takes the ones it uses by name (`from authkit import api, owner`).
# Its USER_PREFIX starts the names of the users they make (to tell the
# modules' users apart in the logs); its ACTOR_FIELDS are what `actor`
# registers with besides the image and a name.

def named_client(api, name, roles=(USER,)):
    """A client of api for the user `name`, which it keeps as .name."""
    c = api.client(name, roles)
    c.name = name
    return c


def user_prefix(request):
    return getattr(request.module, "USER_PREFIX", "")


@pytest.fixture(scope="module")
def api():
    """A jwt api with a key pair of the module's own."""
    a = JwtApi(KeyPair())
    yield a
    a.stop()


@pytest.fixture
def admin(api, request):
    return named_client(api, user_prefix(request) + "admin", (ADMIN,))


@pytest.fixture
def owner(api, request):
    return named_client(api, unique(user_prefix(request) + "owner"))


@pytest.fixture
def other(api, request):
    return named_client(api, unique(user_prefix(request) + "other"))


@pytest.fixture
def actor(owner, admin, request):
    """An actor of owner's, deleted (as admin) after the test."""
    a = register(owner, **getattr(request.module, "ACTOR_FIELDS", {}))
    yield a
    admin.delete(f"/actors/{a['id']}")
