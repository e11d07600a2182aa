"""A test OVHcloud API v1 on 127.0.0.1, built from OVH's published API descriptions
(api/*.json): see README.md for the options, the credentials it accepts, what it enforces
and its admin routes. Python standard library only.
"""

import argparse
import base64
import collections
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from urllib.parse import parse_qs, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# no __pycache__ left in the source tree by the tests that start this server
sys.dont_write_bytecode = True

from fixture import NIC, Account, sql_dump  # noqa: E402
from schema import Api, SchemaError, now_iso, split_path  # noqa: E402

APPLICATION_KEY = "SortieTestAppKey"
APPLICATION_SECRET = "SortieTestAppSecret0000000000000"
APPLICATION_ID = 4242
CLIENT_ID = "sortie-test-client"
CLIENT_SECRET = "SortieTestClientSecret000000000"

EXPORT_RULES = [
    {"method": "GET", "path": "/*"},
    {"method": "POST", "path": "/*/dump"},
    {"method": "POST", "path": "/*/secret"},
    {"method": "POST", "path": "/*/url"},
    {"method": "POST", "path": "/*/export"},
    {"method": "POST", "path": "/*/exportURL"},
]
CONSUMER_KEYS = {
    "SortieTestCkFullAccess0000000000": ("validated", EXPORT_RULES),
    "SortieTestCkDomainsOnly000000000": (
        "validated",
        [{"method": "GET", "path": "/domain"}, {"method": "GET", "path": "/domain/*"}, {"method": "GET", "path": "/me"}],
    ),
    # every GET but `/me` itself (rules only allow: these prefixes cover the account's routes)
    "SortieTestCkNoMe0000000000000000": (
        "validated",
        [{"method": "GET", "path": p} for p in ("/auth/*", "/c*", "/d*", "/e*", "/h*", "/i*", "/me/*", "/s*", "/v*")],
    ),
    "SortieTestCkPending0000000000000": ("pendingValidation", EXPORT_RULES),
    "SortieTestCkExpired0000000000000": ("expired", EXPORT_RULES),
}

REASONS = {460: "Service Expired"}
# headers that carry a key or a token: a download host (another origin) must never see them
CREDENTIAL_HEADERS = ("Authorization", "X-Ovh-Application", "X-Ovh-Consumer", "X-Ovh-Signature", "X-Ovh-Timestamp")
MAX_LOG = 200_000


class ApiError(Exception):
    def __init__(self, status, cls, message, code=None, headers=None):
        super().__init__(message)
        self.status, self.cls, self.message, self.code = status, cls, message, code
        self.headers = headers or {}

    def body(self):
        out = {"class": self.cls, "message": self.message}
        if self.code:
            out["errorCode"] = self.code
            out["httpCode"] = f"{self.status} {reason(self.status)}"
        return out


def reason(status):
    if status in REASONS:
        return REASONS[status]
    return http.server.BaseHTTPRequestHandler.responses.get(status, ("Unknown",))[0]


def signature(secret, consumer_key, method, url, body, timestamp):
    """OVH's request signature: `$1$` + hex SHA1 of the fields joined by `+`."""
    plain = "+".join([secret, consumer_key, method, url, body, str(timestamp)])
    return "$1$" + hashlib.sha1(plain.encode("utf-8")).hexdigest()


def pst(email):
    """Bytes standing for a mailbox's PST file: its magic, then content of the mailbox's own."""
    seed = hashlib.sha256(email.encode()).digest()
    return b"!BDN" + b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(2048))


def rule_matches(rule_path, path):
    """OVH's access rules: `*` stands for any characters, including `/`."""
    return re.fullmatch(".*".join(re.escape(p) for p in rule_path.split("*")), path) is not None


class State:
    """Everything the handlers share, behind one lock."""

    def __init__(self, opts):
        self.lock = threading.Lock()
        self.config = {
            "rate_limit": opts.rate_limit,
            "max_skew": opts.max_skew,
            "clock_offset": opts.clock_offset,
            "token_ttl": opts.token_ttl,
            "task_polls": opts.task_polls,
        }
        self.opts = opts
        self.faults = [parse_fault(spec) for spec in opts.fault]
        self.log = collections.deque(maxlen=MAX_LOG)
        self.count = 0
        self.by_status = collections.Counter()
        self.credentials = {}
        for n, (ck, (status, rules)) in enumerate(CONSUMER_KEYS.items(), 1):
            self.credentials[ck] = {"status": status, "rules": rules, "credentialId": n, "token": None, "creation": now_iso()}
        self.tokens = {}
        self.windows = collections.defaultdict(collections.deque)
        self.tasks = {}
        self.next_task = 1
        self.next_dump = 2000
        self.account = None
        self.api = None
        self.base = None

    def now(self):
        return time.time() + self.config["clock_offset"]


INJECTED_STATUS = {"500": "Server::InjectedFault", "503": "Server::InjectedFault",
                   "429": "Client::TooManyRequests", "460": "Client::ServiceExpired"}
FAULTS = (*INJECTED_STATUS, "cut", "reset", "slow", "garbage", "huge")


def parse_fault(spec):
    if isinstance(spec, dict):
        kind, count, pattern = str(spec["kind"]), int(spec.get("count", 1)), spec["pattern"]
    else:
        kind, count, pattern = spec.split(":", 2)
        count = int(count)
        spec = {}
    if kind not in FAULTS:
        raise ValueError(f"unknown fault kind {kind!r} ({', '.join(FAULTS)})")
    return {"kind": kind, "count": count, "pattern": pattern, "regex": re.compile(pattern),
            "seconds": float(spec.get("seconds", 5)), "size": int(spec.get("size", 1 << 30))}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go in two writes: without TCP_NODELAY, Nagle and the client's delayed
    # ACK hold every answer ~40 ms
    disable_nagle_algorithm = True
    server_version = "ovh-test/1"
    state: State = None

    def log_message(self, fmt, *args):
        if self.state.opts.verbose:
            sys.stderr.write("ovh-test: " + (fmt % args) + "\n")

    def do_GET(self):
        self.answer("GET")

    def do_POST(self):
        self.answer("POST")

    def do_PUT(self):
        self.answer("PUT")

    def do_DELETE(self):
        self.answer("DELETE")

    # -- the request cycle ------------------------------------------------------------

    def answer(self, method):
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_admin/"):
            self.admin(method)
            return
        with st.lock:
            st.count += 1
            n = st.count
            fault = None
            line = f"{method} {self.path}"
            for f in st.faults:
                if f["count"] > 0 and f["regex"].search(line):
                    f["count"] -= 1
                    fault = f
                    break
        self.query_id = f"EU.ext-1.{int(time.time()):08x}.{n}.{secrets.token_hex(4)}"
        self.auth_kind, self.auth_key = "none", None
        if fault and self.inject(fault, n, method):
            return
        try:
            if fault and fault["kind"] in INJECTED_STATUS:
                status = int(fault["kind"])
                headers = {"Retry-After": "1"} if status in (429, 503) else {}
                raise ApiError(status, INJECTED_STATUS[fault["kind"]], f"injected fault ({status})", headers=headers)
            status, headers, body = self.route(method)
        except ApiError as e:
            status, headers = e.status, {"Content-Type": "application/json; charset=utf-8", **e.headers}
            body = json.dumps(e.body()).encode()
        except Exception:
            traceback.print_exc()
            status, headers = 500, {"Content-Type": "application/json; charset=utf-8"}
            body = json.dumps({"class": "Server::InternalServerError", "message": "internal error of the test server"}).encode()
        self.record(n, method, status)
        self.send(status, headers, body, cut=fault is not None and fault["kind"] == "cut")

    def inject(self, fault, n, method):
        """Answers as the fault says, when it replaces the answer (True); a `slow` fault only
        delays it, and a status fault is raised as an error by the caller."""
        kind = fault["kind"]
        if kind == "reset":
            self.record(n, method, 0)
            self.reset()
        elif kind == "huge":
            self.record(n, method, 200)
            self.huge(fault["size"])
        elif kind == "garbage":
            self.record(n, method, 200)
            self.send(200, {"Content-Type": "application/json; charset=utf-8"}, b"<html><body>502 Bad Gateway</body></html>")
        else:
            if kind == "slow":
                time.sleep(fault["seconds"])
            return False
        return True

    def record(self, n, method, status):
        st = self.state
        with st.lock:
            st.by_status[str(status)] += 1
            st.log.append({"n": n, "time": time.time(), "method": method, "path": self.path, "status": status,
                           "auth": self.auth_kind, "key": self.auth_key, "port": self.server.server_address[1],
                           "credentials": sorted(h for h in CREDENTIAL_HEADERS if h in self.headers)})

    def send(self, status, headers, body, cut=False):
        self.send_response(status, reason(status))
        self.send_header("X-Ovh-QueryID", self.query_id)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def huge(self, size):
        """A 200 whose JSON body is one string of `size` bytes, streamed (a client must bound
        what it holds); stops when the client goes away."""
        self.send_response(200)
        self.send_header("X-Ovh-QueryID", self.query_id)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"a" * 65536
        try:
            self.wfile.write(b'"')
            left = size - 2
            while left > 0:
                self.wfile.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            self.wfile.write(b'"')
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def reset(self):
        """Closes the connection with a TCP RST, without an answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def route(self, method):
        parts = urlsplit(self.path)
        if parts.path.startswith("/1.0/") or parts.path == "/1.0":
            return self.api(method, parts.path[len("/1.0"):], parts.query)
        if parts.path.startswith("/download/"):
            return self.download(parts.path, parts.query)
        if parts.path == "/auth/oauth2/token" and method == "POST":
            return self.oauth2_token()
        if parts.path in ("/auth/", "/auth"):
            page = b"<html><body>Validate this credential through POST /_admin/validate (test server).</body></html>"
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        raise ApiError(404, "Client::NotFound", "Got an invalid (or empty) URL")

    # -- /1.0 ---------------------------------------------------------------------------

    def api(self, method, rel, query):
        st = self.state
        segments = split_path(rel)
        route, params = st.api.route(segments)
        if route is None:
            raise ApiError(404, "Client::NotFound", "Got an invalid (or empty) URL")
        op = route.operations.get(method)
        if op is None:
            raise ApiError(405, "Client::MethodNotAllowed", f"The requested method ({method}) is not allowed for this URL")
        if not op.get("noAuthentication"):
            rules = self.authenticate(method)
            self.throttle()
            # a credential may always read itself, whatever its rules
            own = rel in ("/auth/currentCredential", "/auth/details")
            if not own and not any(r["method"] == method and rule_matches(r["path"], rel) for r in rules):
                raise ApiError(403, "Client::Forbidden", "This call has not been granted", "NOT_GRANTED_CALL")
        self.check_parameters(route, op, params)
        if st.account.is_suspended(segments):
            raise ApiError(460, "Client::ServiceExpired", "This service is expired")
        value = self.dispatch(method, route, params, segments, rel)
        rtype = op["responseType"]
        try:
            st.api.validate(rtype, value, route.section, rel)
        except SchemaError as e:
            raise ApiError(500, "Server::FixtureInvalid", f"the test server's answer breaks OVH's model: {e}") from None
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(value, ensure_ascii=False).encode()

    def check_parameters(self, route, op, params):
        """The path parameters and the body against the operation's description: a value of
        the wrong type, a missing required field or an unknown one is a 400, as OVH answers."""
        api = self.state.api

        def bad(message):
            raise ApiError(400, "Client::BadRequest", message)

        for p in op["parameters"]:
            if p["paramType"] != "path":
                continue
            value = params.get(p["name"], "")
            try:
                if p["dataType"] == "long":
                    if not re.fullmatch(r"-?[0-9]+", value):
                        raise SchemaError(f"{value!r} is not a long")
                else:
                    api.validate_input(p["dataType"], value, route.section, p["name"])
            except SchemaError as e:
                bad(f"Invalid value for parameter {p['name']}: {e}")
        body_params = [p for p in op["parameters"] if p["paramType"] == "body"]
        if not body_params:
            return
        try:
            body = json.loads(self.body) if self.body.strip() else {}
        except ValueError:
            bad("Invalid JSON body")
        try:
            if len(body_params) == 1 and not body_params[0].get("name"):
                api.validate_input(body_params[0]["dataType"], body, route.section, "body")
                return
            if not isinstance(body, dict):
                raise SchemaError("the body is not an object")
            known = {p["name"] for p in body_params}
            if set(body) - known:
                raise SchemaError(f"unknown parameters {sorted(set(body) - known)} (known: {sorted(known)})")
            for p in body_params:
                if p["name"] not in body:
                    if p["required"]:
                        raise SchemaError(f"missing parameter {p['name']}")
                    continue
                api.validate_input(p["dataType"], body[p["name"]], route.section, p["name"])
        except SchemaError as e:
            bad(f"Invalid body: {e}")

    def authenticate(self, method):
        """The caller's access rules, or the error OVH answers."""
        st = self.state
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer "):].strip()
            with st.lock:
                entry = st.tokens.get(token)
            if entry is None:
                raise ApiError(401, "Client::Unauthorized", "Invalid token", "INVALID_CREDENTIAL")
            if entry["expires"] <= time.time():
                raise ApiError(401, "Client::Unauthorized", "The access token has expired", "INVALID_CREDENTIAL")
            self.auth_kind, self.auth_key = "oauth2", entry["client_id"]
            return [{"method": m, "path": "/*"} for m in ("GET", "POST")]
        ak = self.headers.get("X-Ovh-Application")
        if ak != APPLICATION_KEY:
            raise ApiError(403, "Client::Forbidden", "This application key is invalid", "INVALID_KEY")
        ck = self.headers.get("X-Ovh-Consumer")
        with st.lock:
            cred = st.credentials.get(ck or "")
        if cred is None:
            raise ApiError(403, "Client::Forbidden", "This credential does not exist", "INVALID_CREDENTIAL")
        self.auth_kind, self.auth_key = "signed", ck
        ts, sig = self.headers.get("X-Ovh-Timestamp"), self.headers.get("X-Ovh-Signature")
        if not ts or not sig or not ts.isdigit():
            raise ApiError(400, "Client::BadRequest", "Invalid signature", "INVALID_SIGNATURE")
        if abs(int(ts) - st.now()) > st.config["max_skew"]:
            raise ApiError(400, "Client::BadRequest", "Query out of time", "QUERY_TIME_OUT")
        url = f"http://{self.headers.get('Host', '')}{self.path}"
        expected = signature(APPLICATION_SECRET, ck, method, url, self.body.decode("utf-8", "replace"), ts)
        if not hmac.compare_digest(expected, sig):
            raise ApiError(400, "Client::BadRequest", "Invalid signature", "INVALID_SIGNATURE")
        if cred["status"] != "validated":
            raise ApiError(403, "Client::Forbidden", "This credential is not valid", "NOT_CREDENTIAL")
        with st.lock:
            cred["lastUse"] = now_iso()
        return cred["rules"]

    def throttle(self):
        st = self.state
        limit = st.config["rate_limit"]
        if not limit:
            return
        now = time.monotonic()
        with st.lock:
            window = st.windows[self.auth_key]
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                raise ApiError(429, "Client::TooManyRequests", "Too many requests", headers={"Retry-After": "1"})
            window.append(now)

    def dispatch(self, method, route, params, segments, rel):
        """The answer of an authorized request: the routes that do something first (auth,
        the POSTs that start a task or hand out a URL, a task's poll), then the fixture."""
        st = self.state
        t = route.template
        if t == "/auth/time":
            return int(st.now())
        if t == "/auth/credential":
            return self.new_credential()
        if t == "/auth/currentCredential":
            return self.current_credential()
        if t == "/auth/details":
            return {"account": NIC, "identities": [f"urn:v1:eu:identity:account:{NIC}"], "roles": None, "user": None,
                    "allowedRoutes": None, "description": None,
                    "method": "oauth2_client_credentials" if self.auth_kind == "oauth2" else "account"}
        if method == "POST":
            if t.endswith("/database/{databaseName}/dump") or t.endswith("/database/{name}/dump"):
                return self.start_dump(t, params)
            if t.endswith("/s3Credentials/{access}/secret"):
                if st.account.get(segments[:-1]) is None or params["access"] != st.opts.s3_access_key:
                    raise ApiError(404, "Client::NotFound", "The requested object (access) does not exist")
                return {"secret": st.opts.s3_secret_key}
            if t.endswith("/archive/{archiveId}/url"):
                if st.account.get(segments[:-1]) is None:
                    raise ApiError(404, "Client::NotFound", f"The requested object (archiveId = {params['archiveId']}) does not exist")
                expires = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3600))
                return {"expirationDate": expires, "url": st.account.archive_url}
            if t.endswith("/account/{primaryEmailAddress}/export"):
                return self.start_pst_export(segments[:-1], params)
            if t.endswith("/account/{primaryEmailAddress}/exportURL"):
                return self.start_pst_url(segments[:-1], params)
        if method == "GET" and re.search(r"/tasks?/\{id\}$", t):
            task = self.poll_task(segments)
            if task is not None:
                return task
        value = st.account.get(segments)
        if value is None:
            name, val = next(iter(params.items()), ("object", rel))
            raise ApiError(404, "Client::NotFound", f"The requested object ({name} = {val}) does not exist")
        return value

    def new_credential(self):
        st = self.state
        if self.headers.get("X-Ovh-Application") != APPLICATION_KEY:
            raise ApiError(403, "Client::Forbidden", "This application key is invalid", "INVALID_KEY")
        try:
            request = json.loads(self.body or b"{}")
            rules = [{"method": r["method"], "path": r["path"]} for r in request["accessRules"]]
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "Client::BadRequest", "Invalid body: accessRules ([{method, path}]) is required") from None
        for r in rules:
            if r["method"] not in ("GET", "POST", "PUT", "DELETE") or not r["path"].startswith("/"):
                raise ApiError(400, "Client::BadRequest", f"Invalid access rule {r}")
        ck = secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")[:32]
        credential_token = secrets.token_urlsafe(48)
        with st.lock:
            st.credentials[ck] = {"status": "pendingValidation", "rules": rules, "credentialId": len(st.credentials) + 1,
                                  "token": credential_token, "creation": now_iso(), "redirection": request.get("redirection")}
        return {"consumerKey": ck, "state": "pendingValidation", "validationUrl": f"{st.base}/auth/?credentialToken={credential_token}"}

    def current_credential(self):
        st = self.state
        if self.auth_kind != "signed":
            raise ApiError(400, "Client::BadRequest", "This call is only for consumer keys")
        cred = st.credentials[self.auth_key]
        return {"applicationId": APPLICATION_ID, "credentialId": cred["credentialId"], "creation": cred["creation"],
                "expiration": None, "lastUse": cred.get("lastUse"), "ovhSupport": False, "allowedIPs": None,
                "rules": cred["rules"], "status": cred["status"]}

    # -- async dumps ----------------------------------------------------------------------

    def start_dump(self, template, params):
        st = self.state
        acc = st.account
        web = template.startswith("/hosting/web/")
        sn = params["serviceName"]
        db = params["name"] if web else params["databaseName"]
        service = ("hosting", "web", sn) if web else ("hosting", "privateDatabase", sn)
        if acc.get(service + ("database", db)) is None:
            raise ApiError(404, "Client::NotFound", f"The requested object (databaseName = {db}) does not exist")
        with st.lock:
            tid = st.next_task
            st.next_task += 1
            task = {"id": tid, "startDate": now_iso(), "doneDate": None, "lastUpdate": now_iso(), "status": "todo"}
            if web:
                task.update({"function": "dump/create", "objectId": db, "objectType": "Dump"})
            else:
                task.update({"function": "database/dump", "databaseName": db, "dumpId": None, "userName": None})
            st.tasks[service + ("tasks", str(tid))] = {"task": task, "reads": 0, "service": service, "db": db, "web": web,
                                                        "finish": self.finish_dump}
            acc.append(service + ("tasks",), tid)
            acc.set(service + ("tasks", str(tid)), dict(task))
        return dict(task)

    def poll_task(self, segments):
        st = self.state
        with st.lock:
            entry = st.tasks.get(segments)
            if entry is None:
                return None
            task = entry["task"]
            entry["reads"] += 1
            if task["status"] != "done":
                if entry["reads"] >= st.config["task_polls"]:
                    entry["finish"](entry)
                    task["status"] = "done"
                elif entry["reads"] > 1:
                    task["status"] = "doing"
                    if entry.get("progress"):
                        entry["progress"](entry)
                if "lastUpdate" in task:
                    task["lastUpdate"] = now_iso()
                if task["status"] == "done":
                    task["finishDate" if "finishDate" in task else "doneDate"] = now_iso()
                st.account.set(segments, dict(task))
            return dict(task)

    def finish_dump(self, entry):
        """The task is done: its dump exists, with a URL serving it (called under the lock)."""
        st = self.state
        acc = st.account
        task, service, db = entry["task"], entry["service"], entry["db"]
        dump_id = st.next_dump
        st.next_dump += 1
        kind = "web" if entry["web"] else "pdb"
        url = acc.download("dump", f"{kind}-{service[-1]}-{db}-{dump_id}.sql.gz", sql_dump(f"{db}@{dump_id}", st.opts.dump_size), "application/gzip")
        created, deleted = now_iso(), now_iso(30 * 86400)
        base = "/" + "/".join(service) + f"/database/{db}/dump"
        if entry["web"]:
            acc.put(f"{base}/{dump_id}", {"id": dump_id, "creationDate": created, "deletionDate": deleted, "status": "created",
                                          "type": "now", "url": url, "taskId": task["id"]})
            acc.put("/" + "/".join(service) + f"/dump/{dump_id}", {"id": dump_id, "databaseName": db, "creationDate": created,
                                                                   "deletionDate": deleted, "orphan": False, "status": "created",
                                                                   "type": "now", "url": url, "taskId": task["id"]})
            acc.append(service + ("dump",), dump_id)
        else:
            acc.put(f"{base}/{dump_id}", {"id": dump_id, "databaseName": db, "creationDate": created, "deletionDate": deleted, "url": url})
            acc.put("/" + "/".join(service) + f"/dump/{dump_id}", {"dumpId": dump_id, "databaseName": db, "creationDate": created,
                                                                   "deletionDate": deleted, "orphan": False, "url": url})
            acc.append(service + ("dump",), dump_id)
            task["dumpId"] = dump_id
        acc.append(service + ("database", db, "dump"), dump_id)

    # -- Exchange PST exports -----------------------------------------------------------------

    def exchange_task(self, account, function, finish, progress=None):
        """A task of the Exchange service above `account`, listed in its `task` (under the lock)."""
        st = self.state
        service = account[:5]
        tid = st.next_task
        st.next_task += 1
        task = {"id": tid, "function": function, "status": "todo", "todoDate": now_iso(), "finishDate": None}
        st.tasks[service + ("task", str(tid))] = {"task": task, "reads": 0, "account": account, "finish": finish,
                                                  "progress": progress}
        st.account.append(service + ("task",), tid)
        st.account.set(service + ("task", str(tid)), dict(task))
        return task

    def start_pst_export(self, account, params):
        st = self.state
        with st.lock:
            if st.account.get(account) is None:
                raise ApiError(404, "Client::NotFound", f"The requested object (primaryEmailAddress = {params['primaryEmailAddress']}) does not exist")
            if st.account.get(account + ("export",)) is not None:
                raise ApiError(409, "Client::Conflict", "A PST export of this account already exists")

            def progress(entry):
                st.account.set(account + ("export",), dict(st.account.get(account + ("export",)), percentComplete=50))

            def finish(entry):
                st.account.set(account + ("export",), dict(st.account.get(account + ("export",)), percentComplete=100, taskPendingId=0))

            task = self.exchange_task(account, "addExportPstRequest", finish, progress)
            st.account.put("/" + "/".join(account) + "/export", {"creationDate": now_iso(), "percentComplete": 0, "taskPendingId": task["id"]})
            return dict(task)

    def start_pst_url(self, account, params):
        st = self.state
        with st.lock:
            export = st.account.get(account + ("export",))
            if export is None or export["percentComplete"] < 100:
                raise ApiError(400, "Client::BadRequest", "The PST export of this account is not finished (poll its task first)")
            email = params["primaryEmailAddress"]

            def finish(entry):
                body = pst(email)
                url = st.account.download("pst", f"{email}.pst", body, "application/vnd.ms-outlook")
                expires = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
                st.account.put("/" + "/".join(account) + "/exportURL", {"expiration": expires, "url": url})

            return dict(self.exchange_task(account, "generatePstUrl", finish))

    # -- downloads and OAuth2 ---------------------------------------------------------------

    def download(self, path, query):
        acc = self.state.account
        passwd = parse_qs(query).get("passwd", [""])[0]
        html = path.endswith(".html")
        key = path[: -len(".html")] + ".pdf" if html else path
        entry = acc.files.get(unquote(key))
        if entry is None:
            raise ApiError(404, "Client::NotFound", "No such file")
        content_type, body, secret = entry
        if not hmac.compare_digest(passwd, secret):
            raise ApiError(403, "Client::Forbidden", "Invalid password for this document")
        if html:
            name = os.path.basename(key)[: -len(".pdf")]
            return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<html><body><h1>{name}</h1></body></html>".encode()
        return 200, {"Content-Type": content_type}, body

    def oauth2_token(self):
        st = self.state
        form = {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                client_id = client_secret = None
        headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        if form.get("grant_type") != "client_credentials":
            body = {"error": "unsupported_grant_type", "error_description": "only client_credentials is supported"}
            return 400, headers, json.dumps(body).encode()
        if client_id != CLIENT_ID or not hmac.compare_digest(client_secret or "", CLIENT_SECRET):
            body = {"error": "invalid_client", "error_description": "client authentication failed"}
            return 401, headers, json.dumps(body).encode()
        scope = form.get("scope", "all")
        if scope != "all":
            return 400, headers, json.dumps({"error": "invalid_scope", "error_description": "scope must be all"}).encode()
        token = "eyJ0ZXN0" + secrets.token_urlsafe(32)
        ttl = st.config["token_ttl"]
        with st.lock:
            st.tokens[token] = {"client_id": client_id, "expires": time.time() + ttl}
        self.auth_kind, self.auth_key = "oauth2", client_id
        return 200, headers, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "all"}).encode()

    # -- test-only control --------------------------------------------------------------

    def admin(self, method):
        st = self.state
        parts = urlsplit(self.path)
        self.query_id = f"EU.ext-1.admin.{secrets.token_hex(4)}"
        try:
            request = json.loads(self.body) if self.body else {}
        except ValueError:
            return self.send(400, {"Content-Type": "application/json"}, b'{"message":"the body is not JSON"}')
        status, out = 200, {"ok": True}
        with st.lock:
            name = parts.path[len("/_admin/"):]
            if name == "state" and method == "GET":
                out = {"requests": st.count, "by_status": dict(st.by_status), "config": st.config,
                       "faults": [{k: f[k] for k in ("kind", "count", "pattern")} for f in st.faults if f["count"] > 0]}
            elif name == "requests" and method == "GET":
                since = int(parse_qs(parts.query).get("since", ["0"])[0])
                out = [e for e in st.log if e["n"] > since]
            elif name == "paths" and method == "GET":
                out = {"paths": st.account.paths()}
            elif name == "versions" and method == "GET":
                route = parse_qs(parts.query).get("path", [""])[0]
                out = {"versions": st.account.versions(split_path(urlsplit(route).path))}
            elif name == "faults" and method == "POST":
                try:
                    for spec in request if isinstance(request, list) else [request]:
                        st.faults.append(parse_fault(spec))
                except (KeyError, ValueError, re.error) as e:
                    status, out = 400, {"message": f"bad fault: {e}"}
            elif name == "faults" and method == "DELETE":
                st.faults.clear()
            elif name == "config" and method == "POST":
                unknown = set(request) - set(st.config)
                if unknown:
                    status, out = 400, {"message": f"unknown settings {sorted(unknown)}; known: {sorted(st.config)}"}
                else:
                    st.config.update(request)
                    out = st.config
            elif name == "validate" and method == "POST":
                found = [ck for ck, c in st.credentials.items()
                         if ck == request.get("consumerKey") or (c["token"] and c["token"] == request.get("credentialToken"))]
                if not found:
                    status, out = 404, {"message": "no such consumer key or credential token"}
                for ck in found:
                    st.credentials[ck]["status"] = "validated"
            elif name == "suspend" and method == "POST":
                st.account.suspended.append(split_path(request["prefix"]))
            elif name == "expire-tokens" and method == "POST":
                for entry in st.tokens.values():
                    entry["expires"] = 0
            else:
                status, out = 404, {"message": f"no admin route {method} {parts.path}"}
        self.send(status, {"Content-Type": "application/json"}, json.dumps(out).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--domains", type=int, default=3)
    ap.add_argument("--bills", type=int, default=5)
    ap.add_argument("--dump-size", type=int, default=200_000, help="uncompressed bytes of each SQL dump")
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--rate-limit", type=int, default=0)
    ap.add_argument("--max-skew", type=int, default=180)
    ap.add_argument("--clock-offset", type=int, default=0)
    ap.add_argument("--task-polls", type=int, default=3)
    ap.add_argument("--s3-endpoint")
    ap.add_argument("--s3-access-key", default="")
    ap.add_argument("--s3-secret-key", default="")
    ap.add_argument("--s3-region", default="gra")
    ap.add_argument("--s3-bucket", action="append", default=[])
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--hostile-ids", action="store_true", help="ids that are no safe path segment (../, /, NUL…)")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()

    state = State(opts)
    Handler.state = state
    server = Server(("127.0.0.1", opts.port), Handler)
    # the files behind pdfUrl and the dump URLs come from another origin, as OVH's do
    # (www.ovh.com, not eu.api.ovh.com): a client must not send its keys there
    downloads = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    state.base = f"http://127.0.0.1:{port}"
    state.api = Api(os.path.join(HERE, "api"))
    try:
        state.account = Account(state.api, f"http://127.0.0.1:{downloads.server_address[1]}", opts)
    except SchemaError as e:
        sys.exit(f"ovh-test: the fixture breaks OVH's models: {e}")
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, opts.port_file)
    print(f"listening on {state.base}", flush=True)
    if opts.parent_pid:
        def watch():
            while True:
                try:
                    os.kill(opts.parent_pid, 0)
                except ProcessLookupError:
                    os._exit(0)
                time.sleep(0.5)

        threading.Thread(target=watch, daemon=True).start()
    threading.Thread(target=downloads.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
