"""An independent WebDAV client for the webdav provider's tests (Python's http.client and
ElementTree, nothing of Sortie's):

    dav_client.py seed BASE_URL USER PASSWORD
        what only the protocol can set, on the tree tests/common/webdav.rs wrote: files
        uploaded with the checksum a Nextcloud client announces (OC-Checksum), two of them
        wrong (storage damaged after upload), favourites, share types and dead properties
        (PROPPATCH);
    dav_client.py mirror COLLECTION_URL USER PASSWORD OUT_DIR
        downloads a collection level by level (PROPFIND Depth: 1, then GET) into OUT_DIR, the
        directories too, and prints {"files": N, "dirs": N}.
"""

import base64
import hashlib
import json
import os
import sys
import zlib
from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import quote, unquote_to_bytes, urljoin, urlsplit
from xml.etree import ElementTree

OC_NS = "http://owncloud.org/ns"


class Dav:
    def __init__(self, base, user, password):
        self.base = base if base.endswith("/") else base + "/"
        parts = urlsplit(self.base)
        self.https = parts.scheme == "https"
        self.host = parts.netloc
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {auth}"}

    def request(self, method, url, body=None, headers=None):
        parts = urlsplit(url)
        if self.https:
            import ssl

            conn = HTTPSConnection(parts.netloc, context=ssl._create_unverified_context())
        else:
            conn = HTTPConnection(parts.netloc)
        conn.request(method, parts.path, body=body, headers={**self.headers, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), data

    def url(self, path):
        return urljoin(self.base, quote(path))

    def put(self, path, data, checksum=None):
        headers = {"OC-Checksum": checksum} if checksum else {}
        status, _, _ = self.request("PUT", self.url(path), data, headers)
        assert status in (201, 204), (path, status)

    def mkcol(self, path):
        status, _, _ = self.request("MKCOL", self.url(path))
        assert status in (201, 405), (path, status)

    def proppatch(self, path, xml_props):
        body = (
            '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" '
            f'xmlns:x="urn:x-sortie"><d:set><d:prop>{xml_props}</d:prop></d:set></d:propertyupdate>'
        )
        status, _, data = self.request("PROPPATCH", self.url(path), body.encode(), {"Content-Type": "application/xml"})
        assert status == 207 and b"200 OK" in data, (path, status, data)


def seed(base, user, password):
    cloud = Dav(f"{base}/remote.php/dav/files/{user}/", user, password)
    plain = Dav(f"{base}/dav/", user, password)
    cloud.mkcol("tree/checksums")
    sha1_only = b"uploaded with its SHA1 only\n"
    cloud.put("tree/checksums/sha1-only.txt", sha1_only, "SHA1:" + hashlib.sha1(sha1_only).hexdigest())
    adler_only = b"uploaded with its Adler-32 only\n" * 100
    cloud.put("tree/checksums/adler-only.txt", adler_only, f"ADLER32:{zlib.adler32(adler_only) & 0xFFFFFFFF:08x}")
    md5_only = b"uploaded with its MD5 only\n"
    cloud.put("tree/checksums/md5-only.txt", md5_only, "MD5:" + hashlib.md5(md5_only).hexdigest())
    cloud.mkcol("corrupt")
    cloud.put("corrupt/good.txt", b"fine\n", "SHA1:" + hashlib.sha1(b"fine\n").hexdigest())
    cloud.put("corrupt/bad-sha1.txt", b"damaged after upload\n", "SHA1:" + "0" * 40)
    cloud.put("corrupt/bad-md5.txt", b"also damaged\n", "MD5:" + "0" * 32)
    cloud.proppatch("tree/a b/", "<oc:favorite>1</oc:favorite>")
    cloud.proppatch(
        "tree/properties.txt",
        "<oc:favorite>1</oc:favorite><oc:share-types><oc:share-type>0</oc:share-type>"
        "<oc:share-type>3</oc:share-type></oc:share-types><x:colour>blue</x:colour>",
    )
    plain.proppatch("tree/properties.txt", "<x:colour>blue</x:colour><x:tags><x:tag>a</x:tag><x:tag>b</x:tag></x:tags>")


def mirror(url, user, password, out):
    dav = Dav(url, user, password)
    root_path = unquote_to_bytes(urlsplit(dav.base).path)
    counts = {"files": 0, "dirs": 0}
    pending = [dav.base]
    body = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>'
    while pending:
        collection = pending.pop()
        status, _, data = dav.request("PROPFIND", collection, body, {"Depth": "1", "Content-Type": "application/xml"})
        assert status == 207, (collection, status)
        for response in ElementTree.fromstring(data).iter("{DAV:}response"):
            href = urljoin(collection, response.find("{DAV:}href").text.strip())
            path = unquote_to_bytes(urlsplit(href).path)
            relative = path[len(root_path):].strip(b"/")
            if not path.startswith(root_path) or path.rstrip(b"/") == unquote_to_bytes(urlsplit(collection).path).rstrip(b"/"):
                continue
            target = os.path.join(os.fsencode(out), relative)
            if response.find(".//{DAV:}collection") is not None:
                os.makedirs(target, exist_ok=True)
                counts["dirs"] += 1
                pending.append(href)
            else:
                status, _, data = dav.request("GET", href)
                assert status == 200, (href, status)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(data)
                counts["files"] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"seed": seed, "mirror": mirror}[command](*args)
