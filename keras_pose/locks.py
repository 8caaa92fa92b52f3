"""One run at a time in a directory: an OS lock held for a whole run.

``fcntl.flock`` is released by the kernel when the process ends, however it
ends (``kill -9`` included), so a crashed run never blocks the next one; a
second run on the same directory stops at once, naming the holder. Used by
train.py (``--model_dir``) and predict.py (``--output_dir``: two runs
writing one ``predictions.json`` would interleave their bytes).

A folder made for a run that wrote nothing in it goes again as the run
ends. The workers of one training run lock nested folders (the chief
``--model_dir``, worker i ``--model_dir/worker_i``), and either may make
``--model_dir`` and end first: each lock file records, on the line after its
holder's, the folders its run made (:data:`_MADE`), and the last one out
reads the others' records once they are released (was: a refused run on a
new ``--model_dir`` left it holding a stale ``.lock``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import socket
import stat
import time
from typing import Any, Optional

from keras_pose.errors import UserError

LOCK_FILE = ".lock"
# The record of the folders a lock made for its run ({levels: line}; 2:
# this folder and the one above it, which a worker's lock makes with its
# own), read by the other processes of the run once it is released. Kept
# by a lock that made its folder itself (train.py's): a folder its caller
# made is one process's (predict.py's output, an export's lock folder),
# and some of them show the whole file as its holder.
_MADE = {1: "made for this run: this folder",
         2: "made for this run: this folder and the one above"}


class DirectoryInUseError(UserError, RuntimeError):
    """The directory is locked by another run, or its lock file is unusable."""


class DirectoryLock:
    """An exclusive OS lock on ``directory`` (its ``.lock`` file).

    Args:
      directory: created if needed.
      run: what holds it, for messages ("training run").
      flag: the option that chose the directory ("--model_dir").
      created: the caller created ``directory`` for this run (as
        :func:`keras_pose.cli.locked_output_dir` does): like a folder the
        lock creates, it is removed again if the run leaves nothing in it.
    """

    error: type = DirectoryInUseError

    def __init__(self, directory: str, run: str = "run", flag: str = "the directory",
                 created: bool = False):
        self.path = os.path.join(directory, LOCK_FILE)
        self.run, self.flag = run, flag
        self._fd: Optional[int] = None
        self._made_for_run = created  # The caller made the folder for this run.
        self._made = 0  # Folders made for this run: 1 this one, 2 its parent too.

    def __enter__(self) -> "DirectoryLock":
        while True:
            self._made = _levels_missing(os.path.dirname(self.path), self._made_for_run)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = self._locked()
            if _same_file(fd, self.path):
                break
            # The holder removed the lock file as it ended (its folder held
            # nothing else): this lock is on a file no other run will open,
            # and a third run would take the path's new one as well.
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"the {self.run} (pid {os.getpid()} on host {socket.gethostname()}, "
                         f"started {time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode()
                     + (f"{_MADE[self._made]}\n".encode() if self._made and not
                        self._made_for_run else b""))
        except OSError as e:  # A full disk: one line naming the file (was a traceback).
            os.close(fd)
            raise OSError(e.errno, e.strerror, self.path) from None
        self._fd = fd
        return self

    def _locked(self) -> int:
        """The lock file, opened and locked (raises naming the holder)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _holder_line(os.read(fd, 4096).decode(errors="replace")) or "another process"
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            # The holder's own words (a train.py run holding a --model_dir
            # is not "another evaluate.py run").
            raise self.error(f"{os.path.dirname(self.path)} is in use by {holder}; wait for "
                             f"it to end or use another {self.flag}") from e
        return fd

    def _open(self) -> int:
        """Opens (creates) the lock file itself, never what a link there
        points to: the lock is truncated and rewritten, and a link could
        aim that at any file the user can write."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK,
                         0o644)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            raise self.error(
                f"{self.path} is a symbolic link (to {os.readlink(self.path)}); the directory "
                "lock is not followed, so that its target is not overwritten: remove the link "
                f"(rm {self.path}) and run again") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self.error(f"{self.path} is not a regular file; remove it (it is the "
                             "directory lock, recreated by every run) and run again")
        return fd

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            # A run that stopped before writing anything (a user error) left a
            # folder of its own making holding only .lock: taken away again,
            # while still held (a run opening it meanwhile is refused, not
            # left holding a removed file).
            fd, self._fd = self._fd, None
            try:
                _leave(os.path.dirname(self.path), self._made)
            finally:
                os.close(fd)  # Releases the lock.


def live_holder(directory: str) -> Optional[str]:
    """Who holds ``directory``'s lock, in its own words ("the training run
    (pid ...)"), while it holds it; None otherwise (no lock file, a holder
    that ended or released it, another host's when that cannot be known).
    Read only: taking the lock to test it could refuse a run that starts at
    that moment."""
    path = os.path.join(directory, LOCK_FILE)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read().strip()
    except OSError:
        return None
    text = _holder_line(text)
    held = _flocked(path)
    if held is not None:
        return text if held else None
    # No /proc/locks: the writer's process still running on this host.
    match = re.search(r"\(pid ([0-9]+) on host (\S+),", text)
    if match is None or match[2] != socket.gethostname():
        return None
    try:
        os.kill(int(match[1]), 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # Alive, another user's.
        pass
    return text


def _flocked(path: str) -> Optional[bool]:
    """Whether some process holds an flock on the file ``path``, from
    Linux's /proc/locks (its "major:minor:inode", in hex, hex, decimal);
    None where there is no such table."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            rows = [line.split() for line in f]
    except OSError:
        return None
    for row in rows:
        if len(row) >= 6 and row[1] == "FLOCK" and row[-3].count(":") == 2:
            major, minor, inode = row[-3].split(":")
            if (int(inode), int(major, 16), int(minor, 16)) == (
                    st.st_ino, os.major(st.st_dev), os.minor(st.st_dev)):
                return True
    return False


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (opened.st_dev, opened.st_ino)


def _holder_line(text: str) -> str:
    """The holder's words in a lock file's text (its first line)."""
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _levels_missing(directory: str, made_for_run: bool) -> int:
    """How many of ``directory`` and its parent a lock about to make it
    makes (``made_for_run``: the caller made ``directory``)."""
    if not (made_for_run or not os.path.isdir(directory)):
        return 0
    return 1 if os.path.isdir(os.path.dirname(os.path.abspath(directory))) else 2


def _leave(directory: str, made: int) -> None:
    """As the lock on ``directory`` (whose holder made ``made`` levels)
    ends: removes the folders in it that hold nothing but a released lock
    made for the run (other processes of the run, ended: a worker killed
    during its set-up); then the folder itself, when the run made it (or a
    released lock inside said so) and it holds nothing but its lock; then
    the parent, when the run made it and it holds nothing but a released
    lock. A worker whose run made the parent, still locked by another
    process of the run, leaves its folder as the record (the parent's
    holder removes both)."""
    leftovers = _released_leftovers(directory)
    made_here = made or any(level == 2 for level, _ in leftovers.values())
    for name, (_, fd) in leftovers.items():
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, name, LOCK_FILE))
            os.rmdir(os.path.join(directory, name))
        os.close(fd)
    parent = os.path.dirname(os.path.abspath(directory))
    if (not made_here or _names(directory) != [LOCK_FILE]
            or (made == 2 and _locked_elsewhere(parent))):
        return
    try:
        os.remove(os.path.join(directory, LOCK_FILE))
        os.rmdir(directory)
    except OSError:
        return
    _remove_if_left(parent, made == 2)


def _released_leftovers(directory: str) -> dict:
    """{name: (levels made, fd locked here)} of the folders in ``directory``
    that hold nothing but a released lock whose holder made that folder."""
    found = {}
    for entry in _scandir(directory):
        if not entry.is_dir(follow_symlinks=False) or _names(entry.path) != [LOCK_FILE]:
            continue
        taken = _take(os.path.join(entry.path, LOCK_FILE))
        if taken is None:
            continue
        level, fd = taken
        if level:
            found[entry.name] = (level, fd)
        else:
            os.close(fd)
    return found


def _remove_if_left(directory: str, made: bool) -> None:
    """Removes ``directory`` when it holds nothing, or nothing but a
    released lock, and this run made it (``made``, or the lock's record)."""
    names = _names(directory)
    if names == [] and made:
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    if names != [LOCK_FILE]:
        return
    taken = _take(os.path.join(directory, LOCK_FILE))
    if taken is None:
        return
    level, fd = taken
    try:
        if made or level:
            os.remove(os.path.join(directory, LOCK_FILE))
            os.rmdir(directory)
    except OSError:
        pass
    finally:
        os.close(fd)


def _take(path: str) -> Optional[tuple[int, int]]:
    """(levels its record says were made, fd) of the released lock file
    ``path``, locked here; None when it is held, or not a regular file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        text = os.read(fd, 4096).decode(errors="replace")
    except OSError:
        os.close(fd)
        return None
    lines = [line.strip() for line in text.splitlines()]
    return next((level for level, line in _MADE.items() if line in lines[1:]), 0), fd


def _locked_elsewhere(directory: str) -> bool:
    """Whether another process holds ``directory``'s lock now."""
    taken = _take(os.path.join(directory, LOCK_FILE))
    if taken is not None:
        os.close(taken[1])
        return False
    return os.path.isfile(os.path.join(directory, LOCK_FILE))


def _scandir(directory: str) -> list:
    try:
        return list(os.scandir(directory))
    except OSError:
        return []


def _names(directory: str) -> Optional[list]:
    """What ``directory`` holds; None when it cannot be listed."""
    try:
        return os.listdir(directory)
    except OSError:
        return None
