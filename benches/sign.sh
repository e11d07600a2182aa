#!/usr/bin/env bash
# What signing and time-stamping cost: `sortie export` of the same tree plain, with
# `--sign KEY` (an unprotected key, so that a password's scrypt is not counted), and with
# `--sign KEY --timestamp URL` against the loopback TSA of tests/servers/tsa/server.py.
# The three are run alternately, RUNS times each, from a warm page cache; the medians are
# compared as ratios (plain time / sealed time: 1.00 = free). Signing reads the sidecar and
# the tag manifest once, whatever the archive's size, so the cost is a constant few
# milliseconds (plus a TSA's round trips with --timestamp).
#
#   bash benches/sign.sh [DATA_DIR] [RUNS]
#
# DATA_DIR (default target/bench-data) receives the trees of benches/make-trees.py.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-target/bench-data}
runs=${2:-5}
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "needs openssl (apt-get install openssl)" >&2; exit 2; }
cargo build --release --quiet
sortie=$PWD/target/release/sortie
tsa_server=$PWD/tests/servers/tsa/server.py
python3 benches/make-trees.py "$data" 10000
cd "$data"

rm -f bench.key bench.key.pub
"$sortie" keygen bench.key --unprotected > /dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$tsa_server" "$PWD/tsa" "$port" "$$" > /dev/null 2>&1 &
tsa_pid=$!
trap 'kill $tsa_pid 2>/dev/null || true' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.1; done

median() { sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
time_of() { /usr/bin/time -f "%e" -o time.txt "$@" > /dev/null; cat time.txt; }

printf '%-14s %10s %10s %10s %10s %10s\n' tree "plain s" "sign s" "+tsa s" "sign ratio" "tsa ratio"
for tree in large small-10000; do
    tar -cf - "$tree" > /dev/null # warm the page cache
    : > plain.txt; : > signed.txt; : > stamped.txt
    for _ in $(seq "$runs"); do
        time_of "$sortie" export "$tree" -o plain.tar.zst --force >> plain.txt
        time_of "$sortie" export "$tree" -o signed.tar.zst --force --sign bench.key >> signed.txt
        time_of "$sortie" export "$tree" -o stamped.tar.zst --force --sign bench.key \
            --timestamp "http://127.0.0.1:$port/" >> stamped.txt
    done
    p=$(median < plain.txt); s=$(median < signed.txt); t=$(median < stamped.txt)
    printf '%-14s %10s %10s %10s %9sx %9sx\n' "$tree" "$p" "$s" "$t" \
        "$(awk -v a="$p" -v b="$s" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$p" -v b="$t" 'BEGIN { printf "%.2f", a / b }')"
done
"$sortie" verify stamped.tar.zst --key bench.key.pub > /dev/null
rm -f plain.tar.zst* signed.tar.zst* stamped.tar.zst* plain.txt signed.txt stamped.txt time.txt
