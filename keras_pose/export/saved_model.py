"""SavedModel export: keypoints from images and boxes, entirely in the graph.

Signatures (N images, M boxes per image, K keypoints, h x w crop):

- ``serving_default``: ``images`` uint8 (N, H, W, 3) RGB, ``boxes`` float32
  (N, M, 4) [x, y, w, h] pixels, ``num_boxes`` int32 (N,) (boxes past it are
  padding) -> ``keypoints`` (N, M, K, 2) original-image pixels,
  ``keypoint_scores`` (N, M, K), ``scores`` (N, M) (the reference's mean of
  the keypoint scores above ``test.in_vis_threshold``). Box to center/scale,
  the affine crop, normalisation (the checkpoint's colour order), the
  network, the flip test with the one-pixel shift, argmax, quarter-pixel
  refinement and the inverse transform all run inside the graph; padded
  boxes give zeros.
- ``heatmaps``: normalised crops (N, h, w, 3) float32 -> ``heatmaps``
  (N, h/4, w/4, K), for users who crop themselves (evaluate.py uses it).
- ``encoded_image``: ``image_bytes`` (a JPEG/PNG/BMP/GIF string) and
  ``boxes`` float32 (M, 4) -> ``keypoints`` (M, K, 2), ``keypoint_scores``
  (M, K), ``scores`` (M,), for REST clients that send files.

``assets/config.json`` carries the experiment config (sizes, K, flip pairs,
normalisation).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import keras
import tensorflow as tf

from keras_pose.checkpoint import replace_directory
from keras_pose.codec import HeatmapCodec
from keras_pose.configs import ExperimentConfig, save_config
from keras_pose.data import transforms
from keras_pose.evaluation.flip import fuse_flip_tf


class PoseServingModule(tf.Module):
    """The exported graph: a Keras pose model plus its pre/post-processing."""

    def __init__(self, model: keras.Model, config: ExperimentConfig, flip: bool = True):
        super().__init__()
        self.model = model
        # Track the underlying tf.Variables directly (as keras.export does):
        # TF1-style loaders such as `saved_model_cli run` restore by them.
        self.model_variables = [v.value for v in model.weights]
        self._config = config
        self._flip = flip
        self._codec = HeatmapCodec.from_model_config(config.model)
        width, height = config.model.image_size
        k = config.model.num_keypoints
        self.heatmaps = tf.function(
            self._heatmaps,
            input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32, name="images")])
        self.keypoints = tf.function(
            self._keypoints,
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images"),
                             tf.TensorSpec([None, None, 4], tf.float32, name="boxes"),
                             tf.TensorSpec([None], tf.int32, name="num_boxes")])
        self.encoded_image = tf.function(
            self._encoded_image,
            input_signature=[tf.TensorSpec([], tf.string, name="image_bytes"),
                             tf.TensorSpec([None, 4], tf.float32, name="boxes")])
        self._num_keypoints = k

    def _network(self, crops: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.model(crops, training=False), tf.float32)

    def _heatmaps(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"heatmaps": self._network(images)}

    def _encoded_image(self, image_bytes: tf.Tensor, boxes: tf.Tensor) -> dict[str, tf.Tensor]:
        image = transforms.decode_image_tf(image_bytes)
        out = self._keypoints(image[None], boxes[None], tf.shape(boxes)[:1])
        return {key: value[0] for key, value in out.items()}

    def _keypoints(self, images: tf.Tensor, boxes: tf.Tensor,
                   num_boxes: tf.Tensor) -> dict[str, tf.Tensor]:
        m, d, t = self._config.model, self._config.data, self._config.test
        n = tf.shape(boxes)[0]
        max_boxes = tf.shape(boxes)[1]
        flat_boxes = tf.reshape(boxes, [-1, 4])
        image_index = tf.repeat(tf.range(n), max_boxes)
        center, scale = transforms.box_to_center_scale_tf(flat_boxes, m.aspect_ratio,
                                                          d.box_padding)
        inverse = transforms.get_affine_transform_tf(center, scale, 0.0, m.image_size,
                                                     inverse=True)
        crops = transforms.warp_affine_tf(tf.gather(images, image_index), inverse, m.image_size)
        crops = transforms.normalize_image(crops, m.color_order, m.mean, m.std)
        if self._flip:
            count = tf.shape(crops)[0]
            both = self._network(tf.concat([crops, tf.reverse(crops, [2])], 0))
            heatmaps = fuse_flip_tf(both[:count], both[count:], d.flip_pairs,
                                    shift=t.shift_heatmap)
        else:
            heatmaps = self._network(crops)
        coords, scores = self._codec.decode_tf(heatmaps, center, scale, refine=t.refine)
        confident = tf.cast(scores > t.in_vis_threshold, tf.float32)
        person = tf.math.divide_no_nan(tf.reduce_sum(scores * confident, -1),
                                       tf.reduce_sum(confident, -1))
        valid = tf.sequence_mask(num_boxes, max_boxes, dtype=tf.float32)  # (N, M)
        k = self._num_keypoints
        coords = tf.reshape(coords, [n, max_boxes, k, 2]) * valid[..., None, None]
        scores = tf.reshape(scores, [n, max_boxes, k]) * valid[..., None]
        person = tf.reshape(person, [n, max_boxes]) * valid
        return {"keypoints": coords, "keypoint_scores": scores, "scores": person}


def export_saved_model(model: keras.Model, config: ExperimentConfig, output_dir: str,
                       flip: bool | None = None, optimize: bool = True) -> str:
    """Writes the SavedModel (atomically: a temporary directory renamed into
    place) with the ``serving_default`` and ``heatmaps`` signatures.

    Args:
      model: the Keras pose model.
      config: its experiment config (written to ``assets/config.json``).
      output_dir: the SavedModel directory.
      flip: flip test in ``serving_default``; default ``test.flip_test``.
      optimize: export the fused inference form (BatchNorm folded,
        sub-pixel deconvolutions; equal outputs, faster on CPU).
    """
    if optimize:
        from keras_pose.export.inference_model import build_inference_model
        model = build_inference_model(model, config)
    module = PoseServingModule(model, config,
                               config.test.flip_test if flip is None else flip)
    tmp = f"{output_dir.rstrip(os.sep)}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tf.saved_model.save(module, tmp, signatures={
            "serving_default": module.keypoints.get_concrete_function(),
            "heatmaps": module.heatmaps.get_concrete_function(),
            "encoded_image": module.encoded_image.get_concrete_function()})
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        save_config(config, os.path.join(tmp, "assets", "config.json"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_directory(tmp, output_dir)
    return output_dir


def load_saved_model(path: str) -> Any:
    """``tf.saved_model.load`` of an exported model (signatures in
    ``.signatures``)."""
    return tf.saved_model.load(path)


def export_tflite(saved_model_dir: str, output_path: str) -> str:
    """Converts the ``heatmaps`` signature to a float32 TFLite model.

    The keypoint signature (crops, decoding) stays SavedModel-only; TFLite
    users crop and decode themselves (``HeatmapCodec.decode``).
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=["heatmaps"])
    data = converter.convert()
    tmp = f"{output_path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, output_path)
    return output_path
