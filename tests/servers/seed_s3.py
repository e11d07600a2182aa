"""Seeds a real S3 server with the data the S3 integration tests export.

usage: seed_s3.py ENDPOINT moto|s3s-fs

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Everything goes through the
server's own API (boto3), never into its storage directly. What each server gets follows what
it implements (../shared notes: s3s-fs has no versioning, tags or bucket configurations, and
stores keys as files, so `a` beside `a/b` cannot exist there).
"""

import concurrent.futures
import json
import sys

from s3_seeding import body, client

endpoint, server = sys.argv[1], sys.argv[2]
s3 = client(endpoint)

BULK = 2600  # forces three ListObjectsV2 pages of 1,000



def put_many(bucket, keys):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=f"object {k}\n".encode()), keys))


def multipart(bucket, key, part_size, parts, **extra):
    if server == "moto":
        # moto leaves a completed multipart upload without an ACL and answers GetObjectAcl
        # with a 500 (5.2.5); every object on AWS has one, so give it one explicitly.
        extra.setdefault("ACL", "private")
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)
    done = []
    for number in range(1, parts + 1):
        part = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number,
            Body=body(f"{key}-{number}", part_size),
        )
        done.append({"ETag": part["ETag"], "PartNumber": number})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done})


def seed_main(bucket, full):
    s3.create_bucket(Bucket=bucket)
    put_many(bucket, [f"bulk/obj-{i:05d}" for i in range(BULK)])
    keys = {
        "zero-byte": b"",
        "unicode/café naïve ☃.txt": "unicode body\n".encode(),
        "deep/a/b/c/d/e/f.txt": b"deep\n",
        "with space and 100%.txt": b"percent\n",
    }
    if not full:
        keys["line\nbreak"] = b"newline in the key\n"
    if full:
        keys.update({
            "a": b"leaf a\n",
            "a/": b"folder marker a/\n",
            "a/b": b"leaf a/b\n",
            "x//y": b"empty segment\n",
            "../escape": b"must stay inside the bag\n",
            # moto answers 404 to a key with a line feed (its router); other control
            # characters pass, and s3s-fs gets the line feed.
            "carriage\rreturn": b"CR in the key\n",
            "tab\tkey": b"tab in the key\n",
            "plus+sign": b"plus\n",
            # 1,024 bytes, the S3 maximum (s3s-fs names a file after the whole key and
            # fails beyond 255 bytes), in one segment and in several.
            "l" * 1020 + ".txt": b"a key of 1,024 bytes in one segment\n",
            "/".join(["k" * 204] * 4 + ["k" * 200 + ".txt"]): b"a key of 1,024 bytes\n",
        })
    for key, data in keys.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    s3.put_object(
        Bucket=bucket, Key="docs/report.pdf", Body=body("report", 70_000),
        ContentType="application/pdf", CacheControl="max-age=60", ContentDisposition='attachment; filename="r.pdf"',
        ContentEncoding="identity", ContentLanguage="fr",
        Metadata={"owner": "dpo", "case-id": "42"},
        **({"Tagging": "class=confidential&retention=10y"} if full else {}),
    )
    s3.put_object(Bucket=bucket, Key="docs/medium.bin", Body=body("medium", 3 * 1024 * 1024))
    s3.put_object(Bucket=bucket, Key="checksummed.txt", Body=b"checked with sha256\n", ChecksumAlgorithm="SHA256")
    multipart(bucket, "big/multipart.bin", 10 * 1024 * 1024, 5 if full else 2, Metadata={"kind": "multipart"})
    if not full:
        return
    s3.put_object_acl(Bucket=bucket, Key="docs/report.pdf", ACL="public-read")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "PublicDocs", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/docs/*"}],
    }))
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.org"], "MaxAgeSeconds": 600}]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}]})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "cost-center", "Value": "4242"}]})


def seed_versioned(bucket):
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for n in range(1, 4):
        s3.put_object(Bucket=bucket, Key="doc.txt", Body=f"version {n} of doc.txt\n".encode(),
                      Metadata={"revision": str(n)}, ContentType="text/plain")
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"first\n")
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"second\n")
    s3.delete_object(Bucket=bucket, Key="gone.txt")
    s3.put_object(Bucket=bucket, Key="a", Body=b"a v1\n")
    s3.put_object(Bucket=bucket, Key="a", Body=b"a v2\n")
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"a/b v1\n", Tagging="stage=draft")
    multipart(bucket, "big/versioned.bin", 5 * 1024 * 1024, 2)


def seed_cold(bucket):
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="warm.txt", Body=b"readable\n")
    s3.put_object(Bucket=bucket, Key="frozen.bin", Body=body("frozen", 4096), StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="deep.bin", Body=body("deep", 2048), StorageClass="DEEP_ARCHIVE")


if server == "moto":
    seed_main("sortie-main", full=True)
    seed_versioned("sortie-versioned")
    seed_cold("sortie-cold")
elif server == "s3s-fs":
    seed_main("sortie-fs", full=False)
else:
    sys.exit(f"unknown server {server}")
print(f"seeded {server} at {endpoint}")
