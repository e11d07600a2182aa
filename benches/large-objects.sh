#!/usr/bin/env bash
# Large objects at the server's speed (issue 17): Sortie's S3 export against `rclone copy`
# (its defaults: multi-thread streams above 250 MiB) and `aws s3 cp` (PyPI awscli: 10
# concurrent ranged requests), against the same local s3s-fs and the same data:
#   large   one object of 1 GiB (half random, half text), with two floors: curl reading it
#           into /dev/null (benches/null-client.sh) in Sortie's ranges and in the AWS CLI's;
#           and Sortie's work done by standard tools in one stream: curl | sha256 of the
#           bytes, zstd -3, sha256 of the compressed bytes (openssl dgst)
#   small   10,000 objects of 4 KiB, each tool's defaults, then 32 at once on both sides, and
#           what one small GET waits for, with and without TCP_QUICKACK (benches/delayed-ack.py)
# The tools run alternately, RUNS rounds, the order turning each round (benches/alternate.sh
# prints the table: wall, spread, CPU, RSS, the server's CPU, Sortie / peer).
#
#   bash benches/large-objects.sh [DATA_DIR] [RUNS] [SORTIE_FLAGS...]
#
# DATA_DIR defaults to target/bench-s3 (shared with compare-s3.sh), RUNS to 5. Extra
# arguments go to `sortie export` (e.g. `--range-streams 1` to measure one stream).
# CASES=large (or small) runs one case only. Where the server shares the client's two
# cores, the threads of each side drive the other's off its core (benches/README.md), so:
# PIN=1 gives the server core 0 and every tool core 1 (taskset), as if the server ran on a
# machine of its own; PIN=tools holds every tool on core 1 and lets the server run anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-target/bench-s3}")
runs=${2:-5}
shift $(($# > 2 ? 2 : $#))
sortie_flags=("$@")
command -v rclone >/dev/null || { echo "needs rclone (apt-get install rclone)" >&2; exit 2; }
command -v aws >/dev/null || { echo "needs the AWS CLI (pip install awscli)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
command -v curl >/dev/null || { echo "needs curl (apt-get install curl)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "needs openssl (apt-get install openssl)" >&2; exit 2; }
cargo build --release --quiet --locked
sortie=$PWD/target/release/sortie
source benches/s3-server.sh
start_s3_bench bench-big bench-small
source benches/alternate.sh
server_groups=$(cat "$data/server/pid")
pin_server

flags="${sortie_flags[*]:-}"
cases=${CASES:-large small}
[[ $cases == *large* ]] && bench "one 1 GiB object" \
    "sortie:$sortie export s3://bench-big -o $data/out.tar.zst $flags" \
    "rclone:rclone copy bench:bench-big $data/out" \
    "aws:aws s3 cp s3://bench-big/big.bin $data/out/big.bin" \
    "curl-6x3M:bash benches/null-client.sh bench-big/big.bin $((1 << 30)) 6 3" \
    "curl-10x8M:bash benches/null-client.sh bench-big/big.bin $((1 << 30)) 10 8" \
    "curl-work:bash benches/null-client.sh bench-big/big.bin $((1 << 30)) 1 1024 - |
        tee >(openssl dgst -sha256 >/dev/null) | zstd -3 -T1 -q | openssl dgst -sha256 >/dev/null"
[[ $cases == *small* ]] && bench "10,000 x 4 KiB, defaults" \
    "sortie:$sortie export s3://bench-small -o $data/out.tar.zst $flags" \
    "rclone:rclone copy bench:bench-small $data/out"
[[ $cases == *small* ]] && bench "10,000 x 4 KiB, 32 at once" \
    "sortie:$sortie export s3://bench-small -o $data/out.tar.zst --concurrency 32 $flags" \
    "rclone:rclone copy --transfers 32 --checkers 32 bench:bench-small $data/out"
[[ $cases == *small* ]] && echo "== one small GET after another, on one connection" &&
    target/test-tools/moto/bin/python benches/delayed-ack.py bench-small $(seq -f 'd%02g/f' 0 39 | paste -d '' - <(seq -f '%06g.bin' 0 39))
rm -rf "$data/out" "$data/out.tar.zst"*
