"""docs/api.md "Conventions" conventions on every route of §3: 405 for methods a route does
not allow, OPTIONS answered everywhere without credentials, CORS on every
response (errors and raw bodies too), 500 with the envelope for what
cannot be handled, and hostile bodies that must never bring the api down."""
import pytest

from conftest import redis_cmd

ECHO = "abaco/samples-echo"
NOT_ALLOWED = ("Invalid request: the API endpoint does not exist or the provided HTTP method "
               "is not allowed.")

ROUTES = {
    "/actors": {"GET", "POST"},
    "/actors/{id}": {"GET", "PUT", "DELETE"},
    "/actors/{id}/state": {"GET", "POST"},
    "/actors/{id}/messages": {"GET", "POST", "DELETE"},
    "/actors/{id}/executions": {"GET", "POST"},
    "/actors/{id}/executions/{eid}": {"GET", "DELETE"},
    "/actors/{id}/executions/{eid}/logs": {"GET"},
    "/actors/{id}/executions/{eid}/results": {"GET"},
    "/actors/{id}/workers": {"GET", "POST"},
    "/actors/{id}/workers/{wid}": {"GET", "DELETE"},
}
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


def concrete(route, aid="someactor", eid="someexec", wid="someworker"):
    return route.replace("{id}", aid).replace("{eid}", eid).replace("{wid}", wid)


@pytest.mark.parametrize("route,method", sorted(
    (route, m) for route, allowed in ROUTES.items() for m in METHODS - allowed))
def test_method_not_allowed(client, route, method):
    r = client.request(method, concrete(route), json={"image": ECHO})
    assert r.status_code == 405, (route, method, r.text)
    assert r.json()["message"] == NOT_ALLOWED and r.json()["result"] is None
    assert r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_options_everywhere(route):
    import requests
    from conftest import API
    r = requests.options(API + concrete(route), timeout=10,
                         headers={"Access-Control-Request-Headers": "X-Custom, Content-Type"})
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    for m in ROUTES[route]:
        assert m in r.headers["Access-Control-Allow-Methods"]
    assert "X-Custom" in r.headers["Access-Control-Allow-Headers"]


def test_cors_on_errors_and_raw_bodies(client, echo_actor):
    aid = echo_actor["id"]
    for r in (client.get("/actors/nosuchactor42"),
              client.post("/actors", json={}),
              client.get(f"/actors/{aid}/executions/nosuchexec")):
        assert r.status_code in (400, 404)
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    eid = client.send(aid, "cors")["execution_id"]
    client.wait_execution(aid, eid)
    r = client.get(f"/actors/{aid}/executions/{eid}/results")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"


# ---- 500: the envelope, never a crash ----

@pytest.fixture
def damaged_actor():
    key = "abaco:actor:DEV-DEVELOP_Damaged42"
    yield key
    redis_cmd("DEL", key)


def test_damaged_record_is_500_with_envelope(client, damaged_actor):
    redis_cmd("HSET", damaged_actor, "id", '"Damaged42"')       # no db_id
    r = client.get("/actors/Damaged42")
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["status"] == "error" and body["result"] is None and body["message"]
    redis_cmd("HSET", damaged_actor, "status", "{not json")      # unreadable field
    r = client.get("/actors/Damaged42/workers")
    assert r.status_code == 500 and r.json()["status"] == "error"
    assert client.get("/actors").status_code == 200


# ---- hostile bodies ----

@pytest.mark.parametrize("data,ctype", [
    (b"\xff\xfe{\"image\": 1}", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"image": "x", "max_workers": 123456789012345678901234567890}', "application/json"),
    (b'{"image": "x"}{"image": "y"}', "application/json"),
    (b"--nope\r\ngarbage", "multipart/form-data"),
    (b"%zz=%%%&&==", "application/x-www-form-urlencoded"),
    (b"\x00\x01\x02", "application/json"),
])
def test_hostile_bodies_are_400(client, data, ctype):
    r = client.post("/actors", data=data, headers={"Content-Type": ctype})
    assert r.status_code == 400, r.text
    assert r.json()["status"] == "error"
    assert client.get("/actors").status_code == 200


def test_hostile_message_bodies(client, echo_actor):
    aid = echo_actor["id"]
    for data, ctype in ((b"[" * 5000, "application/json"),
                        (b"\xff\xff", "application/json"),
                        (b"--x\r\n", "multipart/form-data; boundary=x")):
        r = client.post(f"/actors/{aid}/messages", data=data, headers={"Content-Type": ctype})
        assert r.status_code == 400, r.text
    r = client.post(f"/actors/{aid}/state", data=b"[" * 5000,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 404   # stateless
    assert client.get(f"/actors/{aid}").status_code == 200


def test_long_and_odd_paths(client):
    assert client.get("/actors/" + "a" * 5000).status_code in (404, 405)
    assert client.get("/actors/a/b/c/d/e/f/g/h/i/j").status_code == 405
    assert client.get("/actors/a%2Fb").status_code in (404, 405)
    assert client.get("/actors/x_y").status_code == 404
    assert client.get("/actors").status_code == 200
