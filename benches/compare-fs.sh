#!/usr/bin/env bash
# Sortie's fs export side by side with `tar -cf - DIR | zstd -3 -T0 > out` on the same trees:
# wall time, throughput ratio and peak RSS. Both read from a warm page cache (each tree is
# read once before timing). Figures vary on shared machines: compare the ratios.
#
#   bash benches/compare-fs.sh [DATA_DIR] [RUNS]
#
# DATA_DIR (default target/bench-data) receives the trees (~1.5 GiB) and the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-target/bench-data}
runs=${2:-3}
command -v zstd >/dev/null || { echo "needs zstd (apt-get install zstd)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet
sortie=$PWD/target/release/sortie
python3 benches/make-trees.py "$data" 10000 100000
cd "$data"

# Median of the runs: prints "SECONDS KIB".
measure() {
    local out
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o time.txt "$@" > /dev/null
        cat time.txt
    done | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

printf '%-14s %10s %10s %12s %12s %8s\n' tree bytes "tar|zstd s" "sortie s" "sortie RSS" ratio
for tree in large small-10000 small-100000; do
    bytes=$(du -sb "$tree" | cut -f1)
    tar -cf - "$tree" > /dev/null # warm the page cache
    read -r ref_s _ < <(measure bash -c "tar -cf - $tree | zstd -3 -T0 -q > ref.tar.zst")
    read -r s_s s_kib < <(measure "$sortie" export "$tree" -o sortie.tar.zst --force)
    "$sortie" verify sortie.tar.zst > /dev/null
    ratio=$(awk -v r="$ref_s" -v s="$s_s" 'BEGIN { printf "%.2f", r / s }')
    printf '%-14s %10s %10s %12s %9s MiB %7sx\n' "$tree" "$bytes" "$ref_s" "$s_s" "$((s_kib / 1024))" "$ratio"
done
rm -f ref.tar.zst sortie.tar.zst sortie.tar.zst.sha256 time.txt
