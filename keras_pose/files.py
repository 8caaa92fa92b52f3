"""Atomic file writes: a reader sees the old file or the new one, never a
part. (Ground floor: imports nothing of the project.)"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, IO, Union


def write_atomically(path: str, content: Union[str, Callable[[IO], None]], *,
                     fsync: bool = False) -> str:
    """Writes ``content`` (text, or a function given the open file) to a
    temporary file beside ``path``, then renames it into place.

    Args:
      path: the file; its directory is created.
      content: the text, or ``write(f)`` for a text-mode file.
      fsync: flush to disk before the rename (files a crash must not lose).

    Returns:
      ``path``.

    Raises:
      OSError: nothing is left behind (the temporary file is removed).
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(content) if isinstance(content, str) else content(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_json(path: str, value: Any, *, indent: int | None = None,
               fsync: bool = False) -> str:
    """``value`` as JSON (a trailing newline when indented), atomically."""
    text = json.dumps(value, indent=indent)
    return write_atomically(path, text + "\n" if indent is not None else text, fsync=fsync)
