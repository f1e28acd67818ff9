"""docs/api.md "Conventions": envelope, status codes, CORS, unknown routes."""
def test_envelope_on_list(client):
    r = client.get("/actors")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success"
    assert isinstance(body["result"], list)
    assert body["version"] == "dev"
    assert r.headers["Content-Type"].startswith("application/json")


def test_cors_header_on_every_response(client):
    assert client.get("/actors").headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/nope").headers["Access-Control-Allow-Origin"] == "*"


def test_options_answers_without_credentials(client):
    r = client.request("OPTIONS", "/actors")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"]


def test_unknown_route_is_405(client):
    r = client.get("/definitely/not/here")
    assert r.status_code == 405
    assert r.json()["message"] == (
        "Invalid request: the API endpoint does not exist or the provided HTTP method is not allowed.")
    assert r.json()["result"] is None


def test_method_not_allowed_is_405(client, echo_actor):
    r = client.post(f"/actors/{echo_actor['id']}", json={"image": "x"})
    assert r.status_code == 405


def test_unknown_actor_is_404(client):
    r = client.get("/actors/doesnotexist123")
    assert r.status_code == 404
    assert r.json()["message"] == "Actor with identifier 'doesnotexist123' not found"


def test_bad_json_body_is_400(client):
    r = client.post("/actors", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "JSON" in r.json()["message"]

