"""Checks an extracted Sortie archive against the S3 server it was exported from, through
boto3 (an implementation independent of Sortie's).

usage: check_s3_archive.py ENDPOINT BAG_DIR BUCKET[,BUCKET…] [--current-only] [--no-extras]

For every bucket: the archive holds exactly what the server lists, bar what report.json
lists as excluded on purpose (every version and delete
marker of a versioned bucket, unless --current-only); every archived object or version is
byte-identical to a direct GET of that version and its sha256 is the inventory's; its
inventory metadata equals HeadObject's (content type, user metadata, cache and disposition
headers, storage class) and, unless --no-extras, its tags equal GetObjectTagging's; the
bucket configurations in the archive parse (JSON or XML) and say what the server says.
Prints one line per problem and exits 1 if there is any.
"""

import concurrent.futures
import hashlib
import json
import os
import sys
import xml.etree.ElementTree as ET

import boto3
from botocore.config import Config

endpoint, bag, buckets = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
current_only = "--current-only" in sys.argv
extras = "--no-extras" not in sys.argv
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 10}, max_pool_connections=16))
problems = []
checked = {"objects": 0, "versions": 0, "delete_markers": 0, "configs": 0}

with open(os.path.join(bag, "sortie/report.json"), encoding="utf-8") as report:
    excluded = {(e["source"], e["id"]) for e in json.load(report)["exclusions"]}
records = {}
with open(os.path.join(bag, "sortie/inventory.jsonl"), encoding="utf-8") as inventory:
    for line in inventory:
        record = json.loads(line)
        records.setdefault(record["source"], []).append(record)


def paginate(call, key, **kwargs):
    return [entry for page in s3.get_paginator(call).paginate(**kwargs) for entry in page.get(key, [])]


def versioned(bucket):
    try:
        return s3.get_bucket_versioning(Bucket=bucket).get("Status") in ("Enabled", "Suspended")
    except s3.exceptions.ClientError as error:  # s3s-fs: NotImplemented
        if error.response["Error"]["Code"] == "NotImplemented":
            return False
        raise


HEAD_FIELDS = {  # inventory meta key -> HeadObject field
    "cache_control": "CacheControl", "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding", "content_language": "ContentLanguage",
}

def check_config(source, bucket, record):
    key = record["id"]
    path = os.path.join(bag, record["path"])
    with open(path, "rb") as f:
        text = f.read()
    try:
        document = json.loads(text) if path.endswith(".json") else ET.fromstring(text)
    except Exception as error:  # noqa: BLE001 - any parse failure is the finding
        problems.append(f"{source}: {record['path']} does not parse: {error}")
        return
    if key == "?policy" and document != json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]):
        problems.append(f"{source}: policy.json differs from GetBucketPolicy")
    if key == "?cors":
        rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        origins = [o.text for o in document.iter() if o.tag.endswith("AllowedOrigin")]
        if origins != [o for r in rules for o in r["AllowedOrigins"]]:
            problems.append(f"{source}: cors.xml origins {origins} differ from GetBucketCors")
    if key == "?tagging":
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        values = [e.text for e in document.iter() if e.tag.endswith("Value")]
        if sorted(values) != sorted(tags.values()):
            problems.append(f"{source}: tagging.xml {values} differs from GetBucketTagging {tags}")


def check_object(source, bucket, record, with_versions):
    found = []
    key, meta = record["id"], record["meta"]
    version = meta.get("version_id") if with_versions else None
    args = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    direct = s3.get_object(**args)["Body"].read()
    with open(os.path.join(bag, record["path"]), "rb") as f:
        archived_bytes = f.read()
    if archived_bytes != direct:
        found.append(f"{source}: {key!r} ({version}) differs from a direct GET ({len(archived_bytes)} vs {len(direct)} bytes)")
    if hashlib.sha256(direct).hexdigest() != record["sha256"]:
        found.append(f"{source}: {key!r} ({version}) sha256 differs from the inventory")
    head = s3.head_object(**args)
    if head.get("ContentType") != record["content_type"]:
        found.append(f"{source}: {key!r} content type {record['content_type']!r} != HeadObject {head.get('ContentType')!r}")
    if head.get("Metadata", {}) != meta.get("user_metadata", {}):
        found.append(f"{source}: {key!r} user metadata {meta.get('user_metadata')} != HeadObject {head.get('Metadata')}")
    for name, field in HEAD_FIELDS.items():
        if head.get(field) != meta.get(name):
            found.append(f"{source}: {key!r} {name} {meta.get(name)!r} != HeadObject {head.get(field)!r}")
    if head.get("StorageClass", "STANDARD") != meta.get("storage_class", "STANDARD"):
        found.append(f"{source}: {key!r} storage class {meta.get('storage_class')} != {head.get('StorageClass')}")
    if record["etag"] != head["ETag"]:
        found.append(f"{source}: {key!r} etag {record['etag']} != HeadObject {head['ETag']}")
    if extras:
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(**args)["TagSet"]}
        if tags != meta.get("tags"):
            found.append(f"{source}: {key!r} tags {meta.get('tags')} != GetObjectTagging {tags}")
    return found


for bucket in buckets:
    source = f"s3-{bucket}"
    mine = records.get(source, [])
    if not mine:
        problems.append(f"{source}: nothing in the inventory")
        continue
    with_versions = versioned(bucket) and not current_only
    if with_versions:
        server = {(v["Key"], v["VersionId"], "v") for v in paginate("list_object_versions", "Versions", Bucket=bucket)}
        server |= {(d["Key"], d["VersionId"], "d") for d in paginate("list_object_versions", "DeleteMarkers", Bucket=bucket)}
    else:
        server = {(o["Key"], None, "v") for o in paginate("list_objects_v2", "Contents", Bucket=bucket)}
    archived = set()
    for record in mine:
        if record["kind"] in ("object", "object-version"):
            archived.add((record["id"], record["meta"].get("version_id") if with_versions else None, "v"))
        elif record["kind"] == "delete-marker":
            archived.add((record["id"], record["meta"]["version_id"], "d"))
    for missing in sorted(server - archived, key=repr):
        if (source, missing[0]) in excluded:
            continue
        problems.append(f"{source}: on the server but not in the archive: {missing!r}")
    for extra in sorted(archived - server, key=repr):
        problems.append(f"{source}: in the archive but not on the server: {extra!r}")

    objects = []
    for record in mine:
        kind, key = record["kind"], record["id"]
        if kind == "delete-marker":
            checked["delete_markers"] += 1
            if record["path"] is not None:
                problems.append(f"{source}: delete marker {key!r} has a payload path")
        elif kind == "config":
            checked["configs"] += 1
            check_config(source, bucket, record)
        else:
            checked["objects" if kind == "object" else "versions"] += 1
            objects.append(record)
    # Direct GETs in parallel: some servers take tens of milliseconds per request.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for found in pool.map(lambda r: check_object(source, bucket, r, with_versions), objects):
            problems.extend(found)

for problem in problems:
    print(problem)
print(f"checked {checked} in {', '.join(buckets)}: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
