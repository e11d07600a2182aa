# Sourced by the comparison scripts that put Sortie beside its peers: `bench CASE
# NAME:COMMAND...` runs every tool $runs times, alternating, the order turning each round,
# and prints each tool's median wall time with its spread (min–max), its median CPU-seconds
# (user+sys of the process and its children), its peak RSS, the server's CPU-seconds while
# serving it (median), and Sortie's ratios to each peer (Sortie / peer: below 1.0 Sortie is
# faster, or spends less CPU). The tool named `sortie` is the one compared.
#
# Needs $data (a scratch folder; each run starts with $data/out empty and no
# $data/out.tar.zst), $runs, and $server_groups: the process groups of the server's
# processes (each started by setsid), whose CPU is summed. `pin_server` reads PIN: 1 gives
# the server core 0 and every tool core 1 (taskset), as if the server ran on a machine of
# its own; `tools` holds every tool on core 1 and leaves the server free.

pin=()

# Every process of the server's groups.
server_processes() {
    local group
    for group in $server_groups; do pgrep -g "$group" || true; done
}

pin_server() {
    case ${PIN:-} in
        "") return 0 ;;
        1 | tools) ;;
        *) echo "PIN is 1 (server on core 0, tools on core 1) or tools (tools on core 1)" >&2; exit 2 ;;
    esac
    [ "$(nproc)" -ge 2 ] || { echo "PIN=$PIN needs two cores" >&2; exit 2; }
    local pid
    if [ "$PIN" = 1 ]; then
        for pid in $(server_processes); do taskset -a -p -c 0 "$pid" >/dev/null; done
    fi
    pin=(taskset -c 1)
}

# CPU-seconds (user+sys) the server's processes have spent so far.
server_cpu() {
    local pid
    for pid in $(server_processes); do cat "/proc/$pid/stat" 2>/dev/null || true; done |
        awk -v hz="$(getconf CLK_TCK)" '{ sum += $14 + $15 } END { printf "%.2f", sum / hz }'
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
            awk -v sw="$sortie_wall" -v w="$wall" -v sc="$sortie_cpu" -v c="$cpu" -v peer="$name" \
                'BEGIN { printf "   sortie/%s: wall %.2fx, cpu %.2fx", peer, sw / w, sc / c }'
        fi
        echo
    done
    rm -f "$data"/*.times "$data/time.txt" "$data/stderr.txt"
}
