"""Seeds a moto server for the fault-injection tests of tests/s3.rs.

usage: seed_s3_faults.py ENDPOINT buckets      (sortie-chaos, sortie-chaos-versions)
       seed_s3_faults.py ENDPOINT parts N      (sortie-parts: one object of N parts)

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. moto must run with
S3_UPLOAD_PART_MIN_SIZE=1 so that parts can be small (tests/servers/s3 passes it on):
what is tested is the number of requests per object, not the bytes.

Every object gets a tag set, and every multipart upload an explicit ACL: moto 5.2.5 leaves a
completed multipart upload without one and answers its GetObjectAcl with a 500.
"""

import concurrent.futures
import json
import sys

from s3_seeding import body, client

endpoint, what = sys.argv[1], sys.argv[2]
s3 = client(endpoint)



def multipart(bucket, key, part_size, parts, threads=1):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ACL="private", Tagging=f"parts={parts}")

    def put(number):
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number,
                              Body=body(f"{key}-{number}", part_size))
        return {"ETag": part["ETag"], "PartNumber": number}

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(put, range(1, parts + 1)))
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done})


def pool_map(function, items):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(function, items))


if what == "buckets":
    bucket = "sortie-chaos"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}))
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.org"]}]})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "sortie"}]})
    # 2,100 small objects (three ListObjectsV2 pages), each with its own tag set.
    pool_map(lambda i: s3.put_object(Bucket=bucket, Key=f"bulk/{i:05d}", Body=f"object {i}\n".encode(),
                                     Tagging=f"n={i}&class=bulk"), range(2100))
    s3.put_object(Bucket=bucket, Key="public/large.bin", Body=body("large", 3 << 20), Tagging="size=large")
    for n in range(3):
        multipart(bucket, f"multipart/{n}.bin", 4096 + n, 40)

    versions = "sortie-chaos-versions"
    s3.create_bucket(Bucket=versions)
    s3.put_bucket_versioning(Bucket=versions, VersioningConfiguration={"Status": "Enabled"})
    for round_ in range(3):
        pool_map(lambda i: s3.put_object(Bucket=versions, Key=f"doc/{i:03d}", Body=f"v{round_} {i}\n".encode(),
                                         Tagging=f"round={round_}"), range(50))
    s3.delete_object(Bucket=versions, Key="doc/007")
elif what == "parts":
    parts = int(sys.argv[3])
    s3.create_bucket(Bucket="sortie-parts")
    multipart("sortie-parts", "many-parts.bin", 64, parts, threads=16)
else:
    sys.exit(f"unknown seed {what}")
print("seeded", what)
