"""docs/openapi.json: the api serves it, it is a valid OpenAPI 3 document,
it names exactly the routes of the router's table (router.c), it is what
scripts/openapi.py writes, and a handful of real answers match what it
documents (status codes and the schemas of their bodies)."""
import copy
import json
import os
import re
import subprocess
import sys

import requests
from openapi_schema_validator import OAS30Validator, validate as schema_validate
from openapi_spec_validator import validate as spec_validate

from conftest import API, REPO

DOC_PATH = os.path.join(REPO, "docs", "openapi.json")
ROUTER = os.path.join(REPO, "services", "api", "src", "router.c")
METHODS = ("GET", "POST", "PUT", "DELETE")


def load_doc():
    with open(DOC_PATH, encoding="utf-8") as f:
        return json.load(f)


def norm(path):
    """A path with every {parameter} written {} (the router and the
    document name them differently)."""
    return re.sub(r"\{[^/}]+\}", "{}", path)


def router_routes():
    """(METHOD, pattern) of every entry of the ROUTES table in router.c."""
    with open(ROUTER, encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"static const api_route_t ROUTES\[\] = \{(.*?)\n\};", src, re.S)
    assert m, "router.c: the ROUTES table was not found"
    table = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    entries = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,', table)
    # every non-blank line of the table is an entry: nothing was skipped
    lines = [ln for ln in table.splitlines() if ln.strip()]
    assert len(entries) == len(lines), (len(entries), len(lines))
    return entries


def test_served_without_credentials_and_valid():
    r = requests.get(API + "/docs/openapi.json", timeout=30)
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"] == "application/json"
    doc = r.json()
    spec_validate(doc)  # raises on an invalid OpenAPI 3 document
    assert doc["openapi"].startswith("3.")
    assert doc == load_doc(), "the api serves another document than docs/openapi.json: rebuild it"
    # open even when credentials are wrong: it is not authenticated at all
    r = requests.get(API + "/docs/openapi.json", timeout=30,
                     headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 200


def test_document_is_what_the_generator_writes():
    p = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "openapi.py"), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_every_route_documented_and_nothing_else():
    routes = router_routes()
    assert len(routes) > 70
    assert len(set(routes)) == len(routes), "a route is listed twice in router.c"
    in_router = {(m, norm(p)) for m, p in routes}
    doc = load_doc()
    in_doc = {(m.upper(), norm(p)) for p, ops in doc["paths"].items() for m in ops
              if m.upper() in METHODS}
    assert in_router - in_doc == set(), f"routes the document lacks: {sorted(in_router - in_doc)}"
    assert in_doc - in_router == set(), f"documented but not served: {sorted(in_doc - in_router)}"
    # every operation documents its errors and needs an envelope on JSON answers
    for p, ops in doc["paths"].items():
        for m, o in ops.items():
            assert o["responses"], (m, p)
            if "{" in p and p != "/actors/search/{type}":  # ids and names may not exist
                assert "404" in o["responses"], (m, p)


def resolve(node, doc):
    """node with every $ref replaced by its target (the document has no
    recursive schemas)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(copy.deepcopy(target), doc)
        return {k: resolve(v, doc) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, doc) for v in node]
    return node


class Spec:
    def __init__(self):
        self.doc = load_doc()

    def check(self, method, template, path, status, **kw):
        """Sends the request and checks its status is documented for the
        operation and, for JSON, that the body matches the documented
        schema. Returns the response."""
        op = self.doc["paths"][template][method.lower()]
        r = requests.request(method, API + path, timeout=30, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text[:300])
        documented = op["responses"].get(str(status))
        assert documented, f"{method} {template}: {status} is not documented"
        documented = resolve(documented, self.doc)
        ctype = r.headers["Content-Type"].split(";")[0]
        assert ctype in documented["content"], (method, template, ctype)
        if ctype == "application/json":
            schema = documented["content"][ctype]["schema"]
            schema_validate(r.json(), schema, cls=OAS30Validator)
        return r


def test_answers_match_the_document(echo_actor):
    spec = Spec()
    aid = echo_actor["id"]
    # the actor the fixture registered, read back
    body = spec.check("GET", "/actors/{actor_id}", f"/actors/{aid}", 200).json()
    assert body["result"]["id"] == aid
    spec.check("GET", "/actors", "/actors", 200)
    spec.check("GET", "/actors/{actor_id}", "/actors/no-such-actor", 404)
    spec.check("POST", "/actors", "/actors", 400, json={"name": "no image"})
    spec.check("POST", "/actors", "/actors", 413, data=b"x" * (1048576 + 1),
               headers={"Content-Type": "application/json"})
    sent = spec.check("POST", "/actors/{actor_id}/messages", f"/actors/{aid}/messages", 200,
                      data={"message": "openapi"}).json()["result"]
    spec.check("GET", "/actors/{actor_id}/messages", f"/actors/{aid}/messages", 200)
    eid = sent["execution_id"]
    spec.check("GET", "/actors/{actor_id}/executions/{execution_id}",
               f"/actors/{aid}/executions/{eid}", 200)
    spec.check("GET", "/actors/{actor_id}/executions", f"/actors/{aid}/executions", 200)
    spec.check("GET", "/actors/{actor_id}/workers", f"/actors/{aid}/workers", 200)
    spec.check("GET", "/actors/{actor_id}/permissions", f"/actors/{aid}/permissions", 200)
    spec.check("POST", "/actors/{actor_id}/nonces", f"/actors/{aid}/nonces", 200,
               json={"level": "READ", "max_uses": 2})
    spec.check("GET", "/actors/{actor_id}/state", f"/actors/{aid}/state", 404)
    spec.check("GET", "/actors/utilization", "/actors/utilization", 200)
    spec.check("GET", "/actors/search/{type}", "/actors/search/actors", 200)
    spec.check("GET", "/instances/types", "/instances/types", 200)
    spec.check("GET", "/instances/configs", "/instances/configs", 200)
    spec.check("GET", "/instances/{instance_id}", "/instances/no-such-instance", 404)
    spec.check("POST", "/instances/{instance_id}/progress", "/instances/no-such-instance/progress",
               404, json={"message": "x"})
    r = spec.check("GET", "/metrics", "/metrics", 200)
    assert "abaco_build_info" in r.text
    # a method a route does not have is the documented 405 envelope
    r = requests.request("PATCH", API + "/actors", timeout=30)
    assert r.status_code == 405
    schema_validate(r.json(), resolve({"$ref": "#/components/schemas/Error"}, spec.doc),
                    cls=OAS30Validator)
