"""Files fetched from a URL into a local cache, checked by the hash in their name.

The cache folder follows Keras' convention: ``$KERAS_POSE_CACHE`` when set,
else ``$KERAS_HOME/keras_pose`` or ``~/.keras/keras_pose``
(:func:`cache_dir`). A file whose name ends with the first hex digits of its
SHA-256, as torchvision names its files (``resnet50-19c8e357.pth``), is
checked against them when downloaded and each time it is used from the
cache. Downloads go to a temporary file in the cache, renamed into place
only once complete and verified, so an interrupted or corrupt download never
leaves a file behind.

``KERAS_POSE_OFFLINE=1`` forbids downloads (tests, machines without
network): a missing file is then the same error as an unreachable URL, one
that names the file, the URL and the exact path to put the file at.

Generic: backbone files (:mod:`keras_pose.convert.imagenet`,
``model.pretrained`` URLs) use it, and so can any other weights source.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

from keras_pose import log as logging
from keras_pose.digests import sha256_of
from keras_pose.errors import UserError
from keras_pose.files import remove_dead_leftovers_in, write_atomically

CACHE_ENV = "KERAS_POSE_CACHE"
OFFLINE_ENV = "KERAS_POSE_OFFLINE"
# torchvision's ``resnet50-19c8e357.pth``; mmpose's publish_model.py adds the
# date: ``res50_coco_256x192-ec54d7f3_20200709.pth``.
_HASH_IN_NAME = re.compile(r".+-([0-9a-f]{8,64})(?:_\d{8})?\.[A-Za-z0-9.]+")
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_REPORT_EVERY_S = 10.0


class DownloadError(UserError, OSError):
    """A file that could not be downloaded (no network, bad URL, offline)."""


class HashMismatchError(UserError, ValueError):
    """A file whose SHA-256 does not start with its name's hash."""


class _Truncated(OSError):
    """The server closed the connection before its Content-Length (urllib
    reads such a response to its end without an error)."""


def cache_dir() -> str:
    """The download folder: ``$KERAS_POSE_CACHE``, else ``keras_pose/`` in
    Keras' folder (``$KERAS_HOME`` or ``~/.keras``). Not created here."""
    if os.environ.get(CACHE_ENV):
        return os.path.abspath(os.path.expanduser(os.environ[CACHE_ENV]))
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras")
    return os.path.join(os.path.abspath(keras_home), "keras_pose")


def hash_prefix(file_name: str) -> Optional[str]:
    """The SHA-256 prefix a name carries (torchvision's and mmpose's style),
    or None.

    ``resnet50-19c8e357.pth`` -> ``19c8e357``;
    ``td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth`` -> ``04af38ce``;
    ``pose_resnet_50.pth`` -> None.
    """
    match = _HASH_IN_NAME.fullmatch(os.path.basename(file_name))
    return match.group(1) if match else None


def check_hash(path: str, name: Optional[str] = None) -> None:
    """Checks ``path`` against the hash prefix of ``name`` (default: its own
    name); names without one pass.

    Raises:
      HashMismatchError: naming the file, the expected prefix and the digest.
    """
    expected = hash_prefix(name or path)
    if expected is None:
        return
    actual = sha256_of(path)
    if not actual.startswith(expected):
        raise HashMismatchError(
            f"{name or path}: SHA-256 {actual} does not start with {expected}, the hash "
            "its name carries (a corrupt, truncated or different file)")


def fetch(url: str, *, alternatives: str = "") -> str:
    """Returns the cached copy of ``url``, downloading it first if needed.

    A file whose name carries a hash prefix is cached under that name
    (``resnet50-19c8e357.pth``: the name identifies the content) and checked
    whenever it is used; any other file under its name in a folder named
    after the URL's digest, so that two URLs ending in ``model.safetensors``
    never share a cache entry.

    Args:
      url: ``http://``, ``https://`` or ``file://``.
      alternatives: what else the user can do without the file, appended to
        the download error (e.g. the config value that names a local path).

    Returns:
      The local path in :func:`cache_dir`.

    Raises:
      DownloadError: download failed or disabled; the message names
        the file, the URL and the exact path to put the file at.
      HashMismatchError: the file does not match its name's hash (a fresh
        download is deleted; a file already in the cache is left for the
        user to remove, named in the message).
    """
    name = os.path.basename(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    if not name:
        raise ValueError(f"{url}: the URL names no file")
    destination = os.path.join(cache_dir(), name)
    if hash_prefix(name) is None:
        url_digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        destination = os.path.join(cache_dir(), f"url-{url_digest}", name)
    if os.path.isfile(destination):
        try:
            check_hash(destination)
        except HashMismatchError as e:
            raise HashMismatchError(f"{e}; delete {destination} to download it again") from None
        return destination
    if offline():
        _raise_offline(name, url, destination, f"downloads are disabled by {OFFLINE_ENV}",
                       alternatives)
    _download(url, name, destination, alternatives)
    return destination


def offline() -> bool:
    """Whether ``KERAS_POSE_OFFLINE`` forbids downloads: any value but
    empty, 0, false, no or off (``KERAS_POSE_OFFLINE=false`` forbade them)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def _raise_offline(name: str, url: str, destination: str, reason: str,
                   alternatives: str) -> None:
    raise DownloadError(
        f"cannot download {name} from {url} ({reason}). Without network access, get "
        f"the file on another machine and put it at {destination} (or set "
        f"{CACHE_ENV} to a folder that holds it)" + (f"; {alternatives}" if alternatives else ""))


def _download(url: str, name: str, destination: str, alternatives: str) -> None:
    """Downloads to a temporary file beside ``destination``, checks the
    hash, then renames; nothing is left behind on failure."""
    folder = os.path.dirname(destination)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot download {name} from {url}: the download cache {folder} "
                            f"cannot be created ({e.strerror or e}); set {CACHE_ENV} to a "
                            "folder you can write") from None
    start, sizes = time.monotonic(), []

    def fill(out) -> None:
        sizes.append(_copy_url(url, out))
        out.flush()
        check_hash(out.name, name)  # Raising discards the temporary file.

    remove_dead_leftovers_in(folder)  # Killed downloads' partial files (of any file).
    try:  # Also on KeyboardInterrupt, no partial file stays in the cache.
        write_atomically(destination, fill, binary=True)
    except HashMismatchError as e:
        raise HashMismatchError(f"{e}; downloaded from {url}, not kept") from None
    except _Truncated as e:
        raise DownloadError(f"cannot download {name} from {url}: {e}; nothing was kept, "
                            "run again to retry") from None
    except (OSError, ValueError) as e:  # urllib's URLError is an OSError.
        if getattr(e, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise DownloadError(
                f"cannot download {name} from {url}: the download cache {folder} is not "
                f"writable ({e.strerror}); set {CACHE_ENV} to a folder you can write, or put "
                f"the file there by other means") from None
        if getattr(e, "errno", None) == errno.ENOSPC:
            raise DownloadError(
                f"cannot download {name} from {url}: the disk holding {folder} is full "
                f"({e.strerror}); nothing was kept: free space there or set {CACHE_ENV} to "
                "a folder on another disk") from None
        _raise_offline(name, url, destination, f"{type(e).__name__}: {e}", alternatives)
    logging.info("Downloaded %s (%.1f MB in %.1f s) to %s", url, sizes[0] / 1e6,
                 time.monotonic() - start, destination)


def _copy_url(url: str, out) -> int:
    """Streams ``url`` into ``out``; returns the number of bytes."""
    logging.info("Downloading %s ...", url)
    size, report = 0, time.monotonic() + _REPORT_EVERY_S
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0)
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)
            size += len(chunk)
            if time.monotonic() >= report:  # A slow link still shows progress.
                report += _REPORT_EVERY_S
                logging.info("... %.0f of %s MB", size / 1e6,
                             f"{total / 1e6:.0f}" if total else "?")
    if total and size != total:
        raise _Truncated(f"the connection ended after {size} of the {total} bytes announced")
    return size
