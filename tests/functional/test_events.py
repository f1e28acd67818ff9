"""Events (docs/api.md "Events, links, webhooks, cron"): ACTOR_READY / EXECUTION_COMPLETE reach a linked actor
as messages (executor "Abaco Event") and a webhook as JSON POSTs; a webhook
that keeps failing ends in the dead-letter listing.

The webhook receiver is a real HTTP server (http.server) in a thread of the
test, on 127.0.0.1; the api posts to it from its own process."""
import http.server
import json
import threading
import uuid

import pytest

from conftest import Client, free_port, wait_for


class Hook:
    """Collects the JSON bodies POSTed to it."""

    def __init__(self):
        self.events = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                try:
                    hook.events.append((self.path, self.headers.get("Content-Type"),
                                        json.loads(body)))
                except ValueError:
                    hook.events.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_type(self, actor_id, event_type):
        return [e for (_, _, e) in self.events
                if isinstance(e, dict) and e.get("actor_id") == actor_id
                and e.get("event_type") == event_type]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def echo_ran(client, actor_cleanup, url, message):
    """A new echo actor with this webhook, once it has run `message`: (actor, execution id)."""
    a = client.register("abaco/samples-echo", webhook=url)
    actor_cleanup.append(a["id"])
    client.wait_actor_status(a["id"], ["READY"])
    eid = client.send(a["id"], message)["execution_id"]
    assert client.wait_execution(a["id"], eid)["status"] == "COMPLETE"
    return a, eid


def test_link_turns_events_into_messages(client, actor_cleanup):
    b = client.register("abaco/samples-echo")
    actor_cleanup.append(b["id"])
    a = client.register("abaco/samples-echo", link=b["id"])
    actor_cleanup.append(a["id"])
    client.wait_actor_status(a["id"], ["READY"])
    eid = client.send(a["id"], "to A")["execution_id"]
    assert client.wait_execution(a["id"], eid)["status"] == "COMPLETE"

    def b_got_completion():
        for ex in client.ok("GET", f"/actors/{b['id']}/executions")["executions"]:
            full = client.ok("GET", f"/actors/{b['id']}/executions/{ex['id']}")
            if full["status"] != "COMPLETE":
                continue
            logs = client.logs(b["id"], ex["id"])
            if "'event_type': 'EXECUTION_COMPLETE'" in logs and f"'execution_id': '{eid}'" in logs:
                return full
        return None

    ex = wait_for(b_got_completion, timeout=60, what="B's execution for A's EXECUTION_COMPLETE")
    assert ex["executor"] == "Abaco Event"


def test_webhook_receives_events(client, actor_cleanup, hook):
    url = f"http://127.0.0.1:{hook.port}/hook"
    a, eid = echo_ran(client, actor_cleanup, url, "hooked")

    done = wait_for(lambda: hook.of_type(a["id"], "EXECUTION_COMPLETE"), timeout=30,
                    what="EXECUTION_COMPLETE at the webhook")
    ev = done[0]
    assert ev["execution_id"] == eid
    assert ev["exit_code"] == 0
    assert ev["actor_dbid"] and ev["tenant_id"]
    assert ev["event_time_utc"] and ev["event_time_display"]
    ready = wait_for(lambda: hook.of_type(a["id"], "ACTOR_READY"), timeout=30,
                     what="ACTOR_READY at the webhook")
    assert ready[0]["actor_id"] == a["id"]
    paths = {p for (p, _, _) in hook.events}
    assert paths == {"/hook"}
    assert all(ct == "application/json" for (_, ct, _) in hook.events)


def test_failing_webhook_is_dead_lettered(client, actor_cleanup):
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/nobody-{uuid.uuid4().hex[:6]}"
    a, eid = echo_ran(client, actor_cleanup, url, "lost")

    def dead():
        for d in client.ok("GET", "/actors/admin/events/dead-letter"):
            if d["target"] == url and d["event"]["event_type"] == "EXECUTION_COMPLETE":
                return d
        return None

    d = wait_for(dead, timeout=60, what="the dead letter of the failing webhook")
    assert d["kind"] == "webhook"
    assert d["attempts"] == 3
    assert d["event"]["execution_id"] == eid
    assert d["error"] and d["time"]
    # Another tenant's admin does not see it (one list per tenant).
    other = Client(tenant="OTHER-" + uuid.uuid4().hex[:6].upper())
    assert not [x for x in other.ok("GET", "/actors/admin/events/dead-letter")
                if x["target"] == url]


def test_missing_image_sends_actor_error(client, actor_cleanup, hook):
    url = f"http://127.0.0.1:{hook.port}/hook"
    a = client.register(f"abaco/no-such-image-{uuid.uuid4().hex[:8]}", webhook=url)
    actor_cleanup.append(a["id"])
    client.wait_actor_status(a["id"], ["ERROR"])
    err = wait_for(lambda: hook.of_type(a["id"], "ACTOR_ERROR"), timeout=30,
                   what="ACTOR_ERROR at the webhook")
    assert err[0]["status"] == "ERROR"
    assert "could not find image" in err[0]["status_message"]
