"""What a PyTorch pickle may contain: tensors and data, and nothing that runs code.

Every pickle of a weights file goes through :class:`RestrictedUnpickler`
(via :func:`unpickle`), an unpickler whose opcode table is a whitelist:

- Globals (GLOBAL, STACK_GLOBAL, INST's class, EXT1/2/4): nothing is ever
  imported. The few globals that describe tensors (``collections.OrderedDict``,
  torch's tensor rebuild functions, storage and dtype names, NumPy scalars)
  resolve to the functions of :mod:`keras_pose.convert.torch_objects` that
  build arrays. Any other global
  becomes a :class:`GlobalRef` (its name only) in the object pickles of a
  file (``placeholders=True``: a checkpoint's ``meta`` may reference
  mmengine / mmpose classes and NumPy arrays) and stops the read with
  :class:`ForbiddenGlobalError` in the plain-data pickles (headers, storage
  lists). EXT codes are looked up read-only in copyreg's registry (never its
  cache of resolved objects) and handled as the global registered there.
- Calls (REDUCE, INST, OBJ, NEWOBJ, NEWOBJ_EX): only this module's rebuild
  functions and ``OrderedDict`` / ``tuple`` are called. Calling a
  :class:`GlobalRef` (or an :class:`Inert`) gives an :class:`Inert` record of
  the callee and its arguments; nothing runs. Calling anything else (a
  number, a string, an array) is refused as a malformed pickle.
- Mutations (BUILD, APPEND(S), SETITEM(S), ADDITEMS): on an :class:`Inert`
  they are recorded; on lists, dicts and sets they do what they say. BUILD
  keeps only ``_metadata`` on an ``OrderedDict`` (torch's module versions)
  and a NumPy dtype's byte order; no ``__setstate__`` or ``__dict__`` of any
  object is ever looked up, so no attribute named in a file can become a
  method. Anything else is refused.
- Persistent ids (PERSID, BINPERSID) go to the reader's storage lookup,
  which accepts only ``('storage', <storage type>, key, location, numel)``.
- Out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER) never occur in a file
  and are refused, as is any opcode not in the table.

A placeholder is inert data: the reader never calls, imports or inspects
what it names. Whoever needs tensors checks afterwards that they got arrays
(:func:`placeholder_global` names the global a non-array came from);
``keras_pose.convert.state_dict`` refuses a state_dict entry that is not one.

What the pickles may produce (tensors, placeholders) is
:mod:`keras_pose.convert.torch_objects`'; the file layouts that hold the
pickles and the storages' bytes are :mod:`keras_pose.convert.torch_reader`'s.
"""

from __future__ import annotations

import collections
import copyreg
import pickle
import reprlib
import struct
from typing import Any, BinaryIO, Callable, Mapping, Optional


from keras_pose.convert.torch_objects import (ForbiddenGlobalError, GlobalRef, Inert,
                                              NumpyDtypeState, TorchReadError, describe)

# The types an allowed global may be, that NEWOBJ may instantiate.
_NEWOBJ_TYPES = (collections.OrderedDict, tuple, NumpyDtypeState)

# Opcodes that only build data (numbers, strings, containers, memo and stack
# operations) keep the standard handlers; GLOBAL and STACK_GLOBAL go through
# find_class, PERSID and BINPERSID through persistent_load.
_DATA_OPCODES = (
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "NONE", "NEWTRUE",
    "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES",
    "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE", "BINUNICODE",
    "SHORT_BINUNICODE", "BINUNICODE8", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2",
    "TUPLE3", "EMPTY_LIST", "LIST", "EMPTY_DICT", "DICT", "EMPTY_SET", "FROZENSET",
    "GET", "BINGET", "LONG_BINGET", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE",
    "PERSID", "BINPERSID", "GLOBAL", "STACK_GLOBAL")
# Opcodes with handlers of ours (below).
_OWN_OPCODES = ("REDUCE", "NEWOBJ", "NEWOBJ_EX", "INST", "OBJ", "BUILD", "EXT1", "EXT2",
                "EXT4", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS")
# Never in a file: out-of-band buffers exist only in memory.
REFUSED_OPCODES = ("NEXT_BUFFER", "READONLY_BUFFER")


def _opcode(name: str) -> int:
    return getattr(pickle, name)[0]


class _Dispatch(dict):
    """The opcode table: an opcode not in it is refused, not looked up."""

    def __missing__(self, key):
        raise pickle.UnpicklingError(f"opcode {bytes([key])!r} is not allowed in a "
                                     "weights file")


class RestrictedUnpickler(pickle._Unpickler):  # noqa: SLF001 (the pure-Python one)
    """An unpickler that runs nothing named in its input (module docstring).

    It extends the pure-Python unpickler, whose opcode handlers can be
    replaced (the C one's cannot): data opcodes keep the standard handlers,
    every opcode that resolves a name, calls or mutates has one of ours, and
    the table is a whitelist.

    Args:
      file: the pickle stream.
      allowed: (module, name) -> what that global resolves to.
      persistent: the persistent id lookup, or None (then refused).
      source: the file name, for errors.
      placeholders: an unknown global becomes a :class:`GlobalRef` (True) or
        raises :class:`ForbiddenGlobalError` (False).
    """

    dispatch = _Dispatch({_opcode(name): pickle._Unpickler.dispatch[_opcode(name)]
                          for name in _DATA_OPCODES})

    def __init__(self, file: BinaryIO, allowed: Mapping[tuple[str, str], Any],
                 persistent: Optional[Callable[[Any], Any]], source: str,
                 placeholders: bool = False):
        # utf-8 as torch.load: Python 2 pickles store names as byte strings.
        super().__init__(file, encoding="utf-8")
        self._allowed, self._persistent, self._source = allowed, persistent, source
        self._placeholders = placeholders
        self._callables = {id(v): v for v in allowed.values() if callable(v)}

    # -- Names.

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            if not self._placeholders:
                raise ForbiddenGlobalError(f"{module}.{name}", self._source) from None
            return GlobalRef(str(module), str(name))

    def _load_ext(self, code: int) -> None:
        # copyreg's registry is read; its cache of resolved objects (shared
        # with every other unpickler of the process) is neither read nor filled.
        key = copyreg._inverted_registry.get(code)  # noqa: SLF001
        if key is None:
            if code <= 0:
                raise pickle.UnpicklingError("EXT specifies code <= 0")
            key = ("copyreg.extension", str(code))
        self.append(self.find_class(*key))

    def load_ext1(self):
        self._load_ext(self.read(1)[0])

    def load_ext2(self):
        self._load_ext(struct.unpack("<H", self.read(2))[0])

    def load_ext4(self):
        self._load_ext(struct.unpack("<i", self.read(4))[0])

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise TorchReadError(f"{self._source}: unexpected persistent id {reprlib.repr(pid)}")
        return self._persistent(pid)

    # -- Calls.

    def _call(self, func: Any, args: Any, kwargs: Any, opcode: str) -> Any:
        if not isinstance(args, tuple):
            args = tuple(args) if isinstance(args, list) else None
        if args is None or not isinstance(kwargs, dict):
            raise TorchReadError(f"{self._source}: malformed {opcode} arguments in the pickle")
        if isinstance(func, (GlobalRef, Inert)):
            return Inert(func, opcode, args, dict(kwargs))
        if self._callables.get(id(func)) is not func:
            raise TorchReadError(
                f"{self._source}: the pickle applies {opcode} to {describe(func)}, "
                "which is not a global; refused")
        if opcode.startswith("NEWOBJ"):
            if func not in _NEWOBJ_TYPES:
                raise TorchReadError(f"{self._source}: {opcode} of a function in the pickle")
            return func.__new__(func, *args, **kwargs)
        return func(*args, **kwargs)

    def load_reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args, {}, "REDUCE")

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args, {}, "NEWOBJ"))

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args, kwargs, "NEWOBJ_EX"))

    def load_inst(self):
        module = self.readline()[:-1].decode("ascii")
        name = self.readline()[:-1].decode("ascii")
        cls = self.find_class(module, name)
        args = self.pop_mark()  # Before self.append: pop_mark rebinds it.
        self.append(self._call(cls, args, {}, "INST"))

    def load_obj(self):
        args = self.pop_mark()
        if not args:
            raise pickle.UnpicklingError("OBJ without a class")
        cls = args.pop(0)
        self.append(self._call(cls, args, {}, "OBJ"))

    # -- Mutations.

    def _refuse(self, opcode: str, target: Any):
        raise TorchReadError(f"{self._source}: the pickle applies {opcode} to "
                             f"{describe(target)}; refused")

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, Inert):
            inst.states.append(state)
        elif type(inst) is collections.OrderedDict:
            # torch's state_dict: {"_metadata": module versions}; other
            # attributes are dropped (they would shadow dict methods).
            if isinstance(state, tuple) and len(state) == 2:
                state = state[0]
            if isinstance(state, dict) and "_metadata" in state:
                inst._metadata = state["_metadata"]
        elif type(inst) is NumpyDtypeState:
            inst.set_state(state)
        else:
            self._refuse("BUILD", inst)

    def load_append(self):
        value = self.stack.pop()
        self._extend("APPEND", self.stack[-1], [value])

    def load_appends(self):
        items = self.pop_mark()
        self._extend("APPENDS", self.stack[-1], items)

    def _extend(self, opcode: str, target: Any, items: list):
        if type(target) is list:
            target.extend(items)
        elif isinstance(target, Inert):
            target.items.extend(items)
        else:
            self._refuse(opcode, target)

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._set_items("SETITEM", self.stack[-1], [key, value])

    def load_setitems(self):
        items = self.pop_mark()
        self._set_items("SETITEMS", self.stack[-1], items)

    def _set_items(self, opcode: str, target: Any, items: list):
        pairs = list(zip(items[::2], items[1::2]))
        if type(target) in (dict, collections.OrderedDict):
            for key, value in pairs:
                target[key] = value
        elif isinstance(target, Inert):
            target.pairs.extend(pairs)
        else:
            self._refuse(opcode, target)

    def load_additems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if type(target) is set:
            target.update(items)
        elif isinstance(target, Inert):
            target.items.extend(items)
        else:
            self._refuse("ADDITEMS", target)


for _name in _OWN_OPCODES:
    RestrictedUnpickler.dispatch[_opcode(_name)] = getattr(RestrictedUnpickler,
                                                           f"load_{_name.lower()}")
del _name


def unpickle(file: BinaryIO, source: str, allowed=None, persistent=None,
             placeholders: bool = False) -> Any:
    """One restricted pickle from ``file``.

    Args:
      file: the stream, positioned at the pickle.
      source: the file name, for errors.
      allowed: the globals to resolve (:func:`allowed_globals`); None: plain
        data only.
      persistent: the persistent id lookup (None: refused).
      placeholders: unknown globals become placeholders instead of errors.

    Raises:
      ForbiddenGlobalError: an unknown global without ``placeholders``.
      TorchReadError: anything else that is not a readable pickle, or that
        the unpickler refuses; the message names ``source``.
    """
    try:
        return RestrictedUnpickler(file, allowed or {}, persistent, source,
                                   placeholders).load()
    except TorchReadError as e:
        if str(e).startswith(source):
            raise
        raise TorchReadError(f"{source}: {e}") from e
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, struct.error, UnicodeDecodeError) as e:
        raise TorchReadError(f"{source}: broken pickle ({type(e).__name__}: {e})") from e
