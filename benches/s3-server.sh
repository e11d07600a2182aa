# Sourced by the S3 comparison scripts: `start_s3_bench BUCKETS...` creates the data under
# $data (once; later runs reuse it), starts s3s-fs on a free port, stops it on exit, and
# exports what Sortie (AWS_*), the AWS CLI and rclone (remote `bench:`) need to reach it.
# Buckets: `bench-big` (one object of 1 GiB, half random, half text), `bench-small` (10,000
# objects of 4 KiB), `bench-listing` (100,000 more).
#
# The 1 GiB object goes up through the API, as any object does: s3s-fs then keeps its ETag,
# where for a file put straight into its folder it computes the whole object's MD5 at every
# GET — every ranged GET too, which no real store does (a 1 GiB object read as 8 MiB ranges
# took 148 s, against 10 s as one stream). The small ones are written straight into its
# folder (s3s-fs serves each top-level directory as a bucket): seeding 110,000 objects
# through the API would take minutes.
start_s3_bench() {
    bash tests/servers/install
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export S3_TEST_ACCESS_KEY=benchkey S3_TEST_SECRET_KEY=benchsecret
    mkdir -p "$data/server/data"
    python3 - "$data" "$@" <<'PY'
import hashlib, os, sys
data, buckets = sys.argv[1], sys.argv[2:]
root = os.path.join(data, "server", "data")
text = (b"Sortie benchmark line: the quick brown fox jumps over the lazy dog 0123456789\n" * 14000)[: 1 << 20]
big = os.path.join(data, "big.src")
if "bench-big" in buckets and not os.path.exists(big):
    with open(big, "wb") as f:
        for i in range(1024):
            f.write(os.urandom(1 << 20) if i % 2 == 0 else text)
for bucket, count in (("bench-small", 10_000), ("bench-listing", 100_000)):
    if bucket not in buckets or os.path.exists(os.path.join(root, bucket)):
        continue
    for i in range(count):
        folder = os.path.join(root, bucket, f"d{i % 100:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"f{i:06d}.bin"), "wb") as f:
            f.write((hashlib.sha256(str(i).encode()).digest() * 64) + os.urandom(2048))
PY
    bash tests/servers/s3 start s3s-fs "$data/server" "$port"
    trap 'bash tests/servers/s3 stop "$data/server"' EXIT
    local endpoint=http://127.0.0.1:$port
    if [[ " $* " == *" bench-big "* && ! -e "$data/server/data/bench-big/big.bin" ]]; then
        AWS_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_TEST_SECRET_KEY \
            target/test-tools/moto/bin/python - "$endpoint" "$data/big.src" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.create_bucket(Bucket="bench-big")
with open(sys.argv[2], "rb") as body:
    s3.put_object(Bucket="bench-big", Key="big.bin", Body=body)
PY
    fi
    # rclone 1.60 fails every call when AWS_CA_BUNDLE is set (../shared notes); nothing here
    # uses TLS.
    unset AWS_CA_BUNDLE
    export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$endpoint \
        RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY \
        RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$S3_TEST_SECRET_KEY RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
    export AWS_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_TEST_SECRET_KEY \
        AWS_ENDPOINT_URL=$endpoint AWS_DEFAULT_REGION=us-east-1
}
