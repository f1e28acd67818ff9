#!/usr/bin/env python3
"""The local stack's SMTP server (scripts/up.sh starts it, scripts/down.sh
stops it): an aiosmtpd server that delivers nowhere but keeps every message
it accepts as one JSON file in a spool directory, so that tests and
developers can read what the platform sent
(docs/notify.md "The local SMTP server").

Each message becomes SPOOL/new/<ns>.<pid>.<n>.json (written under
SPOOL/tmp/ and renamed, so a reader never sees half a file):
  {"mail_from": "...", "rcpt_tos": [...], "peer": "127.0.0.1:port",
   "received": <unix time>, "auth_user": "..." or null,
   "data": "<the message as received, dot stuffing undone>"}

Refuses, as a real server would, every recipient in a --reject-domain
(default reject.invalid) with 550, and offers AUTH PLAIN/LOGIN without TLS
(loopback only) for --auth USER:PASSWORD; a client may also send without
AUTH. The banner names "abaco-smtp-sink", which up.sh's health check looks
for.

Usage: smtp_sink.py --port 2525 --spool var/smtp [--host 127.0.0.1]
                    [--reject-domain reject.invalid] [--auth user:password]
"""
import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

IDENT = "abaco-smtp-sink"


class Spool:
    def __init__(self, root):
        self.new = os.path.join(root, "new")
        self.tmp = os.path.join(root, "tmp")
        os.makedirs(self.new, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        self.seq = itertools.count()

    def store(self, record):
        name = f"{time.time_ns()}.{os.getpid()}.{next(self.seq)}.json"
        tmp = os.path.join(self.tmp, name)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.new, name))
        return name


class Handler:
    def __init__(self, spool, reject_domains):
        self.spool = spool
        self.reject = {d.lower() for d in reject_domains}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if domain in self.reject:
            return f"550 5.1.1 <{address}>: recipient rejected (domain {domain} refuses mail)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        peer = session.peer
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
            "received": time.time(),
            "auth_user": (session.auth_data.login.decode("utf-8", "replace")
                          if session.authenticated
                          and isinstance(session.auth_data, LoginPassword) else None),
            "data": data.decode("utf-8", "replace"),
        }
        name = self.spool.store(record)
        return f"250 OK stored as {name}"


class Authenticator:
    def __init__(self, creds):
        self.user, _, self.password = creds.partition(":")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode("utf-8", "replace") == self.user
              and auth_data.password.decode("utf-8", "replace") == self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--reject-domain", action="append", default=None)
    ap.add_argument("--auth", default="", help="USER:PASSWORD accepted by AUTH")
    args = ap.parse_args()
    if args.auth and ":" not in args.auth:
        ap.error("--auth wants USER:PASSWORD")
    spool = Spool(os.path.abspath(args.spool))
    handler = Handler(spool, args.reject_domain or ["reject.invalid"])
    auth = Authenticator(args.auth) if args.auth else None

    def factory():
        return SMTP(handler, hostname="localhost", ident=IDENT, decode_data=False,
                    data_size_limit=4 << 20, authenticator=auth, auth_required=False,
                    auth_require_tls=False, enable_SMTPUTF8=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(factory, host=args.host, port=args.port))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{IDENT}: listening on {args.host}:{args.port}, spool {spool.new}", flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    print(f"{IDENT}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
