"""Paths that TF's file readers take as patterns.

TF's checkpoint reader (``TensorSliceReader``, under ``tf.saved_model.load``
and ``tf.lite.TFLiteConverter.from_saved_model``) globs the variables path
``<dir>/variables/variables*``: a ``[`` or a ``\\`` anywhere in ``<dir>`` is
read as a character class or an escape, matches nothing, and the SavedModel
is "not loadable" ("Failed to find any matching files for
exp[1]/variables/variables"), though it was written whole. (``*``, ``?``
and ``{`` also match themselves, so TF 2.21 reads those right.)

:func:`literal_path` gives such a reader the same directory through a
symlink with a plain name in a fresh temporary folder.
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
    folder = tempfile.mkdtemp(prefix="keras_pose-link-")
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
