"""Bounded input (docs/limits.md), on a private api + spawner pair (see
private_stack.py) whose binary messages may have 100000 bytes and whose
autoscaler ticks every second over the pair's own actors:

- a 20 MB body to every route that stores what a client sends is refused
  with a 413 envelope naming [web] max_body_size, quickly; a request that
  only announces 20 MB is answered from its headers alone (the body is not
  waited for); a chunked body with no Content-Length is cut off and
  refused too, while a small chunked body still works;
- a binary message over [web] max_content_length gets Abaco's 400;
- image references are checked (300 characters, a million characters in a
  body under the limit, `UPPER/Case`, `a::b`, ...), and every bounded field
  is refused one past its limit with a 400 naming it, and accepted at it;
- the api's CPU time and RSS stay flat over autoscaler ticks after all
  that, and also when an actor record already holds a 20 MB image and
  description (written straight into Redis, as an older release allowed):
  the autoscaler never decodes those fields.
"""
import json
import os
import socket
import time
import uuid

import pytest
import requests

from conftest import conf, redis_cmd, wait_for
from private_stack import module_stack

ECHO = "abaco/samples-echo"
MAX_BODY = int(conf("web", "max_body_size", str(1 << 20)))
BINARY_MAX = 100000         # [web] max_content_length of the pair
BIG = 20 * 1000 * 1000      # the 20 MB of the report
# The longest image that fits in a body the api reads: 20 million
# characters when max_body_size allows, else just under the limit.
LONG_IMAGE = BIG if MAX_BODY > BIG + 1000 else MAX_BODY - 1000
TICKS = 3                   # seconds of autoscaler ticks measured
CPU_MAX = 0.3               # seconds of CPU the api may use over them
RSS_GROWTH_MAX = 4 << 20    # bytes its RSS may grow over them


@pytest.fixture(scope="module")
def stack(request):
    yield from module_stack(request, "bounds", web_max_content_length=BINARY_MAX,
                            workers_autoscale_interval=1,
                            workers_autoscale_idle_grace=3600)


@pytest.fixture(scope="module")
def actor(stack):
    """A stateless actor and a stateful one of the pair, an alias and a
    config of the first."""
    a = stack.register(ECHO)
    s = stack.register(ECHO, stateless=False)
    alias = "bounds-" + uuid.uuid4().hex[:8]
    stack.client.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": a["id"]})
    config = "bounds-" + uuid.uuid4().hex[:8]
    stack.client.ok("POST", "/actors/configs", json={"name": config, "value": "v",
                                                     "is_secret": False, "actors": a["id"]})
    yield {"id": a["id"], "stateful": s["id"], "alias": alias, "config": config}
    stack.client.delete(f"/actors/configs/{config}")
    stack.client.delete(f"/actors/aliases/{alias}")


def short_id(value):
    """Test ids that stay readable for long parameters."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else f"{text[:12]}...({len(text)} chars)"


def refused(r, status, *words):
    """The error envelope of status whose message holds every word."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert body["status"] == "error" and body["result"] is None, body
    for w in words:
        assert w in body["message"], (w, body["message"])
    return body["message"]


def too_large(r):
    return refused(r, 413, "max_body_size", str(MAX_BODY))


# Every route that stores what a body says ({id}: an actor, {stateful}: a
# stateful one, {alias} and {config} of the first).
ROUTES = [("POST", "/actors"), ("PUT", "/actors/{id}"), ("POST", "/actors/{id}/messages"),
          ("POST", "/actors/aliases"), ("PUT", "/actors/aliases/{alias}"),
          ("POST", "/actors/configs"), ("PUT", "/actors/configs/{config}"),
          ("POST", "/actors/{id}/nonces"), ("POST", "/actors/aliases/{alias}/nonces"),
          ("POST", "/actors/{id}/permissions"), ("POST", "/actors/{stateful}/state"),
          ("POST", "/actors/{id}/executions"), ("POST", "/actors/{id}/workers")]

BIG_JSON = json.dumps({"image": "x" * BIG, "name": "big", "message": "m", "value": "v",
                       "alias": "a", "actor_id": "x", "is_secret": False}).encode()


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_20mb_json_body_is_413_at_once(stack, actor, method, path):
    assert len(BIG_JSON) > MAX_BODY
    t0 = time.time()
    r = stack.client.request(method, path.format(**actor), data=BIG_JSON,
                             headers={"Content-Type": "application/json"})
    too_large(r)
    assert time.time() - t0 < 10, "the body was not refused early"


def test_20mb_form_and_multipart_bodies_are_413(stack, actor):
    c = stack.client
    too_large(c.post("/actors", data={"image": "x" * BIG}))
    too_large(c.post(f"/actors/{actor['id']}/messages", data={"message": "x" * BIG}))
    too_large(c.post(f"/actors/{actor['id']}/messages", files={"message": ("m", b"x" * BIG)}))


def head_only(stack, path, content_type, length):
    """Sends the headers of a POST announcing `length` body bytes and none
    of them; returns (status, envelope) of the answer, which must come
    within 5 s (a server that waits for the body never answers), after
    which the server closes the connection."""
    data = b""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                  f"Content-Length: {length}\r\n\r\n".encode())
        while chunk := s.recv(65536):
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def test_announced_20mb_answered_from_the_headers(stack, actor):
    status, env = head_only(stack, "/actors", "application/json", BIG)
    assert status == 413 and "max_body_size" in env["message"], env
    status, env = head_only(stack, f"/actors/{actor['id']}/messages",
                            "application/octet-stream", BIG)
    assert status == 400, env
    assert env["message"] == f"Message exceeds max content length of: {BINARY_MAX}", env


def test_chunked_body_is_cut_off(stack, actor):
    c = stack.client

    def chunks(total, piece=b"x" * 65536):
        yield b'{"image": "'
        for _ in range(total // len(piece)):
            yield piece
        yield b'"}'

    t0 = time.time()
    too_large(c.post("/actors", data=chunks(4 * MAX_BODY),
                     headers={"Content-Type": "application/json"}))
    too_large(c.post(f"/actors/{actor['stateful']}/state", data=chunks(2 * MAX_BODY),
                     headers={"Content-Type": "application/json"}))
    assert time.time() - t0 < 20
    # A chunked binary message has no Content-Length: held to max_body_size.
    too_large(c.post(f"/actors/{actor['id']}/messages", data=chunks(2 * MAX_BODY),
                     headers={"Content-Type": "application/octet-stream"}))
    # Small chunked bodies are read as ever.
    state = c.ok("POST", f"/actors/{actor['stateful']}/state",
                 data=iter([b'{"n": ', b"42}"]), headers={"Content-Type": "application/json"})
    assert state["state"] == {"n": 42}


def test_binary_message_over_max_content_length(stack, actor):
    c = stack.client
    for size in (BINARY_MAX + 1, BIG):
        r = c.post(f"/actors/{actor['id']}/messages", data=b"\0" * size,
                   headers={"Content-Type": "application/octet-stream"})
        refused(r, 400, f"Message exceeds max content length of: {BINARY_MAX}")
    # more than max_body_size would allow, but binary: within its own limit
    assert BINARY_MAX < MAX_BODY  # (the pair's setting; the route's limit is its own)
    c.ok("POST", f"/actors/{actor['id']}/messages", data=b"\1" * BINARY_MAX,
         headers={"Content-Type": "application/octet-stream"})


@pytest.mark.parametrize("image,words", [
    ("a" * 300, ("image", "255", "300")),
    ("x" * LONG_IMAGE, ("image", "456", str(LONG_IMAGE))),   # a body under max_body_size
    ("UPPER/Case", ("image", "'Case'")),
    ("a::b", ("image", "'a:'")),
    ("a//b", ("image", "empty path component")),
    ("app:", ("image", "tag")),
    ("app@sha256:abc", ("image", "digest")),
    ("white space", ("image", "'white space'")),
], ids=short_id)
def test_bad_image_reference_is_400(stack, actor, image, words):
    c = stack.client
    refused(c.post("/actors", json={"image": image}), 400, "Invalid image", *words)
    refused(c.request("PUT", f"/actors/{actor['id']}", json={"image": image}), 400,
            "Invalid image", *words)
    assert c.ok("GET", f"/actors/{actor['id']}")["image"] == ECHO


def test_good_image_references_are_accepted(stack):
    for image in ("localhost:5000/team/app:v1.2",
                  "Registry.Example.com/a__b/c---d",
                  "app@sha256:" + "0" * 64):
        assert stack.register(image)["image"] == image


# (field, one past its limit, at it (None: not registered)); text counts
# characters, not bytes ("é" is two bytes).
@pytest.mark.parametrize("field,over,at", [
    ("name", "n" * 257, "é" * 256),
    ("description", "d" * 4097, "é" * 4096),
    ("hints", ["h"] * 33, ["h"] * 32),
    ("hints", ["h" * 129], ["h" * 128]),
    ("link", "l" * 129, None),
    ("webhook", "http://x/" + "w" * 2040, "http://x/" + "w" * 2039),
    ("cron_schedule", "now + 1 hour" + " " * 60, None),
    ("mem_limit", "0" * 29 + "512m", "0" * 28 + "512m"),
    ("default_environment", {"K": "v" * 65536}, {"K": "v" * 65000}),
    ("mounts", [{"host_path": "/" + "m" * 16384}], [{"host_path": "/tmp", "mode": "ro"}]),
], ids=short_id)
def test_actor_field_limits(stack, actor, field, over, at):
    c = stack.client
    base = {"image": ECHO, "queue": stack.queue}
    msg = refused(c.post("/actors", json=dict(base, **{field: over})), 400, f"Invalid {field}:",
                  "at most")
    refused(c.request("PUT", f"/actors/{actor['id']}", json=dict(base, **{field: over})), 400,
            msg)
    if at is not None:
        got = stack.register(ECHO, **{field: at})
        assert got[field] == at, got[field]


def test_sharing_field_limits(stack, actor):
    c = stack.client
    refused(c.post("/actors/aliases", json={"alias": "a" * 129, "actor_id": actor["id"]}), 400,
            "Invalid alias", "128")
    refused(c.post("/actors/configs", json={"name": "c" * 129, "value": 1, "is_secret": False,
                                            "actors": actor["id"]}), 400, "Invalid name", "128")
    refused(c.post("/actors/configs", json={"name": "big-" + uuid.uuid4().hex[:6],
                                            "value": "v" * 65536, "is_secret": False,
                                            "actors": actor["id"]}), 400, "Invalid value",
            "65536")
    refused(c.request("PUT", f"/actors/configs/{actor['config']}",
                      json={"value": {"k": "v" * 70000}, "is_secret": False,
                            "actors": actor["id"]}), 400, "Invalid value")
    refused(c.post("/actors/configs", json={"name": "many-" + uuid.uuid4().hex[:6], "value": 1,
                                            "is_secret": False,
                                            "actors": " ," * 5000}), 400, "Invalid actors",
            "8320")
    refused(c.post(f"/actors/{actor['id']}/nonces", json={"description": "d" * 4097}), 400,
            "Invalid description", "4096")
    c.ok("POST", f"/actors/{actor['id']}/nonces", json={"description": "é" * 4096})
    refused(c.post(f"/actors/{actor['id']}/permissions", json={"user": "u" * 256,
                                                               "level": "READ"}), 400,
            "Invalid user", "255")


def api_usage(pid):
    """(CPU seconds used so far, RSS bytes) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    return cpu, rss


def autoscaler_ticks(stack):
    text = requests.get(stack.client.base + "/metrics", timeout=10).text
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith("abaco_autoscaler_ticks_total "))


def assert_flat(stack, what):
    """Over TICKS seconds of autoscaler ticks the api uses little CPU and
    its RSS barely grows."""
    ticks0 = autoscaler_ticks(stack)
    cpu0, rss0 = api_usage(stack.api.pid)
    time.sleep(TICKS)
    cpu1, rss1 = api_usage(stack.api.pid)
    ticks = autoscaler_ticks(stack) - ticks0
    print(f"\n{what}: {ticks:.0f} autoscaler ticks in {TICKS} s, api CPU {cpu1 - cpu0:.2f} s, "
          f"RSS {rss0 >> 20} -> {rss1 >> 20} MiB")
    assert ticks >= TICKS - 1, "the autoscaler did not tick"
    assert cpu1 - cpu0 < CPU_MAX, f"{what}: the api used {cpu1 - cpu0:.2f} s of CPU"
    assert rss1 - rss0 < RSS_GROWTH_MAX, f"{what}: the api's RSS grew by {(rss1 - rss0) >> 10} KiB"


def test_api_stays_flat_after_the_refusals(stack, actor):
    # the actors of the pair have workers: the autoscaler looks at them each tick
    wait_for(lambda: stack.workers(actor["id"]), timeout=60, what="a worker")
    assert_flat(stack, "after the oversized requests")


def test_stored_oversized_record_costs_the_autoscaler_nothing(stack):
    aid = stack.register(ECHO)["id"]
    wait_for(lambda: [w for w in stack.workers(aid) if w["status"] == "READY"], timeout=60,
             what="a READY worker")
    key = f"abaco:actor:DEV-DEVELOP_{aid}"
    assert redis_cmd("HSET", key, "image", json.dumps("x" * BIG),
                     "description", json.dumps("d" * BIG)) == 0  # both fields replaced
    assert_flat(stack, "with a 20 MB image and description stored")
