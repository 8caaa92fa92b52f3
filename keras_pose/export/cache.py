"""A checkpoint run in ONNX Runtime or OpenVINO: exported on first use, then reused.

``load_pose_model(path, runtime=..., precision=...)`` (``--runtime`` /
``--precision`` of predict.py and evaluate.py) ends in :func:`runtime_model`.
The first time, the checkpoint's fused network is exported
(``runtimes.export_network``), int8 calibrated and every lowered precision
(int8, bf16) put through the accuracy guard (``keras_pose.export.guard``),
all in a temporary directory renamed into place when everything passed
(``files.write_directory_atomically``)::

    <checkpoint>/exports/<runtime>-<precision>/heatmaps.{onnx,xml} + heatmaps.json

When the checkpoint's directory cannot be written (a read-only mount, a
shared model), the export goes to
``<keras_pose.convert.download.cache_dir()>/exports/<digest[:16]>/<runtime>-<precision>/``
instead, and when that cannot be written either, to this user's own
folder of the temporary directory (``keras_pose.export.cache_places``:
the places, and which are safe to trust); all are looked up. The sidecar
``heatmaps.json`` records the checkpoint's digest (SHA-256 of its weights
and config files, ``keras_pose.export.checkpoint_version``): a changed
checkpoint is exported again, never served a stale export. It also
records how the export was calibrated, what the guard measured and what
made it (``keras_pose.export.staleness``: the rules by which a cached
export serves, or is exported again with a warning saying why).

Calibration and guard data:

- the data set of the config (the checkpoint's, or evaluate.py's
  ``--dataset`` / ``--data_dir``) when its evaluation split is on disk:
  ``CALIBRATION_PEOPLE`` people of the training split calibrate (of the
  evaluation split when only it was downloaded, as COCO val often is:
  calibration reads activation ranges, never labels); the guard evaluates
  fp32 and the export on the evaluation split (the people of the first
  images up to ``GUARD_PEOPLE``) and refuses a drop above 0.5 point of
  its metric (COCO AP, MPII PCKh Mean);
- otherwise the people of the user's own inputs (``samples``: predict.py
  passes its images and frames with the boxes its detector finds): up to
  ``CALIBRATION_PEOPLE`` of them calibrate, and the guard asks that the
  export's keypoints agree with fp32's on the same people
  (``guard.guard_on_crops``). Fewer than ``MIN_INPUT_PEOPLE`` people is
  refused: too few to calibrate on or to judge by. Such an export is
  exported again, on the data set, the first time it is asked for where
  the data set is on disk.

fp32 exports compute what the checkpoint computes (equal within float
rounding, tested per runtime) and need neither.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from typing import Any, Callable, Iterable, Optional

import numpy as np

from keras_pose import log as logging
from keras_pose.checkpoint import CONFIG_FILE, CheckpointError
from keras_pose.configs import DataConfig, ExperimentConfig, load_config
from keras_pose.errors import MissingPackageError, NotWritableError, UserError, install_command
from keras_pose.export import cache_places, guard, runtimes, staleness
from keras_pose.export.checkpoint_version import (change, checkpoint_digest,
                                                  read_consistently, version)
from keras_pose.export.precision import CPU_BF16_FLAGS, cpu_has_bf16
from keras_pose.files import nearest_existing, write_directory_atomically
from keras_pose.inference.loading import PoseModel
from keras_pose.signals import interrupts_kept

# --runtime -> export format, and the precisions each runtime computes.
RUNTIME_FORMATS = {"onnxruntime": "onnx", "openvino": "openvino"}
CHOICES = {"tf": ("fp32",), "onnxruntime": ("fp32", "int8"),
           "openvino": ("fp32", "bf16", "int8")}
CALIBRATION_PEOPLE = 300  # As scripts/export_saved_model.py.
GUARD_PEOPLE = 2000  # Whole images; the full COCO val split would take hours on a CPU.
MIN_INPUT_PEOPLE = 16
EXPORT_STEM = "heatmaps"

Samples = Callable[[], Iterable[tuple[np.ndarray, Any]]]

_WHY_NOT = {
    ("tf", "int8"): "TF's CPU kernels have no int8 convolution: use --runtime onnxruntime "
                    "or --runtime openvino",
    ("tf", "bf16"): "make a bf16 SavedModel with scripts/export_saved_model.py --precision "
                    "bf16 and pass it as --checkpoint, or use --runtime openvino",
    ("onnxruntime", "bf16"): "ONNX Runtime exports are fp32 or int8; bf16 runs in "
                             "--runtime openvino on CPUs with bf16 units",
}


class RuntimeChoiceError(UserError, ValueError):
    """A runtime / precision that cannot run here, or int8 without people to
    calibrate on; the message says what can (one line in the CLIs)."""


def check_choice(runtime: str, precision: str) -> None:
    """Raises RuntimeChoiceError for a pair this machine cannot run (bf16
    needs bf16 units: elsewhere OpenVINO silently computes f32, so an
    export labelled bf16 would be a lie), ImportError naming a missing
    runtime package."""
    if runtime not in CHOICES:
        raise RuntimeChoiceError(f"--runtime must be one of {', '.join(CHOICES)}, got "
                                 f"{runtime!r}")
    if precision not in CHOICES[runtime]:
        why = _WHY_NOT.get((runtime, precision),
                           f"--precision is one of {', '.join(CHOICES[runtime])} for it")
        default = " (the default)" if runtime == "tf" else ""  # The user may not have typed it.
        raise RuntimeChoiceError(f"--runtime {runtime}{default} does not compute in "
                                 f"{precision}: {why}")
    if precision == "bf16" and not cpu_has_bf16():
        raise RuntimeChoiceError(
            f"--precision bf16: this CPU has no bf16 units ({' / '.join(CPU_BF16_FLAGS)}), "
            "so OpenVINO would compute in f32 at fp32's speed; use --precision int8 (the "
            "fast path on such CPUs) or fp32")
    fmt = RUNTIME_FORMATS.get(runtime)
    missing = runtimes.missing_packages(fmt, precision, export=False) if fmt else []
    if missing:  # What exporting needs besides is asked when there is no export to reuse.
        raise MissingPackageError(f"--runtime {runtime} --precision {precision} needs "
                                  f"{', '.join(missing)}: {install_command(missing)}")


def runtime_model(pose_model: PoseModel, runtime: Optional[str] = None,
                  precision: Optional[str] = None, *,
                  data_config: Optional[ExperimentConfig] = None,
                  samples: Optional[Samples] = None) -> PoseModel:
    """``pose_model`` (a checkpoint) run in ``runtime`` at ``precision``.

    Args:
      pose_model: loaded by ``load_pose_model`` (config with overrides).
      runtime: ``tf``, ``onnxruntime`` or ``openvino`` (None: ``tf``).
      precision: ``fp32``, ``bf16`` or ``int8`` (None: ``fp32``).
      data_config: the resolved config of the data set that calibrates and
        guards (default: ``pose_model.config``'s data set, if on disk).
      samples: ``samples()`` yields (image, boxes) of the user's inputs:
        the people that calibrate and guard when the data set is absent.

    Returns:
      The export's ``PoseModel`` with ``pose_model``'s config.

    Raises:
      CheckpointError: ``pose_model`` is an export, or a SavedModel asked
        for another runtime (nothing to export it from).
      RuntimeChoiceError, ImportError: see :func:`check_choice`.
      guard.AccuracyGuardError: the export lost too much accuracy.
      TypeError: a ``data_config`` or ``samples`` of another kind.
    """
    _check_evidence_arguments(data_config, samples)
    check_request(pose_model, runtime, precision)
    if pose_model.kind == "saved_model":  # It runs as it is (check_request).
        return pose_model
    runtime, precision = runtime or "tf", precision or "fp32"
    if (runtime, precision) == (pose_model.runtime, pose_model.precision):
        return pose_model
    before, digest = version(pose_model.path), None
    try:
        digest = checkpoint_digest(pose_model.path)
        exported = _load_cached(pose_model, runtime, precision, data_config, samples, digest)
    except Exception:  # A converter's own error (OpenVINO: RuntimeError) too.
        changed = change(pose_model.path, before, digest)
        if changed is None:
            raise
        raise CheckpointError(changed) from None
    return dataclasses.replace(exported, config=pose_model.config)


def _check_evidence_arguments(data_config: Any, samples: Any) -> None:
    """Raises TypeError naming ``data_config`` or ``samples`` (of
    :func:`runtime_model`, ``load_pose_model``, ``Predictor.from_checkpoint``)
    when it is not what they take: were AttributeError / "'list' object is
    not callable" tracebacks from deep in the export, after minutes of work."""
    if data_config is not None and not isinstance(data_config, ExperimentConfig):
        hint = (": a DataConfig is the .data of one; pass the ExperimentConfig itself"
                if isinstance(data_config, DataConfig) else "")
        raise TypeError(f"data_config must be an ExperimentConfig (the experiment whose data "
                        "set calibrates and checks the export, e.g. get_experiment(name) or "
                        f"load_config(path)), got {type(data_config).__name__}{hint}")
    if samples is not None and not callable(samples):
        raise TypeError(f"samples must be a function returning (image, boxes) pairs (images "
                        "(H, W, 3) uint8 RGB, boxes (M, 4) [x, y, w, h]), e.g. samples=lambda: "
                        f"zip(images, boxes), got {type(samples).__name__}")


def check_request(pose_model: PoseModel, runtime: Optional[str],
                  precision: Optional[str]) -> None:
    """Raises what :func:`runtime_model` refuses, before any work (predict.py
    asks before its detector loads): an export asked for any runtime or
    precision, a SavedModel for another than its own, a checkpoint for a
    pair this machine cannot run (:func:`check_choice`)."""
    if pose_model.kind not in ("keras", "saved_model"):
        raise CheckpointError(
            f"{pose_model.path} is already an export ({pose_model.runtime} "
            f"{pose_model.precision}): it runs in its own runtime and precision; drop "
            "--runtime / --precision (in Python: runtime= / precision=), or pass the "
            "checkpoint it was exported from")
    if pose_model.kind == "saved_model":  # Before check_choice: it told a bf16 one to
        _check_saved_model_request(pose_model, runtime, precision)  # make one.
    else:
        check_choice(runtime or "tf", precision or "fp32")


def _check_saved_model_request(pose_model: PoseModel, runtime: Optional[str],
                               precision: Optional[str]) -> None:
    """A SavedModel runs in TF at its own precision: ``runtime`` and
    ``precision`` may name those (None: its own), nothing else."""
    own = (pose_model.runtime, pose_model.precision)
    if (runtime or own[0], precision or own[1]) == own:
        return
    known = {p for precisions in CHOICES.values() for p in precisions} | {"bf16"}
    if runtime is not None and runtime not in CHOICES:  # A typo, not a request to export.
        raise RuntimeChoiceError(f"--runtime must be one of {', '.join(CHOICES)}, got "
                                 f"{runtime!r}")
    if precision is not None and precision not in known:
        raise RuntimeChoiceError(f"--precision must be one of {', '.join(sorted(known))}, got "
                                 f"{precision!r}")
    asked = " ".join(f"--{flag} {value}" for flag, value in (
        ("runtime", runtime), ("precision", precision)) if value)  # Only what was given.
    raise CheckpointError(
        f"{pose_model.path} is a {own[1]} SavedModel: it runs in {own[0]} at {own[1]}; "
        f"{asked} exports a checkpoint's Keras weights: pass the checkpoint (or model "
        "directory) it was exported from, or drop --runtime / --precision (in Python: "
        "runtime= / precision=)")


def _load_cached(pose_model: PoseModel, runtime: str, precision: str,
                 data_config: Optional[ExperimentConfig], samples: Optional[Samples],
                 digest: str) -> PoseModel:
    """The cached export, loaded; one its runtime cannot read (a file cut
    short by a full disk or a copy) or whose sidecar does not describe its
    files (another export's, an edited one) is passed over and made again,
    with a warning (:func:`cached_export` says what is done instead): the
    cache is ours to rebuild, and reusing it would fail every run from then on."""
    damaged: dict[str, str] = {}  # path -> the problem.
    while True:
        path = cached_export(pose_model, runtime, precision, data_config=data_config,
                             samples=samples, skip=damaged, digest=digest)
        try:
            return runtimes.load_export(path)
        except runtimes.DamagedExportError as e:
            if path in damaged:  # Just written and still unreadable: not the cache's doing.
                raise
            damaged[path] = e.problem


def export_dirs(checkpoint_dir: str, digest: str, runtime: str, precision: str) -> list[str]:
    """Where the export of a checkpoint lives: beside it, else in the cache,
    else, when the cache cannot be written, in this user's folder of the
    temporary directory (``keras_pose.export.cache_places``)."""
    return cache_places.export_dirs(checkpoint_dir, digest, runtime, precision, _writable)


def _artifact(directory: str, runtime: str) -> str:
    return os.path.join(directory, EXPORT_STEM + runtimes.SUFFIXES[RUNTIME_FORMATS[runtime]])


def _guard_data(config: ExperimentConfig) -> Optional[str]:
    """The data set a guard would run on now (as sidecars record it), or
    None when it is not on disk."""
    if not dataset_on_disk(config):
        return None
    from keras_pose.data.datasets import resolve_dataset_config
    return guard.guarded_data(resolve_dataset_config(config))


def _writable(directory: str) -> bool:
    """Whether ``directory`` can be created and written (its nearest
    existing ancestor is writable)."""
    return os.access(nearest_existing(directory), os.W_OK)


def cached_export(pose_model: PoseModel, runtime: str, precision: str, *,
                  data_config: Optional[ExperimentConfig] = None,
                  samples: Optional[Samples] = None, skip: Iterable[str] = (),
                  digest: Optional[str] = None) -> str:
    """The path of the current export of ``pose_model``'s checkpoint in
    ``runtime`` at ``precision``, made first if there is none (arguments
    as :func:`runtime_model`; ``skip``: exports found damaged, not reused,
    a mapping to their problem or any iterable; ``digest``: the
    checkpoint's :func:`checkpoint_digest`, if known)."""
    digest = digest or checkpoint_digest(pose_model.path)
    places = export_dirs(pose_model.path, digest, runtime, precision)
    data_guard = _guard_data(data_config or pose_model.config) if precision != "fp32" else None
    passed: list[tuple[int, str]] = []  # What was not used: (log level, why).
    # Running a reused export needs only the runtime (check_choice).
    missing = runtimes.missing_packages(RUNTIME_FORMATS[runtime], precision)
    for directory in places:
        path = _artifact(directory, runtime)
        if cache_places.refusal(directory):  # Nothing to trust there (said if written).
            continue
        if path in skip:  # Its runtime could not load it.
            stale = logging.WARNING, skip[path] if isinstance(skip, dict) else f"{path}: damaged"
        else:
            stale = staleness.why_stale(path, digest, RUNTIME_FORMATS[runtime], precision,
                                        data_guard, missing)
        if stale is None:
            for level, why in passed:  # Was "exporting again", then this one used.
                logging.log(level, "%s; using %s instead", why, path)
            logging.info("Using the %s %s export %s", runtime, precision, path)
            return path
        passed += [stale] if stale[1] else []
    if missing:
        raise MissingPackageError(
            f"--runtime {runtime} --precision {precision}: {pose_model.path} has no current "
            f"{runtime} {precision} export to reuse, and making it needs "
            f"{', '.join(missing)}: {install_command(missing)}")
    return _export(pose_model, runtime, precision, places, passed, data_config, samples)


def _export(pose_model: PoseModel, runtime: str, precision: str, places: list[str],
            passed: list[tuple[int, str]], data_config: Optional[ExperimentConfig],
            samples: Optional[Samples]) -> str:
    """Exports into the first of ``places`` that can be written (the next
    when its disk is full); ``passed``: the exports found unfit, logged."""
    refusals = [cache_places.refusal(d) for d in places]
    writable = [d for d, refused in zip(places, refusals) if not refused and _writable(d)]
    if not writable:
        raise NotWritableError(next(filter(None, refusals), None) or (
            f"cannot write the {runtime} {precision} export: none of {', '.join(places)} is "
            "writable (set KERAS_POSE_CACHE, or TMPDIR, to a writable directory)"))
    for refused in filter(None, refusals):  # Written elsewhere: said all the same.
        logging.warning("%s", refused)
    # What is exported is the version of the files that the digest is of
    # (the loaded model may be of an older best/, replaced since).
    digest, pose_model = read_consistently(pose_model)
    evidence = _evidence(pose_model, precision, data_config, samples)
    for level, why in passed:  # Was "First use of ..." after "exporting again".
        logging.log(level, "%s: exporting it again into %s", why, writable[0])
    if not passed:
        logging.info("First use of %s %s for %s: exporting into %s", runtime, precision,
                     pose_model.path, writable[0])
    for number, directory in enumerate(writable):
        try:
            return _write(directory, pose_model, runtime, precision, digest, evidence)
        except BaseException as e:
            with contextlib.suppress(OSError):  # exports/, made for it, if left empty
                os.rmdir(os.path.dirname(directory))  # (a refused export left it).
            if not isinstance(e, OSError) or e.errno != errno.ENOSPC or isinstance(e, UserError):
                raise
            if number + 1 < len(writable):  # The cache may be on another disk.
                logging.warning("%s: the disk is full; exporting into %s instead", directory,
                                writable[number + 1])
                continue
            raise NotWritableError(
                f"cannot write the {runtime} {precision} export into {directory}: the disk "
                "is full (nothing was kept); free space there, or set KERAS_POSE_CACHE to a "
                "folder on another disk") from None


@dataclasses.dataclass
class _Evidence:
    """What calibrates (int8) and guards an export: its description, the
    normalised calibration crops, and ``check(candidate, name) -> dict``."""

    description: str
    calibration: Optional[np.ndarray]
    check: Callable[[Any, str], dict]
    from_inputs: bool = False  # The user's inputs (no data set the export script could use).


def _write(directory: str, pose_model: PoseModel, runtime: str, precision: str,
           digest: str, evidence: Optional[_Evidence]) -> str:
    fmt = RUNTIME_FORMATS[runtime]
    name = f"{runtime} {precision}"
    # The checkpoint's own config (the loaded one carries inference overrides).
    config = load_config(os.path.join(pose_model.path, CONFIG_FILE))

    @interrupts_kept()  # A Ctrl-C lost in a converter or the guard: nothing is kept.
    def write(tmp: str) -> None:
        path = _artifact(tmp, runtime)
        runtimes.export_network(pose_model.keras_model, config, path, fmt, precision,
                                calibration=evidence and evidence.calibration)
        checked = evidence.check(runtimes.load_export(path).network, name) if evidence \
            else None
        runtimes.update_sidecar(
            path, source={"checkpoint": os.path.abspath(pose_model.path), "digest": digest},
            calibration=evidence.description if precision == "int8" else None,
            guard=checked, **staleness.made_by(fmt, precision))

    try:
        write_directory_atomically(directory, write)
    except guard.AccuracyGuardError as e:
        if evidence is not None and evidence.from_inputs:
            # The export script calibrates on a data set only: its command failed
            # for a user with photos alone ("the data set ... is not on disk").
            raise guard.AccuracyGuardError(f"{e}\n(run it at --precision fp32)") from None
        raise guard.AccuracyGuardError(
            f"{e}\n(run it at --precision fp32; or "
            f"export it anyway and pass the export as --checkpoint: python "
            f"scripts/export_saved_model.py --checkpoint {pose_model.path} --format {fmt} "
            f"--precision {precision} --force_precision --output <dir>)") from None
    return _artifact(directory, runtime)


def dataset_on_disk(config: ExperimentConfig) -> bool:
    """Whether ``config``'s data set can guard: the evaluation split's
    annotation file exists and has ground truth."""
    from keras_pose.data import datasets
    files = [datasets.annotation_file(config, "test")]
    if config.data.dataset == "mpii":
        files.append(datasets.mpii_gt_file(config))
    return all(os.path.isfile(f) for f in files) and not datasets.is_test_split(config)


def _evidence(pose_model: PoseModel, precision: str, data_config: Optional[ExperimentConfig],
              samples: Optional[Samples]) -> Optional[_Evidence]:
    """Before anything is written: where calibration and the guard's data
    come from (module docstring), or an error saying what is missing."""
    if precision == "fp32":
        return None
    reference = pose_model.network
    config = data_config or pose_model.config
    if dataset_on_disk(config):
        return _dataset_evidence(reference, config, precision, f"checkpoint {pose_model.path}")
    if samples is None:
        raise RuntimeChoiceError(
            f"--precision {precision} is calibrated and checked on real people, but the data "
            f"set {config.data.root} ({config.data.dataset}) is not on disk (no evaluation "
            f"annotation file under it): put it there or point to it (--set data.root=DIR; "
            "evaluate.py: --data_dir), or run predict.py on your photos (their people are "
            "used; in Python: samples=)")
    return _input_evidence(reference, pose_model.config, samples, precision)


def _dataset_evidence(reference, config: ExperimentConfig, precision: str,
                      owner: str) -> _Evidence:
    """The data set's evidence; its keypoints are checked against the
    model's here, before anything is exported (``guard.guard_records``)."""
    from keras_pose.data.datasets import resolve_dataset_config
    from keras_pose.export.calibration import calibration_crops, calibration_split
    config = resolve_dataset_config(config)
    records = guard.guard_records(config, owner)
    split = calibration_split(config)
    crops = calibration_crops(config, CALIBRATION_PEOPLE, split=split, owner=owner,
                              records=records if split == "test" else None) \
        if precision == "int8" else None
    described = f"{len(crops) if crops is not None else 0} people of {config.data.root} " \
                f"{config.data.train_set if split == 'train' else config.data.test_set}"
    return _Evidence(described, crops, lambda candidate, name: guard.guard_on_dataset(
        reference, candidate, name, config, people=GUARD_PEOPLE, records=records))


def _input_evidence(reference, config: ExperimentConfig, samples: Samples,
                    precision: str) -> _Evidence:
    from keras_pose.export.calibration import input_crops, normalise
    crops = input_crops(config, samples(), CALIBRATION_PEOPLE)
    work = "calibrate and check" if precision == "int8" else "check"  # bf16 has no ranges.
    if len(crops) < MIN_INPUT_PEOPLE:
        raise RuntimeChoiceError(
            f"--precision {precision}: the data set {config.data.root} is not on disk and "
            f"your inputs hold {len(crops)} people; at least {MIN_INPUT_PEOPLE} are needed "
            f"to {work} it: give more inputs, point to the data set (--set "
            "data.root=DIR), or use --precision fp32")
    logging.info("%s on %d people of your inputs (the data set %s is not on disk)",
                 "Calibrating and checking" if precision == "int8" else "Checking",
                 len(crops), config.data.root)
    return _Evidence(f"{len(crops)} people of the inputs", normalise(crops, config),
                     lambda candidate, name: guard.guard_on_crops(
                         reference, candidate, name, config, crops), from_inputs=True)
