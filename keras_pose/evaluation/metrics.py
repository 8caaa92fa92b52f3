"""Evaluation metrics behind one interface, and the choice of one per data set.

Every benchmark's metric is a class with the same methods, so that the
runner and the validation during training never branch on the data set:

- ``update(a, b)``: add one unit of the benchmark's input, two positional
  arguments whose types the metric documents: for the per-image benchmarks
  (the ones ``metric_for`` returns) the predictions
  (``keras_pose.inference.records.Predictions``) of person records and those
  records; for PoseTrack one sequence's ground truth and predictions;
- ``result() -> dict``: the numbers (``primary`` names the main one;
  ``primary_name`` says it in words, e.g. "AP", "PCKh Mean", and
  ``primary_scale`` is its value for a perfect result: 1 for COCO's AP in
  [0, 1], 100 for a percentage as MPII's PCKh, so that a comparison across
  data sets, the export guard's, counts points on one scale);
- ``write(output_dir) -> path``: the benchmark's prediction file (for
  PoseTrack, whose predictions are already files, the list of sequences
  evaluated);
- ``table(metrics, arch_name, title) -> str``: the official table;
- ``describe(in_vis_threshold) -> str``: how the numbers are obtained;
- ``reset()``: forget the predictions (validation after validation);
- ``restrict(records, people)`` (the per-image metrics, :class:`PersonMetric`):
  score only some people of the split from now on (the export guard on
  the first images of a large split): COCO keeps their images' ground
  truth, MPII the .mat's columns of those people.

:class:`~keras_pose.evaluation.coco.CocoKeypointMetric` (COCO, the synthetic
set, any COCO-format set), :class:`~keras_pose.evaluation.mpii.MpiiPckhMetric`
(MPII) and :class:`~keras_pose.evaluation.posetrack.PoseTrackMetric`
(PoseTrack tracking, used by ``scripts/evaluate_posetrack.py``) implement it.
"""

from __future__ import annotations

from typing import Any, Protocol

from keras_pose.configs import ExperimentConfig
from keras_pose.data import datasets
from keras_pose.evaluation.coco import (CocoKeypointMetric, load_coco_ground_truth,
                                        people_to_score)
from keras_pose.evaluation.mpii import MpiiPckhMetric


class PoseMetric(Protocol):
    """The interface every metric class implements (see the module docstring)."""

    primary: str
    primary_name: str
    primary_scale: float

    def reset(self) -> None: ...
    # Positional only: the two arguments' names and types are the metric's
    # own (predictions and records, or a sequence's ground truth and predictions).
    def update(self, first: Any, second: Any, /) -> None: ...
    def result(self) -> dict[str, float]: ...
    def write(self, output_dir: str) -> str: ...
    def table(self, metrics: Any, arch_name: str, title: str = "") -> str: ...
    def describe(self, in_vis_threshold: float) -> str: ...


class PersonMetric(PoseMetric, Protocol):
    """A per-image metric (the ones :func:`metric_for` returns): its
    ``update`` takes predictions of person records and those records."""

    def restrict(self, records: Any, people: Any, /) -> None:
        """Scores only ``people`` (a bool mask or indices over ``records``,
        every person of the split) from now on; predictions come for them only."""


def metric_for(config: ExperimentConfig) -> PersonMetric:
    """The metric of the config's data set and evaluation split.

    Its ground truth is loaded (and checked) here, once: before any
    inference, and once per training run for validation.

    Raises:
      DatasetError: for a COCO-format split with ground truth but no person
        to score (with detected boxes its -1 for every number was the
        result, in silence), in the words of the ground-truth boxes' refusal.
    """
    data = config.data
    test_split = datasets.is_test_split(config)
    if data.dataset == "mpii":
        return MpiiPckhMetric(None if test_split else datasets.mpii_gt_file(config))
    gt = None
    if not test_split:
        source = datasets.annotation_file(config, "test")
        gt = load_coco_ground_truth(source, data.category_ids)
        scored, reasons = people_to_score(gt)
        if not scored:
            raise datasets.DatasetError(datasets.no_people_message(
                source, reasons, data.test_set, "test", data.dataset))
    name = f"keypoints_{data.test_set}_results.json"
    return CocoKeypointMetric(gt, sigmas=data.oks_sigmas or None,
                              oks_threshold=config.test.oks_threshold, results_name=name)


def check_records(metric: PoseMetric, records: Any, config: ExperimentConfig) -> None:
    """Before any inference: the metric's ground truth fits the split's
    records (MPII's .mat holds as many people as the annotation file)."""
    check = getattr(metric, "check_records", None)
    if check is not None:
        check(records, datasets.annotation_file(config, "test"))


def ground_truth_files(config: ExperimentConfig) -> list[str]:
    """The files the split's metric scores against (none for a test split):
    a COCO-format split's annotation file; MPII's ``gt_valid.mat`` and the
    split's annotation file, whose people it pairs with the .mat's."""
    if datasets.is_test_split(config):
        return []
    files = [datasets.annotation_file(config, "test")]
    return files + ([datasets.mpii_gt_file(config)] if config.data.dataset == "mpii" else [])
