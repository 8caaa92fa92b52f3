"""One detector from a command-line style specification."""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from keras_pose.detection.base import PersonDetector
from keras_pose.errors import FlagError
from keras_pose.detection.runtimes import PRECISION_RUNTIMES, PRECISIONS, RUNTIMES
from keras_pose.tf_paths import path_text

# What keras-hub's save_to_preset writes in every preset folder.
PRESET_FILES = ("config.json", "metadata.json")


def make_detector(spec: Union[str, os.PathLike, None] = None,
                  boxes: Union[str, os.PathLike, None] = None,
                  score_threshold: Optional[float] = None,
                  nms_iou_threshold: Optional[float] = None,
                  max_detections: Optional[int] = None,
                  category_ids: Sequence[int] = (1,),
                  runtime: str = "tf", precision: str = "fp32",
                  calibration_images: Optional[Callable[[], Sequence[np.ndarray]]] = None
                  ) -> PersonDetector:
    """The detector that ``--detector`` / ``--boxes`` describe.

    Args:
      spec: "none" (each whole image is one person), a boxes JSON file, a
        keras-hub D-FINE preset name or preset directory; None: the default
        preset (``DEFAULT_PRESET``). Paths: a str or an ``os.PathLike``.
      boxes: a boxes file; conflicts with ``spec`` (give one of them).
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
      precision: the runtime's precision: ``fp32``, ``bf16`` (OpenVINO) or
        ``int8``; bf16 and int8 are kept only if their boxes agree with
        fp32's on ``calibration_images`` (``runtime_detector``'s guard).
      calibration_images: returns the (H, W, 3) uint8 RGB images that
        calibrate and judge bf16 / int8 (called only for those).

    Raises:
      FlagError: conflicting or unknown settings.
      TypeError: a ``spec`` or ``boxes`` that is neither a str nor a path.
      keras_pose.detection.DetectionFileError: an unreadable boxes file.
      keras_pose.detection.DetectorUnavailableError: a preset that cannot be
        fetched (offline on first use).
      keras_pose.detection.RuntimeUnavailableError: ``runtime``'s packages
        are not installed.
    """
    from keras_pose.detection.base import WholeImageDetector
    from keras_pose.detection.file_detectors import FileDetector
    from keras_pose.detection.keras_hub_detector import DEFAULT_PRESET, KerasHubPersonDetector
    spec, boxes = _path_text(spec, "spec"), _path_text(boxes, "boxes")
    _check_not_a_preset_file(spec)  # Before the flags that a boxes file makes wrong.
    _check_runtime(runtime, precision, spec, boxes)
    if spec is not None and spec.lower() == "none":
        if boxes is not None:
            raise FlagError("--detector none and --boxes conflict: choose one")
        return WholeImageDetector()
    if spec is not None and boxes is not None:  # The detector was never loaded, unsaid.
        raise FlagError(f"--detector {spec} and --boxes {boxes} conflict: --boxes gives the "
                        "people, a detector finds them; choose one")
    settings = {k: v for k, v in (("score_threshold", score_threshold),
                                  ("nms_iou_threshold", nms_iou_threshold),
                                  ("max_detections", max_detections)) if v is not None}
    if boxes is None and _is_boxes_file(spec):
        return _boxes_given_as_detector(spec, category_ids, settings)
    if boxes is not None:
        return FileDetector(boxes, category_ids=category_ids, **settings)
    preset = os.path.expanduser(spec or DEFAULT_PRESET)
    if runtime != "tf":
        return _runtime_detector(preset, runtime, precision, calibration_images, settings)
    return KerasHubPersonDetector.from_preset(preset, **settings)


def _path_text(value: Any, argument: str) -> Optional[str]:
    """``value`` (None, or a path: :func:`keras_pose.tf_paths.path_text`) as
    None or a str (a Path was an AttributeError: no attribute 'lower')."""
    return None if value is None else path_text(value, f"make_detector: {argument}")


def _is_boxes_file(spec: Optional[str]) -> bool:
    """Whether ``--detector`` names a boxes file (a .json, any case)."""
    return spec is not None and spec.lower().endswith(".json")


def _check_not_a_preset_file(spec: Optional[str]) -> None:
    """A FlagError naming the folder for a .json of a keras-hub preset
    folder (its config.json) given as ``--detector``: it was read as a
    boxes file ("none of its 4 entries is a box ... --boxes takes")."""
    folder = os.path.dirname(spec or "") or os.curdir
    if _is_boxes_file(spec) and all(os.path.isfile(os.path.join(folder, name))
                                    for name in PRESET_FILES):
        raise FlagError(f"--detector {spec} is a file of the keras-hub preset folder {folder}: "
                        f"--detector takes the folder (--detector {folder}) or a preset name; a "
                        ".json given to it is read as a boxes file, as --boxes")


def _boxes_given_as_detector(path: str, category_ids: Sequence[int],
                             settings: dict) -> PersonDetector:
    """The boxes file given as ``--detector`` (make_detector's documented
    spec), its errors naming ``--detector`` (they named --boxes only)."""
    from keras_pose.detection.box_files import DetectionFileError
    from keras_pose.detection.file_detectors import FileDetector
    try:
        return FileDetector(path, category_ids=category_ids, **settings)
    except DetectionFileError as e:
        raise DetectionFileError(f"--detector {path} is read as a boxes file (a .json given "
                                 f"to --detector is one, as to --boxes): {e}") from e


def _runtime_detector(preset: str, runtime: str, precision: str,
                      calibration_images: Optional[Callable[[], Sequence[np.ndarray]]],
                      settings: dict) -> PersonDetector:
    """``RuntimePersonDetector.from_preset``, with the images that judge a
    precision below fp32 read only then."""
    from keras_pose.detection.runtime_detector import RuntimePersonDetector
    if precision != "fp32":
        if calibration_images is None:  # The Python API (predict.py passes its inputs').
            raise FlagError(f"precision={precision!r} is judged on your own images: give "
                            "calibration_images=, a function returning a few dozen of your "
                            "photos or frames ((H, W, 3) uint8 RGB), or use precision='fp32'")
        images = list(calibration_images())
        if not images:
            raise FlagError(f"--detector_precision {precision} is judged on the first images "
                            "or frames of --input, but none could be read: use "
                            "--detector_precision fp32")
        settings = {**settings, "calibration_images": images}
    return RuntimePersonDetector.from_preset(preset, runtime, precision, **settings)


def _check_runtime(runtime: str, precision: str, spec: Optional[str],
                   boxes: Optional[str]) -> None:
    """A FlagError for an unknown runtime or precision, a precision the
    runtime lacks, or a runtime given where no network runs."""
    if runtime not in ("tf", *RUNTIMES):
        raise FlagError(f"--detector_runtime must be tf, {', '.join(RUNTIMES)}; got {runtime!r}")
    if precision not in PRECISIONS:
        raise FlagError(f"--detector_precision must be {', '.join(PRECISIONS)}; "
                        f"got {precision!r}")
    given = _without_network(spec, boxes)
    for flag, value, default in (("runtime", runtime, "tf"), ("precision", precision, "fp32")):
        if value != default and given:
            raise FlagError(f"--detector_{flag} {value} is for the D-FINE detector's network, "
                            f"and {given} runs no network: drop --detector_{flag}")
    allowed = PRECISION_RUNTIMES.get(precision, RUNTIMES)
    if precision != "fp32" and runtime not in allowed:
        raise FlagError(f"--detector_precision {precision} runs with --detector_runtime "
                        f"{' or '.join(allowed)}, not {runtime}")


def _without_network(spec: Optional[str], boxes: Optional[str]) -> Optional[str]:
    """The flag that gives people without a detector network, or None."""
    if boxes is not None:
        return f"--boxes {boxes}"
    if _is_boxes_file(spec):
        return f"--detector {spec} (a boxes file)"
    return "--detector none" if spec is not None and spec.lower() == "none" else None
