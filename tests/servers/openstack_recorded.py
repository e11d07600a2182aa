"""Serves the Nova, Cinder and Neutron answers of tests/fixtures/openstack-api.json on
127.0.0.1, for the parts of OpenStack too heavy to run in the tests (see README, Tests).

  openstack_recorded.py PORT FIXTURES

A GET is answered by the fixture named "PATH" or, for a later page, "PATH?marker=MARKER";
other query parameters (limit, project filters) are ignored. `{base}` in a fixture becomes
this server's URL. A request without X-Auth-Token gets 401, an unknown path 404.
"""
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, FIXTURES = int(sys.argv[1]), json.load(open(sys.argv[2]))
BASE = f"http://127.0.0.1:{PORT}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        marker = urllib.parse.parse_qs(url.query).get("marker", [None])[0]
        key = url.path + (f"?marker={marker}" if marker else "")
        if not self.headers.get("X-Auth-Token"):
            return self.answer(401, {"error": {"message": "The request you have made requires authentication."}})
        if key not in FIXTURES:
            return self.answer(404, {"itemNotFound": {"message": f"no fixture for {key}", "code": 404}})
        self.answer(200, FIXTURES[key])

    def answer(self, status, document):
        body = json.dumps(document).replace("{base}", BASE).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("recorded: " + format % args + "\n")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
