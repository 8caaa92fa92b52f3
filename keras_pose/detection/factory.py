"""One detector from a command-line style specification."""

from __future__ import annotations

import os
from typing import Optional, Sequence

from keras_pose.detection.base import PersonDetector
from keras_pose.errors import FlagError


def make_detector(spec: Optional[str] = None, boxes: Optional[str] = None,
                  score_threshold: Optional[float] = None,
                  nms_iou_threshold: Optional[float] = None,
                  max_detections: Optional[int] = None,
                  category_ids: Sequence[int] = (1,)) -> PersonDetector:
    """The detector that ``--detector`` / ``--boxes`` describe.

    Args:
      spec: "none" (each whole image is one person), a boxes JSON file, a
        keras-hub D-FINE preset name or preset directory; None: the default
        preset (``DEFAULT_PRESET``).
      boxes: a boxes file; when given it wins over ``spec`` (except "none",
        which conflicts with it).
      score_threshold: None: each detector's default (0.3 for D-FINE, 0 for
        files).
      nms_iou_threshold: None: each detector's default (0.7 for D-FINE, no
        NMS for files).
      max_detections: None: each detector's default (100 for D-FINE, all
        for files).
      category_ids: the categories a COCO results file's boxes are kept of
        (the model's keypoint categories; COCO's person, 1, by default).

    Raises:
      FlagError: conflicting or unknown settings.
      keras_pose.detection.DetectionFileError: an unreadable boxes file.
      keras_pose.detection.DetectorUnavailableError: a preset that cannot be
        fetched (offline on first use).
    """
    from keras_pose.detection.file_detectors import FileDetector, WholeImageDetector
    from keras_pose.detection.keras_hub_detector import DEFAULT_PRESET, KerasHubPersonDetector
    if spec is not None and spec.lower() == "none":
        if boxes is not None:
            raise FlagError("--detector none and --boxes conflict: choose one")
        return WholeImageDetector()
    settings = {k: v for k, v in (("score_threshold", score_threshold),
                                  ("nms_iou_threshold", nms_iou_threshold),
                                  ("max_detections", max_detections)) if v is not None}
    if boxes is None and spec is not None and spec.lower().endswith(".json"):
        boxes = spec
    if boxes is not None:
        return FileDetector(boxes, category_ids=category_ids, **settings)
    preset = spec or DEFAULT_PRESET
    return KerasHubPersonDetector.from_preset(os.path.expanduser(preset), **settings)
