"""Where an export goes, and what it may replace there.

The output of an export (``scripts/export_saved_model.py --output``) is a
SavedModel directory, or for the runtime formats
(``keras_pose.export.runtimes``) either the artifact file (``model.onnx``,
with its sidecar ``model.json``; OpenVINO's ``model.xml`` also with
``model.bin``) or a directory that receives ``heatmaps.<ext>``.

What is there already is replaced only when it is an export of the same
format, and only atomically: a directory by
``keras_pose.files.write_directory_atomically`` (the new export fully
written beside it, then swapped in, the old one removed last), artifact
files by ``write_files_atomically``. Anything else (notes, another model, a
working directory such as ``.``) is refused by :func:`check_output` before
any work, and nothing is written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from typing import Callable, Iterator, Optional

from keras_pose.checkpoint import COMPLETE_FILE
from keras_pose.export.precision import ExportError
from keras_pose.export.runtimes import SUFFIXES, sidecar_path
from keras_pose.files import (file_in_the_way, fitting_name, nearest_existing,
                              write_directory_atomically, write_files_atomically)
from keras_pose.inference.loading import SAVED_MODEL_CONFIG
from keras_pose.locks import DirectoryInUseError, DirectoryLock

# What tf.saved_model.save writes, plus the keras_pose completion marker.
SAVED_MODEL_ENTRIES = frozenset({"saved_model.pb", "saved_model.pbtxt", "variables", "assets",
                                 "assets.extra", "fingerprint.pb", COMPLETE_FILE})
# The artifact's name when the output is a directory.
RUNTIME_STEM = "heatmaps"


class ExportOutputError(ExportError):
    """An output that may not receive the export; the message names it."""


def is_file_output(output: str, fmt: str) -> bool:
    """A runtime export whose output names the artifact file itself."""
    return fmt != "saved_model" and output.endswith(SUFFIXES[fmt])


def artifact_files(path: str, fmt: str) -> list[str]:
    """The files of a runtime export at ``path`` (``model.onnx``): the
    artifact, its sidecar, and OpenVINO's weights (``model.bin``)."""
    files = [path, sidecar_path(path)]
    return files + [os.path.splitext(path)[0] + ".bin"] if fmt == "openvino" else files


def _is_sidecar(path: str, fmt: str) -> bool:
    """``path`` is the keras_pose sidecar of a ``fmt`` export."""
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("format") == fmt and "experiment" in info


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _saved_model_problem(directory: str, entries: list[str]) -> Optional[str]:
    is_ours = "saved_model.pb" in entries and os.path.isfile(
        os.path.join(directory, SAVED_MODEL_CONFIG))
    if not is_ours:
        return f"holds {_listing(entries)} and is not a keras_pose SavedModel"
    others = [e for e in entries if e not in SAVED_MODEL_ENTRIES]
    return f"is a SavedModel but also holds {_listing(others)}" if others else None


def _runtime_dir_problem(directory: str, entries: list[str], fmt: str) -> Optional[str]:
    artifacts = [e for e in entries if e.endswith(SUFFIXES[fmt])]
    if len(artifacts) == 1:
        files = artifact_files(os.path.join(directory, artifacts[0]), fmt)
        if sorted(os.path.basename(f) for f in files) == entries and _is_sidecar(files[1], fmt):
            return None
    return f"holds {_listing(entries)} and is not one keras_pose {fmt} export"


def _files_problem(files: list[str], fmt: str) -> Optional[str]:
    present = [os.path.basename(f) for f in files if os.path.exists(f)]
    if not present or (all(os.path.isfile(f) for f in files) and _is_sidecar(files[1], fmt)):
        return None
    return (f"would replace {_listing(present)}, which is not a keras_pose {fmt} export "
            f"({os.path.basename(files[1])} is not its sidecar)")


def target_of(output: str) -> str:
    """Where the export at ``output`` (a folder) is written: its real path,
    so that a symbolic link to a folder (a served ``current`` pointing at a
    version, typed with or without a trailing slash) keeps pointing at the
    new export (it had been replaced by a folder of its own, its target
    keeping the old model)."""
    return os.path.realpath(output)


def _place_problem(output: str, fmt: str) -> Optional[str]:
    """Why ``output`` is no place for any export, and the way out."""
    target, cwd = target_of(output), os.path.realpath(os.getcwd())
    if not is_file_output(output, fmt) and (target == cwd or cwd.startswith(target + os.sep)):
        return ("is or holds the working directory, which an export does not replace. "
                "Nothing was written: give the path of a new or empty folder")
    blocker = file_in_the_way(output)
    if blocker:  # Was "Not a directory: <its folder>/.<name>.lock".
        return (f"is inside {blocker}, which is a file, not a folder. Nothing was written: give "
                "a path in a folder")
    if is_file_output(output, fmt) and os.path.islink(output):
        return (f"is a symbolic link, which a file export does not follow (its sidecar and "
                f"weights would stay beside the link). Nothing was written: give its target "
                f"({os.path.realpath(output)})")
    return None


def output_problem(output: str, fmt: str) -> Optional[str]:
    """Why ``output`` may not receive a ``fmt`` export; None when it is new,
    an empty directory, or an export of the same format."""
    if is_file_output(output, fmt):
        return _files_problem(artifact_files(output, fmt), fmt)
    output = target_of(output)
    if not os.path.exists(output):
        return None
    if not os.path.isdir(output):
        return "is a file, not a directory"
    entries = sorted(os.listdir(output))
    if not entries:
        return None
    if fmt == "saved_model":
        return _saved_model_problem(output, entries)
    return _runtime_dir_problem(output, entries, fmt)


def check_output(output: str, fmt: str, flag: str = "--output") -> None:
    """Raises ExportOutputError when ``output`` may not receive the export:
    the message names ``flag``, the path, what is there and the fix."""
    if not output.strip():  # An unset shell variable: it meant the working directory.
        raise ExportOutputError(f"{flag} is empty: give the path of the export (a new or "
                                "empty folder, or an export of the same format to replace)")
    problem = _place_problem(output, fmt)
    if problem:
        raise ExportOutputError(f"{flag} {output} {problem}")
    problem = output_problem(output, fmt)
    if problem:
        raise ExportOutputError(
            f"{flag} {output} {problem}; an export replaces only an export of the same "
            "format. Nothing was written: give a new or empty directory (or remove that "
            "one first if it can go)")


def check_tflite_output(path: str, flag: str = "output_path") -> None:
    """Refuses a ``path`` that a TFLite export must not replace: a folder, a
    file that is not a TFLite model (a user's notes were overwritten), or a
    sidecar place (``model.json``) holding anything but a LiteRT sidecar."""
    side = sidecar_path(path)
    if os.path.lexists(side) and not _is_sidecar(side, "litert"):
        raise ExportOutputError(f"{flag} {path}: its sidecar {side} would replace a file that is "
                                "not a keras_pose LiteRT sidecar. Nothing was written: give "
                                "another path")
    folder = nearest_existing(os.path.dirname(os.path.abspath(path)))
    if not os.access(folder, os.W_OK):  # Was found after the SavedModel's export, unsaid.
        raise ExportOutputError(f"{flag} {path} cannot be written ({folder} is read-only "
                                "or not yours). Nothing was written: give another path")
    if not os.path.lexists(path):
        return
    if os.path.isdir(path):
        problem = "is a folder"
    else:
        with open(path, "rb") as f:
            problem = None if f.read(8)[4:8] == b"TFL3" else "is a file but not a TFLite model"
    if problem:
        raise ExportOutputError(f"{flag} {path} {problem}; a TFLite export replaces only a "
                                "TFLite model. Nothing was written: give another path")


def write_export(output: str, fmt: str, write: Callable[[str], None]) -> str:
    """Writes an export at ``output`` atomically, after :func:`check_output`.

    Args:
      output: the SavedModel directory, the runtime artifact file, or a
        directory for ``heatmaps.<ext>``.
      fmt: ``saved_model``, ``onnx``, ``openvino`` or ``litert``.
      write: ``write(path)`` writes the export (and may check it: raising
        discards it) at a temporary ``path`` beside its final place.

    Returns:
      The export's final path (the SavedModel directory or the artifact).

    Raises:
      ExportOutputError: see :func:`check_output`; what ``write`` raises, the
        old export left in place.
    """
    check_output(output, fmt)
    if is_file_output(output, fmt):
        write_files_atomically(artifact_files(output, fmt), lambda tmps: write(tmps[0]))
        return output
    name = "" if fmt == "saved_model" else RUNTIME_STEM + SUFFIXES[fmt]
    write_directory_atomically(target_of(output), lambda tmp: write(
        os.path.join(tmp, name) if name else tmp))
    return os.path.join(output, name) if name else output


@contextlib.contextmanager
def output_lock(output: str, flag: str = "--output", way_out: Optional[str] = None,
                run: str = "export") -> Iterator[None]:
    """Holds ``output`` for one export at a time: a second export into it
    raises ExportOutputError naming the first (two used to both report
    success, the last to finish silently winning).

    The OS lock (``keras_pose.locks.DirectoryLock``, released even by
    ``kill -9``) lives in a hidden folder beside ``output``,
    ``.<name>.lock/``, removed again at the end (also when a killed export
    left it): not inside it, since the export replaces that directory, and
    a SavedModel must hold nothing else.
    """
    target = os.path.abspath(target_of(output))
    # A name of 250-255 bytes fits; its lock's, 6 more, did not: shortened.
    name = "." + fitting_name(os.path.basename(target), len(".") + len(".lock")) + ".lock"
    lock = DirectoryLock(os.path.join(os.path.dirname(target), name),
                         run=run, flag=flag, created=True)  # The folder is the lock's.
    try:
        lock.__enter__()
    except OSError as e:
        if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        # It named the hidden lock folder beside the output, not the flag.
        raise ExportOutputError(f"{flag} {output} cannot be written ({e.strerror}); give "
                                f"another {flag}") from None
    except DirectoryInUseError as e:
        if not isinstance(e.__cause__, OSError):  # A link or a folder there: its own words.
            raise
        with open(lock.path, encoding="utf-8", errors="replace") as f:
            holder = f.read().strip() or "another export"
        raise ExportOutputError(f"{flag} {output} is being written by {holder}; "
                                + (way_out or f"wait for it to end or give another {flag}")
                                ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)
