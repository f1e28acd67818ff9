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

With --starttls-port and --smtps-port it also listens there with TLS:
STARTTLS required on the first, TLS from the first byte on the second,
with a self-signed certificate for localhost and 127.0.0.1 made at each
start (SPOOL/tls/cert.pem, the CA file a client trusts; key.pem beside it).
A message's record then says "tls": the protocol version (else null).

Usage: smtp_sink.py --port 2525 --spool var/smtp [--host 127.0.0.1]
                    [--starttls-port 2587] [--smtps-port 2465]
                    [--reject-domain reject.invalid] [--auth user:password]
"""
import argparse
import asyncio
import datetime
import ipaddress
import itertools
import json
import os
import signal
import ssl
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
        tls = server.transport.get_extra_info("ssl_object") if server.transport else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
            "received": time.time(),
            "auth_user": (session.auth_data.login.decode("utf-8", "replace")
                          if session.authenticated
                          and isinstance(session.auth_data, LoginPassword) else None),
            "tls": tls.version() if tls is not None else None,
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


def make_tls(root):
    """A self-signed certificate for localhost and 127.0.0.1 under
    root/tls, and a server context with it."""
    d = os.path.join(root, "tls")
    os.makedirs(d, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    with open(key_path + ".tmp", "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.rename(key_path + ".tmp", key_path)
    with open(cert_path + ".tmp", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.rename(cert_path + ".tmp", cert_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx, cert_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--starttls-port", type=int, default=0)
    ap.add_argument("--smtps-port", type=int, default=0)
    ap.add_argument("--reject-domain", action="append", default=None)
    ap.add_argument("--auth", default="", help="USER:PASSWORD accepted by AUTH")
    args = ap.parse_args()
    if args.auth and ":" not in args.auth:
        ap.error("--auth wants USER:PASSWORD")
    spool = Spool(os.path.abspath(args.spool))
    handler = Handler(spool, args.reject_domain or ["reject.invalid"])
    auth = Authenticator(args.auth) if args.auth else None

    def factory(starttls=None):
        return SMTP(handler, hostname="localhost", ident=IDENT, decode_data=False,
                    data_size_limit=4 << 20, authenticator=auth, auth_required=False,
                    auth_require_tls=False, enable_SMTPUTF8=False,
                    tls_context=starttls, require_starttls=starttls is not None)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    servers = [loop.run_until_complete(loop.create_server(factory, host=args.host,
                                                          port=args.port))]
    listening = [f"{args.host}:{args.port}"]
    if args.starttls_port or args.smtps_port:
        ctx, cert = make_tls(os.path.abspath(args.spool))
        if args.starttls_port:
            servers.append(loop.run_until_complete(loop.create_server(
                lambda: factory(ctx), host=args.host, port=args.starttls_port)))
            listening.append(f"{args.host}:{args.starttls_port} (STARTTLS required)")
        if args.smtps_port:
            servers.append(loop.run_until_complete(loop.create_server(
                factory, host=args.host, port=args.smtps_port, ssl=ctx)))
            listening.append(f"{args.host}:{args.smtps_port} (TLS)")
        listening.append(f"certificate {cert}")
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{IDENT}: listening on {', '.join(listening)}, spool {spool.new}", flush=True)
    loop.run_until_complete(stop.wait())
    for server in servers:
        server.close()
        loop.run_until_complete(server.wait_closed())
    print(f"{IDENT}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
