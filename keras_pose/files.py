"""Atomic writes of files and directories: a reader sees the old copy or the
new one, never a part, and a failed write leaves nothing behind.
(Ground floor: imports nothing of the project.)

- :func:`write_atomically` / :func:`write_json`: one file, through a
  temporary sibling renamed into place.
- :func:`write_files_atomically`: files that one tool writes together
  (OpenVINO's ``.xml`` and ``.bin``), each renamed into place.
- :func:`write_directory_atomically`: a whole directory, filled as a
  temporary sibling named after the host and process, flushed to disk,
  renamed into place; an older copy is renamed aside and removed only once
  the new one is in place (:func:`replace_directory`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import shutil
import socket
from typing import Any, Callable, IO, Optional, Sequence, Union

from keras_pose.errors import UserError
from keras_pose.json_values import strict_json


def _suffix(kind: str) -> str:
    return f".{kind}-{socket.gethostname()}-{os.getpid()}"


def temporary_sibling(path: str, kind: str = "tmp") -> str:
    """``<path>.<kind>-<host>-<pid>``: a name next to ``path`` that only this
    process on this host uses (two machines may share the file system), and
    that a clean-up can find by its pattern. A name too long for that
    suffix is shortened first (:func:`_temporary_stem`)."""
    return _temporary_stem(path, kind) + _suffix(kind)


_NAME_MAX = 255  # Bytes in a file name (ext4, XFS, Btrfs, tmpfs, ZFS).
_PID_DIGITS = 10  # Room for any pid (2**32 - 1): a name's shortening never depends on it.
_HASH_CHARS = 12  # Hex digits of the full name's SHA-256 in a shortened name.


def _temporary_stem(path: str, kind: str, extra: int = 0) -> str:
    """``path``, or ``path`` with its name shortened to ``<first bytes>~<hash
    of the full name>`` when ``<name>.<kind>-<host>-<pid>`` and ``extra``
    more bytes (a suffix after it) would pass 255 bytes while the name and
    ``extra`` fit. (Was: a 249-byte output name, which fits, got a 267-byte
    temporary name: "File name too long".)

    The same for every pid of this host, so a clean-up finds a killed
    write's leftover; the hash keeps apart two long names with a common
    start. A name that itself does not fit is kept: its write fails before
    any content is written, naming it.
    """
    folder, name = os.path.split(path)
    if len(os.fsencode(name)) + extra > _NAME_MAX:
        return path
    room = len(os.fsencode(f".{kind}-{socket.gethostname()}-")) + _PID_DIGITS + extra
    return os.path.join(folder, fitting_name(name, room))


def fitting_name(name: str, room: int, limit: int = _NAME_MAX) -> str:
    """``name``, or, when it and ``room`` more bytes would pass a file
    name's ``limit`` bytes (255; a file system's own, such as eCryptfs's
    143), its first bytes and ``~`` and 12 hex digits of its SHA-256 (the
    same for the same name; never cut inside a UTF-8 character)."""
    raw = os.fsencode(name)  # Bytes, not characters: "é" is 2 of the 255.
    if len(raw) + room <= limit:
        return name
    keep = max(0, limit - room - 1 - _HASH_CHARS)
    while keep and raw[keep] & 0xC0 == 0x80:  # Not inside a UTF-8 character.
        keep -= 1
    return os.fsdecode(raw[:keep]) + "~" + hashlib.sha256(raw).hexdigest()[:_HASH_CHARS]


# temporary_sibling's names: <name>.tmp-<host>-<pid>, <name>.old-<host>-<pid>,
# and write_files_atomically's <stem>.tmp-<host>-<pid><suffix> (model.tmp-vm-7.onnx);
# <name> may be a long name's shortened one, <first bytes>~<hash> (_temporary_stem).
_LEFTOVER = re.compile(
    r"\.(tmp|old)-(?P<host>.+)-(?P<pid>[0-9]+)(?P<suffix>\.[A-Za-z0-9]+)?$")


def _leftover_suffix(name: str) -> Optional[str]:
    """The suffix after a temporary name's pid (``.onnx``), else None."""
    match = _LEFTOVER.search(os.path.basename(name))
    return match["suffix"] if match else None


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` (or a path) is a temporary sibling's: a write in
    progress, or a killed one's leftover; never a finished file."""
    return _LEFTOVER.search(os.path.basename(name)) is not None


def written_by_dead_process(name: str, *, this_process: bool = False) -> bool:
    """Whether a temporary sibling's name says that a process of this host
    wrote it and no longer runs (killed mid-write): such a leftover is
    garbage. Another host's, or a live process's, is not ours to judge.

    Args:
      name: a file or directory name (or path).
      this_process: count this process's own names as dead too (a caller
        holding a lock on the directory knows no write of its own runs).
    """
    match = _LEFTOVER.search(os.path.basename(name))
    if match is None or match["host"] != socket.gethostname():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return this_process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def remove_dead_leftovers(path: str) -> list[str]:
    """Removes the temporary siblings of ``path`` (a directory or a file)
    that dead processes of this host left (``kill -9`` during an atomic
    write: a killed download left hundreds of MB in the cache for good).
    Called once a complete ``path`` is in place (so no copy of it is lost),
    or before a write of a ``path`` that never existed.
    Returns what was removed."""
    # A long path's temporary siblings have its shortened name (of its hash:
    # never another path's).
    found = [leftover for kind in ("tmp", "old") for leftover in glob.glob(
        glob.escape(_temporary_stem(path, kind)) + f".{kind}-*")]
    # Only path's own: out.tmp-<host>-<pid>.txt is out.txt's (write_files_atomically).
    return _remove_dead([f for f in found if not _leftover_suffix(f)])


def remove_dead_leftovers_in(folder: str) -> list[str]:
    """:func:`remove_dead_leftovers` of every entry of ``folder`` (a cache
    of many files: a killed download of one file was found only when that
    same file was downloaded again). Returns what was removed."""
    pattern = os.path.join(glob.escape(folder), "*")
    return _remove_dead(glob.glob(pattern + ".tmp-*") + glob.glob(pattern + ".old-*"))


def _remove_dead(leftovers: list[str]) -> list[str]:
    removed = []
    for leftover in sorted(leftovers):
        if not written_by_dead_process(leftover):
            continue
        if os.path.isdir(leftover) and not os.path.islink(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)
        removed.append(leftover)
    return removed


def nearest_existing(path: str) -> str:
    """``path`` or its nearest ancestor that exists (where a folder to be
    created would go: its disk, its permissions)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def file_in_the_way(path: str) -> Optional[str]:
    """The file that a folder above ``path`` would have to be (its nearest
    existing ancestor, when that is not a folder), or None."""
    blocker = nearest_existing(path)
    return None if os.path.isdir(blocker) or blocker == os.path.abspath(path) else blocker


def dangling_link(path: str) -> Optional[str]:
    """``path`` or the folder above it that is a link to nothing, if any."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        if os.path.islink(path):
            return path
        if os.path.dirname(path) == path:
            return None
        path = os.path.dirname(path)
    return None


def dangling_link_message(path: str) -> Optional[str]:
    """What a user reads of :func:`dangling_link` of ``path`` (None: no
    such link): "X is a link to Y, which does not exist: remove the link or
    create Y", or that its links go round in a loop. Was "File exists",
    naming the folder to be made."""
    link = dangling_link(path)
    if link is None:
        return None
    target = os.path.join(os.path.dirname(link), os.readlink(link))
    try:
        os.stat(link)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return (f"{link} is a link to {target}, a loop of links that leads back to "
                    "itself: remove the link or point it at a folder")
    # The end of a chain of links: the folder to create.
    return (f"{link} is a link to {target}, which does not exist: remove the link or create "
            f"{os.path.realpath(link)}")


def check_disk_room(path: str, needed: int, what: str) -> None:
    """Raises OSError (ENOSPC, naming ``what``, the free and the needed space,
    and ``path``) when the disk ``path`` goes to has less than ``needed`` free."""
    free = shutil.disk_usage(nearest_existing(path)).free
    if free < needed:
        raise OSError(errno.ENOSPC, f"cannot write {what}: the disk is full ({free / 1e6:.1f} "
                      f"MB free, about {needed / 1e6:.1f} MB needed)", path)


def first_free_name(name_of: Callable[[int], str]) -> str:
    """``name_of(n)`` for the first n (from 1) that names nothing on disk (a
    dangling link counts as taken): where an earlier file is kept aside."""
    n = 1
    while os.path.lexists(name_of(n)):
        n += 1
    return name_of(n)


def make_folder(folder: str) -> None:
    """``os.makedirs(folder, exist_ok=True)``; a file in the way (``folder``
    or one of its parents) is named as such, and so is a link to nothing
    in its path (:func:`dangling_link_message`) ("File exists" and "Not a
    directory" named the folder to be made, not the file or link to fix)."""
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError, FileNotFoundError) as e:
        link = dangling_link_message(folder)
        if link:  # Was "File exists: <folder>" (or "No such file" below it).
            raise OSError(e.errno, link, dangling_link(folder)) from e
        blocker = nearest_existing(folder)
        if os.path.isdir(blocker):
            raise
        needed = "" if blocker == os.path.abspath(folder) else f" (for {folder})"
        raise OSError(e.errno, f"{blocker} is a file where a folder is needed{needed}: move "
                               "or rename it", blocker) from e


def without_temporary_names(text: str) -> str:
    """``text`` (an error message) with this process's temporary names made
    final again: ``out.tmp-<host>-<pid>/variables`` -> ``out/variables``, so
    that a user reads the path they asked for."""
    return text.replace(_suffix("tmp"), "").replace(_suffix("old"), "")


def write_atomically(path: str, content: Union[str, bytes, Callable[[IO], None]], *,
                     fsync: bool = False, binary: bool = False) -> str:
    """Writes ``content`` to a temporary file beside ``path``, then renames it
    into place.

    Args:
      path: the file; its directory is created.
      content: text, bytes, or ``write(f)`` given the open file (text mode
        unless ``binary``); the file is ``f.name``, so ``write`` may check
        what it wrote (flush first) and raise to discard it.
      fsync: flush to disk before the rename (files a crash must not lose).
      binary: open the file in binary mode for a ``write`` function.

    Returns:
      ``path``.

    Raises:
      OSError (or what ``write`` raises): nothing is left behind (the
      temporary file is removed) and an older ``path`` is untouched.
    """
    make_folder(os.path.dirname(os.path.abspath(path)))
    tmp = temporary_sibling(path)
    mode = "wb" if binary or isinstance(content, bytes) else "w"
    try:
        with open(tmp, mode) as f:
            f.write(content) if isinstance(content, (str, bytes)) else content(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.isfile(tmp):
            os.remove(tmp)
        if _system_error(e) and e.filename in (None, tmp):
            # Name the file the caller asked for: a full disk's write error
            # names no file (it was a traceback), a failed rename the
            # temporary one.
            raise OSError(e.errno, e.strerror or str(e), path) from e
        raise
    return path


def _system_error(error: BaseException) -> bool:
    """An OSError of the system (not a project error that subclasses one)."""
    return isinstance(error, OSError) and type(error).__module__ == "builtins"


def write_json(path: str, value: Any, *, indent: int | None = None,
               fsync: bool = False) -> str:
    """``value`` as strict JSON (a trailing newline when indented; a NaN
    or infinite number null: ``keras_pose.json_values.strict_json``), atomically."""
    text = strict_json(value, indent=indent)
    return write_atomically(path, text + "\n" if indent is not None else text, fsync=fsync)


def write_files_atomically(paths: Sequence[str], write: Callable[[list[str]], None]) -> list[str]:
    """Files written together by one call, each renamed into place.

    ``write(tmps)`` writes ``paths[i]`` at ``tmps[i]``, a temporary sibling
    with the same stem and suffix as its path (``m.xml`` -> ``m.tmp-<host>-
    <pid>.xml``), so a tool that derives one file's name from another's
    (OpenVINO: ``.xml`` -> ``.bin``) writes the right temporary files. Each
    rename is atomic, the set is not: a reader between two renames sees the
    new first file beside the old second one.

    Raises:
      What ``write`` raises; the temporary files are removed and the old
      files are untouched.
    """
    tmps, split = [], [os.path.splitext(os.path.abspath(path)) for path in paths]
    for stem, suffix in split:
        # One shortening for all the files of a long stem (OpenVINO names the
        # .bin after the .xml it is given), with room for the longest suffix.
        extra = max(len(os.fsencode(other)) for same, other in split if same == stem)
        tmp_stem = _temporary_stem(stem, "tmp", extra)
        tmps.append(tmp_stem + _suffix("tmp") + suffix)
        # A killed write's (kill -9): hundreds of MB, and a second export beside it.
        _remove_dead(glob.glob(glob.escape(tmp_stem) + ".tmp-*" + glob.escape(suffix)))
    make_folder(os.path.dirname(tmps[0]))
    try:
        write(list(tmps))
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except BaseException as e:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.remove(tmp)
        if _system_error(e) and (e.filename is None or e.filename in tmps):
            # A full disk's error named no file (a traceback), or the temporary one.
            where = paths[tmps.index(e.filename)] if e.filename in tmps else paths[0]
            raise OSError(e.errno, e.strerror or str(e), where) from e
        raise
    return list(paths)


def fsync_path(path: str) -> None:
    """Flushes a file or a directory entry list to disk."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str) -> None:
    """Flushes every file and directory under ``root`` (and ``root``)."""
    for directory, _, names in os.walk(root):
        for name in names:
            fsync_path(os.path.join(directory, name))
        fsync_path(directory)


def replace_directory(src: str, dst: str) -> None:
    """Moves directory ``src`` to ``dst``, replacing ``dst`` if it exists.

    The old ``dst`` is renamed aside first (``<dst>.old-<host>-<pid>``) and
    deleted only after ``src`` is in place (renamed back if ``src`` cannot
    take its name), so at every moment one complete copy exists on disk.
    """
    old = None
    if os.path.exists(dst) and not os.path.isdir(dst):  # Its rmtree would not remove it.
        raise NotADirectoryError(errno.ENOTDIR, f"{dst} is a file, not a folder: it is not "
                                 "replaced", dst)
    if os.path.exists(dst):
        old = temporary_sibling(dst, "old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        if old:  # The new copy could not take the name: the old one gets it back.
            os.replace(old, dst)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)


class WorkingDirectoryError(UserError, ValueError):
    """A directory write that would replace the working directory: the
    user's path (``--data_dir .`` for a data set to generate), one line; was
    a traceback. Still a ValueError for its callers."""


def _check_not_holding_cwd(path: str) -> None:
    """Refuses to replace the working directory or a folder above it (an
    empty ``--output ""`` is the working directory: it was replaced by the
    export, the user's files in it deleted)."""
    cwd, path = os.path.realpath(os.getcwd()), os.path.realpath(path)  # Links too.
    if path == cwd or cwd.startswith(path.rstrip(os.sep) + os.sep):
        raise WorkingDirectoryError(
            f"{path} is or holds the working directory, which is not replaced: nothing was "
            "written; give the path of a new folder instead, such as a sub-folder (./data)")


def _remove_killed_writes(path: str) -> None:
    """Before a write of ``path``: the temporary copies of earlier writes of
    it that were killed (each killed export of a ResNet-152 left hundreds of
    MB, removed only once one finished). Not while a killed replacement
    left its old copy aside (``.old-``) and none at ``path``: that copy, or
    the new one, is the only one (its owner's recovery takes it)."""
    pattern = glob.escape(_temporary_stem(path, "old")) + ".old-*"
    if os.path.exists(path) or not glob.glob(pattern):
        remove_dead_leftovers(path)


def write_directory_atomically(path: str, write: Callable[[str], None], *,
                               fsync: bool = True, marker: Optional[str] = None) -> str:
    """Writes a whole directory atomically.

    ``write(tmp)`` fills a temporary sibling (:func:`temporary_sibling`,
    created empty); its files are flushed to disk, then the directory is
    renamed over ``path`` (:func:`replace_directory`: the old copy is
    removed only after the new one is in place).

    Args:
      path: the directory; its parent is created.
      write: fills the directory it is given.
      fsync: flush every file before the rename (off for data that is cheap
        to regenerate and checked otherwise).
      marker: the name of a file written last, once every other file is on
        disk, so that a directory without it is known to be incomplete even
        where renames are not atomic.

    Returns:
      ``path`` (absolute).

    Raises:
      What ``write`` or the file system raises (a full disk): the temporary
      directory is removed and an older ``path`` is left intact.
    """
    path = os.path.abspath(path)
    _check_not_holding_cwd(path)
    # Already this process's temporary copy (a SavedModel written into an
    # export's): filled in place, its caller renames it. A copy of it, in
    # turn, left "out.tmp-<host>-<pid>.tmp-<host>-<pid>" after a kill -9,
    # a name no clean-up recognized.
    tmp = path if path.endswith(_suffix("tmp")) else temporary_sibling(path)
    make_folder(os.path.dirname(path))
    shutil.rmtree(tmp, ignore_errors=True)
    _remove_killed_writes(path)
    try:
        os.makedirs(tmp)
        write(tmp)
        if fsync:
            fsync_tree(tmp)
        if marker:
            write_atomically(os.path.join(tmp, marker), "complete\n", fsync=fsync)
            if fsync:
                fsync_path(tmp)
        if tmp != path:
            replace_directory(tmp, path)
        if fsync:
            fsync_path(os.path.dirname(path))
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if _system_error(e) and (e.filename is None or (
                isinstance(e.filename, str) and e.filename.startswith(tmp))):
            # out.tmp-<host>-<pid>/model.weights.h5 -> out/model.weights.h5;
            # an error naming no file (a full disk in a library's write) names
            # the directory (it was a traceback).
            where = path if e.filename is None else path + e.filename[len(tmp):]
            raise OSError(e.errno, e.strerror or str(e), where) from e
        raise
    remove_dead_leftovers(path)  # An earlier write of it, killed (kill -9, OOM).
    return path
