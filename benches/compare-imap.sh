#!/usr/bin/env bash
# The imap provider side by side with `mbsync` (Debian's isync) pulling into a Maildir,
# both reading the same 10,000 small messages (~0.5–1.5 KiB) from the INBOX of a local
# Dovecot (tests/servers/dovecot, seeded through IMAP by its seed.py). Runs alternate
# (mbsync, Sortie, mbsync, …) so that noise on the shared machine falls on both; the figures
# are the medians. `ratio` is Sortie's messages/s over mbsync's (mbsync time / Sortie
# time): target ≥ 1.0.
#
#   bash benches/compare-imap.sh [DATA_DIR] [RUNS]     # default target/bench-imap, 5 runs
#
# Both talk plain IMAP on loopback (no TLS on either side) with their defaults: mbsync one
# pipelined connection, Sortie at most 4 connections (small messages arrive with its
# listing). mbsync starts from nothing each run (no Maildir, no sync state). By default it
# fsyncs every message it writes; the second case turns that off (`FSync no`), as Sortie
# fsyncs once, the archive before its rename. Sortie also hashes (sha256), compresses
# (zstd -3) and writes the manifests, inventory and report.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-imap}")
runs=${2:-5}
command -v mbsync >/dev/null || apt-get install -y -qq isync >/dev/null
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
bash tests/servers/install
cargo build --release --quiet --locked
sortie=$PWD/target/release/sortie

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
tls_port=$(free_port)
export IMAP_TEST_PASSWORD=bench-$RANDOM$RANDOM
rm -rf "$data"
mkdir -p "$data"
bash tests/servers/dovecot/server start "$data/server" "$port" "$tls_port"
trap 'bash tests/servers/dovecot/server stop "$data/server"' EXIT
python3 tests/servers/dovecot/seed.py "$port" sortie "$IMAP_TEST_PASSWORD" bulk 10000

cat >"$data/mbsyncrc" <<CONFIG
IMAPAccount bench
Host 127.0.0.1
Port $port
User sortie
Pass $IMAP_TEST_PASSWORD
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path $data/maildir/
Inbox $data/maildir/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
CONFIG

timed() {
    /usr/bin/time -f "%e %M" -o "$data/time.txt" "$@" >/dev/null 2>"$data/last.log" \
        || { echo "failed: $*" >&2; cat "$data/last.log" >&2; exit 1; }
    cat "$data/time.txt"
}
median() { sort -n "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-30s %9s %9s %10s %10s %11s %11s %8s\n' case mbsync_s sortie_s mbsync_m/s sortie_m/s mbsync_RSS sortie_RSS ratio
for case in "defaults" "mbsync FSync no"; do
    config=$data/mbsyncrc
    if [ "$case" != defaults ]; then
        config=$data/mbsyncrc-nofsync
        { echo "FSync no"; cat "$data/mbsyncrc"; } >"$config"
    fi
    : >"$data/mbsync.txt"
    : >"$data/sortie.txt"
    for _ in $(seq "$runs"); do
        rm -rf "$data/maildir"
        mkdir -p "$data/maildir"
        timed mbsync -c "$config" -q bench >>"$data/mbsync.txt"
        rm -f "$data/out.tar.zst"*
        SORTIE_IMAP_PASSWORD=$IMAP_TEST_PASSWORD timed "$sortie" export "imap://sortie@127.0.0.1:$port/INBOX" \
            --set no_starttls=true -o "$data/out.tar.zst" >>"$data/sortie.txt"
    done
    copied=$(find "$data/maildir/INBOX/cur" "$data/maildir/INBOX/new" -type f | wc -l)
    [ "$copied" = 10000 ] || { echo "mbsync copied $copied messages" >&2; exit 1; }
    "$sortie" verify "$data/out.tar.zst" >/dev/null
    read -r m_s m_kib < <(median "$data/mbsync.txt")
    read -r s_s s_kib < <(median "$data/sortie.txt")
    awk -v c="$case, medians of $runs" -v m="$m_s" -v s="$s_s" -v mk="$m_kib" -v sk="$s_kib" 'BEGIN {
        printf "%-30s %9s %9s %10.0f %10.0f %7d MiB %7d MiB %7.2fx\n", c, m, s, 10000 / m, 10000 / s, mk / 1024, sk / 1024, m / s
    }'
done
