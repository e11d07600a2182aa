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
# How the data is made and served: benches/s3-server.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-s3}")
runs=${2:-3}
listing=${3:-run}
command -v rclone >/dev/null || { echo "needs rclone (apt-get install rclone)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet
sortie=$PWD/target/release/sortie
source benches/s3-server.sh
if [ "$listing" != skip ]; then start_s3_bench bench-big bench-small bench-listing; else start_s3_bench bench-big bench-small; fi

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
compare "large 1 GiB, defaults" bench-big "" ""
compare "small 10k, defaults" bench-small "" ""
compare "small 10k, 32 transfers" bench-small "--transfers 32 --checkers 32" "--concurrency 32"

if [ "$listing" != skip ]; then
    rm -f "$data/out.tar.zst"*
    /usr/bin/time -f "%e %M" -o "$data/time.txt" "$sortie" export s3://bench-listing -o "$data/out.tar.zst" > /dev/null 2>&1
    read -r l_s l_kib < "$data/time.txt"
    printf '%-26s %10s %10s %12s %8s MiB\n' "listing 100k, sortie only" - "$l_s" - "$((l_kib / 1024))"
fi
rm -rf "$data/out.tar.zst"* "$data/rclone-out" "$data/time.txt"
