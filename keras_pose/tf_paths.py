"""Paths that native readers and writers (TF's, OpenCV's) cannot take as
Python gives them.

TF's checkpoint reader (``TensorSliceReader``, under ``tf.saved_model.load``
and ``tf.lite.TFLiteConverter.from_saved_model``) globs the variables path
``<dir>/variables/variables*``: a ``[`` or a ``\\`` anywhere in ``<dir>`` is
read as a character class or an escape, matches nothing, and the SavedModel
is "not loadable" ("Failed to find any matching files for
exp[1]/variables/variables"), though it was written whole. (``*``, ``?``
and ``{`` also match themselves, so TF 2.21 reads those right.)

A name that is not valid UTF-8 (``clip\\xff.avi``: Python gives it as a str
holding a lone surrogate, ``clip\\udcff.avi``) cannot be given to TF at all
(``UnicodeEncodeError``), and crashes OpenCV's Python binding: a
segmentation fault in ``cv2.VideoCapture``, ``cv2.VideoWriter`` and
``cv2.imwrite``, which killed predict.py at such a video with no message.

:func:`literal_path` (TF) and :func:`opencv_path` (OpenCV) give such a
reader or writer the same file or directory through a symlink with a plain
name in a fresh temporary folder;
:func:`plain_tempdir` gives code that writes a SavedModel into a temporary
folder and reads it back (Keras' LiteRT export) a temporary folder whose
path TF reads literally, when ``TMPDIR`` holds a pattern character.
ONNX Runtime and LiteRT refuse such a name too (a TypeError of their
bindings): :func:`path_or_bytes` gives them the model's bytes instead.
:func:`path_text` takes a public function's path argument (a str or a
pathlib.Path) as the str the code below it handles.
(Ground floor: imports nothing of the project.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from typing import Any, Iterator, Optional, Sequence, Union

# Where ``\`` separates folders (Windows) it is not an escape.
PATTERN_CHARACTERS = "[" + ("\\" if os.sep == "/" else "")


def is_pattern_path(path: Union[str, os.PathLike]) -> bool:
    """Whether TF's file readers would take ``path`` as a glob pattern that
    misses the path itself."""
    return any(c in os.fspath(path) for c in PATTERN_CHARACTERS)


def is_utf8_path(path: Union[str, os.PathLike]) -> bool:
    """Whether ``path`` is valid UTF-8: no lone surrogate, which is how
    Python decodes a name's bytes that are not (``\\xff`` -> ``\\udcff``)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_path(path: Union[str, os.PathLike]) -> bool:
    """Whether TF and OpenCV take ``path`` as it is: valid UTF-8, and no
    character TF's readers take as a pattern."""
    return is_utf8_path(path) and not is_pattern_path(path)


def path_text(value: Any, argument: str) -> str:
    """A path argument, a str or an ``os.PathLike`` such as a pathlib.Path
    (or bytes), as a str (a Path was an AttributeError deep inside: no
    attribute 'strip' or 'endswith').

    Raises:
      TypeError: ``value`` is no path; the message names ``argument``
        (e.g. "export_network: path").
    """
    if isinstance(value, (str, bytes, os.PathLike)):
        return os.fsdecode(value)
    raise TypeError(f"{argument}: expected a path (a str or a pathlib.Path), got "
                    f"{type(value).__name__}")


def path_or_bytes(path: str) -> Union[str, bytes]:
    """``path`` itself when it is valid UTF-8 (:func:`is_utf8_path`); else
    the file's bytes, for readers that take a model either way (ONNX
    Runtime's ``InferenceSession``, LiteRT's ``Interpreter``), whose
    bindings raise a TypeError for such a name (an export cache under
    ``cache\xe9``). A model in one file only (no external weights)."""
    if is_utf8_path(path):
        return path
    with open(path, "rb") as f:
        return f.read()


@contextlib.contextmanager
def literal_path(path: Union[str, os.PathLike]) -> Iterator[str]:
    """``path`` as a TF file reader reads it literally.

    Yields ``path`` itself when it is plain (:func:`is_plain_path`); else a
    symlink to it named ``model`` in a fresh temporary folder, which is
    removed on exit (read everything, e.g. ``tf.saved_model.load``, inside
    the block). Where no such link can be made (no plain temporary folder,
    or no symlinks), yields ``path``: TF's own error then says it.

    Args:
      path: a file or directory (relative to the current folder or absolute).
    """
    path = os.fspath(path)
    if is_plain_path(path):
        yield path
        return
    with _plain_link(path, "model") as link:
        yield link or path


class OpenCVPathError(OSError):
    """A path OpenCV cannot take and no plain link to which could be made:
    ``strerror`` says why and the fix, ``filename`` is the path."""

    def __str__(self) -> str:  # Without OSError's "[Errno N]" and quotes.
        # The name's bytes escaped (clip\xff.avi): its lone surrogate could not
        # be written to a log or a strict UTF-8 stream.
        name = os.fsencode(self.filename).decode("utf-8", "backslashreplace")
        return f"{name}: {self.strerror}"


@contextlib.contextmanager
def opencv_path(path: Union[str, os.PathLike]) -> Iterator[str]:
    """``path`` as OpenCV can take it (``cv2.VideoCapture``,
    ``cv2.VideoWriter``, ``cv2.imwrite``): ``path`` itself when it is valid
    UTF-8; else a symlink to it, ``file<its suffix>`` (the suffix chooses
    OpenCV's container or encoder), in a fresh temporary folder, or beside
    ``path`` when no temporary folder takes it. OpenCV opens the file
    through the link, also a new file to write (the link's target is
    created), and keeps it open: make the capture or writer inside the
    block; the link is removed on exit (POSIX: the open file stays).

    Raises:
      OpenCVPathError: ``path`` is not UTF-8 and no link could be made
        (was a segmentation fault).
    """
    path = os.fspath(path)
    if is_utf8_path(path):
        yield path
        return
    suffix = os.path.splitext(path)[1]
    name = "file" + (suffix if is_plain_path(suffix) else "")
    with _plain_link(path, name, [os.path.dirname(os.path.abspath(path))]) as link:
        if link is None:
            raise OpenCVPathError(
                errno.EINVAL, "its name is not valid UTF-8, which OpenCV cannot open, and no "
                "link to it with a plain name could be made (no writable temporary folder, or "
                "no symlinks): rename it", path)
        yield link


@contextlib.contextmanager
def _plain_link(path: str, name: str, places: Sequence[str] = ()) -> Iterator[Optional[str]]:
    """A symlink ``name`` to ``path`` in a fresh plain folder (in the
    temporary folders, else in ``places``), removed with its folder on exit;
    None where none can be made."""
    # Was made under TMPDIR: a TMPDIR holding '[' gave a link TF globs too.
    folder = _plain_mkdtemp(places)
    if folder is None:
        yield None
        return
    try:
        link = os.path.join(folder, name)
        try:
            os.symlink(os.path.abspath(path), link, target_is_directory=os.path.isdir(path))
        except (OSError, NotImplementedError):
            link = None
        yield link
    finally:
        # The folder holds only the link: rmtree removes links, never follows them.
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def plain_tempdir() -> Iterator[str]:
    """Python's temporary folder (``tempfile.gettempdir()``, ``TMPDIR``) as
    TF's readers read it literally, for the block: where it holds a pattern
    character, ``tempfile.tempdir`` is a link to it in a plain folder
    (the files stay where the user put them); without symlinks, a plain
    temporary folder itself. The previous ``tempfile.tempdir`` comes back
    on exit. (It is process-wide: other threads' temporary files made
    during the block go there too, the same place.)

    Yields the temporary folder used in the block.
    """
    base = tempfile.gettempdir()
    if is_plain_path(base):
        yield base
        return
    previous = tempfile.tempdir
    with literal_path(base) as link:
        folder = None if is_plain_path(link) else _plain_mkdtemp()
        tempfile.tempdir = folder or link
        try:
            yield tempfile.tempdir
        finally:
            tempfile.tempdir = previous
            if folder:
                shutil.rmtree(folder, ignore_errors=True)


def _plain_mkdtemp(places: Sequence[str] = ()) -> Union[str, None]:
    """A fresh folder whose path is plain (:func:`is_plain_path`): in
    Python's temporary folder, else in the first of the system's usual ones,
    the current folder and ``places`` that takes it (None: none does)."""
    usual = [tempfile.gettempdir()]
    if os.name == "posix":
        usual += ["/tmp", "/var/tmp", "/usr/tmp"]
    for place in usual + [os.getcwd()] + list(places):
        if not is_plain_path(os.path.abspath(place)):
            continue
        try:
            return tempfile.mkdtemp(prefix="keras_pose-link-", dir=place)
        except OSError:
            continue
    return None
