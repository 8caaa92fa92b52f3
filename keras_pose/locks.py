"""One run at a time in a directory: an OS lock held for a whole run.

``fcntl.flock`` is released by the kernel when the process ends, however it
ends (``kill -9`` included), so a crashed run never blocks the next one; a
second run on the same directory stops at once, naming the holder. Used by
train.py (``--model_dir``) and predict.py (``--output_dir``: two runs
writing one ``predictions.json`` would interleave their bytes).
"""

from __future__ import annotations

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
        self._created = False

    def __enter__(self) -> "DirectoryLock":
        while True:
            self._created = (self._made_for_run
                             or not os.path.isdir(os.path.dirname(self.path)))
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
                         f"started {time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
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
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
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
            os.close(self._fd)  # Releases the lock.
            self._fd = None
            # A run that stopped before writing anything (a user error) left a
            # folder of its own making holding only .lock: taken away again.
            directory = os.path.dirname(self.path)
            if self._created and os.listdir(directory) == [LOCK_FILE]:
                try:
                    os.remove(self.path)
                    os.rmdir(directory)
                except OSError:
                    pass


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
