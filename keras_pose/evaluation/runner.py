"""The library side of ``evaluate.py`` (also used by ``train.py`` to validate).

One path for every evaluation: person records -> evaluation crops ->
network (+ flip test) -> ``HeatmapCodec.decode`` -> data-set evaluation:

- COCO-format sets (``coco``, ``synthetic``, custom): rescoring, OKS NMS per
  image, a COCO results JSON, then pycocotools' COCOeval with the data set's
  OKS sigmas (none for test splits such as test-dev: results only).
- MPII: PCKh against ``annot/gt_valid.mat`` and ``pred.mat`` (for ``test``
  splits: ``pred.mat`` only).

Box mode (COCO-format sets): ground-truth boxes or person detections. With
``test.use_gt_boxes=None`` (the default) the reference detection file is used
when it exists, else ground-truth boxes; the table header and metrics.json
always say which. The official yaml files silently evaluate with ground-truth
boxes, which gives about 2 AP more than the published (detected-box) numbers.

Output directory: ``metrics.json`` (every number of the table and how it was
obtained), ``results/keypoints_<split>_results.json`` (COCO) or
``pred.mat`` (MPII), and ``table.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
from absl import logging

from keras_pose.configs import (ExperimentConfig, apply_overrides,
                                config_to_dict, default_experiment,
                                get_experiment, load_config)
from keras_pose.evaluation import coco as coco_eval
from keras_pose.evaluation import mpii as mpii_eval

METRICS_FILE = "metrics.json"


class EvaluationError(ValueError):
    """An evaluation that cannot run as asked; the message says why."""


# ---------------------------------------------------------------------------
# Where things are.


def _under_root(config: ExperimentConfig, path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(config.data.root, path)


def is_mpii(config: ExperimentConfig) -> bool:
    """True when the data set is evaluated with PCKh (MPII)."""
    return config.data.dataset == "mpii"


def is_test_split(config: ExperimentConfig) -> bool:
    """A split without public ground truth (COCO test-dev, MPII test), as the
    reference decides: its name contains "test"."""
    return "test" in config.data.test_set


def coco_annotation_file(config: ExperimentConfig) -> str:
    """The ground truth of a COCO-format evaluation split (reference layout:
    ``annotations/person_keypoints_<split>.json``; ``image_info_<split>.json``
    for test splits)."""
    prefix = "image_info" if is_test_split(config) else "person_keypoints"
    return os.path.join(config.data.root, "annotations",
                        f"{prefix}_{config.data.test_set}.json")


def mpii_gt_file(config: ExperimentConfig) -> str:
    """The MPII ``gt_valid.mat`` of the config (``test.gt_mat``)."""
    return _under_root(config, config.test.gt_mat)


@dataclasses.dataclass(frozen=True)
class BoxMode:
    """Which person boxes an evaluation uses.

    Attributes:
      use_gt_boxes: True for ground-truth boxes.
      detection_file: the detections file (detected boxes), else None.
    """

    use_gt_boxes: bool
    detection_file: Optional[str] = None

    @property
    def name(self) -> str:
        return "ground_truth" if self.use_gt_boxes else "detected"

    def describe(self) -> str:
        if self.use_gt_boxes:
            return "ground-truth boxes"
        return f"detected boxes ({self.detection_file})"


def resolve_box_mode(config: ExperimentConfig,
                     use_gt_boxes: Optional[bool] = None,
                     detection_file: Optional[str] = None) -> BoxMode:
    """Decides between ground-truth and detected boxes.

    Precedence: an explicit ``detection_file``, then ``use_gt_boxes``, then
    ``config.test.use_gt_boxes`` (None: the config's detection file when it
    exists, else ground truth). MPII always uses its annotated people.

    Raises:
      EvaluationError: for both a detection file and ground-truth boxes, or a
        detection file that does not exist.
    """
    if is_mpii(config):
        if detection_file:
            raise EvaluationError("MPII is evaluated on its annotated people; "
                                  "--detections does not apply")
        return BoxMode(True)
    if detection_file:
        if use_gt_boxes:
            raise EvaluationError(
                "give either ground-truth boxes or a detections file, not both")
        if not os.path.isfile(detection_file):
            raise EvaluationError(f"detections file {detection_file} does not exist")
        return BoxMode(False, detection_file)
    if use_gt_boxes is None:
        use_gt_boxes = config.test.use_gt_boxes
    default_file = _under_root(config, config.test.detection_file)
    if use_gt_boxes:
        return BoxMode(True)
    if use_gt_boxes is None:
        if config.test.detection_file and os.path.isfile(default_file):
            return BoxMode(False, default_file)
        logging.info("No detection file at %s: evaluating with ground-truth boxes.",
                     default_file)
        return BoxMode(True)
    if not os.path.isfile(default_file):
        raise EvaluationError(
            f"test.use_gt_boxes is false but the detections file {default_file} "
            "does not exist (set test.detection_file or use ground-truth boxes)")
    return BoxMode(False, default_file)


def arch_name(config: ExperimentConfig) -> str:
    """The official code's ``full_arch_name``, e.g.
    ``256x192_pose_resnet_50_d256d256d256``."""
    width, height = config.model.image_size
    deconv = "".join(f"d{f}" for f in config.model.deconv_filters)
    return f"{height}x{width}_pose_resnet_{config.model.depth}_{deconv}"


# ---------------------------------------------------------------------------
# Evaluation of predictions.


def evaluate_predictions(coords: np.ndarray, scores: np.ndarray, records: Any,
                         config: ExperimentConfig,
                         output_dir: Optional[str] = None,
                         coco_gt: Any = None) -> dict[str, float]:
    """Evaluates decoded predictions of every record.

    Args:
      coords: (N, K, 2) joints in original-image pixels, record order.
      scores: (N, K) heatmap maxima.
      records: the ``PersonRecords`` the predictions are for.
      config: the experiment (data set, test settings).
      output_dir: where the results JSON / pred.mat go (None: not written).
      coco_gt: an already loaded pycocotools COCO object (else loaded from
        :func:`coco_annotation_file`).

    Returns:
      COCO-format: the ten COCOeval numbers (``"AP"`` first) and
      ``"num_results"``; MPII: the PCKh columns (``"Mean"`` primary). Test
      splits (no ground truth): only ``"num_results"``.
    """
    if is_mpii(config):
        return _evaluate_mpii(coords, records, config, output_dir)
    return _evaluate_coco(coords, scores, records, config, output_dir, coco_gt)


def _evaluate_coco(coords, scores, records, config, output_dir, coco_gt):
    sigmas = config.data.oks_sigmas or None
    kept, person_scores = coco_eval.rescore_and_nms(
        records.image_id, coords, scores, records.score, records.area,
        in_vis_threshold=config.test.in_vis_threshold,
        oks_threshold=config.test.oks_threshold, sigmas=sigmas)
    logging.info("OKS NMS kept %d of %d people.", len(kept), len(records))
    test_split = is_test_split(config)
    category_id = 1
    if not test_split:
        if coco_gt is None:
            coco_gt = coco_eval.load_coco_gt(coco_annotation_file(config))
        category_id = coco_eval.keypoint_category_id(coco_gt, coords.shape[1])
    results = coco_eval.make_results(
        records.image_id[kept], coords[kept], scores[kept], person_scores[kept],
        category_id=category_id, centers=records.center[kept],
        scales=records.scale[kept])
    if output_dir:
        path = os.path.join(output_dir, "results",
                            f"keypoints_{config.data.test_set}_results.json")
        coco_eval.write_results(path, results)
        logging.info("Wrote %d results to %s", len(results), path)
    metrics: dict[str, float] = {}
    if not test_split:
        metrics.update(coco_eval.run_cocoeval(coco_gt, results, sigmas))
    metrics["num_results"] = float(len(results))
    return metrics


def _evaluate_mpii(coords, records, config, output_dir):
    if output_dir:
        mpii_eval.write_pred_mat(os.path.join(output_dir, "pred.mat"), coords)
    metrics: dict[str, float] = {}
    if not is_test_split(config):
        metrics.update(mpii_eval.evaluate_pckh(coords, mpii_gt_file(config)))
    metrics["num_results"] = float(len(coords))
    return metrics


def format_metrics_table(metrics: Mapping[str, float], config: ExperimentConfig,
                         title: str = "") -> str:
    """The official table of the data set's metrics (empty for test splits)."""
    if is_mpii(config):
        if "Mean" not in metrics:
            return ""
        return mpii_eval.format_mpii_table(metrics, arch_name(config), title)
    if "AP" not in metrics:
        return ""
    return coco_eval.format_coco_table(metrics, arch_name(config), title)


def table_title(config: ExperimentConfig, box_mode: Optional[BoxMode],
                flip: bool) -> str:
    """The line above the table: data set, split, boxes and flip test."""
    name = config.data.dataset
    if name == "custom":
        name = f"{os.path.basename(os.path.normpath(config.data.root))} (custom)"
    parts = [f"{name} {config.data.test_set}"]
    if is_mpii(config):
        parts.append("PCKh@0.5 (Mean@0.1 is the official column, taken at "
                     "threshold 0.11; PCKh@0.1 at 0.10)")
    elif box_mode is not None:
        parts.append(box_mode.describe())
    parts.append("flip test" if flip else "no flip test")
    return " | ".join(parts)


def check_keypoints(model_keypoints: int, records: Any, source: str) -> None:
    """A model whose K differs from the data set's is a clear error."""
    data_keypoints = int(records.num_keypoints)
    if model_keypoints != data_keypoints:
        raise EvaluationError(
            f"{source} predicts {model_keypoints} keypoints but the data set has "
            f"{data_keypoints}: the checkpoint was trained for another data set")


def evaluate_model(model: Any, config: ExperimentConfig, records: Any,
                   flip: Optional[bool] = None,
                   output_dir: Optional[str] = None, *,
                   progress: bool = False,
                   box_mode: Optional[BoxMode] = None,
                   coco_gt: Any = None,
                   info: Optional[Mapping[str, Any]] = None) -> dict[str, float]:
    """Evaluates a model on person records, as evaluate.py does.

    Args:
      model: a Keras model, or a callable (B, h, w, 3) normalised crops ->
        (B, H, W, K) heatmaps (e.g. a SavedModel signature wrapper).
      config: the experiment; ``model`` (input size, normalisation),
        ``data`` (flip pairs, sigmas, split) and ``test`` are used.
      records: ``PersonRecords`` of the evaluation split.
      flip: flip test; None: ``config.test.flip_test``.
      output_dir: if given, results JSON / pred.mat, ``metrics.json`` and
        ``table.md`` are written there.
      progress: show a progress bar.
      box_mode: which boxes the records came from (for the reports).
      coco_gt: an already loaded pycocotools COCO object (saves reloading
        the annotation file at every validation).
      info: extra fields for metrics.json (checkpoint, ...).

    Returns:
      The metrics: the ten COCO numbers (primary ``"AP"``) for COCO-format
      sets, the PCKh columns (primary ``"Mean"``) for MPII, and
      ``"num_results"``; plus ``"num_people"`` and ``"num_images"``.
    """
    import tensorflow as tf

    from keras_pose.codec import HeatmapCodec
    from keras_pose.data.pipeline import build_eval_dataset
    from keras_pose.evaluation import inference

    flip = config.test.flip_test if flip is None else bool(flip)
    num_people = len(records)
    if num_people == 0:
        source = box_mode.describe() if box_mode else "the records"
        raise EvaluationError(f"no people to evaluate in {source}")
    if hasattr(model, "output_shape"):
        check_keypoints(int(model.output_shape[-1]), records, "the model")
        model_fn = inference.keras_model_fn(model)
    else:
        model_fn = model
    start = time.time()
    dataset = build_eval_dataset(
        records, image_size=tuple(config.model.image_size),
        color_order=config.model.color_order, mean=tuple(config.model.mean),
        std=tuple(config.model.std), batch_size=config.test.batch_size)
    heatmap_fn = inference.make_heatmap_fn(
        model_fn, flip=flip,
        flip_pairs=config.data.flip_pairs or getattr(records, "flip_pairs", ()),
        shift_heatmap=config.test.shift_heatmap)
    codec = HeatmapCodec.from_model_config(config.model)
    try:
        predictions = inference.predict_dataset(
            heatmap_fn, dataset, num_people, codec, refine=config.test.refine,
            batch_size=config.test.batch_size, progress=progress,
            expected_keypoints=int(records.num_keypoints))
    except tf.errors.InvalidArgumentError as e:
        bad = find_undecodable_images(records.image_path)
        if not bad:
            raise
        raise EvaluationError(
            f"{len(bad)} evaluation image(s) cannot be decoded (corrupt or not "
            f"an image): {', '.join(bad[:5])}") from e
    inference_seconds = time.time() - start
    metrics = evaluate_predictions(predictions.coords, predictions.scores,
                                   records, config, output_dir, coco_gt)
    metrics["num_people"] = float(num_people)
    metrics["num_images"] = float(len(np.unique(records.image_id)))
    title = table_title(config, box_mode, flip)
    table = format_metrics_table(metrics, config, title)
    if table:
        logging.info("\n%s", table)
    if output_dir:
        report = metrics_report(metrics, config, box_mode=box_mode, flip=flip,
                                table=table, info=info,
                                seconds=time.time() - start,
                                inference_seconds=inference_seconds)
        write_metrics(output_dir, report, table)
    return metrics


def find_undecodable_images(paths: Sequence[str], limit: int = 5) -> list[str]:
    """The first ``limit`` image files TF cannot decode (as the evaluation
    pipeline decodes them). Only run after a decode failure: it reads every
    image until it has found ``limit``."""
    import tensorflow as tf
    bad = []
    for path in dict.fromkeys(str(p) for p in paths):
        try:
            tf.io.decode_image(tf.io.read_file(path), channels=3,
                               expand_animations=False)
        except (tf.errors.OpError, ValueError):
            bad.append(path)
            if len(bad) >= limit:
                break
    return bad


def metrics_report(metrics: Mapping[str, float], config: ExperimentConfig, *,
                   box_mode: Optional[BoxMode], flip: bool, table: str = "",
                   info: Optional[Mapping[str, Any]] = None,
                   seconds: Optional[float] = None,
                   inference_seconds: Optional[float] = None) -> dict[str, Any]:
    """The content of metrics.json: the numbers and how they were obtained."""
    mpii = is_mpii(config)
    if is_test_split(config):
        method = "no ground truth for a test split: predictions written only"
    elif mpii:
        method = ("PCKh as the official lib/dataset/mpii.py: head size 0.6 x head "
                  "box diagonal, threshold 0.5, Mean pooled over all joints but "
                  "pelvis and thorax weighted by visible counts; 'Mean@0.1' is the "
                  "official column, computed at threshold 0.11; 'PCKh@0.1' at 0.10")
    else:
        method = ("pycocotools COCOeval('keypoints') after the official rescoring "
                  f"(box score x mean keypoint score > {config.test.in_vis_threshold}) "
                  f"and greedy OKS NMS per image at {config.test.oks_threshold} with "
                  "the padded crop area")
    report: dict[str, Any] = {
        "dataset": config.data.dataset,
        "data_root": config.data.root,
        "split": config.data.test_set,
        "experiment": config.name,
        "arch": arch_name(config),
        "metrics": {k: v for k, v in metrics.items()
                    if k not in ("num_results", "num_people", "num_images")},
        "primary_metric": "Mean" if mpii else "AP",
        "method": method,
        "box_mode": box_mode.name if box_mode else None,
        "detection_file": box_mode.detection_file if box_mode else None,
        "flip_test": bool(flip),
        "shift_heatmap": bool(config.test.shift_heatmap) if flip else None,
        "quarter_offset_refinement": bool(config.test.refine),
        "num_images": int(metrics.get("num_images", 0)),
        "num_people": int(metrics.get("num_people", 0)),
        "num_results": int(metrics.get("num_results", 0)),
        "oks_sigmas": None if mpii else list(config.data.oks_sigmas or
                                             coco_eval.COCO_OKS_SIGMAS),
        "table": table,
        "seconds": None if seconds is None else round(seconds, 3),
        "inference_seconds": (None if inference_seconds is None
                              else round(inference_seconds, 3)),
        "config": config_to_dict(config),
    }
    report.update(dict(info or {}))
    return report


def write_metrics(output_dir: str, report: Mapping[str, Any], table: str = "") -> str:
    """Writes metrics.json (and table.md) atomically; returns the path."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, METRICS_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    if table:
        with open(os.path.join(output_dir, "table.md"), "w") as f:
            f.write(table)
    return path


# ---------------------------------------------------------------------------
# Checkpoints and configs for evaluate.py.


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A network ready for evaluation.

    Attributes:
      model: a Keras model or a callable crops -> heatmaps.
      config: the config stored with the checkpoint (None if none).
      kind: "keras" or "saved_model".
      path: the resolved checkpoint path.
      num_keypoints: K of the network's output.
    """

    model: Any
    config: Optional[ExperimentConfig]
    kind: str
    path: str
    num_keypoints: Optional[int]


def load_saved_model_fn(path: str) -> tuple[Callable, Optional[ExperimentConfig]]:
    """The ``heatmaps`` signature of an exported SavedModel and its config
    (``assets/config.json``)."""
    import tensorflow as tf
    from keras_pose.checkpoint import CheckpointError
    try:
        loaded = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as e:
        raise CheckpointError(f"{path} is not a loadable SavedModel: {e}") from e
    if "heatmaps" not in loaded.signatures:
        raise CheckpointError(
            f"SavedModel {path} has no 'heatmaps' signature (has "
            f"{sorted(loaded.signatures)}); export it with keras_pose.export")
    signature = loaded.signatures["heatmaps"]
    input_names = list(signature.structured_input_signature[1])
    if len(input_names) != 1:
        raise CheckpointError(
            f"SavedModel {path}: the 'heatmaps' signature takes {input_names}, "
            "expected one image input")
    input_name = input_names[0]

    def model_fn(images):
        outputs = signature(**{input_name: images})
        if isinstance(outputs, Mapping):
            outputs = outputs["heatmaps"] if "heatmaps" in outputs else next(
                iter(outputs.values()))
        return outputs

    model_fn.saved_model = loaded  # Keeps the loaded object alive.
    config_path = os.path.join(path, "assets", "config.json")
    config = load_config(config_path) if os.path.isfile(config_path) else None
    return model_fn, config


def load_checkpoint(path: str) -> LoadedModel:
    """Loads a checkpoint written by train.py, a model directory or a
    SavedModel, with the config stored beside it.

    Raises:
      keras_pose.checkpoint.CheckpointError: naming the path and the problem.
    """
    from keras_pose import checkpoint as ckpt
    resolved = ckpt.resolve_checkpoint(path)
    if resolved.kind == "saved_model":
        model_fn, config = load_saved_model_fn(resolved.path)
        k = config.model.num_keypoints if config else None
        return LoadedModel(model_fn, config, "saved_model", resolved.path, k)
    model, config = ckpt.load_model(resolved.path)
    return LoadedModel(model, config, "keras", resolved.path,
                       int(model.output_shape[-1]))


def _same_dataset(config: ExperimentConfig, dataset: str) -> bool:
    if dataset in ("coco", "mpii", "synthetic"):
        return config.data.dataset == dataset
    return (config.data.dataset == "custom"
            and os.path.basename(os.path.normpath(config.data.root)) == dataset)


def build_eval_config(*, dataset: Optional[str] = None,
                      data_dir: Optional[str] = None,
                      experiment: Optional[str] = None,
                      checkpoint_config: Optional[ExperimentConfig] = None,
                      overrides: Sequence[str] = (),
                      batch_size: Optional[int] = None) -> ExperimentConfig:
    """The config of an evaluation run.

    Start: ``experiment`` if named, else the checkpoint's config, else the
    data set's default experiment. ``dataset`` (when it differs from the
    start's) brings that data set's default data and test sections;
    ``data_dir`` sets ``data.root``; then ``--set`` overrides and
    ``batch_size``. The checkpoint's model section always wins last: the
    network must be rebuilt exactly as trained.
    """
    if experiment:
        config = get_experiment(experiment)
    elif checkpoint_config is not None:
        config = checkpoint_config
    elif dataset:
        config = default_experiment(dataset)
    else:
        raise EvaluationError("give --dataset, --experiment or a checkpoint with "
                              "a config.json")
    if dataset and not _same_dataset(config, dataset):
        default = default_experiment(dataset)
        config = config.replace(data=default.data, test=default.test)
    if data_dir:
        config = config.replace(data=dataclasses.replace(config.data, root=data_dir))
    config = apply_overrides(config, list(overrides))
    if batch_size:
        config = config.replace(test=dataclasses.replace(config.test,
                                                         batch_size=int(batch_size)))
    if checkpoint_config is not None:
        if config.model != checkpoint_config.model:
            logging.warning("Using the checkpoint's model section; overrides of "
                            "model.* are ignored for evaluation.")
        config = config.replace(model=checkpoint_config.model)
    return config


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """What :func:`run_evaluation` produced."""

    metrics: dict[str, float]
    table: str
    title: str
    config: ExperimentConfig
    box_mode: BoxMode
    metrics_file: Optional[str]


def run_evaluation(*, checkpoint: str, dataset: Optional[str] = None,
                   data_dir: Optional[str] = None,
                   experiment: Optional[str] = None,
                   flip: Optional[bool] = None,
                   use_gt_boxes: Optional[bool] = None,
                   detection_file: Optional[str] = None,
                   output_dir: Optional[str] = None,
                   overrides: Sequence[str] = (),
                   batch_size: Optional[int] = None,
                   progress: bool = True) -> EvaluationResult:
    """evaluate.py: loads everything, evaluates, writes the outputs.

    Raises:
      EvaluationError, CheckpointError, ConfigError, GroundTruthError or the
      readers' errors: each names the file and the problem.
    """
    if not os.path.exists(checkpoint):  # Before the heavy imports.
        raise EvaluationError(f"checkpoint {checkpoint} does not exist")
    from keras_pose.data.datasets import load_records, resolve_dataset_config

    loaded = load_checkpoint(checkpoint)
    config = build_eval_config(dataset=dataset, data_dir=data_dir,
                               experiment=experiment,
                               checkpoint_config=loaded.config,
                               overrides=overrides, batch_size=batch_size)
    if loaded.config is None:
        logging.warning("Checkpoint %s carries no config.json: the model is "
                        "assumed to expect experiment %r's input.", loaded.path,
                        config.name)
    config = resolve_dataset_config(config)
    data_k = len(config.data.keypoint_names) or config.model.num_keypoints
    if loaded.config is not None:  # resolve_dataset_config may refill model.K
        config = config.replace(model=loaded.config.model)
    if loaded.num_keypoints is not None and loaded.num_keypoints != data_k:
        raise EvaluationError(
            f"checkpoint {loaded.path} predicts {loaded.num_keypoints} keypoints "
            f"but the data set {config.data.dataset} ({config.data.root}) has "
            f"{data_k}: the checkpoint was trained for another data set")
    flip = config.test.flip_test if flip is None else bool(flip)
    box_mode = resolve_box_mode(config, use_gt_boxes, detection_file)
    # Fail fast on missing ground truth, before running the network.
    coco_gt = None
    if is_mpii(config):
        if not is_test_split(config):
            mpii_eval.load_gt_mat(mpii_gt_file(config))
    elif not is_test_split(config):
        coco_gt = coco_eval.load_coco_gt(coco_annotation_file(config))
    records = load_records(config, "test", use_gt_boxes=box_mode.use_gt_boxes,
                           detection_file=box_mode.detection_file)
    model_k = loaded.num_keypoints
    if model_k is not None:
        check_keypoints(model_k, records, f"checkpoint {loaded.path}")
    if not len(records):
        raise EvaluationError(
            f"no people to evaluate: {box_mode.describe()} gave no person of "
            f"{config.data.dataset} {config.data.test_set}")
    logging.info("Evaluating %s on %d people of %s %s with %s, %s.",
                 loaded.path, len(records), config.data.dataset,
                 config.data.test_set, box_mode.describe(),
                 "flip test" if flip else "no flip test")
    info = {"checkpoint": os.path.abspath(checkpoint),
            "checkpoint_resolved": os.path.abspath(loaded.path),
            "checkpoint_kind": loaded.kind}
    metrics = evaluate_model(loaded.model, config, records, flip=flip,
                             output_dir=output_dir, progress=progress,
                             box_mode=box_mode, coco_gt=coco_gt, info=info)
    title = table_title(config, box_mode, flip)
    table = format_metrics_table(metrics, config, title)
    metrics_file = os.path.join(output_dir, METRICS_FILE) if output_dir else None
    return EvaluationResult(metrics, table, title, config, box_mode, metrics_file)
