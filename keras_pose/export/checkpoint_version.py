"""Which version of files an export is tied to: of the checkpoint that
``keras_pose.export.cache`` exports (its digest, what an export's sidecar
records, and whether a training run replaced or removed it meanwhile: a
better ``best/`` renamed into place, an epoch pruned), and of the network
files an export's sidecar describes (their sizes and SHA-256)."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

from keras_pose.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, is_complete
from keras_pose.inference.loading import PoseModel


def checkpoint_digest(directory: str) -> str:
    """SHA-256 over the checkpoint's weights and config files: what an
    export is made from (a retrained or edited checkpoint changes it)."""
    from keras_pose.digests import files_digest
    return files_digest([(name, os.path.join(directory, name))
                         for name in (WEIGHTS_FILE, CONFIG_FILE)])


def files_record(paths: Sequence[str]) -> dict:
    """What an export's sidecar records of the network files it describes:
    ``{suffix: {"bytes": size, "sha256": hex}}``. Keyed by suffix (``.onnx``;
    ``.xml`` and ``.bin``; ``.tflite``): an export is written under a
    temporary name and may be renamed, its suffixes stay."""
    from keras_pose.digests import sha256_of
    return {os.path.splitext(path)[1]: {"bytes": os.path.getsize(path),
                                        "sha256": sha256_of(path)} for path in paths}


def content_record(suffix: str, data: bytes) -> dict:
    """:func:`files_record` of one file of ``suffix`` holding ``data``, before
    it is written (the TFLite file, converted in memory)."""
    import hashlib
    return {suffix: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}


def files_mismatch(record: object, paths: Sequence[str]) -> Optional[tuple[str, str]]:
    """None when ``paths`` are the files that ``record`` (a sidecar's
    :func:`files_record`) describes, else (the first file that is not, what
    differs). Sizes are compared before any file is read. Each call hashes
    anew: a ResNet-50's 100 MB takes 0.07 s on a 2-core EPYC (SHA-NI), under
    what loading it takes, so no memo (keyed by size and mtime, which a copy
    or an edit can keep) is worth its doubt."""
    from keras_pose.digests import sha256_of
    entries = [(path, (record if isinstance(record, dict) else {}).get(
        os.path.splitext(path)[1])) for path in paths]
    for path, entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
                and isinstance(entry.get("sha256"), str)):
            return path, "the sidecar records no size and SHA-256 of it"
        if not os.path.isfile(path):
            return path, "it is missing"
        if os.path.getsize(path) != entry["bytes"]:
            return path, (f"it is {os.path.getsize(path)} bytes, the sidecar records "
                          f"{entry['bytes']}")
    for path, entry in entries:
        if sha256_of(path) != entry["sha256"]:
            return path, "its SHA-256 is not the one the sidecar records"
    return None


def identity(directory: str) -> tuple:
    """What tells one version of a checkpoint's files from the next (a
    training run replaces best/ by a rename: new files)."""
    stats = [os.stat(os.path.join(directory, name)) for name in (WEIGHTS_FILE, CONFIG_FILE)]
    return tuple((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) for st in stats)


def version(directory: str) -> Optional[tuple]:
    """The checkpoint's :func:`identity`, None when it is gone."""
    try:
        return identity(directory) if is_complete(directory) else None
    except FileNotFoundError:
        return None


def change(directory: str, before: Optional[tuple], digest: Optional[str]) -> Optional[str]:
    """What happened to the checkpoint at ``directory`` since it had the
    :func:`version` ``before`` and the digest ``digest`` (None: not read
    yet): the message saying it was removed or replaced (other files, or
    other contents), or None when it was not: the same files with the same
    contents, only touched (was "replaced while it was exported", in place
    of the export's real error, a full disk say)."""
    now = version(directory)
    if now == before or (now is not None and before is not None and digest is not None
                         and _same_files(now, before) and _digest(directory) == digest):
        return None
    what = ("removed while it was exported (a training run keeps only its last "
            "train.keep_checkpoints epochs): give a newer checkpoint, or the model directory"
            if now is None else "replaced while it was exported (a training run's better "
            "best/): run again")
    return f"{directory} was {what}"


def _same_files(now: tuple, before: tuple) -> bool:
    """Whether two :func:`identity` are of the same files (device and inode:
    a best/ renamed into place has new ones, and took the exports with it)."""
    return [stats[:2] for stats in now] == [stats[:2] for stats in before]


def _digest(directory: str) -> Optional[str]:
    try:
        return checkpoint_digest(directory)
    except FileNotFoundError:  # Replaced (or removed) as it was read.
        return None


def read_consistently(pose_model: PoseModel, attempts: int = 3) -> tuple[str, PoseModel]:
    """The checkpoint's digest and ``pose_model`` with the weights of that
    same version, read again: a training run can replace best/ between the
    first load and the digest, and the export of the old weights went into
    the cache labelled with the new digest, served from then on."""
    from keras_pose.checkpoint import load_model
    for _ in range(attempts):
        before = identity(pose_model.path)
        digest = checkpoint_digest(pose_model.path)
        model, _ = load_model(pose_model.path)
        if identity(pose_model.path) == before:
            return digest, dataclasses.replace(
                pose_model, keras_model=model,
                network=lambda images: model(images, training=False))
    raise CheckpointError(f"{pose_model.path} changed {attempts} times while it was read (a "
                          "training run replacing it each epoch?); run again")
