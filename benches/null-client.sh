#!/usr/bin/env bash
# The floor of a large-object benchmark: what reading an object costs when the client does
# nothing with the bytes. curl reads s3://BUCKET/KEY (SIZE bytes) as ranges of CHUNK_MIB,
# STREAMS at once (one process, its connections reused), into /dev/null: no hashing, no
# file, no archive. Whatever the bytes cost a real client comes on top of this. With OUTPUT
# `-`, the bytes go to standard output instead (one stream: ranges at once would interleave).
#
#   bash benches/null-client.sh BUCKET/KEY SIZE STREAMS CHUNK_MIB [OUTPUT]
#
# Reaches the server as the AWS CLI does: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (SigV4 by curl's --aws-sigv4, curl ≥ 7.75).
set -euo pipefail
path=$1 size=$2 streams=$3 chunk=$(($4 << 20)) output=${5:-/dev/null}
config=$(mktemp)
trap 'rm -f "$config"' EXIT
# The credentials go to curl in its config file (mode 0600), never on its command line.
for ((start = 0; start < size; start += chunk)); do
    end=$((start + chunk - 1))
    ((end < size)) || end=$((size - 1))
    ((start == 0)) || echo next
    cat <<CONFIG
url = "$AWS_ENDPOINT_URL/$path"
aws-sigv4 = "aws:amz:${AWS_DEFAULT_REGION:-us-east-1}:s3"
user = "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"
range = "$start-$end"
output = "$output"
fail
CONFIG
done > "$config"
curl --silent --show-error --parallel --parallel-max "$streams" --config "$config"
