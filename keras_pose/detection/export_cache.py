"""The cache of detector exports, checked when loaded: an export that
cannot be read (a network file cut short or deleted, ``export.json`` not
JSON or lacking an entry, the files not those it records) is exported
again with a warning, atomically as the first time; it had failed every
later run with the runtime's traceback, and was never made again.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, TypeVar

from keras_pose import log as logging
from keras_pose.detection import runtimes
from keras_pose.errors import UserError
from keras_pose.output_streams import shown


class DamagedExportError(UserError, RuntimeError):
    """A cached export that cannot be read (a file cut short or missing, a
    sidecar that is not JSON or lacks an entry): ``problem`` names the
    file; the message adds the folder to delete."""

    def __init__(self, directory: str, problem: str, failed: Optional[str] = None):
        again = f" and making it again failed ({failed})" if failed else ""
        super().__init__(f"the detector export {directory} cannot be read ({problem}){again}: "
                         "delete that folder and run again, or use --detector_runtime tf")
        self.directory, self.problem = directory, problem


Loaded = TypeVar("Loaded")


def cached_network(model, runtime: str, precision: str, name: Optional[str],
                   root: Optional[str], write: Optional[Callable[[str], None]] = None,
                   load: Optional[Callable[[str], Loaded]] = None) -> Loaded:
    """``load(directory)`` (default :func:`load_checked`) of
    ``runtimes.cached_export``'s export (arguments as its). A cached export
    that cannot be read (DamagedExportError: a file cut short or deleted, a
    sidecar not JSON) is exported again, atomically as the first time, with
    a warning: it failed every later run, and was never made again.

    Raises:
      DamagedExportError: naming the folder to delete, when making it again
        failed (a cache not writable, a converter not installed) or the
        export just made cannot be read either.
    """
    load = load or load_checked
    directory, written = runtimes.cached_export(model, runtime, precision, name, root, write)
    try:
        return load(directory)
    except DamagedExportError as e:
        if written:  # Just made: not the cache's doing.
            raise
        damaged = e
    logging.warning("The cached detector export %s cannot be read (%s): exporting it again",
                    shown(directory), damaged.problem)
    try:
        runtimes.cached_export(model, runtime, precision, name, root, write, again=True)
    except (OSError, UserError, runtimes.ExportError) as e:
        from keras_pose.cli import error_message  # "Permission denied: <path>", one line.
        failed = error_message(e).splitlines()[0][:300] or type(e).__name__
        raise DamagedExportError(directory, damaged.problem, failed) from e
    return load(directory)


def load_checked(directory: str, num_threads: Optional[int] = None) -> runtimes.ExportedNetwork:
    """``runtimes.load_network`` of an export, checked first: ``export.json``
    readable and holding what the detector reads, the network files those
    it records (sizes and SHA-256, ``checkpoint_version.files_mismatch`` as
    for the pose exports), the runtime able to load them.

    Raises:
      DamagedExportError: naming the file and what is wrong with it.
    """
    from keras_pose.export.runtimes import load_errors, runtime_reason
    info = read_sidecar(directory)
    problem = _sidecar_problem(info) or _files_problem(directory, info)
    if problem:
        raise DamagedExportError(directory, problem)
    runtime = info["runtime"]
    try:  # An export made before the record: its runtime judges it.
        return runtimes.load_network(directory, num_threads)
    except load_errors({"onnxruntime": "onnx", "openvino": "openvino"}[runtime]) as e:
        raise DamagedExportError(directory, f"{runtime} cannot load it: "
                                            f"{runtime_reason(e)}") from e


def read_sidecar(directory: str) -> dict:
    """``runtimes.read_sidecar``, its failures as DamagedExportError."""
    path = runtimes.SIDECAR  # The message names the folder.
    try:
        info = runtimes.read_sidecar(directory)
    except FileNotFoundError:  # Was "No such file or directory", with no way out.
        raise DamagedExportError(directory, f"{path} is missing") from None
    except ValueError as e:  # Cut short, or not text: was a JSONDecodeError traceback.
        raise DamagedExportError(directory, f"{path} is not valid JSON: {e}") from e
    if not isinstance(info, dict):
        raise DamagedExportError(directory, f"{path} is not a JSON object")
    return info


def _sidecar_problem(info: dict) -> Optional[str]:
    """What ``export.json`` lacks of what loading and detecting read."""
    size, classes = info.get("input_size"), info.get("num_classes")
    fine = (info.get("runtime") in runtimes.RUNTIMES and info.get("precision") in
            runtimes.PRECISIONS and isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in [*size, classes]))
    return None if fine else (f"{runtimes.SIDECAR} lacks a valid runtime, precision, "
                              "input_size or num_classes")


def _files_problem(directory: str, info: dict) -> Optional[str]:
    """A network file missing, or not the one ``export.json`` records."""
    from keras_pose.export.checkpoint_version import files_mismatch
    paths = runtimes.network_paths(directory, info["runtime"])
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:  # The message names the folder.
        return f"{os.path.basename(missing[0])} is missing"
    # Exports made before the record: their runtime judges them (load_checked).
    mismatch = "network_files" in info and files_mismatch(info["network_files"], paths)
    return f"{os.path.basename(mismatch[0])}: {mismatch[1]}" if mismatch else None
