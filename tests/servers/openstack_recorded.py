"""Serves the Nova, Cinder and Neutron answers of tests/fixtures/openstack-api.json on
127.0.0.1, for the parts of OpenStack too heavy to run in the tests (see README, Tests).

  openstack_recorded.py PORT FIXTURES GLANCE_URL

A GET is answered by the fixture named "PATH" or, for a later page, "PATH?marker=MARKER"
(other query parameters, such as limit and project filters, are ignored), a POST by the
fixture "POST PATH", a DELETE with 204. `{base}` in a fixture becomes this server's URL; a
fixture that is a string is served as text/dns. A request without X-Auth-Token gets 401,
an unknown path 404.

Cinder's os-volume_upload_image action (POST …/volumes/ID/action) is played for real
against Glance: with the caller's token, an image is created and given the volume's
"data", volume_data(ID) (sha256(ID) repeated to 1 MiB + 123 bytes), as Cinder would.
"""
import hashlib
import json
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, FIXTURES, GLANCE = int(sys.argv[1]), json.load(open(sys.argv[2])), sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"


def volume_data(volume):
    return (hashlib.sha256(volume.encode()).digest() * 32772)[: (1 << 20) + 123]


def glance(method, path, token, body, content_type):
    request = urllib.request.Request(GLANCE + path, data=body, method=method)
    request.add_header("X-Auth-Token", token)
    request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request) as response:
        return response.read()


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

    def do_DELETE(self):
        self.send_response(204 if self.headers.get("X-Auth-Token") else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        parts = path.split("/")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        token = self.headers.get("X-Auth-Token")
        if not token:
            return self.answer(401, {"error": {"message": "The request you have made requires authentication."}})
        if f"POST {path}" in FIXTURES:
            return self.answer(202, FIXTURES[f"POST {path}"])
        if parts[-1] != "action" or parts[-3] != "volumes" or "os-volume_upload_image" not in body:
            return self.answer(404, {"itemNotFound": {"message": f"no action at {self.path}", "code": 404}})
        volume, upload = parts[-2], body["os-volume_upload_image"]
        image = json.loads(glance("POST", "/v2/images", token, json.dumps(
            {"name": upload["image_name"], "disk_format": upload.get("disk_format", "raw"),
             "container_format": upload.get("container_format", "bare")}).encode(), "application/json"))
        glance("PUT", f"/v2/images/{image['id']}/file", token, volume_data(volume), "application/octet-stream")
        self.answer(202, {"os-volume_upload_image": {"id": volume, "image_id": image["id"], "status": "uploading",
                                                     "image_name": upload["image_name"]}})

    def answer(self, status, document):
        text = isinstance(document, str)
        body = (document if text else json.dumps(document)).replace("{base}", BASE).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/dns" if text else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("recorded: " + format % args + "\n")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
