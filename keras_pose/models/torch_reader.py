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

Tensors are rebuilt as NumPy copies of ``storage[offset:]`` viewed with the
tensor's sizes and strides (in elements), so views and offsets come out
exactly as ``torch.load`` gives them, bit for bit.

Every pickle goes through :class:`_RestrictedUnpickler`: the only globals it
resolves are the few that describe tensors (``collections.OrderedDict``,
torch's tensor rebuild functions, storage and dtype names, NumPy scalars),
each mapped to a function of this module that builds arrays. Any other
global (``os.system``, ``builtins.eval``, a pickled ``nn.Module``...) stops
the read with :class:`ForbiddenGlobalError` naming it, before anything is
called. ``.safetensors`` files are read with the ``safetensors`` package.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import os
import pickle
import struct
import tarfile
import zipfile
from typing import Any, BinaryIO, Callable, Mapping, Optional

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization's legacy header.
PROTOCOL_VERSION = 1001

# torch storage class name -> element dtype name.
STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64", "UntypedStorage": "uint8",
}
# torch dtypes (``torch.uint16`` ...) as pickled for _rebuild_tensor_v3.
TORCH_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32",
                "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool",
                "complex64", "complex128")


class TorchReadError(ValueError):
    """A file that is not a readable PyTorch / safetensors weights file."""


class ForbiddenGlobalError(TorchReadError):
    """A pickle that references a global other than the tensor ones.

    Attributes:
      global_name: ``module.name`` of the refused global.
    """

    def __init__(self, global_name: str, source: str):
        self.global_name = global_name
        hint = ""
        if global_name.startswith(("torch.nn.", "__torch__", "__main__")):
            hint = (" It looks like a pickled model rather than a state_dict: load it "
                    "in PyTorch and save model.state_dict() instead.")
        super().__init__(
            f"{source}: the pickle references {global_name}, which a weights file "
            "never needs; refused before anything was called (only tensors, "
            f"numbers, strings and containers are read).{hint}")


# ---------------------------------------------------------------------------
# Storages and tensors.


def _numpy_dtype(name: str, big_endian: bool = False) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes  # Installed with TensorFlow; NumPy has no bfloat16.
        dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        dtype = np.dtype(name)
    return dtype.newbyteorder(">") if big_endian and dtype.itemsize > 1 else dtype


@dataclasses.dataclass
class _Storage:
    """One storage: a flat array once its bytes are known (None before)."""

    dtype_name: str
    array: Optional[np.ndarray] = None
    big_endian: bool = False


@dataclasses.dataclass(frozen=True)
class _StorageType:
    """``torch.FloatStorage`` and friends, as pickled in persistent ids."""

    dtype_name: str


@dataclasses.dataclass(frozen=True)
class _TorchDtype:
    """``torch.float32`` and friends, as pickled for ``_rebuild_tensor_v3``."""

    name: str


def tensor_from_storage(storage: np.ndarray, offset: int, size, stride,
                        source: str = "file") -> np.ndarray:
    """A tensor as a contiguous copy of a view into its flat storage.

    Args:
      storage: (S,) the storage's elements.
      offset: the tensor's first element in the storage.
      size: (D,) the tensor's shape.
      stride: (D,) strides in elements.
      source: the file name, for errors.

    Returns:
      A writable C-contiguous array of shape ``size``, native byte order.

    Raises:
      TorchReadError: for a view that does not fit in the storage.
    """
    size, stride, offset = tuple(map(int, size)), tuple(map(int, stride)), int(offset)
    native = storage.dtype.newbyteorder("=")
    if len(size) != len(stride) or min(size + stride + (offset,), default=0) < 0:
        raise TorchReadError(f"{source}: bad tensor view size={size} stride={stride} "
                             f"offset={offset}")
    if 0 in size:
        return np.empty(size, native)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise TorchReadError(
            f"{source}: tensor view size={size} stride={stride} offset={offset} reaches "
            f"element {last} of a storage of {storage.size}")
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=[s * storage.itemsize for s in stride],
        writeable=False)
    return np.array(view, dtype=native, order="C", copy=True)


# ---------------------------------------------------------------------------
# The restricted unpickler.


class _Rebuilders:
    """The functions the allowed globals resolve to, for one file."""

    def __init__(self, source: str):
        self.source = source

    def tensor(self, storage, offset, size, stride, *unused) -> Optional[np.ndarray]:
        """``_rebuild_tensor`` / ``_rebuild_tensor_v2`` (extra args ignored:
        requires_grad, hooks, metadata)."""
        if not isinstance(storage, _Storage):
            raise TorchReadError(f"{self.source}: a tensor without a storage")
        if storage.array is None:  # First pass over a legacy file: no bytes yet.
            return None
        return tensor_from_storage(storage.array, offset, size, stride, self.source)

    def tensor_v3(self, storage, offset, size, stride, requires_grad, hooks,
                  dtype, *unused) -> Optional[np.ndarray]:
        """``_rebuild_tensor_v3``: an untyped (byte) storage read as ``dtype``."""
        if not isinstance(dtype, _TorchDtype) or not isinstance(storage, _Storage):
            raise TorchReadError(f"{self.source}: bad _rebuild_tensor_v3 arguments")
        if storage.array is None:
            return None
        typed = storage.array.view(_numpy_dtype(dtype.name, storage.big_endian))
        return tensor_from_storage(typed, offset, size, stride, self.source)

    @staticmethod
    def parameter(data, *unused):
        """``_rebuild_parameter[_with_state]``: a Parameter is its data."""
        return data

    @staticmethod
    def encode(text, encoding="latin1"):
        """``_codecs.encode``: how protocol 2 pickles bytes objects."""
        if encoding not in ("latin1", "latin-1", "utf-8", "utf8") or not isinstance(text, str):
            raise TorchReadError(f"unexpected _codecs.encode({encoding!r}) in a pickle")
        return text.encode(encoding)


class _NumpyDtypeState:
    """Stands for ``numpy.dtype(...)`` until a scalar uses it."""

    def __init__(self, descr, align=False, copy=False):
        if not isinstance(descr, str):
            raise TorchReadError("unexpected numpy.dtype arguments in a pickle")
        self.descr, self.byteorder = descr, "="

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in "<>|=":
            self.byteorder = state[1]


def _numpy_scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar``: e.g. a NumPy float in a checkpoint."""
    if not isinstance(dtype, _NumpyDtypeState) or not isinstance(data, bytes):
        raise TorchReadError("unexpected numpy scalar arguments in a pickle")
    resolved = np.dtype(dtype.descr)
    if resolved.hasobject:
        raise TorchReadError("object numpy scalars are not read")
    order = "=" if dtype.byteorder == "|" else dtype.byteorder
    return np.frombuffer(data, resolved.newbyteorder(order), count=1)[0]


def _allowed_globals(rebuild: _Rebuilders) -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): rebuild.tensor,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild.tensor,
        ("torch._utils", "_rebuild_tensor_v3"): rebuild.tensor_v3,
        ("torch._utils", "_rebuild_parameter"): rebuild.parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): rebuild.parameter,
        ("torch", "Size"): tuple,
        ("_codecs", "encode"): rebuild.encode,
    }
    for module in ("torch", "torch.cuda", "torch.storage"):
        for name, dtype in STORAGE_DTYPES.items():
            allowed[(module, name)] = _StorageType(dtype)
    for name in TORCH_DTYPES:
        allowed[("torch", name)] = _TorchDtype(name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "scalar")] = _numpy_scalar
    allowed[("numpy", "dtype")] = _NumpyDtypeState
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals it is given."""

    def __init__(self, file: BinaryIO, allowed: Mapping[tuple[str, str], Any],
                 persistent: Optional[Callable[[Any], Any]], source: str):
        # utf-8 as torch.load: Python 2 pickles store names as byte strings.
        super().__init__(file, encoding="utf-8")
        self._allowed, self._persistent, self._source = allowed, persistent, source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise ForbiddenGlobalError(f"{module}.{name}", self._source) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise TorchReadError(f"{self._source}: unexpected persistent id {pid!r}")
        return self._persistent(pid)


def _unpickle(file: BinaryIO, source: str, allowed=None, persistent=None) -> Any:
    """One restricted pickle from ``file``; plain data only without ``allowed``."""
    try:
        return _RestrictedUnpickler(file, allowed or {}, persistent, source).load()
    except TorchReadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error, UnicodeDecodeError) as e:
        raise TorchReadError(f"{source}: broken pickle ({type(e).__name__}: {e})") from e


# ---------------------------------------------------------------------------
# The three torch.save layouts.


def _storage_ref(pid: Any, storages: dict, source: str) -> _Storage:
    """A ``('storage', type, key, location, numel[, view])`` persistent id."""
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")
            and isinstance(pid[1], _StorageType)):
        raise TorchReadError(f"{source}: unexpected persistent id {pid!r}")
    key = str(pid[2])
    storage = storages.setdefault(key, _Storage(pid[1].dtype_name))
    view = pid[5] if len(pid) == 6 else None
    if view is None:
        return storage
    # A storage view (torch < 0.4): (view key, offset, size) in elements.
    view_key, offset, size = view
    if storage.array is None:
        return _Storage(storage.dtype_name)
    return _Storage(storage.dtype_name, storage.array[int(offset):int(offset) + int(size)])


def _read_zip(path: str) -> Any:
    """The zip layout (torch >= 1.6)."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")
                   and n.count("/") <= 1]
        if len(pickles) != 1:
            raise TorchReadError(f"{path}: a zip file without one data.pkl (not torch.save?)")
        prefix = pickles[0][:-len("data.pkl")]
        order = "little"
        if f"{prefix}byteorder" in archive.namelist():
            order = archive.read(f"{prefix}byteorder").decode("ascii", "replace")
        storages: dict[str, _Storage] = {}

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
            return _unpickle(file, path, _allowed_globals(_Rebuilders(path)), persistent)


def _flat_array(raw: bytes, dtype_name: str, big_endian: bool, numel: Optional[int],
                source: str) -> np.ndarray:
    dtype = _numpy_dtype(dtype_name, big_endian)
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
    nbytes = count * _numpy_dtype(dtype_name).itemsize
    if count < 0 or nbytes > size_left:
        raise TorchReadError(f"{source}: a storage claims {count} elements, more than "
                             "the file holds (truncated file?)")
    raw = file.read(nbytes)
    if len(raw) != nbytes:
        raise TorchReadError(f"{source}: truncated storage data")
    return _flat_array(raw, dtype_name, big_endian, count, source)


def _legacy_header(file: BinaryIO, source: str) -> bool:
    """Reads magic number, protocol and sys_info; returns big-endian-ness."""
    if _unpickle(file, source) != MAGIC_NUMBER:
        raise TorchReadError(f"{source}: not a PyTorch file (no torch.save magic number)")
    protocol = _unpickle(file, source)
    if protocol != PROTOCOL_VERSION:
        raise TorchReadError(f"{source}: unsupported torch.save protocol {protocol!r}")
    sys_info = _unpickle(file, source)
    return isinstance(sys_info, dict) and sys_info.get("little_endian") is False


def _read_legacy(path: str) -> Any:
    """The legacy layout: the object is unpickled twice, once to reach the
    storages that follow it and once more with their bytes known."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        big_endian = _legacy_header(file, path)
        start = file.tell()
        storages: dict[str, _Storage] = {}
        allowed = _allowed_globals(_Rebuilders(path))
        _unpickle(file, path, allowed, lambda pid: _storage_ref(pid, storages, path))
        keys = _unpickle(file, path)
        if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
            raise TorchReadError(f"{path}: storage key list does not match the object")
        for key in map(str, keys):
            storages[key].array = _read_counted(
                file, storages[key].dtype_name, big_endian, path, size - file.tell())
        file.seek(start)
        return _unpickle(file, path, allowed, lambda pid: _storage_ref(pid, storages, path))


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
            info = _unpickle(member("sys_info"), path)
            big_endian = isinstance(info, dict) and info.get("little_endian") is False
        objects = _tar_storages(member("storages"), big_endian, path)
        objects.update(_tar_tensors(member("tensors"), objects, big_endian, path))

        def persistent(pid):
            key = str(pid)
            if key not in objects:
                raise TorchReadError(f"{path}: unexpected persistent id {pid!r}")
            value = objects[key]
            return value.array if isinstance(value, _Storage) else value

        return _unpickle(member("pickle"), path, _allowed_globals(_Rebuilders(path)),
                         persistent)


def _tar_storages(file: io.BytesIO, big_endian: bool, source: str) -> dict:
    allowed = _allowed_globals(_Rebuilders(source))
    size = len(file.getbuffer())
    objects: dict[str, Any] = {}
    for _ in range(int(_unpickle(file, source))):
        key, _location, storage_type = _unpickle(file, source, allowed)
        if not isinstance(storage_type, _StorageType):
            raise TorchReadError(f"{source}: storage {key} has no storage type")
        array = _read_counted(file, storage_type.dtype_name, big_endian, source,
                              size - file.tell())
        objects[str(key)] = _Storage(storage_type.dtype_name, array)
    for target, root, offset, numel in _unpickle(file, source):
        base = objects[str(root)]
        objects[str(target)] = _Storage(
            base.dtype_name, base.array[int(offset):int(offset) + int(numel)])
    return objects


def _tar_tensors(file: io.BytesIO, storages: dict, big_endian: bool, source: str) -> dict:
    # The tensor type (``torch.FloatTensor``) is only a label here.
    labels = {("torch", f"{kind}Tensor"): None
              for kind in ("Double", "Float", "Half", "Long", "Int", "Short", "Char",
                           "Byte", "Bool", "BFloat16")}
    order = ">" if big_endian else "<"
    tensors = {}
    for _ in range(int(_unpickle(file, source))):
        key, storage_key, _label = _unpickle(file, source, labels)
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
      numbers and strings as saved).

    Raises:
      FileNotFoundError: for a missing file.
      ForbiddenGlobalError: for a pickle that references anything but tensors.
      TorchReadError: for anything else that is not a readable torch file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PyTorch file {path} does not exist")
    with open(path, "rb") as file:
        head = file.read(512)
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    if head[257:262] == b"ustar":
        return _read_tar(path)
    return _read_legacy(path)


def load_safetensors(path: str) -> dict[str, np.ndarray]:
    """Reads a ``.safetensors`` file (safetensors' NumPy API).

    Raises:
      FileNotFoundError: for a missing file; TorchReadError for a bad one.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"safetensors file {path} does not exist")
    from safetensors.numpy import load_file
    try:
        return dict(load_file(path))
    except Exception as e:  # safetensors raises its own error types.
        raise TorchReadError(f"{path}: not a readable safetensors file ({e})") from e


def load_weights_file(path: str) -> Any:
    """:func:`load_safetensors` for ``.safetensors``, else :func:`load_torch_file`."""
    if path.endswith(".safetensors"):
        return load_safetensors(path)
    return load_torch_file(path)
