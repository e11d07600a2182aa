#!/usr/bin/env bash
# The cost of encryption to the customer's key (--encrypt-to, age) and of volumes
# (--volume-size) against a plain export of the same 1 GiB tree (benches/make-trees.py
# `large`: half random, half text). The variants run alternately, RUNS rounds, and each
# one's median wall time is compared with the plain export's: ratio = variant / plain,
# 1.00 costs nothing, 1.15 is 15% more wall time. Also times `sortie verify -i` of the
# encrypted archive against `sortie verify` of the plain one.
#
#   bash benches/compare-seal.sh [DATA_DIR] [RUNS]
#
# DATA_DIR (default target/bench-data) receives the tree (1 GiB) and the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-target/bench-data}
runs=${2:-5}
command -v age-keygen >/dev/null || { echo "needs age (apt-get install age)" >&2; exit 2; }
cargo build --release --quiet
sortie=$PWD/target/release/sortie
python3 benches/make-trees.py "$data" 0 # the 1 GiB tree only
cd "$data"
rm -f key.txt && age-keygen -o key.txt 2>/dev/null
recipient=$(age-keygen -y key.txt)
tar -cf - large > /dev/null # warm the page cache

declare -A variants=(
    [plain]=""
    [encrypted]="--encrypt-to $recipient"
    [volumes-100M]="--volume-size 100M"
    [encrypted+volumes]="--encrypt-to $recipient --volume-size 100M"
)
order=(plain encrypted volumes-100M encrypted+volumes)
declare -A times=()
for round in $(seq "$runs"); do
    for name in "${order[@]}"; do
        rm -rf out && mkdir out
        # shellcheck disable=SC2086 # the options are words on purpose
        /usr/bin/time -f "%e" -o time.txt "$sortie" export large -o out/x.tar.zst ${variants[$name]} > /dev/null
        times[$name]+="$(cat time.txt) "
    done
    echo "round $round: done" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${times[plain]}" | median)
printf '%-20s %10s %8s   %s\n' variant "median s" ratio "all runs"
for name in "${order[@]}"; do
    m=$(echo "${times[$name]}" | median)
    printf '%-20s %10s %7.2fx   %s\n' "$name" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN { print m / b }')" "${times[$name]}"
done

# Reading back: verify of the plain archive against verify -i of the encrypted one.
rm -rf out && mkdir out
"$sortie" export large -o out/p.tar.zst > /dev/null
"$sortie" export large -o out/e.tar.zst --encrypt-to "$recipient" > /dev/null
vp="" ve=""
for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e" -o time.txt "$sortie" verify out/p.tar.zst > /dev/null; vp+="$(cat time.txt) "
    /usr/bin/time -f "%e" -o time.txt "$sortie" verify out/e.tar.zst.age -i key.txt > /dev/null; ve+="$(cat time.txt) "
done
mp=$(echo "$vp" | median) me=$(echo "$ve" | median)
printf '%-20s %10s %8s   %s\n' "verify plain" "$mp" "1.00x" "$vp"
printf '%-20s %10s %7.2fx   %s\n' "verify -i encrypted" "$me" "$(awk -v m="$me" -v b="$mp" 'BEGIN { print m / b }')" "$ve"
rm -rf out time.txt key.txt
