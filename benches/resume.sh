#!/usr/bin/env bash
# Resume benchmarks (docs/RESUME.md), with the release binary:
#
# 1. The overhead of journaling on a plain export: the median of RUNS alternating runs
#    with durable points once a second (the default) against one durable point at the end
#    (SORTIE_DURABLE_INTERVAL_MS=3600000), on `large` (1 GiB in 4 files) and
#    `small-100000` (100,000 files of 4 KiB). Both write the spools; the difference is the
#    periodic fsyncs and pipeline drains, which is what journaling adds to an export.
# 2. The time to resume a partial of PARTIAL_GIB GiB (default 10): an export of random
#    files is killed (-9) once the journal says that much is durable, the page cache is
#    dropped (root only), and `--resume --json` reports `resumed.seconds` (re-reading the
#    partial's prefix for its sha256, checking it, building the index of items done).
#
# Run: bash benches/resume.sh [DATA_DIR] [RUNS] [PARTIAL_GIB]
# Needs DATA_DIR to hold the trees plus 2 × PARTIAL_GIB GiB.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-data}")
runs=${2:-5}
partial_gib=${3:-10}
mkdir -p "$data"
cargo build --release --locked -q
bin=$PWD/target/release/sortie
python3 benches/make-trees.py "$data" 100000

median() { sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
timed() { /usr/bin/time -f "%e" -o "$data/time.txt" "$@" >/dev/null 2>&1; cat "$data/time.txt"; }

echo "## journaling overhead (median of $runs alternating runs)"
for tree in large small-100000; do
    : >"$data/a.txt"
    : >"$data/b.txt"
    for _ in $(seq "$runs"); do
        rm -f "$data"/out.tar.zst*
        SORTIE_DURABLE_INTERVAL_MS=3600000 timed "$bin" export "$data/$tree" -o "$data/out.tar.zst" >>"$data/a.txt"
        rm -f "$data"/out.tar.zst*
        timed "$bin" export "$data/$tree" -o "$data/out.tar.zst" >>"$data/b.txt"
    done
    once=$(median <"$data/a.txt")
    every=$(median <"$data/b.txt")
    echo "$tree: end only ${once} s, every second ${every} s, ratio $(awk -v a="$every" -v b="$once" 'BEGIN { printf "%.3f", a / b }')"
done
rm -f "$data"/out.tar.zst*

echo "## resuming a ${partial_gib} GiB partial"
random="$data/random-$partial_gib"
if [ ! -d "$random" ]; then
    mkdir -p "$random"
    # Files of 256 MiB, plus 1 GiB beyond the partial so that the kill lands before the end.
    for i in $(seq $((partial_gib * 4 + 4))); do
        head -c $((256 << 20)) /dev/urandom >"$random/part-$i.bin"
    done
fi
out="$data/resume.tar.zst"
rm -f "$out"*
"$bin" export "$random" -o "$out" >/dev/null 2>&1 &
pid=$!
want=$((partial_gib << 30))
while :; do
    durable=$(grep '"type":"durable"' "$out.journal" 2>/dev/null | tail -1 | sed 's/.*"archive_bytes":\([0-9]*\).*/\1/' || true)
    [ -n "$durable" ] && [ "$durable" -ge "$want" ] && break
    kill -0 $pid 2>/dev/null || { echo "the export ended before $partial_gib GiB were durable"; exit 1; }
    sleep 0.2
done
kill -9 $pid
wait $pid 2>/dev/null || true
echo "partial: $(stat -c %s "$out.partial") bytes, durable: $durable"
if [ "$(id -u)" = 0 ]; then sync && echo 3 >/proc/sys/vm/drop_caches; fi
start=$(date +%s.%N)
"$bin" export "$random" -o "$out" --resume --json >"$data/resume.json"
end=$(date +%s.%N)
python3 - "$data/resume.json" "$start" "$end" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
resumed = summary["resumed"]
gib = resumed["archive_bytes"] / (1 << 30)
rate = gib / resumed["seconds"]
print(f"resume preparation: {resumed['seconds']:.1f} s for {gib:.2f} GiB of partial and {resumed['items']} items "
      f"({rate * 1024:.0f} MiB/s: 100 GiB would take {100 / rate / 60:.1f} min); whole resumed run "
      f"{float(sys.argv[3]) - float(sys.argv[2]):.1f} s")
EOF
"$bin" verify "$out" >/dev/null && echo "verified"
rm -f "$out"*
