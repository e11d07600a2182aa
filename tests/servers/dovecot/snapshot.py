"""What an independent client (Python's imaplib) reads from an account, for tests/imap.rs:
every message of every selectable mailbox with UID FETCH (UID FLAGS BODY.PEEK[]).

    snapshot.py PORT USER PASSWORD OUT_DIR

writes OUT_DIR/index.json, a list of {mailbox (decoded), uidvalidity, uid, flags, file},
and each message's bytes to OUT_DIR/FILE.
"""

import base64
import imaplib
import json
import os
import re
import sys


def decode(name):
    def run(match):
        text = match.group(1)
        if not text:
            return "&"
        text = text.replace(",", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4)).decode("utf-16-be")
    return re.sub(r"&([^-]*)-", run, name)


def main():
    port, user, password, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    os.makedirs(out, exist_ok=True)
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(user, password)
    index = []
    for line in client.list()[1]:
        attributes, _, name = re.match(rb'\((.*?)\) ("."|NIL) (.*)', line).groups()
        name = name.decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if b"\\Noselect" in attributes or b"\\NonExistent" in attributes:
            continue
        typ, data = client.select('"' + name + '"', readonly=True)
        assert typ == "OK", (name, data)
        validity = int(re.search(rb"\d+", client.response("UIDVALIDITY")[1][0]).group())
        typ, data = client.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        for part in data:
            if not isinstance(part, tuple):
                continue
            head, body = part
            uid = int(re.search(rb"UID (\d+)", head).group(1))
            flags = re.search(rb"FLAGS \((.*?)\)", head).group(1).decode().split()
            flags = [f for f in flags if f != "\\Recent"]
            file = f"{len(index)}.eml"
            with open(os.path.join(out, file), "wb") as f:
                f.write(body)
            index.append({"mailbox": decode(name), "uidvalidity": validity, "uid": uid,
                          "flags": sorted(flags), "file": file})
    client.logout()
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)


if __name__ == "__main__":
    main()
