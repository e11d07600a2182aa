"""A tiny OAuth2 token endpoint for Dovecot's oauth2 passdb (tests/servers/dovecot/server):
what Gmail's or Microsoft's token service answers Dovecot, for one token and one user.

    introspect.py PORT TOKEN USER

Dovecot asks GET /tokeninfo?access_token=TOKEN, then POST /introspect (token=TOKEN); both
answer {"active": true, "username": USER} for TOKEN and {"active": false} otherwise.
"""

import http.server
import json
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        given = (urllib.parse.parse_qs(body).get("token") or query.get("access_token") or [""])[0]
        valid = given == TOKEN
        answer = json.dumps({"active": True, "username": USER} if valid else {"active": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST

    def log_message(self, *args):
        pass


PORT, TOKEN, USER = int(sys.argv[1]), sys.argv[2], sys.argv[3]
http.server.HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
