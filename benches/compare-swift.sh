#!/usr/bin/env bash
# Sortie's Swift export side by side with `swift download` (python-swiftclient) and
# `rclone copy` (swift remote), into plain folders, against the same local OpenStack
# (Keystone + Swift from tests/servers/openstack) and the same data:
#   large       one object of 1 GiB (half random, half text)
#   small       10,000 objects of 4 KiB, each tool's defaults, then 32 transfers on all sides
#               (swift --object-threads, rclone --transfers/--checkers, sortie --concurrency)
# rclone and swift write files and check MD5s; Sortie also hashes every byte (sha256),
# checks MD5 ETags, compresses (zstd -3) and writes the manifests, the inventory and the
# report. The tools run alternately, RUNS rounds (benches/alternate.sh prints the table:
# wall, spread, CPU, RSS, the CPU of every OpenStack process, Sortie / peer).
#
#   bash benches/compare-swift.sh [DATA_DIR] [RUNS]
#
# DATA_DIR (default target/bench-swift) holds the server's storage and the outputs; RUNS
# defaults to 3. Seeding takes a few minutes, through the API. CASES=large (or small) runs
# one case only; PIN=1 or PIN=tools as in benches/large-objects.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-swift}")
runs=${2:-3}
command -v rclone >/dev/null || { echo "needs rclone (apt-get install rclone)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
bash tests/servers/install
cargo build --release --quiet
sortie=$PWD/target/release/sortie
tools=$PWD/target/test-tools

rm -rf "$data/stack"
mkdir -p "$data"
base=$(python3 -c 'import random; print(random.randrange(10000, 29000))')
bash tests/servers/openstack start "$data/stack" "$base"
trap 'bash tests/servers/openstack stop "$data/stack"' EXIT
keystone=http://127.0.0.1:$base
python3 tests/servers/openstack_identity.py tenant "$keystone" bench >/dev/null
export OS_AUTH_URL=$keystone/v3 OS_USERNAME=bench-user OS_PASSWORD=bench-pass OS_PROJECT_NAME=bench \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=RegionOne OS_IDENTITY_API_VERSION=3
export RCLONE_CONFIG_BENCH_TYPE=swift RCLONE_CONFIG_BENCH_AUTH=$OS_AUTH_URL RCLONE_CONFIG_BENCH_AUTH_VERSION=3 \
    RCLONE_CONFIG_BENCH_USER=$OS_USERNAME RCLONE_CONFIG_BENCH_KEY=$OS_PASSWORD RCLONE_CONFIG_BENCH_TENANT=$OS_PROJECT_NAME \
    RCLONE_CONFIG_BENCH_DOMAIN=Default RCLONE_CONFIG_BENCH_TENANT_DOMAIN=Default RCLONE_CONFIG_BENCH_REGION=RegionOne

cases=${CASES:-large small}
echo "seeding…" >&2
[[ $cases == *small* ]] && "$tools/swift/bin/python" tests/servers/swift_tools.py many bench-small 10000 4096
if [[ $cases == *large* ]]; then
    python3 - "$data/big.bin" <<'PY'
import os, sys
text = (b"Sortie benchmark line: the quick brown fox jumps over the lazy dog 0123456789\n" * 14000)[: 1 << 20]
with open(sys.argv[1], "wb") as f:
    for i in range(1024):
        f.write(os.urandom(1 << 20) if i % 2 == 0 else text)
PY
    (cd "$data" && "$tools/swift/bin/swift" upload bench-large big.bin >/dev/null)
    rm -f "$data/big.bin"
fi

source benches/alternate.sh
server_groups=$(cat "$data/stack/run/"*.pid)
pin_server

[[ $cases == *large* ]] && bench "one 1 GiB object" \
    "sortie:$sortie export swift://bench-large -o $data/out.tar.zst" \
    "rclone:rclone copy bench:bench-large $data/out" \
    "swift:$tools/swift/bin/swift download bench-large -D $data/out"
[[ $cases == *small* ]] && bench "10,000 x 4 KiB, defaults" \
    "sortie:$sortie export swift://bench-small -o $data/out.tar.zst" \
    "rclone:rclone copy bench:bench-small $data/out" \
    "swift:$tools/swift/bin/swift download bench-small -D $data/out"
[[ $cases == *small* ]] && bench "10,000 x 4 KiB, 32 at once" \
    "sortie:$sortie export swift://bench-small -o $data/out.tar.zst --concurrency 32" \
    "rclone:rclone copy --transfers 32 --checkers 32 bench:bench-small $data/out" \
    "swift:$tools/swift/bin/swift download --object-threads 32 bench-small -D $data/out"
rm -rf "$data/out" "$data/out.tar.zst"*
