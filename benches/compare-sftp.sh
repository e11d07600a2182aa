#!/usr/bin/env bash
# The example sftp plugin (examples/plugins/sftp) side by side with `rclone copy` into a
# plain folder, both reading 10,000 files of 4 KiB from the same local OpenSSH server
# (tests/servers/sshd, key login). Runs alternate (rclone, Sortie, rclone, …) so that noise
# on the shared machine falls on both; the figures are the medians. `ratio` is Sortie's
# objects/s over rclone's (rclone time / Sortie time): target ≥ 1.0.
#
#   bash benches/compare-sftp.sh [DATA_DIR] [RUNS]     # default target/bench-sftp, 5 runs
#
# Each tool runs with its defaults (rclone: 4 transfers, 8 checkers; the plugin: 8 sessions),
# then rclone with 8 transfers (the plugin's 8 sessions),
# except that rclone's hash check is off: it would run md5sum on the server for every file,
# while Sortie hashes (sha256) what it received. Sortie also compresses (zstd -3) and writes
# the manifests, the inventory and the report. Needs root (sshd logs the test user in).
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-sftp}")
runs=${2:-5}
command -v rclone >/dev/null || { echo "needs rclone (apt-get install rclone)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
bash tests/servers/install
cargo build --release --quiet --locked
CARGO_TARGET_DIR=$PWD/target cargo build --release --quiet --locked --manifest-path examples/plugins/sftp/Cargo.toml
sortie=$PWD/target/release/sortie
plugin=$PWD/target/release/libsortie_plugin_sftp.so

tree=$data/tree
if [ ! -d "$tree" ]; then
    python3 - "$tree" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
for i in range(10_000):
    folder = os.path.join(root, f"d{i % 100:02d}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"f{i:06d}.bin"), "wb") as f:
        f.write((hashlib.sha256(str(i).encode()).digest() * 64) + os.urandom(2048))
PY
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SFTP_TEST_PASSWORD=bench-$RANDOM$RANDOM
bash tests/servers/sshd start "$data/server" "$port"
trap 'bash tests/servers/sshd stop "$data/server"' EXIT
chown -R sortie-sftp: "$tree"
chmod 755 "$data"

# The test server also offers an ECDSA host key that its known_hosts leaves out (to test the
# plugin's fallback); rclone picks ECDSA first, so it gets every key of this loopback server.
ssh-keyscan -p "$port" 127.0.0.1 >"$data/rclone_known_hosts" 2>/dev/null
export RCLONE_CONFIG_BENCH_TYPE=sftp RCLONE_CONFIG_BENCH_HOST=127.0.0.1 RCLONE_CONFIG_BENCH_PORT=$port \
    RCLONE_CONFIG_BENCH_USER=sortie-sftp RCLONE_CONFIG_BENCH_KEY_FILE=$data/server/client_ed25519 \
    RCLONE_CONFIG_BENCH_KNOWN_HOSTS_FILE=$data/rclone_known_hosts RCLONE_CONFIG_BENCH_DISABLE_HASHCHECK=true
settings=(--set "key_file=$data/server/client_ed25519" --set "known_hosts=$data/server/known_hosts")

timed() {
    /usr/bin/time -f "%e %M" -o "$data/time.txt" "$@" >/dev/null 2>"$data/last.log" \
        || { echo "failed: $*" >&2; cat "$data/last.log" >&2; exit 1; }
    cat "$data/time.txt"
}
median() { sort -n "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-34s %10s %10s %10s %10s %12s %12s %8s\n' case rclone_s sortie_s rclone_o/s sortie_o/s rclone_RSS sortie_RSS ratio
# Each case: a name, then rclone's extra arguments.
for case in "defaults" "equal concurrency:--transfers 8 --checkers 8"; do
    name=${case%%:*}
    extra=()
    [[ $case == *:* ]] && read -r -a extra <<<"${case#*:}"
    : >"$data/rclone.txt"
    : >"$data/sortie.txt"
    for _ in $(seq "$runs"); do
        rm -rf "$data/rclone-out"
        timed rclone copy "${extra[@]}" "bench:$tree" "$data/rclone-out" >>"$data/rclone.txt"
        rm -f "$data/out.tar.zst"*
        timed "$sortie" --plugin "$plugin" export "sftp://sortie-sftp@127.0.0.1:$port$tree" -o "$data/out.tar.zst" \
            "${settings[@]}" >>"$data/sortie.txt"
    done
    copied=$(find "$data/rclone-out" -type f | wc -l)
    [ "$copied" = 10000 ] || { echo "rclone copied $copied files" >&2; exit 1; }
    "$sortie" verify "$data/out.tar.zst" >/dev/null
    read -r r_s r_kib < <(median "$data/rclone.txt")
    read -r s_s s_kib < <(median "$data/sortie.txt")
    awk -v c="$name, medians of $runs" -v r="$r_s" -v s="$s_s" -v rk="$r_kib" -v sk="$s_kib" 'BEGIN {
        printf "%-34s %10s %10s %10.0f %10.0f %8d MiB %8d MiB %7.2fx\n", c, r, s, 10000 / r, 10000 / s, rk / 1024, sk / 1024, r / s
    }'
done
rm -rf "$data/out.tar.zst"* "$data/rclone-out" "$data/time.txt" "$data/last.log"
