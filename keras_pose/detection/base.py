"""The person-detector interface and the score / NMS / top-k filter.

A detector takes one RGB image and returns the people in it as boxes
``[x, y, w, h]`` in image pixels with a score each. Every detector (a
COCO-trained network, a file of precomputed boxes, the whole image) has the
same interface, so the pose pipeline never needs to know which one runs.

Shapes: M detections, N candidate boxes, K = ``max_detections`` (padding).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from keras_pose.data.images import check_rgb_image
from keras_pose.data.transforms import box_array

Source = Union[str, int, None]


@dataclasses.dataclass(frozen=True, eq=False)
class Detections:
    """The people found in one image.

    Attributes:
      boxes: (M, 4) float32 ``[x, y, w, h]`` in pixels of the original image.
      scores: (M,) float32 detection scores (in decreasing order when a
        detector or :func:`filter_detections` made them; as given otherwise).
      categories: (M,) int64 COCO category of each box (a boxes file's
        ``category_id``), or None: the model's first keypoint category.
    """

    boxes: np.ndarray
    scores: np.ndarray
    categories: Optional[np.ndarray] = None

    def __post_init__(self):
        boxes = box_array(self.boxes)
        scores = np.asarray(self.scores, np.float32).reshape(-1)
        if len(boxes) != len(scores):
            raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        if self.categories is not None:
            categories = np.asarray(self.categories, np.int64).reshape(-1)
            if len(categories) != len(scores):
                raise ValueError(f"{len(categories)} categories for {len(scores)} boxes")
            object.__setattr__(self, "categories", categories)

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    @classmethod
    def of(cls, value: Any, name: str = "detections") -> "Detections":
        """``value`` as Detections: None (no people), a ``(boxes (M, 4),
        scores (M,))`` pair or an object with ``.boxes`` and ``.scores``.

        Raises:
          ValueError: naming ``name`` and the form expected, for anything
            else (``[]``, bare boxes: was "not enough values to unpack" in
            the tracker) or a pair of bad shapes or counts.
        """
        form = (f"{name}: expected None, a (boxes (M, 4) [x, y, w, h], scores (M,)) pair or "
                "an object with .boxes and .scores")
        if value is None or isinstance(value, cls):
            return cls.empty() if value is None else value
        if hasattr(value, "boxes") and hasattr(value, "scores"):
            value = (value.boxes, value.scores)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            given = (f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else
                     f"a {type(value).__name__}" + (f" of {len(value)} item(s)"
                                                    if isinstance(value, list) else ""))
            raise ValueError(f"{form}; got {given}")
        try:
            return cls(*value)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{form} ({e})") from e


class PersonDetector:
    """Finds people in RGB images.

    Subclasses implement ``detect``; ``detect_batch`` loops over it unless a
    subclass can do better (one network call for the whole batch).
    """

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        """The people in one image.

        Args:
          image: (H, W, 3) uint8 RGB.
          source: the image's file name or path (or COCO image id), which
            detectors reading precomputed boxes need to find them; the others
            ignore it.
        """
        raise NotImplementedError

    def detect_batch(self, images: Sequence[np.ndarray],
                     sources: Optional[Sequence[Source]] = None) -> list[Detections]:
        """``detect`` for each image (and its source, if given)."""
        sources = [None] * len(images) if sources is None else list(sources)
        if len(sources) != len(images):
            raise ValueError(f"{len(images)} images but {len(sources)} sources")
        return [self.detect(image, source) for image, source in zip(images, sources)]


class WholeImageDetector(PersonDetector):
    """Each image is one person filling it (score 1): the fallback when no
    detector is available, and right for single-person crops."""

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        height, width = check_rgb_image(image).shape[:2]
        return Detections(np.array([[0.0, 0.0, width, height]], np.float32),
                          np.ones((1,), np.float32))


def _is_a(value: Any, kind: type) -> bool:
    """Whether ``value`` is a number of ``kind`` (numbers.Real or
    numbers.Integral; NumPy's too), a bool being none."""
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


def check_filter(score_threshold: float, nms_iou_threshold: Optional[float],
                 max_detections: Optional[int]) -> None:
    """Raises a ValueError naming a filter setting of the wrong type or out
    of its range (a string threshold, a 2.5 or True ``max_detections``: was
    NumPy's or TensorFlow's error, or True taken as 1)."""
    if not _is_a(score_threshold, numbers.Real):
        raise ValueError(f"score_threshold must be a number in [0, 1], got {score_threshold!r}")
    if nms_iou_threshold is not None and not _is_a(nms_iou_threshold, numbers.Real):
        raise ValueError(f"nms_iou_threshold must be a number in (0, 1] or None, "
                         f"got {nms_iou_threshold!r}")
    if max_detections is not None and not _is_a(max_detections, numbers.Integral):
        raise ValueError(f"max_detections must be a whole number >= 1 or None, "
                         f"got {max_detections!r}")
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
    if nms_iou_threshold is not None and not 0.0 < nms_iou_threshold <= 1.0:
        raise ValueError(f"nms_iou_threshold must be in (0, 1] or None, got {nms_iou_threshold}")
    if max_detections is not None and max_detections < 1:
        raise ValueError(f"max_detections must be >= 1 or None, got {max_detections}")


def xywh_to_yxyx_tf(boxes: tf.Tensor) -> tf.Tensor:
    """(..., 4) [x, y, w, h] -> (..., 4) [y1, x1, y2, x2] (TF's NMS order)."""
    x, y, w, h = tf.unstack(boxes, axis=-1)
    return tf.stack([y, x, y + h, x + w], axis=-1)


def kept_order_tf(boxes: tf.Tensor, scores: tf.Tensor, score_threshold: float = 0.0,
                  nms_iou_threshold: Optional[float] = None,
                  max_detections: Optional[int] = None,
                  valid: Optional[tf.Tensor] = None) -> tf.Tensor:
    """The candidates :func:`filter_detections_tf` keeps, as (K',) int64
    indices into ``boxes`` in decreasing score order (arguments as there)."""
    keep = scores >= score_threshold
    if valid is not None:
        keep = tf.logical_and(keep, valid)
    index = tf.where(keep)[:, 0]
    boxes, scores = tf.gather(boxes, index), tf.gather(scores, index)
    limit = tf.size(scores) if max_detections is None else max_detections
    if nms_iou_threshold is None:
        # Stable: equal scores (e.g. boxes from a file, all 1.0) keep their order.
        order = tf.argsort(scores, direction="DESCENDING", stable=True)[:limit]
    else:
        order = tf.image.non_max_suppression(xywh_to_yxyx_tf(boxes), scores, limit,
                                             iou_threshold=nms_iou_threshold)
    return tf.gather(index, order)


def filter_detections_tf(boxes: tf.Tensor, scores: tf.Tensor, score_threshold: float = 0.0,
                         nms_iou_threshold: Optional[float] = None,
                         max_detections: Optional[int] = None,
                         valid: Optional[tf.Tensor] = None):
    """Score threshold, then greedy NMS, then the best ``max_detections``.

    Graph-friendly: with an integer ``max_detections`` the outputs have the
    static size K = ``max_detections``, zero-padded after ``count``.

    Args:
      boxes: (N, 4) float32 [x, y, w, h].
      scores: (N,) float32.
      score_threshold: boxes scoring below it are dropped (equal is kept).
      nms_iou_threshold: a box overlapping a better one by more than this
        IoU is dropped; None: no NMS.
      max_detections: at most this many are kept (and the output is padded to
        it); None: all, no padding.
      valid: (N,) bool, False for candidates to drop whatever their score.

    Returns:
      boxes (K, 4), scores (K,) in decreasing score order, and count (int32
      scalar), the number of real detections at the front.
    """
    order = kept_order_tf(boxes, scores, score_threshold, nms_iou_threshold, max_detections,
                          valid)
    boxes, scores = tf.gather(boxes, order), tf.gather(scores, order)
    count = tf.shape(scores)[0]
    if max_detections is not None:
        pad = max_detections - count
        boxes = tf.pad(boxes, [[0, pad], [0, 0]])
        scores = tf.pad(scores, [[0, pad]])
        boxes = tf.ensure_shape(boxes, [max_detections, 4])
        scores = tf.ensure_shape(scores, [max_detections])
    return boxes, scores, count


def filter_detections(boxes: np.ndarray, scores: np.ndarray, score_threshold: float = 0.0,
                      nms_iou_threshold: Optional[float] = None,
                      max_detections: Optional[int] = None,
                      categories: Optional[np.ndarray] = None) -> Detections:
    """``filter_detections_tf`` on NumPy arrays, padding removed; each kept
    box keeps its category.

    Args:
      boxes: (N, 4) [x, y, w, h].
      scores: (N,).
      categories: (N,) COCO categories, or None.
    """
    check_filter(score_threshold, nms_iou_threshold, max_detections)  # Was TF's error.
    # Detections' checks of shapes and counts: 1 box with 2 scores was TF's
    # GatherV2 error.
    given = Detections(boxes, scores, categories)
    order = kept_order_tf(  # NumPy's float64 thresholds: TF's NMS takes float32 ones.
        tf.constant(given.boxes), tf.constant(given.scores), float(score_threshold),
        None if nms_iou_threshold is None else float(nms_iou_threshold),
        None if max_detections is None else int(max_detections)).numpy()
    return Detections(given.boxes[order], given.scores[order],
                      None if categories is None else given.categories[order])
