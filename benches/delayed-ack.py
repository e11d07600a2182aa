"""What one small GET waits for on a server that leaves Nagle's algorithm on.

s3s-fs (like any server that does not set TCP_NODELAY) writes a response's headers, then
its body: the body waits for the headers' ACK, which the client's kernel delays (Linux's
delayed ACK) — one stall per response, whatever the client. This reads the same objects
one after the other on one connection, plainly, then setting TCP_QUICKACK before every
read (the client ACKs at once), and prints the milliseconds per GET of each.

    python benches/delayed-ack.py BUCKET KEY...

Reaches the server as the AWS CLI does (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION); botocore signs the requests (run it with the
Python of target/test-tools/moto).
"""

import os
import socket
import sys
import time
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    bucket, keys = sys.argv[1], sys.argv[2:]
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    where = urlsplit(endpoint)
    signer = SigV4Auth(
        Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
        "s3",
        os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    for quick in (False, True):
        with socket.create_connection((where.hostname, where.port)) as conn:
            start = time.monotonic()
            for key in keys:
                get(conn, signer, endpoint, where.netloc, f"/{bucket}/{quote(key)}", quick)
            per_get = (time.monotonic() - start) / len(keys) * 1000
        print(f"{'TCP_QUICKACK' if quick else 'plain':>12}: {per_get:.2f} ms per GET ({len(keys)} GETs)")


def get(conn, signer, endpoint, host, path, quick):
    """One GET on `conn`, its answer read whole (Content-Length framing)."""
    request = AWSRequest(method="GET", url=endpoint + path, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    signer.add_auth(request)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"] + [f"{k}: {v}" for k, v in request.headers.items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    received = b""
    while True:
        if quick:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise SystemExit(f"the server closed the connection during {path}")
        received += chunk
        if b"\r\n\r\n" not in received:
            continue
        head, body = received.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status:
            raise SystemExit(f"GET {path}: {status.decode(errors='replace')}")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        if len(body) >= length:
            return


if __name__ == "__main__":
    main()
