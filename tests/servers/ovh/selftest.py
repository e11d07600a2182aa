"""Checks that the OVH API test server enforces what OVH enforces, with the official `ovh`
client and with raw HTTP requests signed here by hand (so a bug shared by the server and
one client cannot hide):

    target/test-tools/ovh/bin/python tests/servers/ovh/selftest.py

Starts its own server, prints one line per check, exits 0 when every check passed.
"""

import gzip
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import quote
from urllib.error import HTTPError

import ovh
from ovh.oauth2 import OAuth2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
AK, AS = "SortieTestAppKey", "SortieTestAppSecret0000000000000"
FULL, DOMAINS, NO_ME, PENDING = (
    "SortieTestCkFullAccess0000000000",
    "SortieTestCkDomainsOnly000000000",
    "SortieTestCkNoMe0000000000000000",
    "SortieTestCkPending0000000000000",
)
FAILED = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        FAILED.append(name)


class Server:
    def __init__(self, *args):
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--port-file", port_file, "--parent-pid", str(os.getpid()), *args],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit("selftest: the server did not start")
            time.sleep(0.05)
        self.port = int(open(port_file).read())
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/1.0"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def admin(self, method, name, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}/_admin/{name}", data=data, method=method)
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def client(self, ck=FULL, secret=AS, ak=AK):
        c = ovh.Client(endpoint="ovh-eu", application_key=ak, application_secret=secret, consumer_key=ck)
        c._endpoint = self.url
        return c

    def raw(self, method, path, ck=FULL, ts=None, secret=AS, body="", headers=None):
        """A request signed here, by the rule of the issue: $1$ + SHA1(AS+CK+METHOD+URL+BODY+TS)."""
        url = self.url + path
        ts = str(int(time.time()) if ts is None else ts)
        sig = "$1$" + hashlib.sha1("+".join([secret, ck, method, url, body, ts]).encode()).hexdigest()
        h = {"X-Ovh-Application": AK, "X-Ovh-Consumer": ck, "X-Ovh-Timestamp": ts, "X-Ovh-Signature": sig}
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, "/1.0" + path, body=body.encode() or None, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
        return r.status, dict(r.getheaders()), parsed


def error_of(fn):
    try:
        fn()
    except ovh.exceptions.APIError as e:
        return type(e).__name__, e.query_id
    return None, None


def main():
    s = Server("--domains", "3", "--bills", "4", "--task-polls", "3")
    try:
        run(s)
    finally:
        s.stop()
    s = Server("--hostile-ids")
    try:
        c = s.client()
        base = "/email/domain/example-0.com/redirection"
        ids = c.get(base)
        read = [c.get(f"{base}/{quote(i, safe='')}")["id"] for i in ids]
        check("hostile ids (../, /, NUL, newline) are served at their encoded paths",
              read == ids and "../../../../tmp/escape" in ids and "nul\x00byte" in ids, ids)
        s.admin("POST", "faults", {"pattern": "^GET /1.0/me$", "kind": "garbage"})
        status, _, body = s.raw("GET", "/me")
        check("an injected garbage answer is a 200 that is not JSON", status == 200 and isinstance(body, bytes), body)
        s.admin("POST", "faults", {"pattern": "^GET /1.0/me$", "kind": "huge", "size": 5_000_000})
        status, headers, body = s.raw("GET", "/me")
        check("an injected huge answer streams its announced size (one JSON string)", len(body) == 5_000_000 - 2 and headers["Content-Length"] == "5000000")
        s.admin("POST", "faults", {"pattern": "^GET /1.0/me$", "kind": "slow", "seconds": 1})
        started = time.monotonic()
        status = s.raw("GET", "/me")[0]
        check("an injected slow answer comes late", status == 200 and time.monotonic() - started >= 1)
    finally:
        s.stop()
    s = Server("--s3-endpoint", "http://127.0.0.1:9", "--s3-access-key", "AKS3", "--s3-secret-key", "SKS3", "--s3-bucket", "b1")
    try:
        c = s.client()
        project = c.get("/cloud/project")[0]
        creds = c.get(f"/cloud/project/{project}/user/1/s3Credentials")
        secret = c.post(f"/cloud/project/{project}/user/1/s3Credentials/{creds[0]['access']}/secret")
        region = c.get(f"/cloud/project/{project}/region/GRA")
        check("a public cloud project hands out the local S3's credentials",
              creds[0]["access"] == "AKS3" and secret == {"secret": "SKS3"}
              and region["services"][0]["endpoint"] == "http://127.0.0.1:9", (creds, secret, region))
    finally:
        s.stop()
    print(f"{len(FAILED)} failed" if FAILED else "all passed")
    sys.exit(1 if FAILED else 0)


def run(s):
    sys.path.insert(0, HERE)
    from server import signature

    vector = signature("9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk", "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY", "GET",
                       "https://eu.api.ovh.com/1.0/auth", "", 1457018875)
    check("the server's signature matches the official clients' test vector",
          vector == "$1$e9556054b6309771395efa467c22e627407461ad", vector)
    from schema import Api, SchemaError

    api = Api(os.path.join(HERE, "api"))
    good = s.client().get("/me/bill/FR00000001")
    refused = []
    for broken in (dict(good, priceWithTax=None), dict(good, extra=1), {k: v for k, v in good.items() if k != "pdfUrl"},
                   dict(good, category="nope"), dict(good, date="yesterday"), dict(good, orderId="5")):
        try:
            api.validate("billing.Bill", broken, "me")
        except SchemaError:
            refused.append(True)
    api.validate("billing.Bill", good, "me")
    check("the model check refuses a null, an extra, a missing, a bad enum, date and type", len(refused) == 6, refused)
    c = s.client()
    status, headers, body = s.raw("GET", "/me")
    check("a request signed by hand is accepted", status == 200 and body["nichandle"] == "xx1111-ovh", (status, body))
    check("every answer carries X-Ovh-QueryID", headers.get("X-Ovh-QueryID", "").startswith("EU.ext-"), headers)
    status, _, body = s.raw("GET", "/me", secret="wrong")
    check("a wrong signature is 400 INVALID_SIGNATURE", status == 400 and body.get("errorCode") == "INVALID_SIGNATURE", (status, body))
    status, _, body = s.raw("GET", "/me", ts=int(time.time()) - 1000)
    check("a timestamp out of the window is 400 QUERY_TIME_OUT", status == 400 and body.get("errorCode") == "QUERY_TIME_OUT", (status, body))
    status, _, body = s.raw("GET", "/me", ck="SortieTestCkUnknown0000000000000")
    check("an unknown consumer key is 403 INVALID_CREDENTIAL", status == 403 and body.get("errorCode") == "INVALID_CREDENTIAL", (status, body))
    status, _, body = s.raw("GET", "/me", headers={"X-Ovh-Application": "Nope"})
    check("an unknown application key is 403 INVALID_KEY", status == 403 and body.get("errorCode") == "INVALID_KEY", (status, body))
    name, qid = error_of(lambda: s.client(PENDING).get("/me"))
    check("a pending consumer key is NotCredential, with a query id", name == "NotCredential" and qid, (name, qid))
    name, _ = error_of(lambda: s.client("SortieTestCkExpired0000000000000").get("/me"))
    check("an expired consumer key is NotCredential", name == "NotCredential", name)
    name, _ = error_of(lambda: s.client(DOMAINS).get("/me/bill"))
    check("a call outside the access rules is NotGrantedCall", name == "NotGrantedCall", name)
    check("a call inside them works", s.client(DOMAINS).get("/domain/example-0.com")["domain"] == "example-0.com")
    name, _ = error_of(lambda: s.client(NO_ME).get("/me"))
    check("the key without /me gets 403 on /me only", name == "NotGrantedCall" and len(s.client(NO_ME).get("/me/bill")) == 4, name)

    s.admin("POST", "config", {"clock_offset": 600})
    fresh = s.client()
    check("with a server clock 10 min ahead, the client that reads /auth/time works", fresh.get("/me")["nichandle"] == "xx1111-ovh")
    status, _, body = s.raw("GET", "/me")
    check("and one using its own clock gets QUERY_TIME_OUT", status == 400 and body.get("errorCode") == "QUERY_TIME_OUT", (status, body))
    s.admin("POST", "config", {"clock_offset": 0})

    req = c.post("/auth/credential", _need_auth=False, accessRules=[{"method": "GET", "path": "/domain/*"}], redirection="https://example.org/")
    check("POST /auth/credential gives a pending key and a validation URL",
          req["state"] == "pendingValidation" and "credentialToken=" in req["validationUrl"], req)
    new = s.client(req["consumerKey"])
    name, _ = error_of(lambda: new.get("/domain/example-0.com"))
    check("the new key is refused before validation", name == "NotCredential", name)
    token = req["validationUrl"].split("credentialToken=", 1)[1]
    s.admin("POST", "validate", {"credentialToken": token})
    check("validated, it works within its rules", new.get("/domain/example-0.com")["domain"] == "example-0.com")
    cur = new.get("/auth/currentCredential")
    check("/auth/currentCredential shows its rules", cur["status"] == "validated" and cur["rules"] == [{"method": "GET", "path": "/domain/*"}], cur)
    name, _ = error_of(lambda: new.get("/me/bill"))
    check("and only within them", name == "NotGrantedCall", name)

    name, qid = error_of(lambda: c.get("/domain/expired-example.net/serviceInfos"))
    check("a suspended service is 460 (ResourceExpiredError)", name == "ResourceExpiredError" and qid, name)
    s.admin("POST", "suspend", {"prefix": "/hosting/web/hosting-2.cluster.example"})
    name, _ = error_of(lambda: c.get("/hosting/web/hosting-2.cluster.example/cron"))
    check("a service suspended through the admin route is 460", name == "ResourceExpiredError", name)
    name, _ = error_of(lambda: c.get("/hosting/web/hosting-1.cluster.example/cron/999"))
    check("an object the account does not have is 404", name == "ResourceNotFoundError", name)
    name, _ = error_of(lambda: c.get("/no/such/route"))
    check("a route OVH does not have is 404", name == "ResourceNotFoundError", name)

    s.admin("POST", "config", {"rate_limit": 3})
    statuses = [s.raw("GET", "/me")[0] for _ in range(8)]
    s.admin("POST", "config", {"rate_limit": 0})
    check("beyond the rate limit, 429", statuses[:3] == [200] * 3 and 429 in statuses, statuses)

    s.admin("POST", "faults", {"pattern": "^GET /1.0/me$", "count": 2, "kind": "503"})
    statuses = [s.raw("GET", "/me")[0] for _ in range(3)]
    check("an injected 503 ×2 fails the next two requests only", statuses == [503, 503, 200], statuses)
    s.admin("POST", "faults", {"pattern": "^GET /1.0/me/bill$", "count": 1, "kind": "cut"})
    try:
        s.raw("GET", "/me/bill")
        cut = False
    except http.client.IncompleteRead:
        cut = True
    check("an injected cut ends the body early", cut)
    s.admin("POST", "faults", {"pattern": "^GET /1.0/me/bill$", "count": 1, "kind": "reset"})
    try:
        s.raw("GET", "/me/bill")
        reset = False
    except (ConnectionError, http.client.RemoteDisconnected):
        reset = True
    check("an injected reset closes the connection without an answer", reset)
    state = s.admin("GET", "state")
    check("no fault left after use", state["faults"] == [], state["faults"])

    bad = 0
    for path in s.admin("GET", "paths")["paths"]:
        try:
            c.get(path)
        except ovh.exceptions.ResourceExpiredError:
            if "expired-example.net" not in path and "hosting-2.cluster" not in path:
                bad += 1
        except ovh.exceptions.APIError as e:
            print("   ", path, e)
            bad += 1
    check("every fixture path answers (validated against its model)", bad == 0, f"{bad} failed")

    tickets = c.get("/support/tickets")
    messages = c.get(f"/support/tickets/{tickets[0]}/messages")
    check("support tickets have their messages", len(tickets) == 2 and [m["from"] for m in messages] == ["customer", "support"], messages)

    for bill_id in c.get("/me/bill"):
        bill = c.get(f"/me/bill/{bill_id}")
        with urllib.request.urlopen(bill["pdfUrl"]) as r:
            body = r.read()
        if not body.startswith(b"%PDF-") or bill_id.encode() not in body:
            check(f"the PDF of {bill_id}", False, body[:40])
    check("every bill's pdfUrl serves its PDF", True)
    check("the PDFs come from another origin than the API", f":{s.port}/" not in bill["pdfUrl"], bill["pdfUrl"])
    last = s.admin("GET", "requests?since=0")[-1]
    check("the request log names the credential headers a download carried (none here)",
          last["path"].startswith("/download/") and last["credentials"] == [] and last["port"] != s.port, last)
    try:
        urllib.request.urlopen(bill["pdfUrl"].split("?")[0] + "?passwd=wrong")
        refused = False
    except HTTPError as e:
        refused = e.code == 403
    check("a PDF URL with a wrong passwd is refused", refused)

    name, _ = error_of(lambda: c.post("/hosting/web/hosting-1.cluster.example/database/db1/dump", sendEmail=False))
    check("a POST without a required body parameter is 400", name == "BadParametersError", name)
    name, _ = error_of(lambda: c.post("/hosting/privateDatabase/sql-1/database/app/dump", sendMail=False))
    check("a POST with an unknown body field is 400", name == "BadParametersError", name)
    name, _ = error_of(lambda: c.get("/domain/zone/example-0.com/record/abc"))
    check("a path parameter of the wrong type (long) is 400", name == "BadParametersError", name)
    task = c.post("/hosting/privateDatabase/sql-1/database/app/dump", sendEmail=False)
    seen = [c.get(f"/hosting/privateDatabase/sql-1/tasks/{task['id']}")["status"] for _ in range(3)]
    done = c.get(f"/hosting/privateDatabase/sql-1/tasks/{task['id']}")
    check("a private SQL dump task goes todo → doing → done", [task["status"]] + seen == ["todo", "todo", "doing", "done"], seen)
    dump = c.get(f"/hosting/privateDatabase/sql-1/database/app/dump/{done['dumpId']}")
    with urllib.request.urlopen(dump["url"]) as r:
        sql = gzip.decompress(r.read())
    versions = s.admin("GET", "versions?path=/hosting/privateDatabase/sql-1/database/app/dump")["versions"]
    check("the dump list's earlier answer is kept", versions == [[700]], versions)
    check("its dump is listed and its URL serves a gzip SQL dump", done["dumpId"] in c.get("/hosting/privateDatabase/sql-1/database/app/dump")
          and sql.startswith(b"-- dump of app"), sql[:40])
    task = c.post("/hosting/web/hosting-1.cluster.example/database/db1/dump", date="now")
    for _ in range(3):
        t = c.get(f"/hosting/web/hosting-1.cluster.example/tasks/{task['id']}")
    dumps = c.get("/hosting/web/hosting-1.cluster.example/database/db1/dump")
    new = c.get(f"/hosting/web/hosting-1.cluster.example/database/db1/dump/{dumps[-1]}")
    check("a web hosting dump task ends with a new dump of type now", t["status"] == "done" and new["type"] == "now" and new["url"], (t, new))

    mailbox = "/email/exchange/hosted-xx11111-1/service/hosted-xx11111-1/account/alice@example-0.com"
    service = mailbox.split("/account/")[0]
    name, _ = error_of(lambda: c.get(f"{mailbox}/export"))
    check("no PST export before one is asked for (404)", name == "ResourceNotFoundError", name)
    task = c.post(f"{mailbox}/export")
    name, _ = error_of(lambda: c.post(f"{mailbox}/exportURL"))
    check("no PST URL before the export is done (400)", name == "BadParametersError", name)
    progress = []
    for _ in range(3):
        status = c.get(f"{service}/task/{task['id']}")["status"]
        progress.append((status, c.get(f"{mailbox}/export")["percentComplete"]))
    check("an Exchange PST export task goes todo → doing → done, the export 0 → 50 → 100 %",
          progress == [("todo", 0), ("doing", 50), ("done", 100)], progress)
    task = c.post(f"{mailbox}/exportURL")
    for _ in range(3):
        status = c.get(f"{service}/task/{task['id']}")["status"]
    url = c.get(f"{mailbox}/exportURL")["url"]
    with urllib.request.urlopen(url) as r:
        data = r.read()
    check("then its URL task gives a URL serving the PST file", status == "done" and data.startswith(b"!BDN") and task["id"] in c.get(f"{service}/task"), status)

    logs = "/dbaas/logs/ldp-1/output/graylog/stream"
    stream = c.get(logs)[0]
    archive_id = c.get(f"{logs}/{stream}/archive")[0]
    archive = c.get(f"{logs}/{stream}/archive/{archive_id}")
    url = c.post(f"{logs}/{stream}/archive/{archive_id}/url")["url"]
    with urllib.request.urlopen(url) as r:
        data = r.read()
    check("a logs archive URL serves bytes of the archive's sha256", hashlib.sha256(data).hexdigest() == archive["sha256"])

    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    s.admin("POST", "config", {"token_ttl": 2})
    o = ovh.Client(endpoint="ovh-eu", client_id="sortie-test-client", client_secret="SortieTestClientSecret000000000")
    o._endpoint = s.url
    o._oauth2 = OAuth2(client_id="sortie-test-client", client_secret="SortieTestClientSecret000000000", token_url=s.base + "/auth/oauth2/token")
    first = o.get("/me")["nichandle"]
    before = s.admin("GET", "state")["requests"]
    time.sleep(2.5)
    second = o.get("/auth/details")
    log = s.admin("GET", f"requests?since={before}")
    check("OAuth2: the official client gets a token, and a new one once it expired",
          first == "xx1111-ovh" and second["method"] == "oauth2_client_credentials"
          and [e["path"] for e in log] == ["/auth/oauth2/token", "/1.0/auth/details"], log)
    tok = o._oauth2._token["access_token"]
    s.admin("POST", "expire-tokens", {})
    conn = http.client.HTTPConnection("127.0.0.1", s.port)
    conn.request("GET", "/1.0/me", headers={"Authorization": f"Bearer {tok}"})
    r = conn.getresponse()
    check("an expired bearer token is 401", r.status == 401 and json.loads(r.read())["class"] == "Client::Unauthorized", r.status)
    req = urllib.request.Request(s.base + "/auth/oauth2/token", data=b"grant_type=client_credentials&client_id=sortie-test-client&client_secret=no&scope=all")
    try:
        urllib.request.urlopen(req)
        code = 200
    except HTTPError as e:
        code = e.code
    check("a wrong client secret gets no token (401)", code == 401, code)


if __name__ == "__main__":
    main()
