"""Seeds a Dovecot account THROUGH IMAP with messy real-world mail, for tests/imap.rs and
benches/compare-imap.sh.

    seed.py PORT USER PASSWORD messy        the test corpus (below)
    seed.py PORT USER PASSWORD bulk N       N small messages in INBOX (the benchmark)

Messages are appended over a raw connection (plain IMAP on 127.0.0.1:PORT) with MULTIAPPEND
and LITERAL+, pipelined, so that 5,000 messages take about a second and bytes arrive exactly
as written: imaplib's append would turn bare LF into CRLF. imaplib then creates folders,
subscribes and sets flags the way a client does.
"""

import base64
import imaplib
import random
import socket
import sys


def message(subject, body, headers=(), eol=b"\r\n"):
    lines = [b"From: Alice <alice@example.com>", b"To: Bob <bob@example.com>",
             b"Subject: " + subject, b"Date: Tue, 01 Oct 2024 10:00:00 +0200",
             b"Message-ID: <" + str(random.getrandbits(64)).encode() + b"@example.com>"]
    lines.extend(headers)
    return eol.join(lines) + eol + eol + body


class Appender:
    """One raw connection that appends many messages in one MULTIAPPEND command."""

    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.file.readline()
        self.command(b"L LOGIN " + quote(user) + b" " + quote(password) + b"\r\n", b"L ")

    def command(self, line, tag):
        self.sock.sendall(line)
        while True:
            answer = self.file.readline()
            if not answer:
                raise SystemExit("the server closed the connection")
            if answer.startswith(tag):
                if not answer[len(tag):].startswith(b"OK"):
                    raise SystemExit(f"seeding failed: {answer!r}")
                return

    def append(self, mailbox, messages):
        """messages: (flags, internaldate or None, bytes)."""
        parts = [b"A APPEND " + quote(mailbox)]
        for flags, date, data in messages:
            parts.append(b" (" + flags.encode() + b")")
            if date:
                parts.append(b' "' + date.encode() + b'"')
            parts.append(b" {%d+}\r\n" % len(data) + data)
        self.command(b"".join(parts) + b"\r\n", b"A ")


def quote(text):
    return b'"' + text.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def mutf7(text):
    out, pending = "", ""

    def flush():
        nonlocal out, pending
        if pending:
            b64 = base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out += "&" + b64 + "-"
            pending = ""

    for ch in text:
        if " " <= ch <= "~":
            flush()
            out += "&-" if ch == "&" else ch
        else:
            pending += ch
    flush()
    return out


def messy(port, user, password):
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(user, password)
    folders = ["Sent", "Drafts", "Trash", "Archives", "Archives/Été 2024", "Archives/日本語",
               "Tom & Jerry", "Parent/Child", "Bulk", "Large"]
    for folder in folders:
        client.create(quote(mutf7(folder)).decode())
    for folder in ["Sent", "Archives/Été 2024", "Tom & Jerry"]:
        client.subscribe(quote(mutf7(folder)).decode())
    client.logout()

    rng = random.Random(14)
    attachment = bytes(rng.getrandbits(8) for _ in range(30000))
    b64 = base64.encodebytes(attachment)
    multipart = message(
        b"Report with an attachment",
        b"--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n--XYZ\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20final.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64.replace(b"\n", b"\r\n") + b"--XYZ--\r\n",
        [b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="XYZ"'])
    inbox = [
        (r"\Seen", "01-Oct-2024 10:00:00 +0200", message(b"Plain CRLF", b"Hello Bob.\r\n")),
        ("", "02-Oct-2024 11:30:00 +0000", message(b"Bare LF", b"line one\nline two\n", eol=b"\n")),
        (r"\Flagged", None, message(b"No final newline", b"the end has no newline")),
        (r"\Answered $Forwarded", "03-Jan-2023 08:00:00 -0500",
         message("Caf\u00e9 raw 8-bit \u2014 d\u00e9j\u00e0 vu".encode(), "Corps en UTF-8 : \u00e9t\u00e9\r\n".encode(),
                 [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit"])),
        ("custom_keyword", None,
         message(b"=?UTF-8?B?w4l0w6kgMjAyNCDwn5OoIG5vdGVz?=", b"RFC 2047 subject.\r\n",
                 [b"Cc: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>"])),
        (r"\Seen", None, multipart),
        ("", None, b"Subject: mixed endings\r\nFrom: x@example.com\n\nfirst\r\nsecond\nthird\r\n"),
    ]
    appender = Appender(port, user, password)
    appender.append("INBOX", inbox)
    appender.append(mutf7("Archives/Été 2024"),
                    [(r"\Seen", None, message(b"Summer", "\u00c9t\u00e9 \u2600\r\n".encode()))])
    appender.append(mutf7("Archives/日本語"),
                    [("", None, message(b"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", b"Nihongo.\r\n"))])
    appender.append(mutf7("Tom & Jerry"), [(r"\Seen \Flagged", None, message(b"Cat and mouse", b"Chase.\r\n"))])
    appender.append("Sent", [(r"\Seen", None, message(b"Sent mail", b"I wrote this.\r\n"))])
    appender.append("Drafts", [(r"\Draft", None, message(b"Unfinished", b"Dear"))])
    appender.append(mutf7("Parent/Child"), [("", None, message(b"Child only", b"In a child.\r\n"))])
    large = b"".join(b"%08d " % i + b"x" * 66 + b"\r\n" for i in range((20 << 20) // 76))
    appender.append("Large", [("", None, message(b"Twenty MiB", large))])
    bulk(appender, "Bulk", 5000, rng)


def bulk(appender, mailbox, count, rng):
    batch = []
    for i in range(count):
        flags = r"\Seen" if i % 3 == 0 else ("custom_keyword" if i % 7 == 0 else "")
        body = b"Message %d of the bulk folder.\r\n" % i + b"".join(
            b"%x\r\n" % rng.getrandbits(128) for _ in range(rng.randrange(1, 20)))
        batch.append((flags, None, message(b"Bulk %d" % i, body)))
        if len(batch) == 1000:
            appender.append(mailbox, batch)
            batch = []
    if batch:
        appender.append(mailbox, batch)


def main():
    port, user, password, profile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    if profile == "messy":
        messy(port, user, password)
    elif profile == "bulk":
        bulk(Appender(port, user, password), "INBOX", int(sys.argv[5]), random.Random(14))
    else:
        raise SystemExit(f"unknown profile {profile}")


if __name__ == "__main__":
    main()
