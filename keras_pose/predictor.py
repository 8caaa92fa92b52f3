"""Keypoints for people in any image: the Python inference API.

    from keras_pose import Predictor
    predictor = Predictor.from_checkpoint("output/tiny")     # or a SavedModel
    image = read_image("people.jpg")  # keras_pose.data.images: RGB uint8
    result = predictor.predict(image, boxes=[[10, 20, 100, 200]])
    cv2.imwrite("out.jpg", predictor.draw(image, result)[..., ::-1])

This is a top-down method: every person needs a box (from a person detector
of your choice); with no boxes the whole image is taken as one person.
The crop, normalisation, flip test and decoding are the same TF ops the
exported SavedModel runs.

Shapes: M people (boxes), K keypoints.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from keras_pose.checkpoint import load_model, resolve_checkpoint
from keras_pose.codec import HeatmapCodec
from keras_pose.configs import ExperimentConfig, load_config
from keras_pose.data import transforms
from keras_pose.evaluation.flip import fuse_flip_tf


def _override(config: ExperimentConfig, overrides: Sequence[str]) -> ExperimentConfig:
    from keras_pose.configs import ConfigError, apply_overrides
    changed = apply_overrides(config, list(overrides))
    if changed.model != config.model:
        raise ConfigError("model.* cannot be overridden at inference: the checkpoint's "
                          "weights define the model")
    return changed


@dataclasses.dataclass
class PoseResult:
    """Keypoints of M people.

    Attributes:
      keypoints: (M, K, 2) float32 image pixels.
      keypoint_scores: (M, K) float32 heatmap maxima.
      scores: (M,) float32 person scores (mean keypoint score above the
        visibility threshold, times the box score when given).
      boxes: (M, 4) float32 [x, y, w, h] used.
    """

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray


class Predictor:
    """Runs a pose model on images with person boxes.

    Args:
      heatmap_fn: normalised crops (B, h, w, 3) float32 -> heatmaps.
      config: the experiment config of the model (sizes, normalisation,
        flip pairs, skeleton).
    """

    def __init__(self, heatmap_fn: Callable[[tf.Tensor], tf.Tensor], config: ExperimentConfig):
        self.config = config
        self._heatmap_fn = heatmap_fn
        self._codec = HeatmapCodec.from_model_config(config.model)
        self._crops = tf.function(self._crops_fn, reduce_retracing=True)
        self._fused = tf.function(self._fused_fn, reduce_retracing=True)

    @classmethod
    def from_checkpoint(cls, path: str, overrides: Sequence[str] = ()) -> "Predictor":
        """From a checkpoint directory, a model directory, a converted
        official checkpoint or an exported SavedModel.

        Args:
          path: the checkpoint.
          overrides: ``section.field=value`` changes of the checkpoint's
            config (e.g. ``test.shift_heatmap=false``); the ``model`` section
            cannot change (it describes the weights).

        Raises:
          keras_pose.checkpoint.CheckpointError: for a path that is none of them.
        """
        resolved = resolve_checkpoint(path)
        if resolved.kind == "keras":
            model, config = load_model(resolved.path)
            return cls(lambda x: model(x, training=False), _override(config, overrides))
        loaded = tf.saved_model.load(resolved.path)
        config_path = os.path.join(resolved.path, "assets", "config.json")
        from keras_pose.checkpoint import CheckpointError
        if "heatmaps" not in loaded.signatures or not os.path.isfile(config_path):
            raise CheckpointError(f"SavedModel {resolved.path} was not exported by keras_pose "
                                  "(no 'heatmaps' signature or assets/config.json)")
        signature = loaded.signatures["heatmaps"]
        predictor = cls(lambda x: signature(images=x)["heatmaps"],
                        _override(load_config(config_path), overrides))
        predictor._saved_model = loaded  # keeps the variables alive
        return predictor

    def _crops_fn(self, image: tf.Tensor, boxes: tf.Tensor):
        m, d = self.config.model, self.config.data
        center, scale = transforms.box_to_center_scale_tf(boxes, m.aspect_ratio, d.box_padding)
        inverse = transforms.get_affine_transform_tf(center, scale, 0.0, m.image_size,
                                                     inverse=True)
        count = tf.shape(boxes)[0]
        images = tf.repeat(image[None], count, axis=0)
        crops = transforms.warp_affine_tf(images, inverse, m.image_size)
        return transforms.normalize_image(crops, m.color_order, m.mean, m.std), center, scale

    def _fused_fn(self, crops: tf.Tensor, flip: bool):
        if not flip:
            return tf.cast(self._heatmap_fn(crops), tf.float32)
        count = tf.shape(crops)[0]
        both = tf.cast(self._heatmap_fn(tf.concat([crops, tf.reverse(crops, [2])], 0)),
                       tf.float32)
        return fuse_flip_tf(both[:count], both[count:], self.config.data.flip_pairs,
                            shift=self.config.test.shift_heatmap)

    def predict(self, image: np.ndarray, boxes: Optional[Sequence[Sequence[float]]] = None,
                flip: bool = True, box_scores: Optional[Sequence[float]] = None) -> PoseResult:
        """Keypoints of the people in ``boxes``.

        Args:
          image: (H, W, 3) uint8 RGB.
          boxes: (M, 4) [x, y, w, h] pixels; None: the whole image.
          flip: the flip test (with the reference's one-pixel shift).
          box_scores: (M,) detection scores multiplied into ``scores``.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
        if boxes is None:
            boxes = [[0.0, 0.0, float(image.shape[1]), float(image.shape[0])]]
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        k = self.config.model.num_keypoints
        if len(boxes) == 0:
            return PoseResult(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32),
                              np.zeros((0,), np.float32), boxes)
        crops, center, scale = self._crops(tf.constant(image), tf.constant(boxes))
        heatmaps = self._fused(crops, bool(flip)).numpy()
        coords, scores = self._codec.decode(heatmaps, center.numpy(), scale.numpy(),
                                            refine=self.config.test.refine)
        confident = scores > self.config.test.in_vis_threshold
        person = np.divide((scores * confident).sum(1), confident.sum(1),
                           out=np.zeros(len(scores), np.float32), where=confident.sum(1) > 0)
        if box_scores is not None:
            person = person * np.asarray(box_scores, np.float32)
        return PoseResult(coords, scores, person.astype(np.float32), boxes)

    def draw(self, image: np.ndarray, result: PoseResult, score_threshold: float = 0.2
             ) -> np.ndarray:
        """The image with boxes, limbs (left / right / centre colours) and
        keypoints whose score is above ``score_threshold``."""
        from keras_pose.visualization import draw_poses
        return draw_poses(image, result.keypoints, result.keypoint_scores, result.boxes,
                          self.config.data.skeleton, self.config.data.keypoint_names,
                          score_threshold)
