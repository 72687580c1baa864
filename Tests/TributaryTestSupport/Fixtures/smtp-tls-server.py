#!/usr/bin/python3
"""An SMTP server for tests (Debian's aiosmtpd) that requires STARTTLS and AUTH.

usage: smtp-tls-server.py MAILDIR CERT KEY USER PASSWORD
Prints PORT=<port> once listening on 127.0.0.1; stores each message in MAILDIR (maildir format)."""
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

maildir, cert, key, user, password = sys.argv[1:6]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                        authenticator=authenticator, auth_required=True, auth_require_tls=True)
controller.start()
print(f"PORT={port}", flush=True)
threading.Event().wait()
