"""The library side of ``evaluate.py`` (also used by training to validate).

One path for every evaluation, read top to bottom in :func:`run_evaluation`:
load the model (:func:`keras_pose.inference.load_pose_model`; its config
owns the keypoint metadata) -> the evaluation config -> the box mode and
the person records (``keras_pose.data.datasets``) -> the data set's metric
(``keras_pose.evaluation.metrics.metric_for``) -> the inference path over
the records -> the metric -> the report.

Box mode (COCO-format sets): ground-truth boxes or person detections. With
``test.use_gt_boxes=None`` (the default of evaluate.py) the reference
detection file is used when it exists, else ground-truth boxes; the table
header and metrics.json always say which. The official yaml files evaluate
with ground-truth boxes, which gives about 2 AP more than the published
(detected-box) numbers.

Output directory: ``metrics.json`` (every number and how it was obtained),
the benchmark's prediction file (``results/keypoints_<split>_results.json``
or ``pred.mat``) and ``table.md``; an earlier evaluation of anything else
there is moved into ``earlier.<n>/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from keras_pose import log as logging
from keras_pose.configs import ExperimentConfig, config_to_dict
from keras_pose.configs.cli import build_config, checkpoint_config
from keras_pose.digests import files_digest, model_files_digest, sha256_of
from keras_pose.errors import UserError
from keras_pose.special_files import file_problem
from keras_pose.files import first_free_name, write_atomically, write_json
from keras_pose.output_streams import shown

METRICS_FILE = "metrics.json"


class EvaluationError(UserError, ValueError):
    """An evaluation that cannot run as asked; the message says why."""


def arch_name(config: ExperimentConfig) -> str:
    """The official code's ``full_arch_name``, e.g.
    ``256x192_pose_resnet_50_d256d256d256``."""
    width, height = config.model.image_size
    deconv = "".join(f"d{f}" for f in config.model.deconv_filters)
    return f"{height}x{width}_pose_resnet_{config.model.depth}_{deconv}"


def table_title(config: ExperimentConfig, box_mode: Any, flip: bool,
                engine: Optional[str] = None) -> str:
    """The line above the table: data set, split, boxes, flip test (and the
    runtime and precision that ran, e.g. ``openvino int8``)."""
    name = config.data.dataset
    if name == "custom":
        name = f"{os.path.basename(os.path.normpath(config.data.root))} (custom)"
    parts = [f"{name} {config.data.test_set}"]
    if name == "mpii":
        parts.append("PCKh@0.5 (Mean@0.1 is the official column, taken at "
                     "threshold 0.11; PCKh@0.1 at 0.10)")
    elif box_mode is not None:
        parts.append(box_mode.describe())
    parts.append("flip test" if flip else "no flip test")
    if engine:
        parts.append(engine)
    # A file name that is not UTF-8 (a --detections file's) escaped: table.md
    # is UTF-8, and its write failed after the whole evaluation.
    return shown(" | ".join(parts))


# Data fields a validation value depends on (the augmentation's do not).
_VALIDATION_DATA = ("root", "test_set", "keypoint_names", "flip_pairs", "oks_sigmas",
                    "category_ids", "box_padding", "gt_box_rule", "image_threshold")


def validation_digest(config: ExperimentConfig, box_mode: Any) -> str:
    """12 hex digits of what a validation value depends on besides the
    weights and the title's data, boxes and flip test: the decoding and
    scoring settings (``test.*``), the codec, the data's keypoints, OKS
    sigmas and boxes rules, and the contents of the annotation and
    detections files. (A resume with other OKS sigmas compared AP 0.945
    with best/'s 0.689 of the old ones, and replaced best/ with a worse
    model.)"""
    from keras_pose.data import datasets
    test = {k: v for k, v in dataclasses.asdict(config.test).items() if k != "batch_size"}
    settings = {"test": test, "codec": config.model.codec, "sigma": config.model.sigma,
                "data": {k: getattr(config.data, k) for k in _VALIDATION_DATA}}
    files = [datasets.annotation_file(config, "test"),
             getattr(box_mode, "detection_file", None)]
    contents = [sha256_of(f) for f in files if f and os.path.isfile(f)]
    text = json.dumps([settings, contents], sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def evaluate(estimator: Any, records: Any, metric: Any, *, batch_size: int = 32,
             progress: bool = False) -> dict[str, float]:
    """The inference path over ``records``, measured by ``metric``.

    Returns:
      The metric's numbers plus ``num_people`` and ``num_images``.
    """
    from keras_pose.inference.records import predict_records
    predictions = predict_records(estimator, records, batch_size=batch_size,
                                  progress=progress)
    metric.reset()
    metric.update(predictions, records)
    metrics = metric.result()
    metrics["num_people"] = float(len(records))
    metrics["num_images"] = float(len(np.unique(records.image_id)))
    return metrics


def _absolute(path: Optional[str]) -> Optional[str]:
    """A path of a report, absolute: the report names the same file from
    any folder (and two reports compare by it)."""
    return os.path.abspath(path) if path else path


def metrics_report(metrics: Mapping[str, float], config: ExperimentConfig, metric: Any, *,
                   box_mode: Any, flip: bool, table: str = "",
                   info: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The content of metrics.json: the numbers and how they were obtained."""
    counts = ("num_results", "num_people", "num_images")
    report = {
        "dataset": config.data.dataset, "data_root": _absolute(config.data.root),
        "split": config.data.test_set, "experiment": config.name, "arch": arch_name(config),
        "metrics": {k: v for k, v in metrics.items() if k not in counts},
        "primary_metric": metric.primary,
        "method": metric.describe(config.test.in_vis_threshold),
        "box_mode": box_mode.name if box_mode else None,
        "detection_file": _absolute(box_mode.detection_file if box_mode else None),
        "flip_test": bool(flip),
        "shift_heatmap": bool(config.test.shift_heatmap) if flip else None,
        # DARK's record said "quarter_offset_refinement": true (its test.refine).
        "decoding": _decoding(config),
        "quarter_offset_refinement": bool(config.test.refine) and _decoding(config)["codec"]
        == "msra",
        **{k: int(metrics.get(k, 0)) for k in counts},
        "keypoint_names": list(config.data.keypoint_names),
        "flip_pairs": [list(p) for p in config.data.flip_pairs],
        "oks_sigmas": list(config.data.oks_sigmas) or None,
        "table": table, "config": config_to_dict(config),
    }
    report.update(dict(info or {}))
    return report


def _decoding(config: ExperimentConfig) -> dict[str, Any]:
    """How heatmaps were decoded: the codec, its refinement (the official
    quarter offset; DARK's modulation and Taylor step, with its kernel)."""
    from keras_pose.codec import build_codec
    codec = build_codec(config.model, config.test)
    name = config.test.decoding or config.model.codec
    refinement = ({"msra": "quarter offset", "dark": "modulation and Taylor step"}[name]
                  if config.test.refine else None)
    return {"codec": name, "refinement": refinement,
            **({"blur_kernel": codec.blur_kernel} if name == "dark" else {})}


def write_report(output_dir: str, report: Mapping[str, Any], table: str = "") -> str:
    """Writes metrics.json (and table.md) atomically; returns the path. A
    metric that is NaN (no instance of a joint to score) is null."""
    from keras_pose.json_values import nulls_for_nonfinite
    if table:
        write_atomically(os.path.join(output_dir, "table.md"), table)
    return write_json(os.path.join(output_dir, METRICS_FILE), nulls_for_nonfinite(report),
                      indent=2)


def evaluation_config(trained: ExperimentConfig, *, dataset: Optional[str] = None,
                      data_dir: Optional[str] = None, experiment: Optional[str] = None,
                      overrides: Sequence[str] = (),
                      batch_size: Optional[int] = None) -> ExperimentConfig:
    """The config of an evaluation: where the data is and how to test come
    from the flags; the model and the keypoint metadata from the checkpoint
    (``keras_pose.configs.cli.checkpoint_config``)."""
    from keras_pose.data.datasets import resolve_dataset_config
    config = build_config(dataset=dataset, data_dir=data_dir, experiment=experiment,
                          start=trained, overrides=overrides)
    config = checkpoint_config(config, trained, overrides)
    if batch_size is not None and not batch_size >= 1:  # 0 fell back to the config's.
        raise EvaluationError(f"batch_size (--batch_size) is {batch_size}: give 1 or more")
    if batch_size:
        config = config.replace(test=dataclasses.replace(config.test, batch_size=int(batch_size)))
    return resolve_dataset_config(config)


def check_data_on_disk(config: ExperimentConfig, model: str, note: str = "",
                       ground_truth: bool = False) -> None:
    """Stops, saying where the data was looked for and how to point to it,
    when the files of the split ``model`` would be evaluated on are not on
    disk (for a preset, before its weights download: about 100 MB, and with
    MPII's ``ground_truth`` file too; else its own error says where it
    comes from)."""
    from keras_pose.data import datasets
    files = [datasets.annotation_file(config, "test")]
    if config.data.dataset == "mpii" and ground_truth:
        files.append(datasets.mpii_gt_file(config))
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        problem = file_problem(missing[0]) or "does not exist"  # Or a named pipe, a folder.
        # What the folder holds instead (splits named train / val: no hint,
        # where train.py named the settings).
        splits = datasets.other_splits(config.data.root) if missing[0] == files[0] and \
            problem == "does not exist" and os.path.isdir(config.data.root) else ""
        raise EvaluationError(
            f"{missing[0]} {problem}: the {config.data.dataset} {config.data.test_set} "
            f"files to evaluate {model} on (data.root {config.data.root}: --data_dir or "
            f"--dataset chooses; layout in the README){splits}.{note}")


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """What :func:`run_evaluation` produced."""

    metrics: dict[str, float]
    table: str
    title: str
    config: ExperimentConfig
    box_mode: Any
    metrics_file: Optional[str]


def _scored_by(config: ExperimentConfig) -> str:
    """Who scores a test split's predictions (MPII has no server)."""
    return ("for MPII's authors (e-mailed; no server)" if config.data.dataset == "mpii"
            else "for the benchmark's server")


def run_evaluation(*, checkpoint: str, dataset: Optional[str] = None,
                   data_dir: Optional[str] = None, experiment: Optional[str] = None,
                   flip: Optional[bool] = None, use_gt_boxes: Optional[bool] = None,
                   detection_file: Optional[str] = None, output_dir: Optional[str] = None,
                   overrides: Sequence[str] = (), batch_size: Optional[int] = None,
                   progress: bool = True, runtime: Optional[str] = None,
                   precision: Optional[str] = None,
                   settings: Optional[ExperimentConfig] = None) -> EvaluationResult:
    """evaluate.py: loads everything, evaluates, writes the outputs.

    ``runtime`` / ``precision``: evaluate the checkpoint through its export
    (``keras_pose.export.cache.runtime_model``, calibrated and guarded on the
    evaluated data set). ``settings``: a config whose ``data`` and ``test``
    sections replace the checkpoint's (train.py's final evaluation: the
    run's own, as given to the command that finished it).

    Raises:
      EvaluationError, CheckpointError, ConfigError, DatasetError,
      AnnotationError, ImageReadError...: each names the file and the problem.
    """
    from keras_pose import presets
    preset = presets.is_preset(checkpoint) and not os.path.exists(checkpoint)
    if not os.path.exists(checkpoint) and not preset:  # Before the heavy imports.
        raise EvaluationError(presets.missing_message(checkpoint))
    from keras_pose.data import datasets
    from keras_pose.evaluation.metrics import check_records, metric_for
    from keras_pose.inference import load_pose_model

    config_args = dict(dataset=dataset, data_dir=data_dir, experiment=experiment,
                       overrides=overrides, batch_size=batch_size)
    if preset and not presets.is_cached(checkpoint):
        check_data_on_disk(evaluation_config(presets.preset_config(checkpoint), **config_args),
                           f"preset {checkpoint}", " Checked before downloading the weights.",
                           ground_truth=True)
    pose_model = load_pose_model(checkpoint)
    config = evaluation_config(pose_model.config, **config_args)
    if settings is not None:
        config = config.replace(data=settings.data, test=settings.test)
    check_data_on_disk(config, pose_model.path)
    # The files as loaded: hashed after the inference, a best/ that train.py
    # replaced meanwhile was recorded as the model evaluated.
    model_sha256 = _model_digest(pose_model) if output_dir else None
    if runtime is not None or precision is not None:  # Refused before the data is read.
        from keras_pose.export.cache import check_request, runtime_model
        check_request(pose_model, runtime, precision)
    flip = config.test.flip_test if flip is None else bool(flip)
    box_mode = datasets.resolve_box_mode(config, use_gt_boxes, detection_file)
    metric = metric_for(config)  # Loads and checks the ground truth first.
    if not output_dir and datasets.is_test_split(config):
        raise EvaluationError(
            f"split {config.data.test_set} has no ground truth (a test split): its predictions "
            f"are the only result, {_scored_by(config)}; give --output_dir to keep them")
    if output_dir:
        check_output_names(output_dir)  # Not after an hour of inference.
    owner = f"checkpoint {pose_model.path}"
    records = datasets.load_records(config, "test", box_mode, owner)
    datasets.check_metadata(config, records, owner)
    check_records(metric, records, config)
    if runtime is not None or precision is not None:  # The data set evaluated here, checked
        # first (an export on other keypoints was cached), calibrates and guards.
        pose_model = runtime_model(pose_model, runtime, precision, data_config=config)
        model_sha256 = _model_digest(pose_model) if output_dir else None  # The export's.
    truth_sha256 = _ground_truth_digest(config) if output_dir else None  # As read.
    logging.info("Evaluating %s on %d people of %s %s with %s, %s.", pose_model.path,
                 len(records), config.data.dataset, config.data.test_set, box_mode.describe(),
                 "flip test" if flip else "no flip test")
    started = time.time()
    estimator = dataclasses.replace(pose_model, config=config).estimator(flip)
    metrics = evaluate(estimator, records, metric, batch_size=config.test.batch_size,
                       progress=progress)
    title = table_title(config, box_mode, flip, f"{pose_model.runtime} {pose_model.precision}")
    table = metric.table(metrics, arch_name(config), title)
    metrics_file = None
    if output_dir:
        info = _model_info(checkpoint, preset, pose_model, model_sha256, box_mode)
        info.update(seconds=round(time.time() - started, 3), ground_truth_sha256=truth_sha256)
        report = metrics_report(metrics, config, metric, box_mode=box_mode, flip=flip,
                                table=table, info=info)
        metrics_file = write_outputs(output_dir, metric, report, table)
    return EvaluationResult(metrics, table, title, config, box_mode, metrics_file)


# What write_outputs puts in an output directory (the metric's file is
# results/... for COCO-format sets, pred.mat for MPII).
OUTPUT_NAMES = (METRICS_FILE, "table.md", "results", "pred.mat")
# What makes two evaluations the same one (a re-run replaces its own
# outputs): the model as run, the data, the boxes, and every test.* setting
# but the batch size.
SAME_EVALUATION = ("checkpoint_resolved", "runtime", "precision", "dataset", "data_root", "split",
                   "box_mode", "detection_file", "flip_test",
                   # The files' contents: a model retrained (or a detections file or
                   # the ground truth edited) at the same path is another evaluation.
                   "model_sha256", "detection_file_sha256", "ground_truth_sha256",
                   # scripts/evaluate_posetrack.py's (its reports have none of the above
                   # but the ground truth's digest, of its files).
                   "ground_truth", "predictions", "predictions_sha256")


def check_output_names(output_dir: str) -> None:
    """Refuses, before any inference, an ``output_dir`` where an output's
    name is taken by the other kind (a file named ``results``, a folder
    named ``metrics.json``): the write failed after the whole evaluation."""
    for name in OUTPUT_NAMES:
        path = os.path.join(output_dir, name)
        folder = name == "results"
        if os.path.exists(path) and os.path.isdir(path) != folder:
            raise EvaluationError(
                f"{path} is a {'file' if folder else 'folder'} where the evaluation writes its "
                f"{'folder' if folder else 'file'} {name}: move or rename it, or give another "
                "--output_dir")


def _model_digest(pose_model: Any) -> str:
    """:func:`model_files_digest` of the model as run: a checkpoint's files
    but its cache of exports (``exports/``). Was: hashed with it, so that
    after any --runtime run a plain evaluation found "the model's files
    changed" and moved the earlier results aside, and a temporary of
    another process's export could vanish as it was read
    (FileNotFoundError). A SavedModel and an export file have no such cache."""
    from keras_pose.export.cache_places import EXPORTS
    return model_files_digest(pose_model.path,
                              exclude=(EXPORTS,) if pose_model.kind == "keras" else ())


def _ground_truth_digest(config: ExperimentConfig) -> Optional[str]:
    """:func:`files_digest` of the files the split is scored against (None
    for a test split): the ground truth edited and evaluated again into the
    same folder replaced the earlier results in silence."""
    from keras_pose.evaluation.metrics import ground_truth_files
    files = ground_truth_files(config)
    return files_digest([(os.path.basename(f), f) for f in files]) if files else None


def _model_info(checkpoint: str, preset: bool, pose_model: Any, model_sha256: str,
                box_mode: Any) -> dict[str, Any]:
    """The report's record of the model evaluated, its files' and the
    detections file's SHA-256."""
    detection_file = getattr(box_mode, "detection_file", None)
    return {"checkpoint": checkpoint if preset else os.path.abspath(checkpoint),
            "preset": checkpoint if preset else None,
            "checkpoint_resolved": os.path.abspath(pose_model.path),
            "checkpoint_kind": pose_model.kind, "runtime": pose_model.runtime,
            "precision": pose_model.precision, "model_sha256": model_sha256,
            "detection_file_sha256": sha256_of(detection_file) if detection_file else None}


def _evaluation_key(report: Mapping[str, Any]) -> dict[str, Any]:
    # Paths are compared as the reports hold them, absolute (resolved when the
    # report was made: resolving a stored relative path here took it against
    # today's folder, so other data could pass for the same evaluation).
    key = {name: report.get(name) for name in SAME_EVALUATION}
    config = report.get("config") or {}
    key.update({f"test.{k}": v for k, v in (config.get("test") or {}).items()
                if k != "batch_size"})
    key.update({f"data.{k}": v for k, v in (config.get("data") or {}).items()
                if k != "root"})  # data_root, absolute, stands for it.
    return key


def write_outputs(output_dir: str, metric: Any, report: Mapping[str, Any], table: str) -> str:
    """The metric's prediction file (none when ``metric`` is None),
    metrics.json and table.md; the path of metrics.json. An earlier evaluation of anything else in
    ``output_dir`` is kept (:func:`keep_earlier_evaluation`). When a write
    fails (a full disk), the numbers are logged first: an hour of
    inference is not lost to its last write."""
    try:
        kept = keep_earlier_evaluation(output_dir, report)
        if kept:
            logging.warning("%s held the outputs of another evaluation (%s): kept in %s",
                            output_dir, _differences(kept, report), kept)
        if metric is not None:
            metric.write(output_dir)
        return write_report(output_dir, report, table)
    except OSError:
        logging.error("The outputs could not all be written to %s; the numbers:\n%s",
                      output_dir, table or "(no ground truth)")
        raise


def _differences(directory: str, report: Mapping[str, Any]) -> str:
    """"flip_test True -> False, ...": what differs from the evaluation kept."""
    before = _earlier_report(os.path.join(directory, METRICS_FILE))
    if not isinstance(before, dict):
        return "its metrics.json is not an evaluation's"
    before, now = _compared_keys(before, report)
    return ", ".join(_DIGESTS.get(k, f"{k} {before.get(k)!r} -> {v!r}")
                     for k, v in now.items() if before.get(k) != v)


def _earlier_report(path: str) -> Any:
    """The JSON of an earlier metrics.json; None when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError.
        return None


# The digests of SAME_EVALUATION, as a difference is said.
_DIGESTS = {"model_sha256": "the model's files changed",
            "detection_file_sha256": "the detections file changed",
            "ground_truth_sha256": "the ground truth changed",
            "predictions_sha256": "the prediction files changed"}


def _compared_keys(earlier: Mapping[str, Any], report: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The :func:`_evaluation_key` of ``earlier`` (a metrics.json) and of
    ``report``, without the digests an earlier version did not record."""
    before, now = _evaluation_key(earlier), _evaluation_key(report)
    for name in _DIGESTS:
        if name not in earlier:
            before.pop(name), now.pop(name)
    before.update({k: v for k, v in _unrecorded(earlier, report).items() if k in now})
    return before, now


def _unrecorded(earlier: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    """The settings an earlier version's metrics.json does not hold, as that
    version ran them: its runtime tf at fp32, this version's defaults for
    test.* and data.* (was: "another evaluation (runtime None -> 'tf',
    precision None -> 'fp32', test.decoding None -> '' ...)" for the same
    one, its outputs moved aside)."""
    from keras_pose.configs import DataConfig, TestConfig
    # Only what this report records and the earlier one does not (a
    # PoseTrack evaluation records neither runtime nor config).
    unrecorded = {k: v for k, v in (("runtime", "tf"), ("precision", "fp32"))
                  if k in report and k not in earlier}
    config, ours = earlier.get("config") or {}, report.get("config") or {}
    for prefix, section in (("test", TestConfig), ("data", DataConfig)):
        held, recorded = config.get(prefix) or {}, ours.get(prefix) or {}
        defaults = dataclasses.asdict(section())
        unrecorded.update({f"{prefix}.{name}": json.loads(json.dumps(defaults[name]))
                           for name in recorded if name not in held and name in defaults})
    return unrecorded


def _same_evaluation(earlier: Mapping[str, Any], report: Mapping[str, Any]) -> bool:
    """Whether ``earlier`` records the evaluation ``report`` makes."""
    before, now = _compared_keys(earlier, report)
    return before == now


def keep_earlier_evaluation(output_dir: str, report: Mapping[str, Any]) -> Optional[str]:
    """Moves the outputs of an earlier evaluation in ``output_dir`` into
    ``output_dir/earlier.<n>/`` (the first free n; returned) unless its
    metrics.json records the same evaluation as ``report`` (same model,
    runtime, precision, data, boxes and test settings: a re-run replaces
    its own outputs). Before, a second evaluation (ground-truth boxes, then
    detections) replaced the first's files in silence."""
    path = os.path.join(output_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return None
    earlier = _earlier_report(path)
    # A metrics.json that is not one of ours is kept too: it was overwritten.
    if isinstance(earlier, dict) and _same_evaluation(earlier, report):
        return None
    kept = first_free_name(lambda n: os.path.join(output_dir, f"earlier.{n}"))
    os.makedirs(kept)
    for name in OUTPUT_NAMES:
        if os.path.exists(os.path.join(output_dir, name)):
            os.replace(os.path.join(output_dir, name), os.path.join(kept, name))
    return kept
