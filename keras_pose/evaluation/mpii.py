"""MPII PCKh evaluation against the official ``annot/gt_valid.mat``.

The computation is the official code's (``lib/dataset/mpii.py`` ``evaluate``):

- predictions (0-based) + 1 are compared with ``pos_gt_src`` (1-based,
  MATLAB); a joint counts when it is visible, i.e. ``jnt_missing`` is 0;
- the normaliser is the head size: 0.6 x the diagonal of ``headboxes_src``;
- a joint is correct when error / head size <= threshold (0.5);
- Head is the head-top joint; Shoulder ... Ankle are the mean of the left
  and right joint's PCKh; Mean pools all joints except pelvis and thorax
  (upper neck included), each weighted by its visible count.

**The "Mean@0.1" quirk.** The official code takes its "Mean@0.1" column at
index 11 of ``arange(0, 0.51, 0.01)``, which is threshold **0.11**, not 0.10
(mmpose later fixed this). The published tables (88.532 / 33.911 for R-50
256x256) carry that value, so we report it under its published name
``Mean@0.1`` for comparability and the true PCKh@0.1 beside it as
``PCKh@0.1``.

``pred.mat`` holds ``preds``: (N, 16, 2) float64, 1-based, as the official
code writes it. MPII has no evaluation server: its authors score test-set
predictions e-mailed to them in their MATLAB format (``TEST_SUBMISSION``).

``gt_valid.mat``: its layout and reader are in :mod:`keras_pose.data.mpii_gt`.

Shapes: N people, 16 joints.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

import numpy as np
import scipy.io

from keras_pose.data.mpii_gt import GroundTruthError, load_gt_mat
from keras_pose.errors import MissingFileError
from keras_pose.files import write_atomically
from keras_pose.evaluation.tables import format_table

# MPII's test set is scored by its authors, not by a server (the MPII Human
# Pose site's evaluation page: predictions e-mailed, prepared in MATLAB).
TEST_SUBMISSION = ("MPII has no evaluation server: its authors score test predictions "
                   "e-mailed to them in their MATLAB format (see the evaluation page of the "
                   "MPII Human Pose site); pred.mat holds the joints to convert, (N, 16, 2) "
                   "1-based pixels")
SC_BIAS = 0.6  # Head size = 0.6 x head box diagonal.
PCKH_THRESHOLD = 0.5
# The official "Mean@0.1" uses THRESHOLDS[11] = 0.11 (see the module docstring).
THRESHOLDS = np.arange(0, 0.5 + 0.01, 0.01)
LEGACY_MEAN_AT_01_INDEX = 11
TRUE_MEAN_AT_01_INDEX = 10

TABLE_COLUMNS: tuple[str, ...] = (
    "Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean",
    "Mean@0.1", "PCKh@0.1")


def pckh_per_joint(preds: np.ndarray, gt: Mapping[str, Any],
                   thresholds: np.ndarray = THRESHOLDS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """PCKh of each joint at each threshold.

    Args:
      preds: (N, 16, 2) predictions, 0-based pixels.
      gt: :func:`load_gt_mat` output.
      thresholds: (T,) normalised-distance thresholds.

    Returns:
      (pck, counts): pck (T, 16) in percent (NaN for a joint never visible),
      counts (16,) visible joints.
    """
    preds = np.asarray(preds, dtype=np.float64)
    pos_gt = gt["pos_gt_src"]
    if preds.shape != (pos_gt.shape[2], pos_gt.shape[0], 2):
        raise ValueError(
            f"predictions have shape {preds.shape}; the ground truth needs "
            f"({pos_gt.shape[2]}, {pos_gt.shape[0]}, 2) (every person of the "
            "split, in annotation order)")
    pos_pred = np.transpose(preds + 1.0, [1, 2, 0])  # 1-based, (16, 2, N)
    visible = 1.0 - gt["jnt_missing"]
    err = np.linalg.norm(pos_pred - pos_gt, axis=1)               # (16, N)
    head = gt["headboxes_src"]
    head_size = np.linalg.norm(head[1] - head[0], axis=0) * SC_BIAS  # (N,)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = err / head_size[None, :] * visible
        counts = visible.sum(axis=1)
        correct = (scaled[None] <= np.asarray(thresholds)[:, None, None]) * visible[None]
        pck = 100.0 * correct.sum(axis=2) / counts[None, :]
    return pck, counts


def evaluate_pckh(preds: np.ndarray, gt_mat_path: str) -> dict[str, float]:
    """PCKh of MPII predictions against the official ``annot/gt_valid.mat``
    (:func:`pckh_columns` of its contents).

    Raises:
      GroundTruthError: for a missing or malformed gt file.
      ValueError: when the predictions do not match the ground truth's size.
    """
    return pckh_columns(preds, load_gt_mat(gt_mat_path))


def pckh_columns(preds: np.ndarray, gt: Mapping[str, Any]) -> dict[str, float]:
    """PCKh of MPII predictions, as the official evaluation.

    Args:
      preds: (N, 16, 2) predicted joints in 0-based pixel coordinates of the
        original images, one row per person of the ground truth in its order,
        MPII joint order.
      gt: :func:`load_gt_mat` output (or some of its people's columns).

    Returns:
      ``{"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle",
      "Mean", "Mean@0.1", "PCKh@0.1"}`` in percent: PCKh@0.5 per joint group,
      the count-weighted Mean, the legacy "Mean@0.1" (threshold 0.11, as
      published) and the true mean PCKh at 0.10.

    Raises:
      ValueError: when the predictions do not match the ground truth's size.
    """
    index = {name: i for i, name in enumerate(gt["joint_names"])}
    thresholds = np.concatenate([[PCKH_THRESHOLD], THRESHOLDS])
    pck_all, counts = pckh_per_joint(preds, gt, thresholds)
    pckh = pck_all[0]
    pooled = np.ones(len(counts), bool)
    pooled[[index["pelv"], index["thor"]]] = False
    weights = np.where(pooled, counts, 0.0)
    weights = weights / weights.sum()

    def pooled_mean(row: np.ndarray) -> float:
        return float(np.nansum(row * weights))

    def pair(name: str) -> float:
        return float(0.5 * (pckh[index["l" + name]] + pckh[index["r" + name]]))

    return {
        "Head": float(pckh[index["head"]]),
        "Shoulder": pair("sho"),
        "Elbow": pair("elb"),
        "Wrist": pair("wri"),
        "Hip": pair("hip"),
        "Knee": pair("kne"),
        "Ankle": pair("ank"),
        "Mean": pooled_mean(pckh),
        "Mean@0.1": pooled_mean(pck_all[1 + LEGACY_MEAN_AT_01_INDEX]),
        "PCKh@0.1": pooled_mean(pck_all[1 + TRUE_MEAN_AT_01_INDEX]),
    }


# People whose joints may differ between the two files of one split (a
# relabelled person or two) before they are taken for two splits' or two
# orders': a valid.json in another order than gt_valid.mat gave PCKh 3.0
# for 39.4, in silence.
MAX_PEOPLE_ELSEWHERE = 0.01
SAME_PLACE_PX = 2.0  # Median distance of a person's joints in both files.


def _people_elsewhere(records: Any, gt: Mapping[str, Any]) -> list[int]:
    """Indices of the people of ``records`` (joints 0-based) whose joints
    labelled in both files lie apart from the .mat's (1-based) ones."""
    pos = np.transpose(gt["pos_gt_src"], (2, 0, 1))  # (N, 16, 2)
    both = (np.asarray(records.joints_vis) > 0) & (np.transpose(gt["jnt_missing"]) == 0)
    distance = np.linalg.norm(np.asarray(records.joints, np.float64) + 1.0 - pos, axis=-1)
    elsewhere = []
    for i in range(len(pos)):
        if both[i].any() and np.median(distance[i][both[i]]) > SAME_PLACE_PX:
            elsewhere.append(i)
    return elsewhere


def write_pred_mat(path: str, preds: np.ndarray) -> None:
    """Writes ``pred.mat``: ``preds`` (N, 16, 2), 1-based.

    Args:
      path: output file.
      preds: (N, 16, 2) predictions, 0-based (one is added, as the official
        code does).
    """
    preds = np.asarray(preds, dtype=np.float64)
    if preds.ndim != 3 or preds.shape[2] < 2:
        raise ValueError(f"preds must be (N, K, 2), got {preds.shape}")
    # Atomic: a full disk left a 0-byte pred.mat.
    write_atomically(path, lambda f: scipy.io.savemat(f, {"preds": preds[:, :, :2] + 1.0}),
                     binary=True)


def read_pred_mat(path: str) -> np.ndarray:
    """Reads a ``pred.mat`` back as (N, 16, 2) 0-based predictions."""
    if not os.path.isfile(path):
        raise MissingFileError(f"prediction file {path} does not exist")
    mat = scipy.io.loadmat(path)
    if "preds" not in mat:
        raise ValueError(f"{path} has no 'preds' entry")
    preds = np.asarray(mat["preds"], dtype=np.float64)
    if preds.ndim != 3 or preds.shape[2] != 2:
        raise ValueError(f"{path}: 'preds' has shape {preds.shape}, expected (N, K, 2)")
    return preds - 1.0


def format_mpii_table(metrics: Mapping[str, float], arch_name: str,
                      title: str = "") -> str:
    """The PCKh numbers as the official markdown table, plus PCKh@0.1."""
    return format_table(metrics, TABLE_COLUMNS, arch_name, title)


class MpiiPckhMetric:
    """MPII PCKh of predictions for every person of the split, in
    annotation order (the layout of ``gt_valid.mat``).

    Args:
      gt_mat_path: ``annot/gt_valid.mat``, or None for the test split (the
        predictions are then only written, as ``pred.mat``).
    """

    primary = "Mean"
    primary_name = "PCKh Mean"
    primary_scale = 100.0  # PCKh in percent.

    def __init__(self, gt_mat_path: str | None):
        self.gt_mat_path = gt_mat_path
        # Every person of the split, in annotation order (None: a test split).
        self.num_people: Optional[int] = None
        self._gt: Optional[dict] = None
        if gt_mat_path is not None:  # Fails before any inference.
            self._gt = load_gt_mat(gt_mat_path)
            self.num_people = int(self._gt["pos_gt_src"].shape[2])
        self.reset()

    def _check_count(self, records: Any, source: str) -> None:
        if self.num_people is not None and self.num_people != len(records):
            raise GroundTruthError(
                f"{self.gt_mat_path} holds {self.num_people} people but {source} has "
                f"{len(records)}: PCKh pairs them by position, so the two files must be the "
                "same split in the same order (test.gt_mat chooses the .mat)")

    def check_records(self, records: Any, source: str) -> None:
        """Stops before any inference when the ground truth holds another
        number of people than the split's records from ``source`` (a cut or
        other .mat: PCKh pairs them by position; it was a traceback after
        the whole inference).

        Raises:
          GroundTruthError: naming both files.
        """
        if self.num_people is None:
            return
        self._check_count(records, source)
        others = _people_elsewhere(records, self._gt)
        if len(others) > MAX_PEOPLE_ELSEWHERE * len(records):
            raise GroundTruthError(
                f"{self.gt_mat_path} and {source} list other people at the same places "
                f"({len(others)} of {len(records)}, e.g. person #{others[0]}: their labelled "
                "joints lie apart): PCKh pairs them by position, so the two files must be the "
                "same split in the same order (the official valid.json with the official "
                "gt_valid.mat; test.gt_mat chooses the .mat)")

    def restrict(self, records: Any, people: np.ndarray) -> None:
        """From now on scores only ``people`` of the split: the .mat's
        columns of those people, in the order given (a guard on some images
        of a large split; predictions for every person were expected).

        Args:
          records: every person of the split (its ``PersonRecords``), in the
            .mat's order (as :meth:`check_records` checks).
          people: (N,) bool mask or indices of the people kept, over ``records``.

        Raises:
          GroundTruthError: the .mat holds another number of people.
        """
        if self._gt is None:  # A test split: nothing is scored.
            return
        self._check_count(records, getattr(records, "source", "") or "the split")
        rows = np.arange(len(records))[np.asarray(people)]
        self._gt = {**self._gt, "jnt_missing": self._gt["jnt_missing"][:, rows],
                    "pos_gt_src": self._gt["pos_gt_src"][..., rows],
                    "headboxes_src": self._gt["headboxes_src"][..., rows]}
        self.num_people = len(rows)

    def reset(self) -> None:
        """Forgets every prediction."""
        self._keypoints: list[np.ndarray] = []

    def update(self, predictions: Any, records: Any) -> None:
        """Adds predictions (``keras_pose.inference.records.Predictions``) of
        the next people of the split, in annotation order."""
        if len(predictions) != len(records):
            raise ValueError(f"{len(predictions)} predictions for {len(records)} people")
        self._keypoints.append(np.asarray(predictions.keypoints))

    def keypoints(self) -> np.ndarray:
        """(N, 16, 2) every prediction so far."""
        return (np.concatenate(self._keypoints) if self._keypoints
                else np.zeros((0, 16, 2), np.float32))

    def result(self) -> dict[str, float]:
        """The PCKh columns (none for the test split) and ``num_results``."""
        keypoints = self.keypoints()
        metrics = {} if self._gt is None else pckh_columns(keypoints, self._gt)
        metrics["num_results"] = float(len(keypoints))
        return metrics

    def write(self, output_dir: str) -> str:
        """Writes ``pred.mat`` (its path); see ``TEST_SUBMISSION`` for the test set."""
        path = os.path.join(output_dir, "pred.mat")
        write_pred_mat(path, self.keypoints())
        return path

    def table(self, metrics: Mapping[str, float], arch_name: str, title: str = "") -> str:
        """The official table plus PCKh@0.1, or "" without ground truth."""
        return format_mpii_table(metrics, arch_name, title) if "Mean" in metrics else ""

    def describe(self, in_vis_threshold: float) -> str:
        """How the numbers were obtained (for metrics.json)."""
        if self.gt_mat_path is None:
            return "no ground truth for a test split: pred.mat written only"
        return ("PCKh as the official lib/dataset/mpii.py: head size 0.6 x head box diagonal, "
                "threshold 0.5, Mean pooled over all joints but pelvis and thorax weighted by "
                "visible counts; 'Mean@0.1' is the official column, computed at threshold "
                "0.11; 'PCKh@0.1' at 0.10")
