"""The PoseTrack metric: per-joint AP and MOTA pooled over sequences as
poseval (``evaluateAP.py``, ``evaluateTracking.py``), ``PoseTrackMetric``
and poseval's tables. The rules and quirks are in the package docstring.

Shapes: J = 15 joints, N scored predictions of one joint.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from keras_pose import log as logging
from keras_pose.errors import import_required
from keras_pose.evaluation.posetrack.matching import (PCKH_THRESHOLD, FrameResult,
                                                      apply_ignore_regions, evaluate_frame)
from keras_pose.evaluation.posetrack.reader import (JOINT_NAMES, NUM_JOINTS, People,
                                                    PoseTrackFormatError, Source,
                                                    check_predictions, load_sequence)
from keras_pose.files import write_json

# The columns poseval prints (eval_helpers.getCum), as joint indices.
JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (14, 12, 13),
    "Shoulder": (8, 9),
    "Elbow": (7, 10),
    "Wrist": (6, 11),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}
GROUP_NAMES: tuple[str, ...] = tuple(JOINT_GROUPS) + ("Total",)
SEQUENCES_FILE = "posetrack_sequences.json"  # What ``write`` writes.
MOT_COUNT_NAMES: tuple[str, ...] = (
    "num_misses", "num_switches", "num_false_positives", "num_objects",
    "num_detections")

_METRICS_HOST = None


def _metrics_host():
    global _METRICS_HOST
    if _METRICS_HOST is None:
        motmetrics = _motmetrics()
        _METRICS_HOST = motmetrics.metrics.create()
    return _METRICS_HOST


def _motmetrics():
    """motmetrics, or one line naming it (the tracking metrics need it)."""
    return import_required("motmetrics", "motmetrics", "PoseTrack's tracking metrics (MOTA)")


def check_ground_truth_ids(truth: People, where: str) -> None:
    """Refuses a track id given to two ground-truth people who both have
    one joint labelled (outside the ignore regions): the tracking metrics
    count ids joint by joint, and motmetrics failed on it with a KeyError.
    An id repeated among people who share no labelled joint stays legal."""
    for j in range(NUM_JOINTS):
        ids = truth.track_ids[truth.present[:, j]]
        values, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise PoseTrackFormatError(
                f"{where}: track id {values[counts > 1][0]} is given to two people with "
                f"'{JOINT_NAMES[j]}' labelled (outside the ignore regions); give each "
                "person of a frame its own track_id")


def tracking_counts(frames: Sequence[FrameResult]) -> np.ndarray:
    """(J, 6) per joint: misses, switches, false positives, objects,
    detections and summed distance of one sequence's tracking frames."""
    motmetrics = _motmetrics()

    counts = np.zeros((NUM_JOINTS, len(MOT_COUNT_NAMES) + 1))
    if not frames:
        return counts
    for j in range(NUM_JOINTS):
        acc = motmetrics.MOTAccumulator(auto_id=True)
        for frame in frames:
            acc.update(*frame.mot[j])
        values = _metrics_host().compute(acc, metrics=list(MOT_COUNT_NAMES),
                                         return_dataframe=False, name="acc")
        distance = acc.events["D"].sum()  # RAW events included, as poseval.
        counts[j, :-1] = [values[n] for n in MOT_COUNT_NAMES]
        counts[j, -1] = 0.0 if np.isnan(distance) else distance
    return counts


def average_precision(scores: np.ndarray, labels: np.ndarray,
                      num_gt: float) -> float:
    """poseval's AP in percent (computeRPC + VOCap); 0 without predictions.

    Args:
      scores: (N,) float scores of all predictions of one joint.
      labels: (N,) bool true positive.
      num_gt: number of annotated ground-truth joints.
    """
    if len(scores) == 0:
        return 0.0
    order = np.asarray(scores).argsort()[::-1]
    true_pos = np.cumsum(np.asarray(labels)[order])
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = true_pos / np.float64(num_gt)
    precision = true_pos / np.arange(1, len(order) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]) * 100)


def _mean_not_nan(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def tracking_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-joint MOTA, MOTP, Precision, Recall (J,) from summed (J, 6) counts."""
    misses, switches, false_pos, objects, detections, distance = counts.T
    objects = np.where(objects > 0, objects, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        motp = np.where(detections == 0, 0.0, 100 * (1 - distance / detections))
        total_det = np.where(false_pos + detections > 0, false_pos + detections, np.nan)
        return {
            "MOTA": 100 * (1 - (misses + switches + false_pos) / objects),
            "MOTP": motp,
            "Precision": 100 * detections / total_det,
            "Recall": 100 * detections / objects,
        }


def _grouped(prefix: str, per_joint: np.ndarray) -> dict[str, float]:
    out = {f"{prefix}/{g}": float(np.mean(per_joint[list(idx)]))
           for g, idx in JOINT_GROUPS.items()}
    out[f"{prefix}/Total"] = _mean_not_nan(per_joint)
    out.update({f"{prefix}/{n}": float(v) for n, v in zip(JOINT_NAMES, per_joint)})
    return out


class PoseTrackMetric:
    """PoseTrack AP and MOT metrics accumulated over sequences, as poseval.

    ``update`` once per sequence (ground truth, predictions: a JSON path, the
    parsed dict or a ``PoseTrackSequence``); ``result`` pools AP samples and
    tracking counts over all sequences (poseval computes one AP per joint
    over all frames and sums each sequence's accumulator counts; it does not
    average per-sequence numbers).

    Keys of ``result``: ``AP/<g>``, ``MOTA/<g>``, ``MOTP/<g>``,
    ``Precision/<g>``, ``Recall/<g>`` for g in Head, Shoulder, Elbow, Wrist,
    Hip, Knee, Ankle, Total and each of ``JOINT_NAMES``. poseval prints AP
    and MOTA per group and MOTP, Precision, Recall for Total.

    It implements the project's metric interface
    (``keras_pose.evaluation.metrics.PoseMetric``), whose ``update`` takes
    the benchmark's unit of input: here one sequence's (ground truth,
    predictions), not (``Predictions``, records). ``write`` records which
    sequences were evaluated, in order: the predictions are already files.
    """

    primary = "MOTA/Total"
    primary_name = "MOTA"
    primary_scale = 100.0  # poseval's numbers are in percent.

    def __init__(self, threshold: float = PCKH_THRESHOLD):
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        """Forgets every sequence."""
        self._scores: list[list[np.ndarray]] = [[] for _ in range(NUM_JOINTS)]
        self._labels: list[list[np.ndarray]] = [[] for _ in range(NUM_JOINTS)]
        self._num_gt = np.zeros(NUM_JOINTS)
        self._counts = np.zeros((NUM_JOINTS, len(MOT_COUNT_NAMES) + 1))
        self.num_sequences = 0
        self.num_frames = 0
        self._evaluated: list[dict[str, Any]] = []
        self._single_frame: list[str] = []  # Sequences adding no tracking frame.
        self._tracking_frames = 0

    def update(self, ground_truth: Source, predictions: Source) -> None:
        """Adds one sequence. Raises PoseTrackFormatError on malformed input."""
        gt = load_sequence(ground_truth, ground_truth=True)
        pred = load_sequence(predictions, ground_truth=False)
        check_predictions(gt, pred)
        results = []
        for i, (g, p) in enumerate(zip(gt.frames, pred.frames)):
            if len(g.people) == 0:  # Not a labelled frame for poseval.
                continue
            truth, guesses = apply_ignore_regions(g, p.people)
            check_ground_truth_ids(truth, f"{gt.name}: images[{i}]")
            results.append(evaluate_frame(truth, guesses, threshold=self.threshold))
        for r in results:
            for j in range(NUM_JOINTS):
                self._scores[j].append(r.scores[j])
                self._labels[j].append(r.labels[j])
            self._num_gt += r.num_gt
        if not results:  # Counted among the sequences, but it adds nothing: said.
            logging.warning("%s: no frame with labelled people; nothing of this sequence is "
                            "evaluated", gt.name)
        # poseval leaves the last evaluated frame out of the tracking metrics.
        self._counts += tracking_counts(results[:-1])
        self._tracking_frames += max(len(results) - 1, 0)
        if len(results) == 1:
            self._single_frame.append(gt.name)
        self.num_sequences += 1
        self.num_frames += len(results)
        self._evaluated.append({"ground_truth": gt.name, "predictions": pred.name,
                                "frames": len(results)})

    def result(self) -> dict[str, float]:
        """The metrics in percent (NaN where poseval's would be NaN)."""
        ap = np.zeros(NUM_JOINTS)
        for j in range(NUM_JOINTS):
            # Frames and sequences in order, as poseval concatenates them.
            scores = np.concatenate(self._scores[j]) if self._scores[j] else np.zeros(0)
            labels = np.concatenate(self._labels[j]) if self._labels[j] else np.zeros(0)
            ap[j] = average_precision(scores, labels.astype(bool), self._num_gt[j])
        out = _grouped("AP", ap)
        for prefix, per_joint in tracking_metrics(self._counts).items():
            out.update(_grouped(prefix, per_joint))
        self._warn_single_frames()
        return out

    def _warn_single_frames(self) -> None:
        """Sequences with one labelled frame add nothing to the tracking
        metrics (all NaN when no sequence has two): was silent."""
        single = self._single_frame
        if not single:
            return
        logging.warning(
            "%d sequence(s) have a single labelled frame (%s): the last labelled frame of each "
            "sequence is not scored for tracking (as in poseval), so a sequence needs at least "
            "2 labelled frames to count in MOTA, MOTP, precision and recall%s", len(single),
            ", ".join(single[:5]) + (" ..." if len(single) > 5 else ""),
            "" if self._tracking_frames
            else "; no sequence has 2, so MOTA, precision and recall are NaN")

    def write(self, output_dir: str) -> str:
        """Writes ``posetrack_sequences.json``: the sequences evaluated, in
        ``update`` order (ground truth, predictions, evaluated frames); the
        order matters, it breaks AP score ties. Returns its path."""
        path = os.path.join(output_dir, SEQUENCES_FILE)
        return write_json(path, self._evaluated, indent=2)

    def table(self, metrics: Mapping[str, float], arch_name: str = "",
              title: str = "") -> str:
        """poseval's two tables (``format_table``), ``title`` line above."""
        del arch_name  # poseval's tables have no architecture column.
        return (f"{title}\n\n" if title else "") + format_table(metrics)

    def describe(self, in_vis_threshold: Optional[float] = None) -> str:
        """How the numbers were obtained (for metrics.json)."""
        del in_vis_threshold  # Joints are kept or dropped by the tracker.
        return (f"poseval (PoseTrack18): PCKh@{self.threshold} with head size 0.6 x "
                "head box diagonal; per-joint AP pooled over all sequences; "
                "MOTA/MOTP/precision/recall from motmetrics accumulators per joint "
                "and sequence, counts summed over sequences, the last labelled "
                "frame of each sequence left out")


def format_table(metrics: Mapping[str, float]) -> str:
    """poseval's two tables (AP, then MOT) as markdown, one decimal."""
    def row(values):
        return "| " + " | ".join(f"{float(v):.1f}" for v in values) + " |"

    groups = list(GROUP_NAMES)
    mot_cols = [f"MOTA/{g}" for g in groups] + [
        "MOTP/Total", "Precision/Total", "Recall/Total"]
    lines = ["Average Precision (AP):", "",
             "| " + " | ".join(groups) + " |", "|---" * len(groups) + "|",
             row(metrics[f"AP/{g}"] for g in groups), "",
             "Multiple Object Tracking (MOT):", "",
             "| " + " | ".join(c.replace("/", " ") for c in mot_cols) + " |",
             "|---" * len(mot_cols) + "|",
             row(metrics[c] for c in mot_cols)]
    return "\n".join(lines) + "\n"

