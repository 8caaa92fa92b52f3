"""Keypoints for people in any image: the Python inference API.

    from keras_pose import Predictor
    predictor = Predictor.from_checkpoint("output/tiny")     # or a SavedModel, an export
    # or: Predictor.from_checkpoint("output/tiny", runtime="openvino", precision="int8")
    image = read_image("people.jpg", upright=True)  # RGB uint8, turned as EXIF says
    result = predictor.predict(image, boxes=[[10, 20, 100, 200]])
    cv2.imwrite("out.jpg", predictor.draw(image, result)[..., ::-1])

This is a top-down method: every person needs a box (from a person detector
of your choice); with no boxes, the people found by the person detector a
SavedModel carries (``export_saved_model.py --with_detector``), or else the
whole image as one person. The
work is :class:`~keras_pose.inference.estimator.TopDownEstimator`'s, the
same graph the exported SavedModel runs.

Shapes: M people (boxes), K keypoints.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any, Optional, Sequence

import numpy as np
import tensorflow as tf

from keras_pose.data import transforms
from keras_pose.data.images import check_rgb_image
from keras_pose.fork_safety import check_not_forked
from keras_pose.inference.estimator import check_flip
from keras_pose.inference.loading import PoseModel, load_pose_model
from keras_pose.signals import defer_interrupts


@dataclasses.dataclass
class PoseResult:
    """Keypoints of M people.

    Attributes:
      keypoints: (M, K, 2) float32 image pixels.
      keypoint_scores: (M, K) float32 heatmap maxima.
      scores: (M,) float32 person scores (mean keypoint score above the
        visibility threshold, times the box score when given).
      boxes: (M, 4) float32 [x, y, w, h] used.
      categories: (M,) int64 COCO category of each person's box (a boxes
        file's), or None: the model's first keypoint category.
    """

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    categories: Optional[np.ndarray] = None


def check_boxes(boxes: Optional[Sequence[Sequence[float]]], source: str = "boxes",
                image_size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """(M, 4) float32 [x, y, w, h] boxes, or a ValueError naming the bad one.

    Raises:
      ValueError: for a box that is not 4 finite numbers with w > 0, h > 0,
        or (given the image's (height, width)) that misses the image or is
        more than ``MAX_BOX_TO_IMAGE`` times its size: refused, as the
        SavedModel refuses them, not run into a pose off the image.
    """
    try:
        given = np.asarray(boxes if boxes is not None else [])
        array = given.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{source}: not a list of [x, y, w, h] numbers ({e})") from e
    if given.size and given.dtype.kind not in "iuf":  # "12" or True read as numbers.
        raise ValueError(f"{source}: not a list of [x, y, w, h] numbers (given "
                         f"{given.dtype.name} values)")
    array = transforms.box_array(array, source, np.float64)  # The one shape check.
    if array.size == 0:
        return array.astype(np.float32)
    bad = ~np.isfinite(array).all(1) | (array[:, 2] <= 0) | (array[:, 3] <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{source}: box {i} {array[i].tolist()} is not finite with "
                         "positive width and height")
    if image_size is not None:
        off = transforms.boxes_off_image(array, *image_size)
        if off.any():
            i = int(np.argmax(off))
            raise ValueError(f"{source}: box {i} {array[i].tolist()} does not overlap the "
                             f"image of (height, width) {tuple(image_size)} or is more than "
                             f"{transforms.MAX_BOX_TO_IMAGE:g} times its size")
    return array.astype(np.float32)


def _box_scores(box_scores: Any) -> np.ndarray:
    """(M,) float32 ``box_scores``; a ValueError naming them for values that
    are not numbers (was NumPy's bare "could not convert string to float")."""
    try:
        return np.asarray(box_scores, np.float32).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"box_scores must be numbers, one per box: {e}") from None


class Predictor:
    """Runs a pose model on images with person boxes.

    Args:
      pose_model: a loaded model (:func:`keras_pose.inference.load_pose_model`);
        a path is a TypeError: :meth:`from_checkpoint` loads it.
    """

    def __init__(self, pose_model: PoseModel):
        if isinstance(pose_model, (str, os.PathLike)):  # Was "'str' object has no attribute"
            raise TypeError(f"Predictor takes a loaded model; for a checkpoint, model folder "
                            f"or preset name use Predictor.from_checkpoint("
                            f"{os.fsdecode(pose_model)!r})")
        self.pose_model = pose_model
        self.config = pose_model.config
        self._runs = {}
        self._detector = None  # The SavedModel's own, made on first use.

    @classmethod
    def from_checkpoint(cls, path: str, overrides: Sequence[str] = (), **options: Any
                        ) -> "Predictor":
        """From a checkpoint directory, a model directory, a converted
        official checkpoint, an exported SavedModel, an ONNX / OpenVINO /
        LiteRT export or a preset name (``python -m keras_pose.presets``).

        Args:
          path: the checkpoint or preset name.
          overrides: ``section.field=value`` changes of the checkpoint's
            config (e.g. ``test.shift_heatmap=false``); the ``model`` section
            cannot change (it describes the weights).
          options: ``runtime``, ``precision`` and their export options, as
            :func:`keras_pose.inference.load_pose_model` takes them (e.g.
            ``runtime="openvino", precision="int8"``).

        Raises:
          keras_pose.checkpoint.CheckpointError: for a path that is none of them.
          keras_pose.fork_safety.ForkedTensorFlowError: in a forked child of a
            process that had run TensorFlow (it would hang).
        """
        check_not_forked("Predictor.from_checkpoint")
        return cls(load_pose_model(path, overrides, **options))

    def __reduce__(self):
        # Was "Can't pickle local object '_load_resolved.<locals>.<lambda>'"
        # (pickle, or a Predictor passed to a 'spawn' child), not saying why.
        raise TypeError("a Predictor holds a loaded network and is not pickled: pass the "
                        "checkpoint path (and overrides) and call Predictor.from_checkpoint "
                        "in the child")

    def __copy__(self) -> "Predictor":
        # As before __reduce__ refused pickling: copy and deepcopy use it.
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self, memo: dict) -> "Predictor":
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        # The traced runs and the detector are made again on first use: their
        # FuncGraphs cannot be copied (deepcopy after a predict failed so).
        caches = {"_runs": {}, "_detector": None}
        copied.__dict__.update({name: caches[name] if name in caches else
                                copy.deepcopy(value, memo)
                                for name, value in self.__dict__.items()})
        return copied

    def _default_boxes(self, image: np.ndarray, box_scores: Optional[Sequence[float]]):
        """The boxes of ``predict(boxes=None)``: the carried detector's people
        (it was passed over: one pose of the whole image), else the image."""
        from keras_pose.detection.saved_model_detector import SavedModelDetector, has_detector
        saved_model = self.pose_model.saved_model
        if saved_model is None or not has_detector(saved_model):
            return [[0.0, 0.0, float(image.shape[1]), float(image.shape[0])]], box_scores
        if box_scores is not None:
            raise ValueError("box_scores without boxes: the people are found by the person "
                             f"detector inside {self.pose_model.path}, with its own scores")
        if self._detector is None:
            self._detector = SavedModelDetector(saved_model, self.pose_model.path)
        found = self._detector.detect(image)
        return found.boxes, found.scores

    def _run(self, flip: bool):
        if flip not in self._runs:
            estimator = self.pose_model.estimator(flip)

            @tf.function(reduce_retracing=True)
            def run(image, boxes, box_scores):
                center, scale = estimator.centers_and_scales(boxes)
                index = tf.zeros(tf.shape(boxes)[:1], tf.int32)
                return estimator(image[None], index, center, scale, box_scores)

            self._runs[flip] = run
        return self._runs[flip]

    def predict(self, image: np.ndarray, boxes: Optional[Sequence[Sequence[float]]] = None,
                flip: Optional[bool] = None,
                box_scores: Optional[Sequence[float]] = None) -> PoseResult:
        """Keypoints of the people in ``boxes``.

        Args:
          image: (H, W, 3) uint8 RGB.
          boxes: (M, 4) [x, y, w, h] pixels; None: the people found by the
            person detector the SavedModel carries (their detection scores
            as ``box_scores``), or the whole image for a model without one.
          flip: the flip test (with the reference's one-pixel shift); None:
            the checkpoint's ``test.flip_test``.
          box_scores: (M,) detection scores multiplied into ``scores``.

        Raises:
          ValueError: for an image that is not (H, W, 3) uint8, or is empty,
            or a bad box.
          keras_pose.fork_safety.ForkedTensorFlowError: in a forked child of a
            process that had run TensorFlow (it would hang there).
        """
        check_not_forked("Predictor.predict")
        image = check_rgb_image(image)
        if boxes is None:
            boxes, box_scores = self._default_boxes(image, box_scores)
        boxes = check_boxes(boxes, image_size=image.shape[:2])
        scores = np.ones(len(boxes), np.float32) if box_scores is None else \
            _box_scores(box_scores)
        if scores.shape != (len(boxes),):
            raise ValueError(f"{len(scores)} box scores for {len(boxes)} boxes")
        bad = np.flatnonzero(~(np.isfinite(scores) & (scores >= 0)))
        if len(bad):  # Was multiplied into the person scores as given.
            raise ValueError(f"box score {bad[0]} is {scores[bad[0]]}: box scores are "
                             "finite numbers >= 0")
        flip = check_flip(flip)
        flip = self.config.test.flip_test if flip is None else flip
        run, pixels, chunk = self._run(flip), tf.constant(image), self.config.test.batch_size
        parts = []
        # test.batch_size people a call: all of them at once took ~6 MB a box
        # (11 GB for 2000 boxes of one crowded photo).
        for start in range(0, max(len(boxes), 1), chunk):
            # A Ctrl-C inside TensorFlow's tracing of a new size came out as its
            # "AssertionError: Concurrent access?", or broke every later call
            # ("Attempting to capture an EagerTensor"): it waits for the call.
            with defer_interrupts():
                out = run(pixels, tf.constant(boxes[start:start + chunk]),
                          tf.constant(scores[start:start + chunk]))
            parts.append([out[name].numpy() for name in ("keypoints", "keypoint_scores",
                                                         "scores")])
        return PoseResult(*(np.concatenate(arrays) for arrays in zip(*parts)), boxes)

    def draw(self, image: np.ndarray, result: PoseResult, score_threshold: float = 0.2
             ) -> np.ndarray:
        """The image with boxes, limbs (left / right / centre colours) and
        keypoints whose score is above ``score_threshold``."""
        from keras_pose.visualization import draw_poses
        return draw_poses(image, result.keypoints, result.keypoint_scores, result.boxes,
                          self.config.data.skeleton, self.config.data.keypoint_names,
                          score_threshold)
