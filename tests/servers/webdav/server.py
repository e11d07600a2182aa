"""WsgiDAV for the webdav provider's tests, on 127.0.0.1 (started by tests/common/webdav.rs):

    server.py FILES HTTP_PORT HTTPS_PORT CERT KEY PARENT_PID

serves the folder FILES at /dav/ (plain WebDAV) and at /remote.php/dav/files/USER/ (the
Nextcloud conventions of nextcloud.py), over HTTP on HTTP_PORT and HTTPS on HTTPS_PORT, with
Basic authentication of WEBDAV_TEST_USER / WEBDAV_TEST_PASSWORD and the bearer token
WEBDAV_TEST_TOKEN; dead properties in memory. Exits when PARENT_PID (the test process) does.
"""

import os
import sys
import threading
import time

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from wsgidav.error_printer import ErrorPrinter
from wsgidav.fs_dav_provider import FilesystemProvider
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nextcloud import BearerTokens, NextcloudProvider  # noqa: E402


def main():
    files, http_port, https_port, cert, key, parent = sys.argv[1:7]
    user, password = os.environ["WEBDAV_TEST_USER"], os.environ["WEBDAV_TEST_PASSWORD"]
    config = {
        "host": "127.0.0.1",
        "provider_mapping": {
            "/dav": FilesystemProvider(files),
            f"/remote.php/dav/files/{user}": NextcloudProvider(files),
        },
        "middleware_stack": [BearerTokens, ErrorPrinter, HTTPAuthenticator, RequestResolver],
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
            "trusted_auth_header": BearerTokens.HEADER,
        },
        "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
        "bearer_tokens": {os.environ["WEBDAV_TEST_TOKEN"]: user},
        "property_manager": True,
        "lock_storage": True,
        "verbose": 1,
        "logging": {"enable": False},
    }
    app = WsgiDAVApp(config)
    servers = []
    for port, tls in ((int(http_port), False), (int(https_port), True)):
        server = wsgi.Server(("127.0.0.1", port), app, numthreads=32, request_queue_size=64)
        if tls:
            server.ssl_adapter = BuiltinSSLAdapter(cert, key)
        server.prepare()
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
    while True:
        try:
            os.kill(int(parent), 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    for server in servers:
        server.stop()


if __name__ == "__main__":
    main()
