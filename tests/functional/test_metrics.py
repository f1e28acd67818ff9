"""GET /metrics (docs/api.md "Routes", issue 5 "Autoscaler and /metrics"): the
Prometheus text exposition format, checked by promtool (Debian's prometheus
package), and a real Prometheus that scrapes the api while messages are
sent and then answers queries for the series.

Everything is created for real: the actors and messages, an api process
whose Redis is unreachable (store errors), a mailbox backlog, and the
Prometheus server itself (started on a free port with a generated config
derived from images/prometheus/prometheus.yml, stopped at the end).
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from urllib.parse import urlparse

import pytest
import requests

from conftest import API, REPO, ApiProcess, free_port, wait_for

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SHIPPED = os.path.join(REPO, "images", "prometheus", "prometheus.yml")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(base=API):
    r = requests.get(base + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return r


def parse(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    return sum(found) if found else None


def promtool_check(text):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def test_metrics_is_prometheus_text_and_promtool_clean(client, echo_actor):
    aid = echo_actor["id"]
    client.wait_actor_status(aid, {"READY"})
    client.wait_execution(aid, client.send(aid, "metrics")["execution_id"])
    r = scrape()
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert not r.text.startswith("{"), "no envelope around the metrics"
    rc, out = promtool_check(r.text)
    assert rc == 0 and out == "", out
    # Every family has HELP and TYPE; counters end in _total; base units.
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", r.text, re.M))
    helps = set(re.findall(r"^# HELP (\S+) ", r.text, re.M))
    assert set(types) == helps
    for name, kind in types.items():
        assert name.startswith("abaco_"), name
        assert (kind == "counter") == name.endswith("_total"), (name, kind)
    for name in ("abaco_build_info", "abaco_actor_mailbox_messages", "abaco_workers",
                 "abaco_actors", "abaco_executions_total", "abaco_execution_runtime_seconds",
                 "abaco_http_requests_total", "abaco_http_request_duration_seconds",
                 "abaco_channel_messages_published_total",
                 "abaco_channel_messages_consumed_total", "abaco_store_errors_total"):
        assert name in types, name
    assert types["abaco_http_request_duration_seconds"] == "histogram"
    assert types["abaco_execution_runtime_seconds"] == "histogram"
    # No auth needed, and other methods are not routes.
    assert requests.post(API + "/metrics", timeout=10).status_code == 405


def test_series_follow_what_happens(client, actor_cleanup):
    before = parse(scrape().text)
    actor = client.register("abaco/samples-echo")
    actor_cleanup.append(actor["id"])
    aid = actor["id"]
    client.wait_actor_status(aid, {"READY"})
    eids = [client.send(aid, f"m{i}")["execution_id"] for i in range(4)]
    for eid in eids:
        client.wait_execution(aid, eid)
    client.ok("GET", f"/actors/{aid}/executions/{eids[0]}")
    time.sleep(1.1)  # the store-derived part is cached for about a second
    text = scrape().text
    after = parse(text)

    version = client.get("/actors").json()["version"]
    assert value(after, "abaco_build_info", version=version) == 1

    def grew(name, by, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0) >= by

    post = dict(method="POST", route="/actors/{id}/messages", code="200")
    assert grew("abaco_http_requests_total", 4, **post), text
    assert grew("abaco_http_requests_total", 1, method="GET",
                route="/actors/{id}/executions/{eid}", code="200")
    assert grew("abaco_http_request_duration_seconds_count", 4, method="POST",
                route="/actors/{id}/messages")
    assert value(after, "abaco_http_request_duration_seconds_bucket", method="POST",
                 route="/actors/{id}/messages", le="+Inf") == value(
        after, "abaco_http_request_duration_seconds_count", method="POST",
        route="/actors/{id}/messages")
    # Route patterns, never raw paths (one series per actor would explode).
    routes = {dict(ls).get("route") for (n, ls) in after if n == "abaco_http_requests_total"}
    assert not any(aid in (r or "") for r in routes), routes
    assert grew("abaco_executions_total", 4, status="SUBMITTED")
    # The workers count what they settle, with the runtime histogram.
    assert grew("abaco_executions_total", 4, status="RUNNING"), text
    assert grew("abaco_executions_total", 4, status="COMPLETE"), text
    assert grew("abaco_execution_runtime_seconds_count", 4), text
    assert grew("abaco_execution_runtime_seconds_bucket", 4, le="+Inf"), text
    assert value(after, "abaco_execution_runtime_seconds_bucket", le="+Inf") == value(
        after, "abaco_execution_runtime_seconds_count")
    # The echo sample runs well under a minute: every one is in le="60".
    assert grew("abaco_execution_runtime_seconds_bucket", 4, le="60"), text
    # The sum adds each runtime (Docker's StartedAt..FinishedAt, read to the
    # millisecond: an echo may take less, so it may add 0): it grows by at
    # most 4 x 60 s, and never shrinks.
    grown = (value(after, "abaco_execution_runtime_seconds_sum") or 0) - (
        value(before, "abaco_execution_runtime_seconds_sum") or 0)
    assert 0 <= grown <= 240, grown
    assert grew("abaco_channel_messages_published_total", 4, channel="mailbox")
    # The actor's mailbox is reported (empty now) with its tenant.
    tenant = actor["tenant"] if "tenant" in actor else None
    mb = [(dict(ls), v) for (n, ls), v in after.items()
          if n == "abaco_actor_mailbox_messages" and dict(ls).get("actor_id") == aid]
    assert len(mb) == 1 and mb[0][1] == 0, mb
    if tenant:
        assert mb[0][0]["tenant"] == tenant
    assert value(after, "abaco_workers", status="READY") >= 1


def test_mailbox_backlog_is_reported(client, actor_cleanup):
    actor = client.register("abaco/samples-sleep", max_workers=1)
    actor_cleanup.append(actor["id"])
    aid = actor["id"]
    client.wait_actor_status(aid, {"READY"})
    for _ in range(3):
        client.send(aid, "2")

    def backlog():
        v = value(parse(scrape().text), "abaco_actor_mailbox_messages", actor_id=aid)
        return v if v and v >= 1 else None
    assert wait_for(backlog, timeout=10, interval=0.3, what="a mailbox backlog") >= 1
    assert client.ok("GET", f"/actors/{aid}/messages")["messages"] >= 1


def test_store_errors_are_counted():
    # An api process whose Redis is a closed port: requests fail with 503 and
    # the errors show; /metrics still answers with what it has.
    api = ApiProcess(store_redis_url="", store_redis_host="127.0.0.1",
                     store_redis_port=str(free_port()), workers_autoscaling="false")
    try:
        c = api.client()
        assert c.get("/actors").status_code == 503
        r = scrape(api.base)
        samples = parse(r.text)
        assert value(samples, "abaco_store_errors_total", store="redis") >= 1, r.text
        assert value(samples, "abaco_http_requests_total", route="/actors", code="503") >= 1
        rc, out = promtool_check(r.text)
        assert rc == 0 and out == "", out
    finally:
        api.stop()


# ---- a real Prometheus ----

class Prometheus:
    """prometheus on a free port scraping `target` (host:port) every second,
    with the scrape config shipped in images/prometheus/."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="abaco-prom-")
        self.port = free_port()
        with open(SHIPPED) as f:
            conf = f.read()
        assert '["127.0.0.1:8000"]' in conf and "job_name: abaco-api" in conf
        conf = conf.replace('["127.0.0.1:8000"]', f'["{target}"]')
        conf = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", conf)
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(conf)
        check = subprocess.run([PROMTOOL, "check", "config", self.config],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def output(self):
        with open(os.path.join(self.dir, "prometheus.log"), errors="replace") as f:
            return f.read()[-3000:]

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.output()}")
        try:
            return requests.get(self.base + "/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def query(self, q):
        r = requests.get(self.base + "/api/v1/query", params={"query": q}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_shipped_scrape_config_is_valid():
    r = subprocess.run([PROMTOOL, "check", "config", SHIPPED], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_real_prometheus_scrapes_the_api(client, echo_actor):
    assert os.access(PROMETHEUS, os.X_OK), "prometheus is not installed (make deps)"
    target = urlparse(API).netloc
    prom = Prometheus(target)
    try:
        wait_for(prom.ready, timeout=60, interval=0.3, what="prometheus to be ready")
        aid = echo_actor["id"]
        client.wait_actor_status(aid, {"READY"})
        for i in range(3):
            client.send(aid, f"scraped {i}")

        def series():
            res = prom.query('abaco_http_requests_total{route="/actors/{id}/messages",'
                             'method="POST",code="200"}')
            return res if res and float(res[0]["value"][1]) >= 3 else None
        res = wait_for(series, timeout=60, interval=0.5, what="the scraped request series")
        labels = res[0]["metric"]
        assert labels["job"] == "abaco-api" and labels["instance"] == target, labels
        assert labels["service"] == "api"
        up = prom.query('up{job="abaco-api"}')
        assert up and up[0]["value"][1] == "1", up
        assert prom.query("abaco_http_requests_total"), "the family is there"
        assert prom.query('abaco_executions_total{status="SUBMITTED"}')
        assert prom.query("abaco_http_request_duration_seconds_bucket")
        assert prom.query(f'abaco_actor_mailbox_messages{{actor_id="{aid}"}}')
        # A PromQL over the histogram works (rate over the 1 s scrapes).
        wait_for(lambda: prom.query(
            'histogram_quantile(0.9, sum by (le) '
            '(rate(abaco_http_request_duration_seconds_bucket[30s])))'),
            timeout=30, interval=0.5, what="a latency quantile")
    finally:
        prom.stop()
