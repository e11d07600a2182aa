#!/usr/bin/env python3
"""A time-stamping authority (RFC 3161) on 127.0.0.1 for the tests: a test CA and a TSA
certificate it signs (extendedKeyUsage critical timeStamping) are made in DIR by the openssl
CLI, and every POSTed `application/timestamp-query` is answered by `openssl ts -reply`.

    server.py DIR PORT [PARENT_PID]

With PARENT_PID, the server exits once that process is gone (a test binary that ended).

DIR/ca.pem is what `openssl ts -verify -CAfile` needs. Standard library and openssl only.
"""
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

OPENSSL_CONFIG = """
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXTENSIONS = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_authority(directory):
    """The CA and the TSA certificate, made once per directory."""
    if os.path.exists(os.path.join(directory, "tsa.pem")):
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
            "-subj", "/O=Sortie tests/CN=Sortie Test TSA CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    openssl("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr",
            "-subj", "/O=Sortie tests/CN=Sortie Test TSA", cwd=directory)
    with open(os.path.join(directory, "tsa.ext"), "w") as f:
        f.write(TSA_EXTENSIONS)
    openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
            "-days", "3650", "-extfile", "tsa.ext", "-out", "tsa.pem", cwd=directory)
    with open(os.path.join(directory, "serial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(directory, "tsa.cnf"), "w") as f:
        f.write(OPENSSL_CONFIG.format(dir=directory))


class Handler(http.server.BaseHTTPRequestHandler):
    directory = "."

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if self.headers.get("Content-Type") != "application/timestamp-query" or not 0 < length <= 65536:
            self.send_error(400, "expected an application/timestamp-query body")
            return
        query = self.rfile.read(length)
        with tempfile.TemporaryDirectory(dir=self.directory) as work:
            query_file = os.path.join(work, "query.tsq")
            reply_file = os.path.join(work, "reply.tsr")
            with open(query_file, "wb") as f:
                f.write(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-config", os.path.join(self.directory, "tsa.cnf"),
                 "-queryfile", query_file, "-out", reply_file],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if done.returncode != 0:
                self.send_error(500, "openssl ts -reply failed")
                return
            with open(reply_file, "rb") as f:
                reply = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def exit_with(parent):
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)
        time.sleep(1)


def main():
    directory, port = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    os.makedirs(directory, exist_ok=True)
    make_authority(directory)
    Handler.directory = directory
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if len(sys.argv) > 3:
        threading.Thread(target=exit_with, args=(int(sys.argv[3]),), daemon=True).start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
