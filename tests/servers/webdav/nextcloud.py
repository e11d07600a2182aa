"""Nextcloud's WebDAV conventions on top of WsgiDAV's own file system provider, so that the
webdav provider's nextcloud:// mode meets a real DAV server speaking them:

- the files of user U under /remote.php/dav/files/U/ (the mount is set in server.py);
- oc:checksums in PROPFIND and OC-Checksum on GET, as Nextcloud stores them: the checksum a
  client announced with OC-Checksum when it uploaded the file (PUT), else SHA1, MD5 and
  ADLER32 of the bytes. Like ownCloud, the announced checksum is stored as given, so a
  test can serve a file whose bytes no longer match it (storage damaged after upload);
- oc:fileid, oc:permissions, oc:favorite and oc:share-types; favourites and share types are
  set with PROPPATCH, as the Nextcloud clients set favourites, and kept with the other dead
  properties;
- OAuth2 bearer tokens (Nextcloud's oauth2 app) next to Basic authentication.
"""

import hashlib
import os
import threading
import zlib

from wsgidav.dav_error import HTTP_NOT_FOUND, DAVError
from wsgidav.fs_dav_provider import FileResource, FilesystemProvider, FolderResource
from wsgidav.mw.base_mw import BaseMiddleware
from wsgidav.util import etree

OC = "{http://owncloud.org/ns}"
INSTANCE_ID = "ocsortie1"
LIVE = [OC + "fileid", OC + "permissions", OC + "favorite", OC + "share-types"]

# Checksums announced at upload, by file path; the server's process is the store, as
# WsgiDAV's dead properties are.
_announced = {}
_announced_lock = threading.Lock()


def computed_checksums(path):
    sha1, md5, adler = hashlib.sha1(), hashlib.md5(), 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha1.update(chunk)
            md5.update(chunk)
            adler = zlib.adler32(chunk, adler)
    return f"SHA1:{sha1.hexdigest()} MD5:{md5.hexdigest()} ADLER32:{adler & 0xFFFFFFFF:08x}"


def checksums_of(path):
    with _announced_lock:
        announced = _announced.get(path)
    return announced if announced is not None else computed_checksums(path)


class _Nextcloud:
    """What files and folders share: the oc:* live properties."""

    permissions = ""

    def get_property_names(self, *, is_allprop):
        names = super().get_property_names(is_allprop=is_allprop)
        extra = list(LIVE)
        if not self.is_collection:
            extra.append(OC + "checksums")
        return names + [n for n in extra if n not in names]

    def _dead(self, name):
        pm = self.provider.prop_manager
        return pm.get_property(self.get_ref_url(), name, self.environ) if pm else None

    def get_property_value(self, name):
        if name == OC + "fileid":
            return f"{os.stat(self._file_path).st_ino:08d}{INSTANCE_ID}"
        if name == OC + "permissions":
            return self.permissions
        if name == OC + "checksums" and not self.is_collection:
            element = etree.Element(name)
            etree.SubElement(element, OC + "checksum").text = checksums_of(self._file_path)
            return element
        if name in (OC + "favorite", OC + "share-types") and self._dead(name) is None:
            return "0" if name == OC + "favorite" else etree.Element(name)
        return super().get_property_value(name)

    def set_property_value(self, name, value, *, dry_run=False):
        if name in (OC + "fileid", OC + "permissions", OC + "checksums"):
            raise DAVError(HTTP_NOT_FOUND)
        return super().set_property_value(name, value, dry_run=dry_run)


class NextcloudFile(_Nextcloud, FileResource):
    permissions = "RGDNVW"

    def begin_write(self, *, content_type=None):
        announced = self.environ.get("HTTP_OC_CHECKSUM")
        with _announced_lock:
            if announced:
                _announced[self._file_path] = announced
            else:
                _announced.pop(self._file_path, None)
        return super().begin_write(content_type=content_type)

    def finalize_headers(self, environ, response_headers):
        super().finalize_headers(environ, response_headers)
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            # Nextcloud sends the first (strongest) checksum it holds.
            response_headers.append(("OC-Checksum", checksums_of(self._file_path).split()[0]))


class NextcloudFolder(_Nextcloud, FolderResource):
    permissions = "RGDNVCK"


class NextcloudProvider(FilesystemProvider):
    """WsgiDAV's file system provider, its resources extended as above."""

    def get_resource_inst(self, path, environ):
        res = super().get_resource_inst(path, environ)
        if res is None:
            return None
        cls = NextcloudFolder if res.is_collection else NextcloudFile
        return cls(path, environ, res._file_path)


class BearerTokens(BaseMiddleware):
    """Lets a request in with `Authorization: Bearer TOKEN` for a known token, as user
    `bearer_tokens[TOKEN]`: the authenticator after it trusts the user this sets (and only
    this middleware sets it, whatever the client sent)."""

    HEADER = "HTTP_X_SORTIE_TRUSTED_USER"

    def __call__(self, environ, start_response):
        environ.pop(self.HEADER, None)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.lower().startswith("bearer "):
            user = self.config.get("bearer_tokens", {}).get(auth[7:].strip())
            if user is None:
                start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="sortie"')])
                return [b"invalid bearer token\n"]
            del environ["HTTP_AUTHORIZATION"]
            environ[self.HEADER] = user
        return self.next_app(environ, start_response)
