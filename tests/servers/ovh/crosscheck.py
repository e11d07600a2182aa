"""Cross-checks an extracted `ovh://` archive against the OVH API it was exported from, read
again with the **official `ovh` Python client** (independent of Sortie's own client):

    crosscheck.py URL DIR [--application-key AK --application-secret AS --consumer-key CK
                           | --client-id ID --client-secret SECRET --token-url URL]
                          [--allow-missing REGEX]...

URL is the API root (`http://127.0.0.1:PORT/1.0`); DIR an extracted archive (the bag's
folder, or the folder holding it). Each inventory item whose `id` is an API path must hold
what `GET id` answers now, or answered before the export changed it (`stale`: a dump list
before the export's own dump, a task before it was done); each item whose `meta` names a `route` and a `field` (a PDF, a
dump) must have the sha256 of the bytes at the URL that field of that route's answer gives;
and every path the test server serves (`/_admin/paths`) must be archived, or it or a route
above it excluded or failed in the report, unless an `--allow-missing` regex matches it. Prints a JSON summary; exits 0
when nothing is missing or different, 1 otherwise, 2 on bad arguments.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import sys
from urllib.parse import unquote, urlsplit

import ovh
import requests
from ovh.oauth2 import OAuth2


def client(args):
    if args.client_id:
        # oauthlib refuses plain http unless told it is a test
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        c = ovh.Client(endpoint="ovh-eu", client_id=args.client_id, client_secret=args.client_secret)
        token_url = args.token_url or args.url.rsplit("/1.0", 1)[0] + "/auth/oauth2/token"
        c._oauth2 = OAuth2(client_id=args.client_id, client_secret=args.client_secret, token_url=token_url)
    else:
        c = ovh.Client(
            endpoint="ovh-eu",
            application_key=args.application_key,
            application_secret=args.application_secret,
            consumer_key=args.consumer_key,
        )
    # the official client only knows OVH's hosts by name; the test server is elsewhere
    c._endpoint = args.url.rstrip("/")
    return c


def normalized(route):
    """A route as its decoded segments, so `%2F` and `/` spellings of one id compare equal."""
    return tuple(unquote(s) for s in urlsplit(route).path.strip("/").split("/"))


def bag_root(folder):
    if os.path.exists(os.path.join(folder, "sortie", "inventory.jsonl")):
        return folder
    found = glob.glob(os.path.join(folder, "*", "sortie", "inventory.jsonl"))
    if len(found) != 1:
        sys.exit(f"crosscheck: no single bag under {folder} (found {len(found)} sortie/inventory.jsonl)")
    return os.path.dirname(os.path.dirname(found[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("dir")
    ap.add_argument("--application-key", default="SortieTestAppKey")
    ap.add_argument("--application-secret", default="SortieTestAppSecret0000000000000")
    ap.add_argument("--consumer-key", default="SortieTestCkFullAccess0000000000")
    ap.add_argument("--client-id")
    ap.add_argument("--client-secret")
    ap.add_argument("--token-url")
    ap.add_argument("--allow-missing", action="append", default=[], help="regex of server paths the archive may lack")
    args = ap.parse_args()

    api = client(args)
    root = bag_root(args.dir)
    with open(os.path.join(root, "sortie", "inventory.jsonl")) as f:
        items = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(root, "sortie", "report.json")) as f:
        report = json.load(f)

    base = args.url.rsplit("/1.0", 1)[0]
    checked, files, unchecked, mismatches, stale = 0, 0, [], [], []
    archived = set()
    for item in items:
        ident, meta = item.get("id", ""), item.get("meta") or {}
        member = os.path.join(root, item["path"]) if item.get("path") else None
        if member is None:
            unchecked.append(ident)
            continue
        with open(member, "rb") as f:
            data = f.read()
        if "field" in meta and "route" in meta:
            route, field = meta["route"], meta["field"]
            record = api.post(route) if meta.get("method") == "POST" else api.get(route)
            url = record.get(field) if isinstance(record, dict) else None
            if not url:
                mismatches.append({"id": ident, "why": f"{route} has no {field} now"})
                continue
            served = requests.get(url, timeout=60)
            if served.status_code != 200:
                mismatches.append({"id": ident, "why": f"GET {field} of {route}: HTTP {served.status_code}"})
                continue
            digest = hashlib.sha256(served.content).hexdigest()
            if digest != hashlib.sha256(data).hexdigest() or digest != item.get("sha256"):
                mismatches.append({"id": ident, "why": f"the bytes differ from {field} of {route} ({len(served.content)} bytes served, {len(data)} archived)"})
            files += 1
            continue
        if not ident.startswith("/"):
            unchecked.append(ident)
            continue
        try:
            answer = api.get(ident)
        except ovh.exceptions.APIError as e:
            mismatches.append({"id": ident, "why": f"archived, but the API now answers {type(e).__name__}: {e.msg}"})
            continue
        try:
            held = json.loads(data)
        except ValueError:
            held = data.decode("utf-8", "replace")
        if held != answer and not (isinstance(answer, str) and data.decode("utf-8", "replace") == answer):
            # what the export itself changed (a dump list its dump grew, a task it polled):
            # the archive must hold what the API answered when it read
            versions = requests.get(f"{base}/_admin/versions", params={"path": ident}, timeout=60).json()["versions"]
            if held in versions:
                stale.append(ident)
            else:
                mismatches.append({"id": ident, "why": "the archived record differs from every answer the API gave",
                                   "archived": held if len(data) < 2000 else f"{len(data)} bytes", "api": answer})
        archived.add(normalized(ident))
        checked += 1

    # an excluded or failed route accounts for itself and everything under it (a suspended
    # service's routes answer 460 all the same)
    refused = {normalized(e.get("id", "")) for e in report.get("exclusions", []) + report.get("failures", [])}

    def accounted(segments):
        return segments in archived or any(segments[:n] in refused for n in range(1, len(segments) + 1))

    paths = requests.get(f"{base}/_admin/paths", timeout=60).json()["paths"]
    allowed = [re.compile(p) for p in args.allow_missing]
    missing = [p for p in paths if not accounted(normalized(p)) and not any(r.search(p) for r in allowed)]

    summary = {"checked": checked, "files": files, "missing": missing, "mismatches": mismatches, "unchecked": unchecked,
               "stale": stale}
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    sys.exit(1 if missing or mismatches else 0)


if __name__ == "__main__":
    main()
