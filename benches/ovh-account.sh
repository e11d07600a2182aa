#!/usr/bin/env bash
# How long an OVH account takes to export: requests per second under the default rate limit
# (1 request/s per consumer key), and the requests an account of DOMAINS domains and BILLS
# bills needs (each fetched without a limit, then priced at the default rate), against the
# OVH API test server (tests/servers/ovh/server.py) on loopback.
#
#   bash benches/ovh-account.sh [DOMAINS] [BILLS] [LIMITED_SECONDS]   # default: 100 1000 60
set -euo pipefail
cd "$(dirname "$0")/.."
domains=${1:-100}
bills=${2:-1000}
limited=${3:-60}
python=target/test-tools/ovh/bin/python
[ -x "$python" ] || { echo "run bash tests/servers/install first" >&2; exit 2; }
# The request counts and the limited rate do not depend on the build; SORTIE=target/debug/sortie
# measures without a release build.
sortie=${SORTIE:-$PWD/target/release/sortie}
[ -n "${SORTIE:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$python" tests/servers/ovh/server.py --port 0 --port-file "$work/port" --parent-pid $$ \
    --domains "$domains" --bills "$bills" 2>"$work/server.log" >/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
export OVH_ENDPOINT=http://127.0.0.1:$port/1.0 OVH_APPLICATION_KEY=SortieTestAppKey \
    OVH_APPLICATION_SECRET=SortieTestAppSecret0000000000000 OVH_CONSUMER_KEY=SortieTestCkFullAccess0000000000
# API requests (signed) the server received; downloads (PDFs, dumps) are not API calls.
count() {
    curl -s "http://127.0.0.1:$port/_admin/requests?since=0" |
        "$python" -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["auth"] == "signed"))'
}

# 1. The default limit: requests per second achieved over LIMITED_SECONDS of a real export.
before=$(count)
start=$(date +%s.%N)
timeout "$limited" "$sortie" -q export ovh://services ovh://billing -o "$work/limited.tar.zst" --force || true
end=$(date +%s.%N)
after=$(count)
rate=$("$python" -c "print(round(($after - $before) / ($end - $start), 3))")
echo "default limit: $((after - before)) API requests in $("$python" -c "print(round($end - $start, 1))") s: $rate requests/s"

# 2. The account's size in requests, fetched without a limit, and its time at 1 request/s.
for sources in "ovh://domains ovh://dns" "ovh://billing"; do
    before=$(count)
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$sortie" -q export $sources --set ovh.rate=0 --set ovh.dumps=false -o "$work/all.tar.zst" --force
    end=$(date +%s.%N)
    after=$(count)
    requests=$((after - before))
    echo "$sources ($domains domains, $bills bills): $requests API requests in $("$python" -c "print(round($end - $start, 1))") s without a limit; at 1 request/s: $("$python" -c "print(round($requests / 60, 1))") min"
done
