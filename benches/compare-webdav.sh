#!/usr/bin/env bash
# Sortie's WebDAV export side by side with `rclone copy` into a plain folder, against the same
# local WebDAV server (WsgiDAV, from tests/servers/install, as the tests run it) and the same
# data: 5,000 files of 4 KiB in 50 directories. Each tool runs with its defaults (rclone: 4
# transfers and 8 checkers; Sortie: 32 fetches), then both with 16 requests at once. rclone
# writes files and checks sizes; Sortie also hashes every byte (sha256), compresses (zstd -3)
# and writes the manifests, the inventory (with each file's DAV properties) and the report.
#
#   bash benches/compare-webdav.sh [DATA_DIR] [RUNS]
#
# DATA_DIR defaults to target/bench-webdav, RUNS to 3. The files are written straight into
# the server's folder: WsgiDAV serves a folder as it is, which is what PUTs would have made.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-webdav}")
runs=${2:-3}
if ! command -v rclone >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >/dev/null
fi
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
bash tests/servers/install
cargo build --release --quiet -p sortie
sortie=${CARGO_TARGET_DIR:-$PWD/target}/release/sortie

mkdir -p "$data/server/files"
python3 - "$data/server/files/small" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
if not os.path.exists(root):
    for i in range(5000):
        folder = os.path.join(root, f"d{i % 50:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"f{i:05d}.bin"), "wb") as f:
            f.write(hashlib.sha256(str(i).encode()).digest() * 64 + os.urandom(2048))
PY
bash tests/servers/webdav/certs "$data/server"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tls=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=bench-pw
WEBDAV_TEST_USER=bench WEBDAV_TEST_PASSWORD=$password WEBDAV_TEST_TOKEN=bench-token \
    target/test-tools/wsgidav/bin/python tests/servers/webdav/server.py "$data/server/files" "$port" "$tls" \
    "$data/server/cert.pem" "$data/server/key.pem" $$ 2>"$data/server/log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

export RCLONE_CONFIG_BENCH_TYPE=webdav RCLONE_CONFIG_BENCH_URL=http://127.0.0.1:$port/dav \
    RCLONE_CONFIG_BENCH_VENDOR=other RCLONE_CONFIG_BENCH_USER=bench
RCLONE_CONFIG_BENCH_PASS=$(rclone obscure "$password")
export RCLONE_CONFIG_BENCH_PASS WEBDAV_PASSWORD=$password

# The two tools alternate, run by run, so that a slow moment of the machine hits both; each
# side's median run is kept ("SECONDS KIB": wall time, peak RSS).
median() { sort -n "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
timed() { /usr/bin/time -f "%e %M" -o "$data/time.txt" "$@" >/dev/null 2>&1; cat "$data/time.txt"; }

printf '%-26s %10s %10s %12s %12s %9s %9s %8s\n' case rclone_s sortie_s rclone_RSS sortie_RSS rclone_f/s sortie_f/s ratio
compare() {
    local name=$1 rclone_flags=$2 sortie_flags=$3
    : >"$data/rclone.txt"
    : >"$data/sortie.txt"
    for _ in $(seq "$runs"); do
        rm -rf "$data/rclone-out"
        timed rclone copy $rclone_flags bench:small "$data/rclone-out" >>"$data/rclone.txt"
        rm -f "$data/out.tar.zst"*
        timed "$sortie" export "webdav://bench@127.0.0.1:$port/dav/small" -o "$data/out.tar.zst" $sortie_flags \
            >>"$data/sortie.txt"
    done
    "$sortie" verify "$data/out.tar.zst" >/dev/null
    [ "$(find "$data/rclone-out" -type f | wc -l)" = 5000 ] || { echo "rclone did not copy 5,000 files" >&2; exit 1; }
    read -r r_s r_kib < <(median "$data/rclone.txt")
    read -r s_s s_kib < <(median "$data/sortie.txt")
    printf '%-26s %10s %10s %8s MiB %8s MiB %9s %9s %7sx\n' "$name" "$r_s" "$s_s" "$((r_kib / 1024))" "$((s_kib / 1024))" \
        "$(awk -v t="$r_s" 'BEGIN { printf "%.0f", 5000 / t }')" "$(awk -v t="$s_s" 'BEGIN { printf "%.0f", 5000 / t }')" \
        "$(awk -v r="$r_s" -v s="$s_s" 'BEGIN { printf "%.2f", r / s }')"
}
compare "small 5k, defaults" "" ""
compare "small 5k, 16 at once" "--transfers 16 --checkers 16" "--concurrency 16"
rm -rf "$data/out.tar.zst"* "$data/rclone-out" "$data/time.txt" "$data/rclone.txt" "$data/sortie.txt"
