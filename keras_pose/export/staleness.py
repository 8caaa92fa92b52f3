"""Whether a cached pose export may serve (``keras_pose.export.cache``):
the rules, and the record of what made an export that they read.

An export in ``<checkpoint>/exports/<runtime>-<precision>/`` serves when its
sidecar ``heatmaps.json`` says that it is

- of this version of the checkpoint (``source.digest``);
- the export asked for, in format and precision (another export's sidecar
  copied beside it failed every run; one edited to bf16 in openvino-fp32
  ran bf16 where fp32 was asked);
- made by this keras-pose's export (``export_version``: bumped when an
  export or its quantization changes) with the packages installed now
  (``versions``: TF, Keras, the converters and the runtime; a package not
  installed here is not compared). An export made before that record is
  made again once. Where making it again needs packages that are not
  installed (a deployment with the runtime alone), the difference is said
  and the export used;
- guarded on the data set when it is on disk (``data_guard``).

Anything else is exported again, with a warning saying why.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from keras_pose import log as logging
from keras_pose.errors import install_command
from keras_pose.export import guard, runtimes
from keras_pose.export.package_versions import changed_versions, installed_versions

# Bumped when the pose export or its quantization changes, so that caches
# made by an earlier keras-pose are made again.
EXPORT_VERSION = 1

Stale = Optional[tuple[int, str]]  # (log level, why; "" when nothing is worth saying)


def export_packages(fmt: str, precision: str) -> list[str]:
    """The pip packages that make and run an export of ``fmt`` at ``precision``."""
    packages = ["tensorflow", "keras", *runtimes.RUN_PACKAGES[fmt].values(),
                *runtimes.EXPORT_PACKAGES.get(fmt, {}).values()]
    if precision == "int8":
        packages += runtimes.INT8_EXPORT_PACKAGES.get(fmt, {}).values()
    return packages


def made_by(fmt: str, precision: str) -> dict:
    """The sidecar's record of what makes the export written now (the
    entries :func:`version_change` reads)."""
    return {"export_version": EXPORT_VERSION,
            "versions": installed_versions(export_packages(fmt, precision))}


def version_change(sidecar: dict) -> Optional[str]:
    """How the export of ``sidecar`` was made otherwise than it is made now
    (completing "<path> ..."), or None."""
    version, versions = sidecar.get("export_version"), sidecar.get("versions")
    if version is None or not isinstance(versions, dict):
        return ("was exported by an earlier keras-pose (its sidecar has no record of the "
                "export version and packages)")
    if version != EXPORT_VERSION:
        return (f"was exported by another keras-pose (export version {version}, this one "
                f"makes {EXPORT_VERSION})")
    changed = changed_versions(versions)
    return f"was exported with other packages ({'; '.join(changed)})" if changed else None


def why_stale(path: str, digest: str, fmt: str, precision: str,
              data_guard: Optional[str] = None, missing: Sequence[str] = ()) -> Stale:
    """None when the export at ``path`` may serve as ``fmt`` at ``precision``
    (module docstring), else (log level, why not). ``digest``: the
    checkpoint's; ``data_guard``: the data set on disk that guards, if any;
    ``missing``: the packages that making the export again needs and this
    environment lacks."""
    if not os.path.isfile(path):
        return logging.INFO, ""
    try:
        sidecar = runtimes.read_sidecar(path)
    except (OSError, ValueError) as e:
        return logging.WARNING, f"{path}: unreadable sidecar ({e})"
    source = sidecar.get("source")
    if not isinstance(source, dict) or source.get("digest") != digest:
        # Or one whose digest was computed otherwise (before files_digest).
        return logging.INFO, (f"{path} was exported from another version of the checkpoint "
                              "or by another version of keras-pose")
    described = (sidecar.get("format"), sidecar.get("precision"))
    if described != (fmt, precision):
        return logging.WARNING, (
            f"{runtimes.sidecar_path(path)} describes an export in {described[0]} at "
            f"{described[1]}, not in {fmt} at {precision} (another export's sidecar, or an "
            "edited one)")
    stale = _unguarded(path, sidecar, data_guard)
    if stale is not None:
        return stale
    changed = version_change(sidecar)
    if changed and not missing:
        return logging.WARNING, f"{path} {changed}"
    if changed:  # It runs; failing for want of converters would serve nothing.
        logging.warning("%s %s; using it all the same: exporting it again needs %s (%s)",
                        path, changed, ", ".join(missing), install_command(missing))
    return None


def _unguarded(path: str, sidecar: dict, data_guard: Optional[str]) -> Stale:
    """Why an export must be guarded again when a data set is on disk
    (``data_guard``: it): one guarded only on the people of someone's
    inputs (made where the data set was absent, it served evaluate.py 1.7
    to 7 AP below fp32 where the guard refuses 0.5), or only on another data
    set where fp32 scores too low for the AP to tell (an int8 export so
    guarded served 0.77 AP below fp32 on the model's own data set)."""
    checked = sidecar.get("guard")
    checked = checked if isinstance(checked, dict) else {}
    if data_guard and "ap" not in checked:
        return logging.WARNING, (f"{path} was checked only on {checked.get('data', 'nothing')}"
                                 f", and the data set {data_guard} is on disk to calibrate and "
                                 "check it on")
    if data_guard and checked.get("data") != data_guard and not guard.could_judge(
            checked.get("fp32_ap", 0.0), checked.get("mean_px", 1.0)):
        return logging.WARNING, (
            f"{path} was checked on {checked.get('data')}, where the fp32 model's "
            f"{checked.get('metric', 'AP')} ({100 * checked.get('fp32_ap', 0.0):.2f}) cannot "
            "tell a worse export, and "
            f"{data_guard} is on disk to calibrate and check it on")
    return None


def outdated_in_checkpoint(path: str, sidecar: dict) -> Optional[str]:
    """Why the export ``path``, given as a checkpoint itself, may not be the
    network its folder says: it sits in ``<checkpoint>/exports/<runtime>-<precision>/``
    and was made from other weights than ``<checkpoint>`` holds now (training
    replaced ``best/`` while it was exported: the export moved into the new
    ``best/`` and evaluate.py ran the older epoch's network, unsaid); None
    when it is not in such a folder or was made from these weights."""
    folder = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    source = sidecar.get("source")
    if os.path.basename(folder) != "exports" or not isinstance(source, dict):
        return None
    checkpoint = os.path.dirname(folder)
    from keras_pose.checkpoint import is_model_checkpoint
    from keras_pose.export.checkpoint_version import checkpoint_digest
    if not is_model_checkpoint(checkpoint):
        return None
    try:
        if checkpoint_digest(checkpoint) == source.get("digest"):
            return None
    except OSError:
        return None
    return (f"{path} was exported from other weights than {checkpoint} holds now (the "
            "checkpoint was replaced after the export: a newer best/ or epoch); it runs the "
            f"network it was made from: give --checkpoint {checkpoint} with --runtime and "
            "--precision to export the weights it holds")
