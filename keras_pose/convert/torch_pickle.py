"""What a PyTorch pickle may contain: tensors, and nothing that runs code.

Every pickle of a weights file goes through :class:`RestrictedUnpickler`
(via :func:`unpickle`): the only globals it resolves are the few that
describe tensors (``collections.OrderedDict``, torch's tensor rebuild
functions, storage and dtype names, NumPy scalars), each mapped to a function
of this module that builds arrays. Any other global (``os.system``,
``builtins.eval``, a pickled ``nn.Module``...) stops the read with
:class:`ForbiddenGlobalError` naming it, before anything is called.

Tensors are rebuilt as NumPy copies of ``storage[offset:]`` viewed with the
tensor's sizes and strides (in elements), so views and offsets come out
exactly as ``torch.load`` gives them, bit for bit. The file layouts that
hold the pickles and the storages' bytes are :mod:`keras_pose.convert.torch_reader`'s.
"""

from __future__ import annotations

import collections
import dataclasses
import pickle
import struct
from typing import Any, BinaryIO, Callable, Mapping, Optional

import numpy as np

from keras_pose.errors import UserError

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


class TorchReadError(UserError, ValueError):
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


def numpy_dtype(name: str, big_endian: bool = False) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes  # Installed with TensorFlow; NumPy has no bfloat16.
        dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        dtype = np.dtype(name)
    return dtype.newbyteorder(">") if big_endian and dtype.itemsize > 1 else dtype


@dataclasses.dataclass
class Storage:
    """One storage: a flat array once its bytes are known (None before)."""

    dtype_name: str
    array: Optional[np.ndarray] = None
    big_endian: bool = False


@dataclasses.dataclass(frozen=True)
class StorageType:
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


class Rebuilders:
    """The functions the allowed globals resolve to, for one file."""

    def __init__(self, source: str):
        self.source = source

    def tensor(self, storage, offset, size, stride, *unused) -> Optional[np.ndarray]:
        """``_rebuild_tensor`` / ``_rebuild_tensor_v2`` (extra args ignored:
        requires_grad, hooks, metadata)."""
        if not isinstance(storage, Storage):
            raise TorchReadError(f"{self.source}: a tensor without a storage")
        if storage.array is None:  # First pass over a legacy file: no bytes yet.
            return None
        return tensor_from_storage(storage.array, offset, size, stride, self.source)

    def tensor_v3(self, storage, offset, size, stride, requires_grad, hooks,
                  dtype, *unused) -> Optional[np.ndarray]:
        """``_rebuild_tensor_v3``: an untyped (byte) storage read as ``dtype``."""
        if not isinstance(dtype, _TorchDtype) or not isinstance(storage, Storage):
            raise TorchReadError(f"{self.source}: bad _rebuild_tensor_v3 arguments")
        if storage.array is None:
            return None
        typed = storage.array.view(numpy_dtype(dtype.name, storage.big_endian))
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


def allowed_globals(rebuild: Rebuilders) -> dict[tuple[str, str], Any]:
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
            allowed[(module, name)] = StorageType(dtype)
    for name in TORCH_DTYPES:
        allowed[("torch", name)] = _TorchDtype(name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "scalar")] = _numpy_scalar
    allowed[("numpy", "dtype")] = _NumpyDtypeState
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
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


def unpickle(file: BinaryIO, source: str, allowed=None, persistent=None) -> Any:
    """One restricted pickle from ``file``; plain data only without ``allowed``."""
    try:
        return RestrictedUnpickler(file, allowed or {}, persistent, source).load()
    except TorchReadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error, UnicodeDecodeError) as e:
        raise TorchReadError(f"{source}: broken pickle ({type(e).__name__}: {e})") from e

