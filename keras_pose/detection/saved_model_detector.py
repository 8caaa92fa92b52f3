"""The person detector inside a keras_pose SavedModel.

``scripts/export_saved_model.py --with_detector PRESET`` puts a D-FINE
detector into the SavedModel beside the pose network: its ``detect``
signature (image -> the people's boxes and scores) and
``detect_and_estimate`` (image bytes -> boxes and poses). predict.py runs
that detector when it is given such a SavedModel and no other detector
(``--detector`` / ``--boxes``): the boxes are the ones the SavedModel serves.
Exports made before the ``detect`` signature give their boxes through
``detect_and_estimate`` (the image sent as BMP bytes, lossless; the poses it
also computes are not used).

Shapes: M people; boxes (M, 4) float32 ``[x, y, w, h]`` pixels.
"""

from __future__ import annotations

from typing import Any, Optional

import cv2
import numpy as np
import tensorflow as tf

from keras_pose.data.images import check_rgb_image
from keras_pose.detection.base import Detections, PersonDetector, Source, filter_detections
from keras_pose.fork_safety import check_not_forked

# The signatures that hold a detector, the one predict.py prefers first.
SIGNATURES = ("detect", "detect_and_estimate")


def has_detector(saved_model: Any) -> bool:
    """Whether a loaded keras_pose SavedModel carries a person detector."""
    signatures = getattr(saved_model, "signatures", {}) or {}
    return any(name in signatures for name in SIGNATURES)


class SavedModelDetector(PersonDetector):
    """Finds people with the detector of a loaded SavedModel.

    Args:
      saved_model: the loaded SavedModel (``PoseModel.saved_model``).
      path: its directory (for messages).
      score_threshold: people scoring below it are dropped; None: the
        threshold the export was made with (``--detector_threshold``).
      nms_iou_threshold, max_detections: applied after the export's own
        (which already ran D-FINE's): None leaves its boxes as they are.
    """

    def __init__(self, saved_model: Any, path: str, score_threshold: Optional[float] = None,
                 nms_iou_threshold: Optional[float] = None,
                 max_detections: Optional[int] = None):
        if not has_detector(saved_model):
            raise ValueError(f"{path} holds no person detector")
        self.path = path
        self._signatures = saved_model.signatures
        self._saved_model = saved_model  # Keeps the signatures' variables alive.
        self.score_threshold = score_threshold
        self._filter = (nms_iou_threshold, max_detections)

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        """The people in one (H, W, 3) uint8 RGB image."""
        # As the other detectors: a float image was cast in silence (0-1
        # became black, values over 255 wrapped).
        check_not_forked("the SavedModel's person detector")  # TF would hang there.
        image = check_rgb_image(image)
        threshold = tf.constant([] if self.score_threshold is None else
                                [self.score_threshold], tf.float32)
        if "detect" in self._signatures:
            out = self._signatures["detect"](image=tf.constant(image, tf.uint8),
                                             score_threshold=threshold)
        else:  # An export made before the "detect" signature.
            ok, encoded = cv2.imencode(".bmp", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if not ok:
                raise ValueError(f"an image of shape {image.shape} could not be encoded")
            out = self._signatures["detect_and_estimate"](
                image_bytes=tf.constant(encoded.tobytes()), score_threshold=threshold)
        boxes, scores = out["boxes"].numpy(), out["box_scores"].numpy()
        nms, top = self._filter
        if nms is None and top is None:
            return Detections(boxes, scores)
        return filter_detections(boxes, scores, 0.0, nms, top)
