"""A benchmark's results JSON (``benchmark_pipeline_scaling.py --json_out``,
``benchmark_video.py --results``): its destination checked before the
measurements, written atomically after them.

The check runs first because a benchmark takes minutes to hours: a path it
cannot write (a missing or read-only folder) failed only once all was
measured, and an existing file of any kind (a photo) was overwritten. Now
only an earlier results file of the same script is replaced.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from keras_pose import cli
from keras_pose.errors import FlagError
from keras_pose.files import write_json

_MAX_RESULTS_BYTES = 64 << 20  # Results are kilobytes: a larger file is something else.


def check_destination(path: str, flag: str, script: str, keys: Iterable[str]) -> None:
    """Refuses, before any work, a results path that cannot be written or
    that holds something else than ``script``'s earlier results (a JSON
    object with every one of ``keys``, as the script writes them).

    Raises:
      FlagError: for a folder, or a file that is not such results; naming
        the path and the way out.
      cli.OutputDirectoryError: for a folder that cannot be made or written.
    """
    if os.path.isdir(path):
        raise FlagError(f"{flag} {path} is a folder: give a file name, e.g. "
                        f"{os.path.join(path, 'results.json')}")
    if os.path.lexists(path) and not _is_results(path, keys):
        raise FlagError(f"{flag} {path} exists and is not an earlier results file of {script} "
                        "(a JSON object with " + ", ".join(sorted(keys)) + "): give a new "
                        "file name, or move that file away")
    folder = os.path.dirname(os.path.abspath(path))
    cli.check_writable_leaving_no_folder(folder, f"{flag}'s folder")


def _is_results(path: str, keys: Iterable[str]) -> bool:
    try:
        if os.path.getsize(path) > _MAX_RESULTS_BYTES:
            return False
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(value, dict) and all(k in value for k in keys)


def write(path: str, value: Any) -> None:
    """``value`` as indented JSON at ``path``, through a temporary file
    renamed into place (a failed write leaves the older file whole)."""
    write_json(path, value, indent=1)
