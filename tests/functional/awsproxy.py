#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of an AWS Query endpoint (the
stack's moto server), for the cloud services' fault tests.

Every request is forwarded to the upstream unchanged: method, path, query,
headers (Host as the client sent it, so a SigV4 signature stays valid) and
body. Requests under /_proxy/ are the proxy's own control API (JSON) and are
never forwarded:

  POST /_proxy/fault   {"kind": K, "count": N=1, "action": "X"?, "seconds": S?,
                        "every": E=1}
        answers the next N requests (only those whose Action is X when
        given) with a fault instead of forwarding them; with every E > 1,
        only every E-th matching request gets it (the others go on to the
        next pending fault, else upstream), so N faults span N*E requests
        (a throttling ratio of 1/E). K is one of
          ec2_throttle  503 <Response><Errors><Error><Code>RequestLimitExceeded
          cfn_throttle  400 <ErrorResponse><Error><Type>Sender</Type><Code>Throttling
          throttle      whichever of the two fits the request's service
          http500       500 InternalError (InternalFailure for CloudFormation)
          http502       502 an HTML "Bad Gateway" page, as a load balancer
          auth          401 AuthFailure
          delay         waits S seconds, then forwards the request
        Faults queue up: a request takes the oldest pending one that
        matches it. Answer: {"id": <fault id>}.
  POST /_proxy/stack/in_progress  {"stack": NAME, "seconds": T}
        for T seconds from now, DescribeStacks shows the stack
        CREATE_IN_PROGRESS (no Outputs) and DescribeStackResources /
        ListStackResources show its resources CREATE_IN_PROGRESS without a
        PhysicalResourceId.
  POST /_proxy/stack/fail  {"stack": NAME, "status": "ROLLBACK_COMPLETE"
                            | "CREATE_FAILED", "instance_type": "x"}
        the stack reads as failed: DescribeStacks answers the status;
        DescribeStackResources its instance resource CREATE_FAILED (no
        PhysicalResourceId) and the others DELETE_COMPLETE;
        DescribeStackEvents starts with an AWS::EC2::Instance event
        CREATE_FAILED, ResourceStatusReason "Your requested instance type
        (x) is not supported in your requested Availability Zone (...)".
        (The upstream's real instance is left alone.)
  POST /_proxy/stack/clear  {"stack": NAME}   drops both rewrites of NAME
  GET  /_proxy/stats   {"total": n, "actions": {Action: n}, "faults": {kind: n},
                        "forwarded": n}
  GET  /_proxy/state   pending faults and stack rewrites
  POST /_proxy/reset   drops faults, rewrites and counters

A stack is named by its StackName or its StackId (ARN).

Command line: awsproxy.py --listen 127.0.0.1:0 --upstream http://127.0.0.1:5000
[--port-file F] (the port is written to F once the proxy listens); runs until
SIGTERM/SIGINT. Importable: AwsProxy(upstream).start() ... .stop(), with the
same operations as methods (fault, stack_in_progress, stack_fail, stats,
reset).
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

CFN_VERSION = "2010-05-15"
CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
FAULT_KINDS = ("ec2_throttle", "cfn_throttle", "throttle", "http500", "http502", "auth", "delay")
STACK_FAIL_STATUSES = ("ROLLBACK_COMPLETE", "CREATE_FAILED", "ROLLBACK_FAILED")
# Hop-by-hop headers: not passed on (RFC 9110 7.6.1).
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade"}
MAX_BODY = 64 << 20


class ProxyError(Exception):
    """A bad control request (answered 400)."""


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(elem, name):
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _text(elem, name):
    c = _child(elem, name)
    return c.text if c is not None else None


def _set_text(elem, name, value):
    c = _child(elem, name)
    if c is None:
        ns = elem.tag[:elem.tag.index("}") + 1] if elem.tag.startswith("{") else ""
        c = ET.SubElement(elem, ns + name)
    c.text = value


def _drop(elem, name):
    c = _child(elem, name)
    if c is not None:
        elem.remove(c)


def _members(root, container):
    """The <member> elements of every <container> under root."""
    out = []
    for e in root.iter():
        if _local(e.tag) == container:
            out.extend(m for m in e if _local(m.tag) == "member")
    return out


def _now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class Fault:
    def __init__(self, fid, kind, count, action, seconds, every=1):
        self.id, self.kind, self.left, self.action, self.seconds = fid, kind, count, action, seconds
        self.every, self.seen = every, 0

    def as_dict(self):
        return {"id": self.id, "kind": self.kind, "left": self.left, "action": self.action,
                "seconds": self.seconds, "every": self.every}


class AwsProxy:
    """The proxy; start() listens (port 0: any free one, see .port/.url) and
    serves on a thread of its own; stop() closes it."""

    def __init__(self, upstream, host="127.0.0.1", port=0, timeout=60):
        u = urllib.parse.urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self.up_host, self.up_port = u.hostname, u.port or 80
        self.host, self.port, self.timeout = host, port, timeout
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self._clear()

    # ------------------------------------------------------------ life

    def start(self):
        proxy = self

        class Handler(_Handler):
            pass

        Handler.proxy = proxy
        self.server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="awsproxy",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(10)
            self.server = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ control

    def _clear(self):
        self.faults = []
        self.in_progress = {}  # stack -> monotonic deadline
        self.failing = {}  # stack -> {status, instance_type}
        self.actions = {}
        self.fault_counts = {}
        self.total = 0
        self.forwarded = 0
        self.next_id = 1

    def reset(self):
        with self.lock:
            self._clear()

    def fault(self, kind, count=1, action=None, seconds=None, every=1):
        """Queues a fault for the next count requests (of Action action when
        given; with every > 1, for every every-th of them); returns its id."""
        if kind not in FAULT_KINDS:
            raise ProxyError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100000:
            raise ProxyError("count must be an integer between 1 and 100000")
        if action is not None and (not isinstance(action, str) or not action):
            raise ProxyError("action must be a non-empty string")
        if kind == "delay":
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) \
                    or not 0 <= seconds <= 600:
                raise ProxyError("a delay needs seconds between 0 and 600")
        elif seconds is not None:
            raise ProxyError("seconds is only for kind delay")
        if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= 1000:
            raise ProxyError("every must be an integer between 1 and 1000")
        with self.lock:
            f = Fault(self.next_id, kind, count, action, seconds, every)
            self.next_id += 1
            self.faults.append(f)
            return f.id

    def stack_in_progress(self, stack, seconds):
        if not isinstance(stack, str) or not stack:
            raise ProxyError("stack must be a non-empty string")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) \
                or not 0 < seconds <= 3600:
            raise ProxyError("seconds must be between 0 and 3600")
        with self.lock:
            self.in_progress[stack] = time.monotonic() + seconds

    def stack_fail(self, stack, status="ROLLBACK_COMPLETE", instance_type="x"):
        if not isinstance(stack, str) or not stack:
            raise ProxyError("stack must be a non-empty string")
        if status not in STACK_FAIL_STATUSES:
            raise ProxyError(f"status must be one of {', '.join(STACK_FAIL_STATUSES)}")
        if not isinstance(instance_type, str) or not instance_type:
            raise ProxyError("instance_type must be a non-empty string")
        with self.lock:
            self.failing[stack] = {"status": status, "instance_type": instance_type}

    def stack_clear(self, stack):
        with self.lock:
            self.in_progress.pop(stack, None)
            self.failing.pop(stack, None)

    def stats(self):
        with self.lock:
            return {"total": self.total, "forwarded": self.forwarded,
                    "actions": dict(self.actions), "faults": dict(self.fault_counts)}

    def state(self):
        now = time.monotonic()
        with self.lock:
            return {"faults": [f.as_dict() for f in self.faults],
                    "in_progress": {k: round(v - now, 3) for k, v in self.in_progress.items()
                                    if v > now},
                    "failing": dict(self.failing)}

    def control(self, method, path, body):
        """Runs one control request; (status, JSON-able answer)."""
        try:
            args = json.loads(body) if body else {}
        except ValueError as e:
            return 400, {"error": f"the body is not JSON: {e}"}
        if not isinstance(args, dict):
            return 400, {"error": "the body must be a JSON object"}
        op = path[len("/_proxy/"):].split("?", 1)[0].rstrip("/")
        routes = {
            ("GET", "stats"): lambda: self.stats(),
            ("GET", "state"): lambda: self.state(),
            ("POST", "reset"): lambda: self.reset() or {"reset": True},
            ("POST", "fault"): lambda: {"id": self.fault(
                args.get("kind"), args.get("count", 1), args.get("action"),
                args.get("seconds"), args.get("every", 1))},
            ("POST", "stack/in_progress"): lambda: self.stack_in_progress(
                args.get("stack"), args.get("seconds")) or {"ok": True},
            ("POST", "stack/fail"): lambda: self.stack_fail(
                args.get("stack"), args.get("status", "ROLLBACK_COMPLETE"),
                args.get("instance_type", "x")) or {"ok": True},
            ("POST", "stack/clear"): lambda: self.stack_clear(args.get("stack")) or {"ok": True},
        }
        fn = routes.get((method, op))
        if fn is None:
            known = ", ".join(f"{m} /_proxy/{p}" for m, p in routes)
            return 404, {"error": f"no control route {method} {path}; known: {known}"}
        try:
            return 200, fn()
        except ProxyError as e:
            return 400, {"error": str(e)}

    # ------------------------------------------------------------ requests

    def take_fault(self, action):
        """Counts the request and returns the fault it gets (or None)."""
        with self.lock:
            self.total += 1
            key = action or "-"
            self.actions[key] = self.actions.get(key, 0) + 1
            for f in self.faults:
                if f.action is None or f.action == action:
                    f.seen += 1
                    if f.seen % f.every:
                        continue  # not this one's turn: the next fault, else upstream
                    f.left -= 1
                    if f.left <= 0:
                        self.faults.remove(f)
                    self.fault_counts[f.kind] = self.fault_counts.get(f.kind, 0) + 1
                    return f
            return None

    def _match(self, table, names):
        for n in names:
            if n and n in table:
                return n
        return None

    def rewrite(self, action, body, request_stack=None):
        """The upstream's answer to action, rewritten for the stacks we were
        told about (None: unchanged)."""
        if action not in ("DescribeStacks", "DescribeStackResources", "ListStackResources",
                          "DescribeStackEvents"):
            return None
        now = time.monotonic()
        with self.lock:
            for k in [k for k, v in self.in_progress.items() if v <= now]:
                del self.in_progress[k]
            if not self.in_progress and not self.failing:
                return None
            progress = set(self.in_progress)
            failing = dict(self.failing)
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return None
        changed = False
        if action == "DescribeStacks":
            for m in _members(root, "Stacks"):
                names = (_text(m, "StackName"), _text(m, "StackId"))
                fail = self._match(failing, names)
                if fail:
                    _set_text(m, "StackStatus", failing[fail]["status"])
                    _set_text(m, "StackStatusReason",
                              "The following resource(s) failed to create: [Instance]. "
                              "Rollback requested by user.")
                    _drop(m, "Outputs")
                    changed = True
                elif self._match(progress, names):
                    _set_text(m, "StackStatus", "CREATE_IN_PROGRESS")
                    _drop(m, "StackStatusReason")
                    _drop(m, "Outputs")
                    changed = True
        elif action in ("DescribeStackResources", "ListStackResources"):
            container = "StackResources" if action == "DescribeStackResources" \
                else "StackResourceSummaries"
            for m in _members(root, container):
                names = (_text(m, "StackName"), _text(m, "StackId"))
                fail = self._match(failing, names)
                if action == "ListStackResources" and fail is None and not any(names):
                    fail = self._match(failing, (request_stack,))
                if fail:
                    instance = _text(m, "ResourceType") == "AWS::EC2::Instance"
                    _set_text(m, "ResourceStatus", "CREATE_FAILED" if instance
                              else "DELETE_COMPLETE")
                    if instance:
                        _set_text(m, "ResourceStatusReason",
                                  _reason(failing[fail]["instance_type"]))
                    _drop(m, "PhysicalResourceId")
                    changed = True
                elif self._match(progress, names) or (
                        action == "ListStackResources" and not any(names)
                        and self._match(progress, (request_stack,))):
                    _set_text(m, "ResourceStatus", "CREATE_IN_PROGRESS")
                    _drop(m, "PhysicalResourceId")
                    _drop(m, "ResourceStatusReason")
                    changed = True
        elif action == "DescribeStackEvents":
            events = [c for c in root.iter() if _local(c.tag) == "StackEvents"]
            if events:
                holder = events[0]
                members = [m for m in holder if _local(m.tag) == "member"]
                names = set()
                for m in members:
                    names.update((_text(m, "StackName"), _text(m, "StackId")))
                names.add(request_stack)
                fail = self._match(failing, list(names))
                if fail:
                    changed = True
                    self._fail_events(holder, members, failing[fail])
        if not changed:
            return None
        ET.register_namespace("", CFN_NS)
        return ET.tostring(root, encoding="utf-8", xml_declaration=False)

    @staticmethod
    def _fail_events(holder, members, how):
        ns = holder.tag[:holder.tag.index("}") + 1] if holder.tag.startswith("{") else ""
        stack_name = stack_id = None
        logical = "Instance"
        for m in members:
            stack_name = stack_name or _text(m, "StackName")
            stack_id = stack_id or _text(m, "StackId")
            if _text(m, "ResourceType") == "AWS::EC2::Instance":
                logical = _text(m, "LogicalResourceId") or logical
        for m in members:
            if (_text(m, "ResourceStatus") or "").endswith("_COMPLETE"):
                holder.remove(m)
        stamp = _now_iso()

        def event(logical_id, rtype, status, reason, physical):
            m = ET.Element(ns + "member")
            for k, v in (("EventId", str(uuid.uuid4())), ("StackId", stack_id),
                         ("StackName", stack_name), ("LogicalResourceId", logical_id),
                         ("PhysicalResourceId", physical), ("ResourceType", rtype),
                         ("Timestamp", stamp), ("ResourceStatus", status),
                         ("ResourceStatusReason", reason)):
                if v is not None:
                    ET.SubElement(m, ns + k).text = v
            return m

        newest_first = [
            event(stack_name, "AWS::CloudFormation::Stack", how["status"], None, stack_id),
            event(stack_name, "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS",
                  f"The following resource(s) failed to create: [{logical}]. "
                  "Rollback requested by user.", stack_id),
            event(logical, "AWS::EC2::Instance", "CREATE_FAILED",
                  _reason(how["instance_type"]), None),
        ]
        for i, m in enumerate(newest_first):
            holder.insert(i, m)


def _reason(itype):
    return (f"Your requested instance type ({itype}) is not supported in your requested "
            "Availability Zone (us-east-1e). Please retry your request by not specifying an "
            "Availability Zone or choosing us-east-1a, us-east-1b, us-east-1c, us-east-1d, "
            "us-east-1f.")


def _service(params, headers):
    if params.get("Version") == CFN_VERSION:
        return "cloudformation"
    auth = headers.get("Authorization", "")
    if "/cloudformation/aws4_request" in auth:
        return "cloudformation"
    return "ec2"


def fault_answer(kind, service):
    """(status, content type, body) of a fault."""
    rid = str(uuid.uuid4())
    if kind == "throttle":
        kind = "cfn_throttle" if service == "cloudformation" else "ec2_throttle"
    if kind == "ec2_throttle":
        return 503, "text/xml", _ec2_error("RequestLimitExceeded", "Request limit exceeded.", rid)
    if kind == "cfn_throttle":
        return 400, "text/xml", _cfn_error("Sender", "Throttling", "Rate exceeded", rid)
    if kind == "auth":
        msg = "AWS was not able to validate the provided access credentials"
        if service == "cloudformation":
            return 401, "text/xml", _cfn_error("Sender", "AuthFailure", msg, rid)
        return 401, "text/xml", _ec2_error("AuthFailure", msg, rid)
    if kind == "http500":
        if service == "cloudformation":
            return 500, "text/xml", _cfn_error("Receiver", "InternalFailure",
                                               "We encountered an internal error. "
                                               "Please try again.", rid)
        return 500, "text/xml", _ec2_error("InternalError", "An internal error has occurred",
                                           rid)
    return 502, "text/html", (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                              b"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                              b"</body>\r\n</html>\r\n")


def _ec2_error(code, message, rid):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}'
            f'</Code><Message>{message}</Message></Error></Errors><RequestID>{rid}'
            f'</RequestID></Response>').encode()


def _cfn_error(etype, code, message, rid):
    return (f'<ErrorResponse xmlns="{CFN_NS}"><Error><Type>{etype}</Type><Code>{code}</Code>'
            f'<Message>{message}</Message></Error><RequestId>{rid}</RequestId>'
            f'</ErrorResponse>').encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy = None  # set by AwsProxy.start

    def log_message(self, fmt, *args):  # quiet: the tests read stats instead
        pass

    def _body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks, size = [], 0
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += n
                if size > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(n))
                self.rfile.readline(1024)
            return b"".join(chunks), True
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return (self.rfile.read(n) if n else b""), False

    def _send(self, status, ctype, body, headers=()):
        self.send_response(status)
        sent = set()
        for k, v in headers:
            if k.lower() in HOP or k.lower() in ("content-length", "date", "server"):
                continue
            self.send_header(k, v)
            sent.add(k.lower())
        if ctype and "content-type" not in sent:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its timeout): nothing to tell

    def _handle(self):
        try:
            body, chunked = self._body()
        except ValueError as e:
            self.close_connection = True
            self._send(400, "text/plain", f"awsproxy: {e}\n".encode())
            return
        if self.path.startswith("/_proxy/"):
            status, answer = self.proxy.control(self.command, self.path, body)
            self._send(status, "application/json", json.dumps(answer).encode())
            return
        params = {}
        query = urllib.parse.urlsplit(self.path).query
        if query:
            params.update(urllib.parse.parse_qsl(query, keep_blank_values=True))
        ctype = self.headers.get("Content-Type", "")
        if body and (not ctype or ctype.startswith("application/x-www-form-urlencoded")):
            try:
                params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            except UnicodeDecodeError:
                pass
        action = params.get("Action")
        fault = self.proxy.take_fault(action)
        if fault is not None and fault.kind != "delay":
            status, ctype, answer = fault_answer(fault.kind, _service(params, self.headers))
            self._send(status, ctype, answer)
            return
        if fault is not None:
            time.sleep(fault.seconds)
        headers = []
        for k, v in self.headers.items():
            # Expect: 100-continue was answered here (http.server does).
            if k.lower() in HOP or k.lower() == "expect":
                continue
            headers.append((k, v))
        if chunked:
            headers.append(("Content-Length", str(len(body))))
        try:
            conn = http.client.HTTPConnection(self.proxy.up_host, self.proxy.up_port,
                                              timeout=self.proxy.timeout)
            try:
                conn.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body if body or self.command in ("POST", "PUT") else None)
                resp = conn.getresponse()
                answer = resp.read()
                status, rheaders = resp.status, resp.getheaders()
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            self._send(502, "text/plain", f"awsproxy: upstream {self.proxy.upstream}: {e}\n"
                       .encode())
            return
        with self.proxy.lock:
            self.proxy.forwarded += 1
        if 200 <= status < 300:
            new = self.proxy.rewrite(action, answer, params.get("StackName"))
            if new is not None:
                answer = new
        self._send(status, None, answer, rheaders)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free)")
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT of the AWS endpoint")
    ap.add_argument("--port-file", help="write the port here once listening")
    a = ap.parse_args(argv)
    host, _, port = a.listen.rpartition(":")
    if not host or not port.isdigit():
        ap.error(f"--listen must be HOST:PORT, not {a.listen!r}")
    proxy = AwsProxy(a.upstream, host.strip("[]"), int(port)).start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{proxy.port}\n")
        os.replace(tmp, a.port_file)
    print(f"awsproxy: {proxy.url} -> {proxy.upstream}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
