"""SHA-256 digests of files and folders: what tells one version of a
download, a checkpoint or a data file from the next (a retrained model at
the same path, a detections file edited in place).
(Ground floor: imports nothing of the project.)
"""

from __future__ import annotations

import hashlib
import os
from typing import Collection

_CHUNK = 1 << 20


def sha256_of(path: str) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_files_digest(path: str, exclude: Collection[str] = ()) -> str:
    """The hex SHA-256 of a model as stored at ``path``: every file of a
    folder (a checkpoint, a SavedModel; names and contents, in name order)
    but those under the top-level names ``exclude`` (what the caller knows
    not to be the model: a checkpoint's cache of exports, which a run with
    --runtime adds to, and another's export writes temporaries into), or a
    file with the weights beside it (OpenVINO's ``.bin`` beside its
    ``.xml``)."""
    if os.path.isdir(path):
        names = []
        for folder, subfolders, files in os.walk(path):
            if folder == path:  # Not walked into (was: hashed as part of the model).
                subfolders[:] = [name for name in subfolders if name not in exclude]
                files = [name for name in files if name not in exclude]
            names += [os.path.relpath(os.path.join(folder, name), path) for name in files]
        return files_digest([(name, os.path.join(path, name)) for name in sorted(names)])
    stem = os.path.splitext(path)[0]
    files = [path] + ([stem + ".bin"] if path.endswith(".xml")
                      and os.path.isfile(stem + ".bin") else [])
    return files_digest([(name, name) for name in files])


def files_digest(files: list[tuple[str, str]]) -> str:
    """The hex SHA-256 of named files, ``[(name, path), ...]`` in the order
    given: each name and its file's contents."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(sha256_of(path).encode())
    return digest.hexdigest()
