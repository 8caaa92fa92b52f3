"""The accuracy guard: a lowered network (bf16, int8, another runtime) must
keep the fp32 network's COCO AP within 0.5 point.

Every candidate runs the one inference path (``TopDownEstimator`` through
``predict_records``: the same crops, flip test, decoding and rescoring) with
only the network swapped, on the same people; the data set's metric
(``metric_for``) scores each, and the keypoints are compared person by
person with the fp32 reference's.

Shapes: N people, K keypoints, h x w crops.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from keras_pose.configs import ExperimentConfig
from keras_pose.errors import UserError
from keras_pose.evaluation.metrics import metric_for
from keras_pose.inference.estimator import Network, TopDownEstimator
from keras_pose.inference.records import Predictions, predict_records

MAX_AP_DROP = 0.005  # 0.5 AP point, AP in [0, 1].


class AccuracyGuardError(UserError, RuntimeError):
    """A candidate lost more AP than allowed; the message has the table."""


@dataclasses.dataclass(frozen=True)
class GuardRow:
    """One candidate against the fp32 reference.

    Attributes:
      name: e.g. ``onnx int8``.
      ap: the metric's primary number (COCO AP in [0, 1]).
      ap_drop: reference AP - ``ap`` (positive: worse).
      mean_px: mean keypoint displacement from the reference, image pixels.
      p99_px: its 99th percentile.
      moved: fraction of keypoints displaced by more than 0.5 pixel.
    """

    name: str
    ap: float
    ap_drop: float
    mean_px: float
    p99_px: float
    moved: float


def numpy_network(fn: Callable[[np.ndarray], np.ndarray], config: ExperimentConfig) -> Network:
    """A NumPy heatmaps function (a runtime's session) as a TF network that
    ``TopDownEstimator`` can call inside its ``tf.function``.

    Args:
      fn: crops (B, h, w, 3) float32 -> heatmaps (B, H, W, K) float32.
      config: gives H, W, K for the static shape.
    """
    width, height = config.model.heatmap_size
    k = config.model.num_keypoints

    def network(images: tf.Tensor) -> tf.Tensor:
        out = tf.numpy_function(lambda x: np.asarray(fn(x), np.float32), [images], tf.float32,
                                stateful=False)
        out.set_shape([None, height, width, k])
        return out
    return network


def displacement(candidate: Predictions, reference: Predictions) -> np.ndarray:
    """(N * K,) distances in image pixels between the two keypoint sets."""
    return np.linalg.norm(candidate.keypoints - reference.keypoints, axis=-1).ravel()


def _restrict_ground_truth(metric, image_ids: np.ndarray) -> None:
    """Scores only the given images (COCO-format metrics): a guard run on a
    subset of a large split must not count the other images' people as
    missed, which would shrink every AP and hide a drop."""
    gt = getattr(metric, "coco_gt", None)
    if gt is None:
        return
    from pycocotools.coco import COCO
    keep = {int(i) for i in image_ids}
    subset = COCO()
    subset.dataset = {**gt.dataset,
                      "images": [im for im in gt.dataset["images"] if im["id"] in keep],
                      "annotations": [a for a in gt.dataset["annotations"]
                                      if a["image_id"] in keep]}
    subset.createIndex()
    metric.coco_gt = subset


def _score(metric, predictions: Predictions, records) -> float:
    metric.reset()
    metric.update(predictions, records)
    return float(metric.result()[metric.primary])


def compare_networks(reference: Network, candidates: Mapping[str, Network],
                     config: ExperimentConfig, records, *, flip: Optional[bool] = None,
                     batch_size: int = 32, subset: bool = False
                     ) -> tuple[float, list[GuardRow]]:
    """Evaluates the fp32 reference and each candidate on ``records``.

    Args:
      reference: the fp32 network (crops -> heatmaps).
      candidates: name -> network (see :func:`numpy_network` for runtimes).
      config: the checkpoint's config (metric, flip pairs, decoding).
      records: the evaluation people (``PersonRecords`` of the config's
        evaluation split, whose ground truth ``metric_for`` loads).
      flip: the flip test (None: ``test.flip_test``).
      batch_size: people per batch.
      subset: ``records`` are some images of the split: score only those
        images' ground truth (COCO-format sets).

    Returns:
      (reference AP, one :class:`GuardRow` per candidate).
    """
    def run(network: Network) -> Predictions:
        return predict_records(TopDownEstimator(network, config, flip), records,
                               batch_size=batch_size)

    metric = metric_for(config)
    if subset:
        _restrict_ground_truth(metric, records.image_id)
    expected = run(reference)
    reference_ap = _score(metric, expected, records)
    rows = []
    for name, network in candidates.items():
        got = run(network)
        ap = _score(metric, got, records)
        dist = displacement(got, expected)
        rows.append(GuardRow(name, ap, reference_ap - ap, float(dist.mean()),
                             float(np.percentile(dist, 99)), float(np.mean(dist > 0.5))))
        logging.info("accuracy guard: %s AP %.4f (fp32 %.4f), keypoints moved %.3f px on "
                     "average, 99th percentile %.3f px", name, ap, reference_ap,
                     rows[-1].mean_px, rows[-1].p99_px)
    return reference_ap, rows


def format_table(reference_ap: float, rows: list[GuardRow]) -> str:
    """A Markdown table of the comparison (AP in points, as COCO reports)."""
    lines = ["| network | AP | AP - fp32 | mean displacement (px) | 99th pct (px) "
             "| moved > 0.5 px |", "| --- | --- | --- | --- | --- | --- |",
             f"| fp32 reference | {100 * reference_ap:.2f} | | | | |"]
    lines += [f"| {r.name} | {100 * r.ap:.2f} | {0.0 - 100 * r.ap_drop:+.2f} | {r.mean_px:.3f} "
              f"| {r.p99_px:.3f} | {100 * r.moved:.1f}% |" for r in rows]
    return "\n".join(lines)


def check_guard(reference_ap: float, rows: list[GuardRow], max_drop: float = MAX_AP_DROP,
                force: bool = False) -> None:
    """Refuses candidates that lost more than ``max_drop`` AP.

    Raises:
      AccuracyGuardError: naming them, with the table (unless ``force``:
        then an error-level log says the same and the export goes on).
    """
    bad = [r for r in rows if r.ap_drop > max_drop]
    if not bad:
        return
    message = (f"accuracy guard: {', '.join(r.name for r in bad)} lost more than "
               f"{100 * max_drop:.1f} AP point against fp32:\n"
               f"{format_table(reference_ap, rows)}")
    if not force:
        raise AccuracyGuardError(message + "\n(--force_precision to export anyway)")
    logging.error("%s\nexported anyway (forced)", message)


def whole_images(records, max_people: int):
    """The people of the first images (in id order) up to about
    ``max_people``: a subset that keeps every person of each image it
    takes, so that the subset's AP is meaningful. ``max_people`` <= 0: all.

    Returns:
      (records, whether it is a subset).
    """
    if max_people <= 0 or len(records) <= max_people:
        return records, False
    ids = np.unique(records.image_id)
    counts = np.cumsum([np.sum(records.image_id == i) for i in ids])
    keep = ids[:max(1, int(np.searchsorted(counts, max_people, side="right")))]
    return records.select(np.isin(records.image_id, keep)), True
