# Sourced by the comparison scripts: `measure PREPARE CMD...` runs CMD $runs times (PREPARE,
# untimed, before each) under GNU time and prints the median run's "SECONDS KIB" (wall time,
# peak RSS). Needs $runs and $data.
measure() {
    local prepare=$1
    shift
    for _ in $(seq "$runs"); do
        eval "$prepare"
        /usr/bin/time -f "%e %M" -o "$data/time.txt" "$@" >/dev/null 2>&1
        cat "$data/time.txt"
    done | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}
