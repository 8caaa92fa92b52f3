"""The objects a PyTorch pickle may produce: tensors (rebuilt from their
storages), a few data types, and inert placeholders for everything else.

:mod:`keras_pose.convert.torch_pickle`'s unpickler resolves the globals of
:func:`allowed_globals` to the functions here and turns any other global
into a :class:`GlobalRef`, whose calls give :class:`Inert` records: data,
never code. Tensors are NumPy copies of ``storage[offset:]`` viewed with the
tensor's sizes and strides (in elements), so views and offsets come out
exactly as ``torch.load`` gives them, bit for bit.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Optional

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
    """A plain-data pickle (a header, a storage list) that references a
    global; raised by ``find_class``, before anything is called.

    The object pickles of a file turn unknown globals into placeholders
    instead (module docstring).

    Attributes:
      global_name: ``module.name`` of the refused global.
    """

    def __init__(self, global_name: str, source: str):
        self.global_name = global_name
        super().__init__(
            f"{source}: the pickle references {global_name}, which this part of a "
            "weights file never holds; refused before anything was called (only "
            f"numbers, strings and containers are read here).{pickled_object_hint(global_name)}")


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
class TorchDtype:
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
# Placeholders: what a file names but the reader never resolves.


@dataclasses.dataclass(frozen=True)
class GlobalRef:
    """A global a pickle names (a class, a function), never imported.

    Attributes:
      module: the module name as written in the file.
      name: the (qualified) name as written in the file.
    """

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


@dataclasses.dataclass(eq=False)
class Inert:
    """What a pickle would have built by calling a :class:`GlobalRef`: the
    callee and the arguments, recorded; nothing was called.

    Attributes:
      callee: the :class:`GlobalRef` (or another :class:`Inert`) called.
      opcode: the pickle opcode that called it (REDUCE, NEWOBJ, NEWOBJ_EX,
        INST, OBJ).
      args: positional arguments.
      kwargs: keyword arguments (NEWOBJ_EX).
      states: the BUILD states given to it, in order (``__setstate__`` /
        ``__dict__`` contents).
      items: APPEND(S) / ADDITEMS items.
      pairs: SETITEM(S) (key, value) pairs.
    """

    callee: Any
    opcode: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    states: list = dataclasses.field(default_factory=list)
    items: list = dataclasses.field(default_factory=list)
    pairs: list = dataclasses.field(default_factory=list)

    @property
    def global_name(self) -> str:
        """``module.name`` of the global at the root of the calls."""
        callee = self.callee
        while isinstance(callee, Inert):
            callee = callee.callee
        return str(callee)

    def __repr__(self) -> str:  # Short: the arguments may be megabytes.
        return f"<{self.opcode} of {self.global_name}, not called>"


def placeholder_global(value: Any) -> Optional[str]:
    """``module.name`` of the global a placeholder stands for, or None for
    anything that is not a placeholder."""
    if isinstance(value, GlobalRef):
        return str(value)
    if isinstance(value, Inert):
        return value.global_name
    return None


def pickled_object_hint(global_name: str, value: Any = None) -> str:
    """Advice for a file whose object is built by ``global_name`` (``value``:
    that object, when read: any class's module, as the official code's
    ``models.pose_resnet.PoseResNet`` is, pickles its ``_parameters``)."""
    if global_name.startswith(("torch.nn.", "__torch__", "__main__")) or _is_module(value):
        return (" It looks like a pickled model rather than a state_dict: load it "
                "in PyTorch and save model.state_dict() instead.")
    return ""


def _is_module(value: Any) -> bool:
    """Whether ``value`` is a pickled ``torch.nn.Module`` (its state holds
    ``_parameters`` and ``_modules``)."""
    states = getattr(value, "states", None) or []
    return any(isinstance(state, dict) and {"_parameters", "_modules"} <= set(state)
               for state in states)


def describe(value: Any) -> str:
    """A short description of a loaded value, for error messages."""
    name = placeholder_global(value)
    if isinstance(value, GlobalRef):
        return f"a reference to {name} (never imported)"
    if name is not None:
        return f"an object the file builds with {name} (never imported or called)"
    return f"a {type(value).__name__}"


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
            raise TorchReadError(f"{self.source}: a tensor without a storage "
                                 f"({describe(storage)})")
        if storage.array is None:  # First pass over a legacy file: no bytes yet.
            return None
        return tensor_from_storage(storage.array, offset, size, stride, self.source)

    def tensor_v3(self, storage, offset, size, stride, requires_grad, hooks,
                  dtype, *unused) -> Optional[np.ndarray]:
        """``_rebuild_tensor_v3``: an untyped (byte) storage read as ``dtype``."""
        if not isinstance(dtype, TorchDtype) or not isinstance(storage, Storage):
            raise TorchReadError(f"{self.source}: bad _rebuild_tensor_v3 arguments")
        if storage.array is None:
            return None
        typed = storage.array.view(numpy_dtype(dtype.name, storage.big_endian))
        return tensor_from_storage(typed, offset, size, stride, self.source)

    @staticmethod
    def parameter(data, *unused):
        """``_rebuild_parameter[_with_state]``: a Parameter is its data."""
        return data

    def encode(self, text, encoding="latin1"):
        """``_codecs.encode``: how protocol 2 pickles bytes objects."""
        if encoding not in ("latin1", "latin-1", "utf-8", "utf8") or not isinstance(text, str):
            raise TorchReadError(f"{self.source}: unexpected _codecs.encode({encoding!r}) "
                                 "in a pickle")
        return text.encode(encoding)


class NumpyDtypeState:
    """Stands for ``numpy.dtype(...)`` until a scalar uses it."""

    def __init__(self, descr, align=False, copy=False):
        if not isinstance(descr, str):
            raise TorchReadError("unexpected numpy.dtype arguments in a pickle")
        self.descr, self.byteorder = descr, "="

    def set_state(self, state):
        """BUILD's state of a NumPy dtype: only the byte order is kept."""
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]


def numpy_scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar``: e.g. a NumPy float in a checkpoint."""
    if (not isinstance(dtype, NumpyDtypeState) or not isinstance(data, bytes)
            or not hasattr(dtype, "descr")):
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
        allowed[("torch", name)] = TorchDtype(name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "scalar")] = numpy_scalar
    allowed[("numpy", "dtype")] = NumpyDtypeState
    return allowed
