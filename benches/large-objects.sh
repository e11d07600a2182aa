#!/usr/bin/env bash
# Large objects at the server's speed (issue 17): Sortie's S3 export against `rclone copy`
# (its defaults: multi-thread streams above 250 MiB) and `aws s3 cp` (PyPI awscli: 10
# concurrent ranged requests), against the same local s3s-fs and the same data:
#   large   one object of 1 GiB (half random, half text)
#   small   10,000 objects of 4 KiB, each tool's defaults, then 32 at once on both sides
# The tools run alternately, RUNS rounds, the order turning each round; each case prints
# every tool's median wall time with its spread (min–max), its CPU-seconds (user+sys of the
# process, median), its peak RSS, the server's CPU-seconds while serving it (median), and
# Sortie's ratios to the peers (Sortie / peer: below 1.0 Sortie is faster, or spends less CPU).
#
#   bash benches/large-objects.sh [DATA_DIR] [RUNS] [SORTIE_FLAGS...]
#
# DATA_DIR defaults to target/bench-s3 (shared with compare-s3.sh), RUNS to 5. Extra
# arguments go to `sortie export` (e.g. `--range-streams 1` to measure one stream).
# CASES=large (or small) runs one case only. PIN=1 gives the server core 0 and every tool
# core 1 (taskset), as if the server ran on a machine of its own: on two shared cores the
# server's thread hand-offs cost it twice the CPU when the client's threads run on both cores
# (benches/README.md), which then measures the scheduler more than the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-s3}")
runs=${2:-5}
shift $(($# > 2 ? 2 : $#))
sortie_flags=("$@")
command -v rclone >/dev/null || { echo "needs rclone (apt-get install rclone)" >&2; exit 2; }
command -v aws >/dev/null || { echo "needs the AWS CLI (pip install awscli)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --locked
sortie=$PWD/target/release/sortie
source benches/s3-server.sh
start_s3_bench bench-big bench-small
pin=()
if [ "${PIN:-}" = 1 ]; then
    [ "$(nproc)" -ge 2 ] || { echo "PIN=1 needs two cores" >&2; exit 2; }
    taskset -a -p -c 0 "$(cat "$data/server/pid")" >/dev/null
    pin=(taskset -c 1)
fi

# CPU-seconds (user+sys) the server has spent so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$(cat "$data/server/pid")/stat"
}

# One timed run: appends "WALL CPU KIB SERVER_CPU" to $data/NAME.times.
timed() {
    local name=$1 before
    shift
    before=$(server_cpu)
    rm -rf "$data/out" "$data/out.tar.zst"*
    mkdir -p "$data/out"
    sync
    /usr/bin/time -f "%e %U %S %M" -o "$data/time.txt" "${pin[@]}" "$@" >/dev/null 2>"$data/stderr.txt" \
        || { echo "$name failed:" >&2; cat "$data/stderr.txt" >&2; exit 1; }
    awk -v before="$before" -v after="$(server_cpu)" '{ printf "%s %.2f %s %.2f\n", $1, $2 + $3, $4, after - before }' \
        "$data/time.txt" >> "$data/$name.times"
}

# "MEDIAN_WALL MIN MAX MEDIAN_CPU PEAK_KIB MEDIAN_SERVER_CPU" of a tool's runs.
summary() {
    local file="$data/$1.times" mid
    mid=$((($(wc -l < "$file") + 1) / 2))
    local column
    column() { sort -n -k"$1,$1" "$file" | cut -d' ' -f"$1"; }
    echo "$(column 1 | sed -n "${mid}p") $(column 1 | head -1) $(column 1 | tail -1)" \
        "$(column 2 | sed -n "${mid}p") $(column 3 | tail -1) $(column 4 | sed -n "${mid}p")"
}

# case NAME TOOL:COMMAND... — runs every tool RUNS times, alternating, and prints the table.
bench() {
    local case=$1
    shift
    local tools=("$@") round i
    for tool in "${tools[@]}"; do rm -f "$data/${tool%%:*}.times"; done
    for round in $(seq "$runs"); do
        for i in "${!tools[@]}"; do
            local tool=${tools[$(((i + round) % ${#tools[@]}))]}
            timed "${tool%%:*}" bash -c "${tool#*:}"
        done
    done
    echo "== $case ($runs runs each, alternating)"
    printf '%-14s %9s %17s %8s %9s %10s\n' tool wall_s spread cpu_s rss_MiB server_cpu
    local sortie_wall sortie_cpu
    read -r sortie_wall _ _ sortie_cpu _ < <(summary sortie)
    for tool in "${tools[@]}"; do
        local name=${tool%%:*} wall low high cpu kib server
        read -r wall low high cpu kib server < <(summary "$name")
        printf '%-14s %9s %8s–%-8s %8s %9s %10s' "$name" "$wall" "$low" "$high" "$cpu" "$((kib / 1024))" "$server"
        if [ "$name" != sortie ]; then
            awk -v sw="$sortie_wall" -v w="$wall" -v sc="$sortie_cpu" -v c="$cpu" \
                'BEGIN { printf "   sortie/%s: wall %.2fx, cpu %.2fx", "peer", sw / w, sc / c }'
        fi
        echo
    done
}

flags="${sortie_flags[*]:-}"
cases=${CASES:-large small}
[[ $cases == *large* ]] && bench "one 1 GiB object" \
    "sortie:$sortie export s3://bench-big -o $data/out.tar.zst $flags" \
    "rclone:rclone copy bench:bench-big $data/out" \
    "aws:aws s3 cp s3://bench-big/big.bin $data/out/big.bin"
[[ $cases == *small* ]] && bench "10,000 x 4 KiB, defaults" \
    "sortie:$sortie export s3://bench-small -o $data/out.tar.zst $flags" \
    "rclone:rclone copy bench:bench-small $data/out"
[[ $cases == *small* ]] && bench "10,000 x 4 KiB, 32 at once" \
    "sortie:$sortie export s3://bench-small -o $data/out.tar.zst --concurrency 32 $flags" \
    "rclone:rclone copy --transfers 32 --checkers 32 bench:bench-small $data/out"
rm -rf "$data/out" "$data/out.tar.zst"* "$data"/*.times "$data/time.txt" "$data/stderr.txt"
