"""PyTorch weight files read into NumPy arrays, without torch.

``torch.save`` has written three layouts over the years; all three are read:

- zip (torch >= 1.6): ``<archive>/data.pkl`` is the pickled object, whose
  tensors name their storages by persistent id; each storage's raw bytes are
  the record ``<archive>/data/<key>``; ``<archive>/byteorder`` says "little"
  or "big" (absent: little).
- legacy (torch 0.1.10 to 1.5; the official 2018 pose checkpoints, and
  torchvision's resnet101/152 files): five things back to back in one file:
  a pickled magic number, a pickled protocol version (1001), a pickled
  ``sys_info`` dict (byte order), the pickled object, the pickled list of
  storage keys; then, for each key in that order, the storage's element count
  (int64) followed by its raw bytes.
- tar (torch < 0.1.10; torchvision's resnet18/50 files of early 2017): a tar
  archive with ``storages`` (count, then per storage a pickled ``(key,
  location, type)`` and int64 count + bytes, then a pickled list of storage
  views), ``tensors`` (count, then per tensor a pickled ``(key, storage key,
  type)`` and its ndim, sizes, strides and offset as binary integers),
  ``pickle`` (the object, tensors named by key) and ``sys_info``.

Every pickle goes through :mod:`keras_pose.convert.torch_pickle`, which
imports and calls nothing named in the file: it resolves only the globals
that describe tensors (and rebuilds the tensors from their storages). In the
saved object any other global becomes an inert placeholder
(:class:`~keras_pose.convert.torch_objects.GlobalRef`,
:class:`~keras_pose.convert.torch_objects.Inert`), so that a checkpoint whose
``meta`` references mmengine classes still reads; whoever takes tensors from
the object checks that they are arrays. In the plain-data pickles (the
legacy header, storage lists) a global is refused with
:class:`ForbiddenGlobalError`. ``.safetensors`` files are read with the
``safetensors`` package.
"""

from __future__ import annotations

import io
import os
import reprlib
import struct
import tarfile
import zipfile
from typing import Any, BinaryIO, Optional

import numpy as np

from keras_pose.errors import MissingFileError, import_required
from keras_pose.convert.torch_objects import (ForbiddenGlobalError, GlobalRef, Inert,
                                              Rebuilders, Storage, StorageType,
                                              TorchReadError, allowed_globals, numpy_dtype,
                                              pickled_object_hint, placeholder_global,
                                              tensor_from_storage)
from keras_pose.convert.torch_pickle import unpickle

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization's legacy header.
PROTOCOL_VERSION = 1001

# The interface; the errors are torch_pickle's, raised through these readers.
__all__ = ["MAGIC_NUMBER", "PROTOCOL_VERSION", "ForbiddenGlobalError", "GlobalRef", "Inert",
           "TorchReadError", "load_torch_file", "load_safetensors", "load_weights_file",
           "placeholder_global"]


# ---------------------------------------------------------------------------
# The three torch.save layouts.


def _storage_ref(pid: Any, storages: dict, source: str) -> Storage:
    """A ``('storage', type, key, location, numel[, view])`` persistent id."""
    if isinstance(pid, tuple) and len(pid) > 1 and pid[0] in ("module", b"module"):
        # The legacy layout's whole pickled nn.Module: ('module', class,
        # source file, class source). Advice as for the zip layout's.
        name = placeholder_global(pid[1]) or str(pid[1])
        raise TorchReadError(f"{source}: the file holds a whole {name} object."
                             f"{pickled_object_hint('torch.nn.', None)}")
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")
            and isinstance(pid[1], StorageType)):
        raise TorchReadError(f"{source}: unexpected persistent id {reprlib.repr(pid)}")
    key = str(pid[2])
    storage = storages.setdefault(key, Storage(pid[1].dtype_name))
    view = pid[5] if len(pid) == 6 else None
    if view is None:
        return storage
    # A storage view (torch < 0.4): (view key, offset, size) in elements.
    view_key, offset, size = view
    if storage.array is None:
        return Storage(storage.dtype_name)
    return Storage(storage.dtype_name, storage.array[int(offset):int(offset) + int(size)])


def _read_zip(path: str) -> Any:
    """The zip layout (torch >= 1.6)."""
    try:
        return _read_zip_archive(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        # A member whose bytes are cut or corrupt (CRC, header) ends here.
        raise TorchReadError(_damaged_zip(path) + f" ({e})") from e


def _damaged_zip(path: str) -> str:
    return (f"{path}: a truncated or damaged zip archive (an incomplete download?): "
            "download it again")


def _read_zip_archive(path: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")
                   and n.count("/") <= 1]
        if len(pickles) != 1:
            raise TorchReadError(f"{path}: a zip file without one data.pkl (not torch.save?)")
        prefix = pickles[0][:-len("data.pkl")]
        order = "little"
        if f"{prefix}byteorder" in archive.namelist():
            order = archive.read(f"{prefix}byteorder").decode("ascii", "replace")
        storages: dict[str, Storage] = {}

        def persistent(pid):
            storage = _storage_ref(pid, storages, path)
            if storage.array is None:
                name = f"{prefix}data/{pid[2]}"
                try:
                    raw = archive.read(name)
                except KeyError:
                    raise TorchReadError(f"{path}: missing record {name}") from None
                storage.big_endian = order == "big"
                storage.array = _flat_array(raw, storage.dtype_name, storage.big_endian,
                                            int(pid[4]), path)
            return storage

        with archive.open(pickles[0]) as file:
            return unpickle(file, path, allowed_globals(Rebuilders(path)), persistent,
                            placeholders=True)


def _flat_array(raw: bytes, dtype_name: str, big_endian: bool, numel: Optional[int],
                source: str) -> np.ndarray:
    dtype = numpy_dtype(dtype_name, big_endian)
    if len(raw) % dtype.itemsize or (numel is not None and len(raw) // dtype.itemsize < numel):
        raise TorchReadError(f"{source}: storage of {len(raw)} bytes does not hold "
                             f"{numel} {dtype_name} elements")
    return np.frombuffer(raw, dtype)


def _read_counted(file: BinaryIO, dtype_name: str, big_endian: bool, source: str,
                  size_left: int) -> np.ndarray:
    """An int64 element count then that many elements (legacy and tar)."""
    header = file.read(8)
    if len(header) != 8:
        raise TorchReadError(f"{source}: truncated (a storage is missing)")
    count = struct.unpack(">q" if big_endian else "<q", header)[0]
    nbytes = count * numpy_dtype(dtype_name).itemsize
    if count < 0 or nbytes > size_left:
        raise TorchReadError(f"{source}: a storage claims {count} elements, more than "
                             "the file holds (truncated file?)")
    raw = file.read(nbytes)
    if len(raw) != nbytes:
        raise TorchReadError(f"{source}: truncated storage data")
    return _flat_array(raw, dtype_name, big_endian, count, source)


def _legacy_header(file: BinaryIO, source: str) -> bool:
    """Reads magic number, protocol and sys_info; returns big-endian-ness."""
    if unpickle(file, source) != MAGIC_NUMBER:
        raise TorchReadError(f"{source}: not a PyTorch file (no torch.save magic number)")
    protocol = unpickle(file, source)
    if protocol != PROTOCOL_VERSION:
        raise TorchReadError(f"{source}: unsupported torch.save protocol {protocol!r}")
    sys_info = unpickle(file, source)
    return isinstance(sys_info, dict) and sys_info.get("little_endian") is False


def _read_legacy(path: str) -> Any:
    """The legacy layout: the object is unpickled twice, once to reach the
    storages that follow it and once more with their bytes known."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        big_endian = _legacy_header(file, path)
        start = file.tell()
        storages: dict[str, Storage] = {}
        allowed = allowed_globals(Rebuilders(path))
        unpickle(file, path, allowed, lambda pid: _storage_ref(pid, storages, path),
                 placeholders=True)
        keys = unpickle(file, path)
        if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
            raise TorchReadError(f"{path}: storage key list does not match the object")
        for key in map(str, keys):
            storages[key].array = _read_counted(
                file, storages[key].dtype_name, big_endian, path, size - file.tell())
        file.seek(start)
        return unpickle(file, path, allowed, lambda pid: _storage_ref(pid, storages, path),
                        placeholders=True)


def _read_tar(path: str) -> Any:
    """The tar layout of torch < 0.1.10."""
    with tarfile.open(path, mode="r:") as archive:
        members = {m.name: m for m in archive.getmembers()}
        missing = {"storages", "tensors", "pickle"} - set(members)
        if missing:
            raise TorchReadError(f"{path}: a tar file without {sorted(missing)} (not torch.save?)")

        def member(name):
            return io.BytesIO(archive.extractfile(members[name]).read())

        big_endian = False
        if "sys_info" in members:
            info = unpickle(member("sys_info"), path)
            big_endian = isinstance(info, dict) and info.get("little_endian") is False
        objects = _tar_storages(member("storages"), big_endian, path)
        objects.update(_tar_tensors(member("tensors"), objects, big_endian, path))

        def persistent(pid):
            key = str(pid)
            if key not in objects:
                raise TorchReadError(f"{path}: unexpected persistent id {reprlib.repr(pid)}")
            value = objects[key]
            return value.array if isinstance(value, Storage) else value

        return unpickle(member("pickle"), path, allowed_globals(Rebuilders(path)),
                        persistent, placeholders=True)


def _tar_storages(file: io.BytesIO, big_endian: bool, source: str) -> dict:
    allowed = allowed_globals(Rebuilders(source))
    size = len(file.getbuffer())
    objects: dict[str, Any] = {}
    for _ in range(int(unpickle(file, source))):
        key, _location, storage_type = unpickle(file, source, allowed)
        if not isinstance(storage_type, StorageType):
            raise TorchReadError(f"{source}: storage {key} has no storage type")
        array = _read_counted(file, storage_type.dtype_name, big_endian, source,
                              size - file.tell())
        objects[str(key)] = Storage(storage_type.dtype_name, array)
    for target, root, offset, numel in unpickle(file, source):
        base = objects[str(root)]
        objects[str(target)] = Storage(
            base.dtype_name, base.array[int(offset):int(offset) + int(numel)])
    return objects


def _tar_tensors(file: io.BytesIO, storages: dict, big_endian: bool, source: str) -> dict:
    # The tensor type (``torch.FloatTensor``) is only a label here.
    labels = {("torch", f"{kind}Tensor"): None
              for kind in ("Double", "Float", "Half", "Long", "Int", "Short", "Char",
                           "Byte", "Bool", "BFloat16")}
    order = ">" if big_endian else "<"
    tensors = {}
    for _ in range(int(unpickle(file, source))):
        key, storage_key, _label = unpickle(file, source, labels)
        ndim = struct.unpack(f"{order}i", file.read(4))[0]
        file.read(4)  # ndim was written as 8 bytes; the high half is padding.
        values = struct.unpack(f"{order}{2 * ndim + 1}q", file.read(8 * (2 * ndim + 1)))
        storage = storages[str(storage_key)]
        tensors[str(key)] = tensor_from_storage(
            storage.array, values[-1], values[:ndim], values[ndim:2 * ndim], source)
    return tensors


# ---------------------------------------------------------------------------
# Entry points.


def load_torch_file(path: str) -> Any:
    """Reads a ``torch.save`` file (zip, legacy or tar layout) without torch.

    Args:
      path: a ``.pth`` / ``.pth.tar`` / ``.pt`` file.

    Returns:
      The saved object with every tensor as a NumPy array (containers,
      numbers and strings as saved); what other globals would have built is
      an inert :class:`GlobalRef` / :class:`Inert` record (nothing named in
      the file is imported or called). Check what must be tensors.

    Raises:
      FileNotFoundError: for a missing file.
      ForbiddenGlobalError: for a global in the legacy header or a storage
        list (plain data only).
      TorchReadError: for anything else that is not a readable torch file
        (a tensor without a storage, a call of a non-global...), naming it.
    """
    if os.path.isdir(path):  # Was "does not exist".
        raise MissingFileError(f"PyTorch file {path} is a folder; give the .pth or .pth.tar "
                               "file in it")
    if not os.path.isfile(path):
        raise MissingFileError(f"PyTorch file {path} does not exist")
    with open(path, "rb") as file:
        head = file.read(512)
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    if head.startswith(b"PK\x03\x04"):
        # A zip's local header without a readable end record (its central
        # directory is at the end): the legacy reader only said "broken pickle".
        raise TorchReadError(_damaged_zip(path))
    if head[257:262] == b"ustar":
        return _read_tar(path)
    return _read_legacy(path)


def load_safetensors(path: str) -> dict[str, np.ndarray]:
    """Reads a ``.safetensors`` file (safetensors' NumPy API).

    Raises:
      FileNotFoundError: for a missing file; TorchReadError for a bad one.
    """
    if not os.path.isfile(path):
        raise MissingFileError(f"safetensors file {path} does not exist")
    load_file = import_required("safetensors.numpy", "safetensors",
                                f"reading {path}").load_file
    try:
        return dict(load_file(path))
    except Exception as e:  # safetensors raises its own error types.
        raise TorchReadError(f"{path}: not a readable safetensors file ({e})") from e


def load_weights_file(path: str) -> Any:
    """:func:`load_safetensors` for a safetensors file, else
    :func:`load_torch_file`: told apart by their first bytes (a renamed
    file was "a broken pickle" or "header too large"), by the name when
    the bytes say neither."""
    if _looks_like_safetensors(path):
        return load_safetensors(path)
    if os.path.isfile(path) and (zipfile.is_zipfile(path) or _first_bytes(path, 1) == b"\x80"):
        return load_torch_file(path)  # A zip, or a pickle's protocol mark.
    if path.endswith(".safetensors"):
        return load_safetensors(path)
    return load_torch_file(path)


def _first_bytes(path: str, count: int) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(count)
    except OSError:
        return b""


def _looks_like_safetensors(path: str) -> bool:
    """safetensors' layout: an 8-byte little-endian header size, then that
    many bytes of JSON (an object) within the file."""
    head = _first_bytes(path, 9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 8 + int.from_bytes(head[:8], "little") <= os.path.getsize(path)
