"""Registering, reading, listing and deleting actors."""
import re

import pytest

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_register_returns_the_actor(client, actor_cleanup):
    actor = client.register("abaco/samples-echo", description="says hello",
                            default_environment={"GREETING": "hi"})
    actor_cleanup.append(actor["id"])
    assert re.fullmatch(r"[A-Za-z0-9]{8,20}", actor["id"]), actor["id"]
    assert actor["image"] == "abaco/samples-echo"
    assert actor["owner"] == "anonymous"
    assert actor["status"] in ("SUBMITTED", "READY")
    assert actor["revision"] == 1
    assert actor["stateless"] is True
    assert actor["privileged"] is False
    assert actor["description"] == "says hello"
    assert actor["default_environment"] == {"GREETING": "hi"}
    assert actor["state"] == {}
    assert actor["type"] == "none"
    assert actor["queue"] == "default"
    assert ISO.match(actor["create_time"]), actor["create_time"]
    for internal in ("db_id", "tenant", "api_server", "executions", "permissions"):
        assert internal not in actor
    assert actor["_links"]["self"].endswith(f"/actors/v2/{actor['id']}")
    assert actor["_links"]["owner"].endswith("/profiles/v2/anonymous")


def test_actor_becomes_ready_with_a_worker(client, echo_actor):
    actor = client.wait_actor_status(echo_actor["id"], {"READY"})
    assert actor["status"] == "READY"
    workers = client.ok("GET", f"/actors/{echo_actor['id']}/workers")
    assert len(workers) >= 1
    w = workers[0]
    assert w["status"] in ("READY", "BUSY")
    assert w["image"] == "abaco/samples-echo"
    assert w["ch_name"] == f"worker_{w['id']}"
    one = client.ok("GET", f"/actors/{echo_actor['id']}/workers/{w['id']}")
    assert one["id"] == w["id"]


def test_list_contains_registered_actor(client, echo_actor):
    ids = [a["id"] for a in client.ok("GET", "/actors")]
    assert echo_actor["id"] in ids


def test_form_encoded_registration(client, actor_cleanup):
    actor = client.ok("POST", "/actors", data={"image": "abaco/samples-echo", "stateless": "True",
                                               "default_environment": '{"A": "1"}'})
    actor_cleanup.append(actor["id"])
    assert actor["default_environment"] == {"A": "1"}
    assert actor["stateless"] is True


@pytest.mark.parametrize("body,needle", [
    ({"name": "no-image"}, "image"),
    ({"image": "x", "stateless": "maybe"}, "stateless"),
    ({"image": "x", "privileged": 3}, "privileged"),
    ({"image": "x", "default_environment": [1, 2]}, "default_environment"),
    ({"image": "x", "stateless": False, "max_workers": 3}, "stateful actors can only have 1 worker"),
    ({"image": "x", "queue": "nosuchqueue"}, "Invalid queue name."),
    ({"image": "x", "hints": ["ok", "b{ad"]}, "hints"),
])
def test_validation_errors_name_the_field(client, body, needle):
    r = client.post("/actors", json=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert r.json()["result"] is None


def test_delete_actor(client):
    actor = client.register("abaco/samples-echo")
    aid = actor["id"]
    r = client.delete(f"/actors/{aid}")
    assert r.status_code == 200
    assert r.json()["message"] == "Actor deleted successfully."
    assert client.get(f"/actors/{aid}").status_code == 404
    assert aid not in [a["id"] for a in client.ok("GET", "/actors")]


def test_missing_image_puts_actor_in_error(client, actor_cleanup):
    actor = client.register("abaco/no-such-image-anywhere")
    actor_cleanup.append(actor["id"])
    actor = client.wait_actor_status(actor["id"], {"ERROR"})
    assert "abaco/no-such-image-anywhere" in actor["status_message"]
    assert "host" in actor["status_message"]


def test_tenants_do_not_see_each_other(client, echo_actor):
    from conftest import Client
    other = Client(tenant="OTHER-TENANT")
    assert other.get(f"/actors/{echo_actor['id']}").status_code == 404
    assert echo_actor["id"] not in [a["id"] for a in other.ok("GET", "/actors")]
