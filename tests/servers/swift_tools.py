"""Seeds and checks the test Swift with python-swiftclient, as an independent client.

Connection from the environment, as the swift CLI reads it: ST_AUTH/ST_USER/ST_KEY
(tempauth; with SWIFT_ACCOUNT_URL, a reseller admin working in that account), else
OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME (Keystone v3, domain "default").

  swift_tools.py seed               the standard data set (see seed())
  swift_tools.py check BAG CONTAINERS [--include-segments]
                                    compares an extracted bag with the server
  swift_tools.py put CONTAINER NAME FILE     one object, from a file
  swift_tools.py slo CONTAINER NAME SEGMENT_CONTAINER SIZE...   an SLO of random segments
  swift_tools.py dlo CONTAINER NAME SEGMENT_CONTAINER/PREFIX   a DLO manifest (no segments made)
  swift_tools.py many CONTAINER COUNT SIZE [FIRST]   COUNT objects of SIZE random bytes,
                                    named obj-FIRST… (FIRST defaults to 0)
  swift_tools.py put-raw CONTAINER NAME TEXT   one object, its path sent as written
  swift_tools.py get-raw CONTAINER NAME        prints the sha256 of an object, asked as written
  swift_tools.py upload CONTAINER DIR         every file under DIR, named by its path in DIR
  swift_tools.py delete CONTAINER [NAME]     an object, or a container with everything in it
  swift_tools.py images GLANCE_URL           the names of the project's images, as JSON
  swift_tools.py image GLANCE_URL NAME [FILE]  a Glance image (raw), with FILE's bytes as its
                                    data (without, it stays queued); prints its id
"""
import hashlib
import io
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from swiftclient import client as swift
from swiftclient.exceptions import ClientException


def connect():
    if os.environ.get("ST_AUTH") and os.environ.get("SWIFT_ACCOUNT_URL"):
        # tempauth's reseller admin, working in another account (a Keystone project's).
        url, token = swift.get_auth(os.environ["ST_AUTH"], os.environ["ST_USER"], os.environ["ST_KEY"])
        return swift.Connection(preauthurl=os.environ["SWIFT_ACCOUNT_URL"], preauthtoken=token, retries=2)
    if os.environ.get("ST_AUTH"):
        return swift.Connection(os.environ["ST_AUTH"], os.environ["ST_USER"], os.environ["ST_KEY"], retries=2)
    return swift.Connection(
        authurl=os.environ["OS_AUTH_URL"], user=os.environ["OS_USERNAME"], key=os.environ["OS_PASSWORD"],
        auth_version="3", retries=2,
        os_options={"project_name": os.environ["OS_PROJECT_NAME"], "user_domain_id": "default",
                    "project_domain_id": "default", "region_name": os.environ.get("OS_REGION_NAME")})


def put(conn, container, name, body, **headers):
    conn.put_object(container, name, body, headers=headers or None)


def put_many(conn, container, objects):
    """Uploads (name, body) pairs 16 at a time, each thread with its connection: a login per
    object would cost Keystone a password check each."""
    conn.put_container(container)
    local = threading.local()

    def upload(entry):
        if not hasattr(local, "conn"):
            local.conn = connect()
        # A file object, which swiftclient can rewind to send again after renewing a token.
        local.conn.put_object(container, entry[0], io.BytesIO(entry[1]))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(upload, objects))


def slo(conn, container, name, segment_container, sizes, seed=b""):
    """An SLO whose segments hold deterministic pseudo-random bytes."""
    conn.put_container(segment_container)
    manifest, whole = [], b""
    for n, size in enumerate(sizes):
        data = hashlib.sha256(seed + name.encode() + bytes([n])).digest() * (size // 32 + 1)
        data = data[:size]
        segment = f"{name}/seg/{n:08d}"
        etag = conn.put_object(segment_container, segment, data)
        manifest.append({"path": f"/{segment_container}/{segment}", "etag": etag, "size_bytes": size})
        whole += data
    conn.put_object(container, name, json.dumps(manifest), query_string="multipart-manifest=put")
    return whole


def seed():
    """The standard data set:
    docs          metadata and a read ACL on the container; objects with metadata, content
                  types, encoding, disposition, X-Delete-At; pseudo-folders, unicode, `a` and
                  `a/b`, a zero-byte object, an SLO (3 segments) and a DLO (3 segments) whose
                  segments live in docs_segments
    many          2,600 small objects; metadata and a write ACL on the container
    history       X-Versions-Enabled, 3 versions of report.txt, a deleted object
    legacy        X-History-Location: legacy-archive, 3 writes of notes.txt
    """
    conn = connect()
    conn.put_container("docs", headers={"X-Container-Meta-Owner": "accounting", "X-Container-Read": ".r:*,.rlistings",
                                        "X-Container-Meta-Temp-Url-Key": "container-secret-key"})
    put(conn, "docs", "readme.txt", b"hello swift\n", **{"Content-Type": "text/plain", "X-Object-Meta-Color": "blue"})
    put(conn, "docs", "a", b"leaf a")
    put(conn, "docs", "a/b", b"leaf a/b")
    put(conn, "docs", "folder/", b"")
    put(conn, "docs", "folder/inside.txt", b"inside")
    put(conn, "docs", "empty", b"")
    put(conn, "docs", "été/naïve ☃.txt", "unicode ☃".encode(), **{"Content-Type": "text/plain; charset=utf-8"})
    put(conn, "docs", "x//y", b"double slash")
    put(conn, "docs", "100% done", b"percent")
    put(conn, "docs", "report.csv.gz", b"\x1f\x8b fake gzip",
        **{"Content-Type": "text/csv", "Content-Encoding": "gzip", "Content-Disposition": "attachment; filename=r.csv",
           "X-Delete-At": str(int(time.time()) + 30 * 86400)})
    slo(conn, "docs", "big/slo", "docs_segments", [1 << 20, 1 << 20, 12345])
    conn.put_container("docs_segments")
    for n in range(3):
        put(conn, "docs_segments", f"dlo/part-{n:02d}", hashlib.sha256(bytes([n])).digest() * (1000 + n))
    put(conn, "docs", "big/dlo", b"", **{"X-Object-Manifest": "docs_segments/dlo/part-"})
    conn.put_container("many", headers={"X-Container-Meta-Purpose": "bulk", "X-Container-Write": "sortie:*"})
    put_many(conn, "many", ((f"item-{n:05d}", f"object {n}\n".encode()) for n in range(2600)))
    conn.put_container("history", headers={"X-Versions-Enabled": "true"})
    for n in range(1, 4):
        put(conn, "history", "report.txt", f"report version {n}\n".encode())
    put(conn, "history", "removed.txt", b"short-lived")
    conn.delete_object("history", "removed.txt")
    conn.put_container("legacy-archive")
    conn.put_container("legacy", headers={"X-History-Location": "legacy-archive"})
    for n in range(1, 4):
        put(conn, "legacy", "notes.txt", f"notes {n}\n".encode())


def listing(conn, container, versions=False):
    entries, marker, version_marker = [], "", ""
    while True:
        query = "versions" + (f"&version_marker={version_marker}" if version_marker else "") if versions else None
        _, page = conn.get_container(container, marker=marker, limit=10000, query_string=query)
        if not page:
            return entries
        entries.extend(page)
        marker, version_marker = page[-1]["name"], page[-1].get("version_id", "")


def check(bag, containers, include_segments):
    """Every object (and version) of CONTAINERS is in the bag, byte for byte as a direct GET
    returns it, with the inventory's sha256; SLOs and DLOs equal their concatenated segments
    and SLO manifests are kept; nothing else is in the bag; segments of large objects are
    excluded (listed in the report) unless include_segments."""
    conn = connect()
    inventory = [json.loads(line) for line in open(os.path.join(bag, "sortie/inventory.jsonl"))]
    report = json.load(open(os.path.join(bag, "sortie/report.json")))
    excluded = {(e["source"], e["id"]) for e in report["exclusions"]}
    records = {}
    for record in inventory:
        key = (record["source"], record["id"], record["meta"].get("version_id"), record["kind"])
        assert key not in records, f"two inventory records for {key}"
        records[key] = record
    checked, problems = 0, []
    segments = set()
    for container in containers:
        source = f"swift-{container}"
        headers = conn.head_container(container)
        versioned = headers.get("x-versions-enabled", "").lower() == "true"
        for entry in listing(conn, container, versioned):
            name, version = entry["name"], entry.get("version_id") if versioned else None
            if entry["content_type"].startswith("application/x-deleted"):
                if (source, name, version, "delete-marker") not in records:
                    problems.append(f"{container}/{name}@{version}: delete marker not in the inventory")
                continue
            kind = "object" if entry.get("is_latest", True) else "object-version"
            record = records.get((source, name, version, kind))
            if (source, name) in excluded:
                segments.add((container, name))
                continue
            if record is None:
                problems.append(f"{container}/{name}@{version}: not in the inventory")
                continue
            query = f"version-id={version}" if version else None
            head, body = conn.get_object(container, name, query_string=query)
            with open(os.path.join(bag, record["path"]), "rb") as f:
                archived = f.read()
            if archived != body:
                problems.append(f"{container}/{name}@{version}: {len(archived)} archived bytes differ from a GET")
            if hashlib.sha256(body).hexdigest() != record["sha256"]:
                problems.append(f"{container}/{name}: sha256 differs from the inventory")
            if head.get("x-static-large-object"):
                _, manifest = conn.get_object(container, name, query_string="multipart-manifest=get" + (f"&{query}" if query else ""))
                segs = json.loads(manifest)
                joined = b"".join(conn.get_object(*s["name"].lstrip("/").split("/", 1))[1] for s in segs)
                if joined != body:
                    problems.append(f"{container}/{name}: SLO content is not its segments")
                mrecord = records.get((source, name, version, "config"))
                if mrecord is None:
                    problems.append(f"{container}/{name}: SLO manifest not archived")
                elif json.load(open(os.path.join(bag, mrecord["path"]))) != segs:
                    problems.append(f"{container}/{name}: archived manifest differs")
                segments.update(tuple(s["name"].lstrip("/").split("/", 1)) for s in segs)
            if head.get("x-object-manifest"):
                seg_container, prefix = head["x-object-manifest"].split("/", 1)
                parts = [e["name"] for e in listing(conn, seg_container) if e["name"].startswith(prefix)]
                joined = b"".join(conn.get_object(seg_container, p)[1] for p in parts)
                if joined != body:
                    problems.append(f"{container}/{name}: DLO content is not its segments")
                segments.update((seg_container, p) for p in parts)
            if record.get("content_type") != head.get("content-type"):
                problems.append(f"{container}/{name}: content type {record.get('content_type')} != {head.get('content-type')}")
            for header, value in head.items():
                if header.startswith("x-object-meta-") and record["meta"]["metadata"].get(header[14:]) != value:
                    problems.append(f"{container}/{name}: metadata {header} not in the inventory")
            checked += 1
    for container, name in segments:
        if f"swift-{container}" in {f"swift-{c}" for c in containers}:
            if include_segments == ((f"swift-{container}", name) in excluded):
                problems.append(f"{container}/{name}: segment {'excluded' if include_segments else 'archived twice'}")
    payload = [r for r in inventory if r["kind"] in ("object", "object-version")]
    if len(payload) != checked:
        problems.append(f"{len(payload)} objects archived, {checked} on the server")
    if problems:
        sys.exit("\n".join(problems[:20]))
    print(json.dumps({"objects": checked, "segments": len(segments)}))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    conn = connect()
    if command == "seed":
        seed()
    elif command == "check":
        check(args[0], args[1].split(","), "--include-segments" in args)
    elif command == "put":
        conn.put_container(args[0])
        put(conn, args[0], args[1], open(args[2], "rb").read())
    elif command == "slo":
        conn.put_container(args[0])
        body = slo(conn, args[0], args[1], args[2], [int(s) for s in args[3:]])
        print(hashlib.sha256(body).hexdigest())
    elif command == "dlo":
        conn.put_container(args[0])
        put(conn, args[0], args[1], b"", **{"X-Object-Manifest": args[2]})
    elif command == "many":
        count, size = int(args[1]), int(args[2])
        first = int(args[3]) if len(args) > 3 else 0
        put_many(conn, args[0], ((f"obj-{n:06d}", os.urandom(size)) for n in range(first, first + count)))
    elif command in ("put-raw", "get-raw"):
        # python-swiftclient sends through requests, whose URL parsing resolves '.' and '..'
        # segments: names made of them go through http.client, which sends the path as is.
        import http.client
        from urllib.parse import quote, urlsplit
        url, token = conn.get_auth()
        conn.put_container(args[0])
        parts = urlsplit(url)
        raw = http.client.HTTPConnection(parts.hostname, parts.port)
        path = f"{parts.path}/{quote(args[0])}/{quote(args[1], safe='/')}"
        body = args[2].encode() if command == "put-raw" else None
        raw.request("PUT" if body is not None else "GET", path, body=body, headers={"X-Auth-Token": token})
        response = raw.getresponse()
        data = response.read()
        if response.status >= 300:
            sys.exit(f"swift: {command} {args[1]!r}: {response.status} {data[:200]!r}")
        if body is None:
            print(hashlib.sha256(data).hexdigest())
    elif command == "upload":
        files = [os.path.join(root, f) for root, _, names in os.walk(args[1]) for f in names]
        put_many(conn, args[0], ((os.path.relpath(f, args[1]), open(f, "rb").read()) for f in files))
    elif command in ("image", "images"):
        import urllib.request
        token = conn.get_auth()[1]

        def call(method, path, body, content_type):
            request = urllib.request.Request(args[0] + path, data=body, method=method)
            request.add_header("X-Auth-Token", token)
            request.add_header("Content-Type", content_type)
            with urllib.request.urlopen(request) as response:
                return response.read()

        if command == "images":
            listed = json.loads(call("GET", "/v2/images", None, "application/json"))["images"]
            print(json.dumps(sorted(i["name"] for i in listed)))
            return
        image = json.loads(call("POST", "/v2/images", json.dumps(
            {"name": args[1], "disk_format": "raw", "container_format": "bare", "tags": ["sortie-test"]}).encode(),
            "application/json"))
        if len(args) > 2:
            call("PUT", f"/v2/images/{image['id']}/file", open(args[2], "rb").read(), "application/octet-stream")
        print(image["id"])
    elif command == "delete":
        if len(args) > 1:
            conn.delete_object(args[0], args[1])
        else:
            # From the end, 16 at a time: ahead of an export reading from the start.
            names = [entry["name"] for entry in reversed(listing(conn, args[0]))]
            local = threading.local()

            def delete(name):
                if not hasattr(local, "conn"):
                    local.conn = connect()
                local.conn.delete_object(args[0], name)

            with ThreadPoolExecutor(16) as pool:
                list(pool.map(delete, names))
            conn.delete_container(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main()
    except ClientException as error:
        sys.exit(f"swift: {error}")
