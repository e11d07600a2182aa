"""Reads collections of a CalDAV/CardDAV server the plainest way, as an independent client
for the tests to compare Sortie's archive with: PROPFIND Depth 1 (xml.etree) for the members,
then one GET per member. Standard library only.

    dav_fetch.py BASE_URL USER PASSWORD CA_FILE|- COLLECTION_HREF...

Prints JSON: {collection_href: {member_href: the GET body in hex}}.
"""

import base64
import json
import ssl
import sys
import urllib.request
import xml.etree.ElementTree as ET

base, user, password, ca = sys.argv[1:5]
context = ssl.create_default_context(cafile=None if ca == "-" else ca)
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(method, path, body=None, depth=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Authorization", auth)
    if depth is not None:
        req.add_header("Depth", depth)
        req.add_header("Content-Type", "application/xml")
    with urllib.request.urlopen(req, context=context) as response:
        return response.read()


PROPFIND = b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>'
out = {}
for collection in sys.argv[5:]:
    tree = ET.fromstring(request("PROPFIND", collection, PROPFIND, "1"))
    members = {}
    for response in tree.findall("{DAV:}response"):
        href = response.findtext("{DAV:}href").strip()
        if response.find(".//{DAV:}resourcetype/{DAV:}collection") is not None:
            continue
        members[href] = request("GET", href).hex()
    out[collection] = members
print(json.dumps(out))
