#!/usr/bin/env bash
# Sortie's S3 export side by side with `rclone copy` into a plain folder, against the same
# local S3 server (s3s-fs, from tests/servers/install) and the same data:
#   large       one object of 1 GiB (half random, half text)
#   small       10,000 objects of 4 KiB
#   listing     100,000 objects of 4 KiB: Sortie's peak RSS only (target ≤ 100 MiB)
# Each tool runs with its defaults and, for the small objects, also with 32 transfers on both
# sides. rclone writes files and checks sizes (and MD5s when the listing has them); Sortie
# also hashes every byte (sha256), checks MD5 ETags, compresses (zstd -3) and writes the
# manifests, the inventory and the report.
#
#   bash benches/compare-s3.sh [DATA_DIR] [RUNS] [LISTING]
#
# DATA_DIR defaults to target/bench-s3, RUNS to 3; LISTING=skip leaves out the 100k case
# (about 6 minutes: s3s-fs lists slowly).
#
# The objects are written straight into the server's folder (s3s-fs serves each top-level
# directory as a bucket): seeding 110,000 objects through the API would take minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-s3}")
runs=${2:-3}
listing=${3:-run}
command -v rclone >/dev/null || { echo "needs rclone (apt-get install rclone)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
bash tests/servers/install
cargo build --release --quiet
sortie=$PWD/target/release/sortie

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export S3_TEST_ACCESS_KEY=benchkey S3_TEST_SECRET_KEY=benchsecret
mkdir -p "$data/server/data"
python3 - "$data/server/data" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
text = (b"Sortie benchmark line: the quick brown fox jumps over the lazy dog 0123456789\n" * 14000)[: 1 << 20]
big = os.path.join(root, "bench-large", "big.bin")
if not os.path.exists(big):
    os.makedirs(os.path.dirname(big))
    with open(big, "wb") as f:
        for i in range(1024):
            f.write(os.urandom(1 << 20) if i % 2 == 0 else text)
for bucket, count in (("bench-small", 10_000), ("bench-listing", 100_000)):
    if os.path.exists(os.path.join(root, bucket)):
        continue
    for i in range(count):
        folder = os.path.join(root, bucket, f"d{i % 100:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"f{i:06d}.bin"), "wb") as f:
            f.write((hashlib.sha256(str(i).encode()).digest() * 64) + os.urandom(2048))
PY
bash tests/servers/s3 start s3s-fs "$data/server" "$port"
trap 'bash tests/servers/s3 stop "$data/server"' EXIT

endpoint=http://127.0.0.1:$port
# rclone 1.60 fails every call when AWS_CA_BUNDLE is set (../shared notes); nothing here uses TLS.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$endpoint \
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$S3_TEST_SECRET_KEY \
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
export AWS_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_TEST_SECRET_KEY AWS_ENDPOINT_URL=$endpoint

source benches/measure.sh

printf '%-26s %10s %10s %12s %12s %8s\n' case rclone_s sortie_s rclone_RSS sortie_RSS ratio
compare() {
    local name=$1 bucket=$2 rclone_flags=$3 sortie_flags=$4
    read -r r_s r_kib < <(measure "rm -rf '$data/rclone-out'" rclone copy $rclone_flags "bench:$bucket" "$data/rclone-out")
    read -r s_s s_kib < <(measure "rm -f '$data/out.tar.zst'*" "$sortie" export "s3://$bucket" -o "$data/out.tar.zst" $sortie_flags)
    "$sortie" verify "$data/out.tar.zst" > /dev/null
    printf '%-26s %10s %10s %8s MiB %8s MiB %7sx\n' "$name" "$r_s" "$s_s" "$((r_kib / 1024))" "$((s_kib / 1024))" \
        "$(awk -v r="$r_s" -v s="$s_s" 'BEGIN { printf "%.2f", r / s }')"
}
compare "large 1 GiB, defaults" bench-large "" ""
compare "small 10k, defaults" bench-small "" ""
compare "small 10k, 32 transfers" bench-small "--transfers 32 --checkers 32" "--concurrency 32"

if [ "$listing" != skip ]; then
    rm -f "$data/out.tar.zst"*
    /usr/bin/time -f "%e %M" -o "$data/time.txt" "$sortie" export s3://bench-listing -o "$data/out.tar.zst" > /dev/null 2>&1
    read -r l_s l_kib < "$data/time.txt"
    printf '%-26s %10s %10s %12s %8s MiB\n' "listing 100k, sortie only" - "$l_s" - "$((l_kib / 1024))"
fi
rm -rf "$data/out.tar.zst"* "$data/rclone-out" "$data/time.txt"
