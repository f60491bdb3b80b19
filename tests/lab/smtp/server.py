#!/usr/bin/python3
"""A real SMTP server for umha's mail tests: Debian's python3-aiosmtpd.

    /usr/bin/python3 tests/lab/smtp/server.py --port 2525 --maildir DIR \
        --mode starttls|tls|plain [--user U --password-file F] --cert C --key K

Listens on 127.0.0.1 only. Every accepted message is written to
DIR/<n>.eml, with X-Envelope-From / X-Envelope-To headers first. Prints
"ready" on stdout once it accepts connections; stops on SIGTERM.
With --user, AUTH (PLAIN/LOGIN) is required, and only over TLS.
"""
import argparse
import logging
import os
import signal
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, maildir):
        self.maildir = maildir
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            name = os.path.join(self.maildir, "%04d.eml" % self.n)
        head = "X-Envelope-From: %s\nX-Envelope-To: %s\n" % (
            envelope.mail_from, ", ".join(envelope.rcpt_tos))
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(tmp, name)
        return "250 OK stored"


def main():
    # aiosmtpd warns on every login (its own deprecated login_data) and on
    # AUTH without STARTTLS, which is the whole connection's TLS here: noise
    # in the tests' output, not news.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="aiosmtpd")
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--mode", choices=["starttls", "tls", "plain"], default="starttls")
    p.add_argument("--user")
    p.add_argument("--password-file")
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    os.makedirs(a.maildir, exist_ok=True)

    ctx = None
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)

    kwargs = {}
    if a.user:
        with open(a.password_file) as f:
            password = f.readline().rstrip("\n")

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == a.user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok)

        # With implicit TLS, aiosmtpd 1.4 does not see the session as TLS
        # and would never offer AUTH: the whole connection is TLS anyway.
        kwargs.update(authenticator=authenticate, auth_required=True,
                      auth_require_tls=(a.mode == "starttls"))
    if a.mode == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)

    controller = Controller(
        Store(a.maildir), hostname="127.0.0.1", port=a.port,
        ssl_context=ctx if a.mode == "tls" else None,
        server_hostname="localhost", **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
