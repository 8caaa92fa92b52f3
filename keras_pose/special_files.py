"""What kind of file a path names, for the readers of inputs that expect a
regular file: a named pipe (FIFO) blocks its reader until a writer comes,
possibly forever, and a device never ends (``/dev/zero``), so a reader asks
:func:`special_kind` (or :func:`file_problem`) first and names the kind in
its message (:func:`special_file_refusal` for a JSON input that may be a
shell's pipe, ``--boxes <(cmd)``); a reader that opens its file more than
once takes a pipe's data through :func:`saved_pipe`.
(Ground floor: imports nothing of the project.)
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import stat
import tempfile
from typing import Callable, Optional

from keras_pose import log as logging

FIFO = "a named pipe (FIFO)"  # Also a shell's pipe, --detections <(...): /dev/fd/63.
_KINDS = ((stat.S_ISFIFO, FIFO), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> Optional[str]:
    return next((name for test, name in _KINDS if test(mode)), None)


def special_kind(path: str) -> Optional[str]:
    """``"a named pipe (FIFO)"``, ``"a character device"``, ``"a block
    device"`` or ``"a socket"`` for such a ``path`` (a symbolic link
    followed: ``c.png -> /dev/null``); None for a regular file, a folder, or
    a path that cannot be looked at (the reader's own error says why)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return _kind(mode)


def not_a_file(path: str) -> Optional[str]:
    """The end of a message for a special ``path``: ``"is a named pipe
    (FIFO), not a file: save what it gives into a file first"``; None for
    any other path."""
    kind = special_kind(path)
    return None if kind is None else f"is {kind}, not a file: save what it gives into a file first"


def special_member(folder: str, subfolders: tuple, wanted: Callable[[str], bool]
                   ) -> Optional[str]:
    """``"<file> is a named pipe (FIFO), not a file: ..."`` for the first
    file of ``folder`` (or of its ``subfolders``; "" is the folder itself)
    whose name is ``wanted`` and that is a special file; None when none is.
    For a reader whose own error would name another cause ("incomplete", "not
    a checkpoint") for a folder whose file is a pipe."""
    for sub in subfolders:
        for member in sorted(glob.glob(os.path.join(glob.escape(folder), sub, "*"))):
            if wanted(os.path.basename(member)) and not_a_file(member):
                return f"{member} {not_a_file(member)}"
    return None


def special_file_refusal(path: str, what: str) -> Optional[str]:
    """The end of the refusal of a JSON input ``path`` given as ``what``
    (``the boxes file``, ``--annotations``) that is a special file (a device
    never ends: /dev/zero filled the memory); None for a named pipe, said in
    one warning before it is opened (``--boxes <(cmd)`` is one; one without a
    writer waited forever, unsaid), and for any other path."""
    try:
        pipe = stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):  # The open's own error says why.
        pipe = False
    if pipe:
        logging.warning("waiting for data on %s %s (a named pipe): it is read when its writer "
                        "has written it and closed it", what, path)
        return None
    return not_a_file(path)


def not_text(path: str) -> Optional[str]:
    """The end of a message for a regular file that begins with a control
    character other than whitespace: ``"is not text (it begins with byte
    0x00: binary data, or a sparse file's zeros)"``; None for any other path
    (one that cannot be opened too: the reader's own error says why). Asked
    before a text file is read whole: 20 GB of zeros was a MemoryError."""
    if special_kind(path):  # Never opened here: a FIFO's open waits for a writer.
        return None
    try:
        with open(path, "rb") as f:
            first = f.read(1)
    except OSError:
        return None
    if not first or first[0] >= 0x20 or first in b"\t\n\r":
        return None
    return (f"is not text (it begins with byte {first[0]:#04x}: binary data, or a sparse "
            "file's zeros)")


def gib(size: int) -> str:
    """A byte count in GiB, for messages: ``"3.0 GiB"``."""
    return f"{size / 2 ** 30:.1f} GiB"


def file_problem(path: str, max_bytes: Optional[int] = None) -> Optional[str]:
    """What keeps ``path`` from being read whole as a regular file, to follow
    the path in a message: ``"does not exist"``, ``"is a folder, not a
    regular file"``, ``"is a named pipe (FIFO), not a regular file"``, ``"is
    3.0 GiB, above the 1.0 GiB allowed"``; None for a regular file (of at
    most ``max_bytes``). One ``stat``, nothing opened (opening a FIFO waits
    for a writer)."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return "does not exist"
    except OSError as e:  # Permission denied on a folder above it, a loop of links...
        return f"cannot be looked at ({e.strerror or e})"
    kind = "a folder" if stat.S_ISDIR(info.st_mode) else _kind(info.st_mode)
    if kind:
        return f"is {kind}, not a regular file"
    if max_bytes is not None and info.st_size > max_bytes:
        return f"is {gib(info.st_size)}, above the {gib(max_bytes)} allowed"
    return None


def saved_pipe(path: str, max_bytes: int, suffix: str = "") -> str:
    """A regular file holding what the pipe (or FIFO) ``path`` gives, read
    once to its end, for readers that open their file more than once: a
    pipe gives its data to the first reader only, and a FIFO's second open
    waits for another writer. The file is named by its contents' SHA-256
    (the same data, the same path: a report that records the path compares
    equal) in a folder of the user's under the temporary folder, and is
    removed when the process ends.

    Raises:
      ValueError: the pipe gives more than ``max_bytes``.
      OSError: it cannot be read, or the copy written.
    """
    folder = _pipes_folder()
    digest = hashlib.sha256()
    fd, part = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as copy, open(path, "rb") as source:
            size = 0
            for chunk in iter(lambda: source.read(1 << 20), b""):
                size += len(chunk)
                if size > max_bytes:  # An endless writer (cat /dev/zero) fills no disk.
                    raise ValueError(f"gives more than {gib(max_bytes)}")
                digest.update(chunk)
                copy.write(chunk)
        saved = os.path.join(folder, digest.hexdigest()[:16] + suffix)
        os.replace(part, saved)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise
    atexit.register(lambda: os.path.exists(saved) and os.remove(saved))
    return saved


def _pipes_folder() -> str:
    """``<tmp>/keras_pose_pipes_<uid>``, the user's own (made 0700); a
    fresh folder when that name is another's or a link."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = os.path.join(tempfile.gettempdir(), f"keras_pose_pipes_{'' if uid is None else uid}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        if stat.S_ISDIR(info.st_mode) and (uid is None or info.st_uid == uid):
            return folder
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="keras_pose_pipes_")
