#!/usr/bin/env python3
"""Reconciler scale: N instances tagged LaunchedBy=<[cloud] tag> in moto
(RunInstances in batches), then the updater's passes over them, read from
its Redis metric hash abaco:metrics:reconcile (duration_ms, objects,
passes; docs/cloud.md). Prints the creation time and the seconds of each
pass that saw at least N objects. Asserts nothing.

Usage: bench/reconcile.py [N [PASSES]]   (default 100 instances, 3 passes)
       bench/reconcile.py --create-only N   (time RunInstances only)
The stack must be up (make up), with its updater; moto is reset first, so
run it on the stack alone. Environment: cloud_endpoint, cloud_tag,
store_redis_host/store_redis_port override abaco.conf as for the services.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "functional"))
import cloudkit as ck  # noqa: E402

METRIC = "abaco:metrics:reconcile"


def resp_command(host, port, *args, timeout=10):
    """One Redis command over RESP (no client library); the decoded reply."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection((host, port), timeout=timeout) as s:
        password = ck.conf("store", "redis_password")
        f = s.makefile("rb")
        if password:
            auth = password.encode()
            s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(auth), auth))
            _read(f)
        s.sendall(out)
        return _read(f)


def _read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise RuntimeError(f"unexpected redis reply {line!r}")


def metric():
    host = ck.conf("store", "redis_host", "127.0.0.1")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    port = int(ck.conf("store", "redis_port", "6379"))
    flat = resp_command(host, port, "HGETALL", METRIC) or []
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def create(n):
    ck.moto_reset()
    t = time.perf_counter()
    ids = ck.run_tagged(n, batch=1000)
    secs = time.perf_counter() - t
    print(f"RunInstances: {len(ids)} instances tagged LaunchedBy={ck.tag()} in {secs:.1f} s "
          f"({secs / len(ids) * 1000:.2f} ms each, batches of 1000)", flush=True)
    return ids


def main(argv):
    if argv[:1] == ["--create-only"]:
        create(int(argv[1]) if len(argv) > 1 else 100)
        return 0
    n = int(argv[0]) if argv else 100
    want = int(argv[1]) if len(argv) > 1 else 3
    create(n)
    interval = float(ck.conf("cloud", "update_interval", "60"))
    deadline = time.time() + max(120.0, want * (interval + n / 50))
    seen = int(metric().get("passes", 0))
    got = []
    while len(got) < want:
        if time.time() > deadline:
            print(f"gave up: {len(got)} pass(es) over >= {n} objects before the deadline; "
                  f"last metric {metric()}")
            return 1
        m = metric()
        passes = int(m.get("passes", 0))
        if passes > seen:
            seen = passes
            objects = int(m.get("objects", 0))
            secs = int(m.get("duration_ms", 0)) / 1000
            if objects >= n:
                got.append(secs)
                print(f"pass {passes}: {objects} objects in {secs:.2f} s", flush=True)
        time.sleep(0.2)
    got.sort()
    print(f"reconcile of {n} instances: median {got[len(got) // 2]:.2f} s per pass, "
          f"min {got[0]:.2f} s, max {got[-1]:.2f} s over {len(got)} passes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
