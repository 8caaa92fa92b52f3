"""What a preset records: the :class:`Preset` entry, its :class:`Evaluation`
(where its numbers were measured) and its :class:`Result` (the numbers).
The entries themselves are in the family tables (``body``, ``animals``,
``hands_faces``), gathered by :mod:`keras_pose.presets.table`."""

from __future__ import annotations

import dataclasses
from typing import Optional

# Metric kinds: which ones evaluate.py computes as the benchmark does.
EVALUATE_PY_METRICS = ("coco_ap", "mpii_pckh")


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Where a preset's published numbers were measured.

    Attributes:
      benchmark: the data, split and boxes in words.
      root: the data set folder in this project's layout (``data.root``).
      split: ``data.test_set``: ``<root>/annotations/person_keypoints_<split>.json``
        and ``<root>/images/<split>/``. A split named after a test set is
        called ``eval`` here, because to the COCO reader (as to the
        reference) a split whose name contains "test" has no ground truth.
      annotation: the benchmark's annotation file, as mmpose names it (link
        or copy it to the path above).
      detections: person boxes, relative to ``root``; "": ground-truth boxes.
      metric: "coco_ap" and "mpii_pckh" (evaluate.py computes them as the
        benchmark), "coco_ap_no_area" (AIC: mmpose's COCOeval without the
        area), "crowdpose_ap" (crowdposetools' AP and crowd-index AP),
        "posetrack_map" (poseval), "pck" (PCK / AUC / EPE or NME of
        Horse-10), "nme" (face landmarks).
    """

    benchmark: str
    root: str
    split: str
    annotation: str
    detections: str = ""
    metric: str = "coco_ap"

    @property
    def evaluate_py(self) -> bool:
        """Whether evaluate.py computes the published metric."""
        return self.metric in EVALUATE_PY_METRICS


@dataclasses.dataclass(frozen=True)
class Result:
    """Published numbers of a preset.

    Attributes:
      values: (metric, value) pairs, the headline metric first, as published
        (fractions; PoseTrack's in percent, EPE in pixels).
      on: another benchmark or split than the preset's evaluation ("": the
        preset's).
    """

    values: tuple[tuple[str, float], ...]
    on: str = ""


@dataclasses.dataclass(frozen=True)
class Preset:
    """One published model.

    Attributes:
      name: the preset name (lowercase, unique).
      dataset: its keypoint metadata (a key of ``dataset_info.DATASETS``).
      depth: ResNet depth.
      input_size: network input (width, height).
      heatmap_size: heatmap (width, height), input / 4.
      sigma: the training targets' Gaussian sigma (heatmap pixels).
      release: "mmpose 1.x", "mmpose 0.x" (the file's format and where its
        numbers come from) or "official".
      url: the download URL (mmpose); "" for a file the user places
        (official).
      file_name: the weights file's name (its hash prefix is checked).
      codec: "msra" or "dark": targets and decoding.
      blur_kernel: DARK's modulation kernel (test.blur_kernel), as the
        release's config gives it (also kept for msra models, used only if
        their decoding is switched to DARK).
      shift_heatmap: the flip test's one-pixel shift (True in every release).
      box_padding: box enlargement (data.box_padding).
      evaluation: where the published numbers were measured.
      results: the published numbers.
      notes: anything a user should know.
    """

    name: str
    dataset: str
    depth: int
    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float
    release: str
    url: str
    file_name: str
    codec: str
    blur_kernel: int
    shift_heatmap: bool
    box_padding: float
    evaluation: Evaluation
    results: tuple[Result, ...]
    notes: str = ""

    @property
    def sha256_prefix(self) -> Optional[str]:
        """The SHA-256 prefix the file name carries (mmpose files), or None."""
        from keras_pose.convert.download import hash_prefix  # TensorFlow: when asked.
        return hash_prefix(self.file_name)

    @property
    def is_official(self) -> bool:
        return self.release == "official"

    @property
    def gt_box_rule(self) -> str:
        """data.gt_box_rule of the release the numbers were measured with."""
        return {"mmpose 1.x": "mmpose", "mmpose 0.x": "mmpose_0x"}.get(self.release,
                                                                       "official")

    @property
    def headline(self) -> str:
        """The first published number, e.g. ``AP 0.718``."""
        if not self.results:
            return ""
        metric, value = self.results[0].values[0]
        return f"{metric} {value:g}"
