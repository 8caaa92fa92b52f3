"""One detector from a command-line style specification."""

from __future__ import annotations

import os
from typing import Optional, Sequence

from keras_pose.detection.base import PersonDetector
from keras_pose.errors import FlagError
from keras_pose.detection.runtimes import RUNTIMES


def make_detector(spec: Optional[str] = None, boxes: Optional[str] = None,
                  score_threshold: Optional[float] = None,
                  nms_iou_threshold: Optional[float] = None,
                  max_detections: Optional[int] = None,
                  category_ids: Sequence[int] = (1,),
                  runtime: str = "tf") -> PersonDetector:
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
      runtime: where the D-FINE network runs: ``tf`` (TensorFlow,
        ``KerasHubPersonDetector``), ``onnxruntime`` or ``openvino``
        (``RuntimePersonDetector``: exported on first use, cached; the same
        boxes within ``runtime_detector.BOX_TOLERANCE_PX``).

    Raises:
      FlagError: conflicting or unknown settings.
      keras_pose.detection.DetectionFileError: an unreadable boxes file.
      keras_pose.detection.DetectorUnavailableError: a preset that cannot be
        fetched (offline on first use).
      keras_pose.detection.RuntimeUnavailableError: ``runtime``'s packages
        are not installed.
    """
    from keras_pose.detection.file_detectors import FileDetector, WholeImageDetector
    from keras_pose.detection.keras_hub_detector import DEFAULT_PRESET, KerasHubPersonDetector
    _check_runtime(runtime, spec, boxes)
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
    preset = os.path.expanduser(spec or DEFAULT_PRESET)
    if runtime != "tf":
        from keras_pose.detection.runtime_detector import RuntimePersonDetector
        return RuntimePersonDetector.from_preset(preset, runtime, **settings)
    return KerasHubPersonDetector.from_preset(preset, **settings)


def _check_runtime(runtime: str, spec: Optional[str], boxes: Optional[str]) -> None:
    """A FlagError for an unknown runtime, or one given where no network runs."""
    if runtime not in ("tf", *RUNTIMES):
        raise FlagError(f"--detector_runtime must be tf, {', '.join(RUNTIMES)}; got {runtime!r}")
    no_network = boxes is not None or (spec is not None and (
        spec.lower() == "none" or spec.lower().endswith(".json")))
    if runtime != "tf" and no_network:
        raise FlagError(f"--detector_runtime {runtime} runs the D-FINE detector's network, "
                         "but --boxes / --detector none use none: drop --detector_runtime")
