"""Paths that TF's file readers take as patterns.

TF's checkpoint reader (``TensorSliceReader``, under ``tf.saved_model.load``
and ``tf.lite.TFLiteConverter.from_saved_model``) globs the variables path
``<dir>/variables/variables*``: a ``[`` or a ``\\`` anywhere in ``<dir>`` is
read as a character class or an escape, matches nothing, and the SavedModel
is "not loadable" ("Failed to find any matching files for
exp[1]/variables/variables"), though it was written whole. (``*``, ``?``
and ``{`` also match themselves, so TF 2.21 reads those right.)

:func:`literal_path` gives such a reader the same directory through a
symlink with a plain name in a fresh temporary folder;
:func:`plain_tempdir` gives code that writes a SavedModel into a temporary
folder and reads it back (Keras' LiteRT export) a temporary folder whose
path TF reads literally, when ``TMPDIR`` holds a pattern character.
(Ground floor: imports nothing of the project.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator, Union

# Where ``\`` separates folders (Windows) it is not an escape.
PATTERN_CHARACTERS = "[" + ("\\" if os.sep == "/" else "")


def is_pattern_path(path: Union[str, os.PathLike]) -> bool:
    """Whether TF's file readers would take ``path`` as a glob pattern that
    misses the path itself."""
    return any(c in os.fspath(path) for c in PATTERN_CHARACTERS)


@contextlib.contextmanager
def literal_path(path: Union[str, os.PathLike]) -> Iterator[str]:
    """``path`` as a TF file reader reads it literally.

    Yields ``path`` itself when it has no pattern character; else a symlink
    to it named ``model`` in a fresh temporary folder, which is removed on
    exit (read everything, e.g. ``tf.saved_model.load``, inside the block).
    Where no such link can be made (no temporary folder without a pattern
    character, or no symlinks), yields ``path``: TF's own error then says it.

    Args:
      path: a file or directory (relative to the current folder or absolute).
    """
    path = os.fspath(path)
    if not is_pattern_path(path):
        yield path
        return
    # Was made under TMPDIR: a TMPDIR holding '[' gave a link TF globs too.
    folder = _plain_mkdtemp()
    if folder is None:
        yield path
        return
    try:
        link = os.path.join(folder, "model")
        try:
            os.symlink(os.path.abspath(path), link, target_is_directory=os.path.isdir(path))
        except (OSError, NotImplementedError):
            link = path
        yield path if is_pattern_path(link) else link
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
    if not is_pattern_path(base):
        yield base
        return
    previous = tempfile.tempdir
    with literal_path(base) as link:
        folder = None if not is_pattern_path(link) else _plain_mkdtemp()
        tempfile.tempdir = folder or link
        try:
            yield tempfile.tempdir
        finally:
            tempfile.tempdir = previous
            if folder:
                shutil.rmtree(folder, ignore_errors=True)


def _plain_mkdtemp() -> Union[str, None]:
    """A fresh folder whose path has no pattern character: in Python's
    temporary folder, else in the first of the system's usual ones that
    takes it (None: none does)."""
    places = [tempfile.gettempdir()]
    if os.name == "posix":
        places += ["/tmp", "/var/tmp", "/usr/tmp"]
    for place in places + [os.getcwd()]:
        if is_pattern_path(os.path.abspath(place)):
            continue
        try:
            return tempfile.mkdtemp(prefix="keras_pose-link-", dir=place)
        except OSError:
            continue
    return None
