"""SavedModel export: keypoints from images and boxes, entirely in the graph.

Every signature runs the one inference path
(:class:`keras_pose.inference.TopDownEstimator`). Signatures (N images, M
boxes per image, K keypoints, h x w crop):

- ``serving_default``: ``images`` uint8 (N, H, W, 3) RGB, ``boxes`` float32
  (N, M, 4) [x, y, w, h] pixels, ``num_boxes`` int32 (N,) (boxes past it are
  padding) -> ``keypoints`` (N, M, K, 2) original-image pixels,
  ``keypoint_scores`` (N, M, K), ``scores`` (N, M) (the reference's mean of
  the keypoint scores above ``test.in_vis_threshold``). Only the real boxes
  are cropped and run; padded slots return zeros.
- ``heatmaps``: normalised crops (N, h, w, 3) float32 -> ``heatmaps``
  (N, h/4, w/4, K), for users who crop themselves.
- ``encoded_image``: ``image_bytes`` (a JPEG/PNG/BMP/GIF string) and
  ``boxes`` float32 (M, 4) -> ``keypoints`` (M, K, 2), ``keypoint_scores``
  (M, K), ``scores`` (M,), for REST clients that send files.
- ``detect_and_estimate`` (exported with a person detector):
  ``image_bytes`` and ``score_threshold`` float32 (0 or 1 values; empty:
  the export's default) -> every person's ``boxes`` (M, 4), ``box_scores``
  (M,), ``keypoints``, ``keypoint_scores``, ``scores``: detection, its NMS,
  crops, flip test and decoding in one graph, one request per photo.

Inputs are checked in the graph (``keras_pose.export.signature_checks``):
a malformed input fails the request with an InvalidArgumentError whose
message names the input and the expected shape (images that are not
(N, H, W, 3) or grey (N, H, W, 1), crops that are not (N, h, w, 3), boxes
or ``num_boxes`` of another rank, boxes that are not finite with positive
size, ``num_boxes`` of another length than the images or out of range, an
``image_bytes`` that is not one string); empty inputs (no image, no box)
give empty outputs. ``assets/config.json`` carries the experiment config
(sizes, K, keypoint names, flip pairs, skeleton, OKS sigmas, normalisation).
"""

from __future__ import annotations

import errno
import os
from typing import Any

import keras
import tensorflow as tf

from keras_pose.checkpoint import write_checkpoint_dir
from keras_pose.configs import ExperimentConfig, save_config
from keras_pose.data import decoding
from keras_pose.export.signature_checks import (
    check_boxes_tf, check_crops_tf, check_image_shape_tf, check_images_tf, check_one_image_tf,
    check_rank_tf, check_threshold_tf)
from keras_pose.inference import TopDownEstimator
from keras_pose.models.dtypes import float32_scope


class _Untracked:
    """Holds an object out of tf.Module's tracking (and so out of the save)."""

    def __init__(self, value: Any):
        self.value = value


def frozen_network(model: keras.Model, crop_size: tuple[int, int]):
    """The network in inference mode with its weights as graph constants:
    crops (B, h, w, 3) float32 -> heatmaps, one graph function.

    On CPU this lets TF's oneDNN convolutions (``TF_ENABLE_ONEDNN_OPTS=1``,
    which ``keras_pose`` sets) keep their weights: a convolution whose filter
    is a constant converts it once into oneDNN's blocked layout, while a
    filter read from a variable is converted at every call (or, at batch 1,
    run through a slower im2col + GEMM kernel that takes TF's layout as is).
    Same arithmetic, same outputs (docs/benchmarks.md, "fp32 TensorFlow
    against OpenVINO and PyTorch").
    """
    # A private TF module (no public equivalent in TF 2.21): setup.py pins
    # tensorflow below 2.22.
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    height, width = crop_size
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, height, width, 3], tf.float32))
    frozen = convert_variables_to_constants_v2(concrete)
    return lambda x: frozen(x)[0]


class PoseServingModule(tf.Module):
    """The exported graph: a Keras pose model plus the inference path, and
    optionally a person detector (``detect_and_estimate``).

    Args:
      model: the (fused) pose network.
      config: its experiment config.
      flip: the flip test.
      detector: a ``keras_pose.detection.KerasHubPersonDetector`` (a
        ``tf.Module``; its ``score_threshold`` should be low, the signature
        applies its own), or None.
      detector_threshold: the default person score threshold of
        ``detect_and_estimate``.
      freeze: the network's weights as graph constants (:func:`frozen_network`);
        False: as variables.
    """

    def __init__(self, model: keras.Model, config: ExperimentConfig, flip: bool = True,
                 detector: Any = None, detector_threshold: float = 0.3, freeze: bool = True):
        super().__init__()
        width, height = config.model.image_size
        self._crop_size = (height, width)
        self._keras_model = _Untracked(model)
        if freeze:
            # The weights as constants of the graph (no variables to save).
            network = frozen_network(model, (height, width))
        else:
            # The weights are tracked as their tf.Variables only (as
            # keras.export does: TF1-style loaders such as `saved_model_cli
            # run` restore by them); the Keras model stays untracked, or each
            # weight is saved twice.
            self.model_variables = [v.value for v in model.weights]
            network = lambda x: model(x, training=False)  # noqa: E731
        self._estimator = TopDownEstimator(network, config, flip)
        self.heatmaps = tf.function(self._heatmaps, input_signature=[
            tf.TensorSpec([None, height, width, 3], tf.float32, name="images")])
        self.keypoints = tf.function(self._keypoints, input_signature=[
            # Channels unknown: grey (N, H, W, 1) images are taken (check_image_shape_tf);
            # a 3 here made saved_model_cli and the restored function refuse them.
            tf.TensorSpec([None, None, None, None], tf.uint8, name="images"),
            tf.TensorSpec([None, None, 4], tf.float32, name="boxes"),
            tf.TensorSpec([None], tf.int32, name="num_boxes")])
        self.encoded_image = tf.function(self._encoded_image, input_signature=[
            tf.TensorSpec([], tf.string, name="image_bytes"),
            tf.TensorSpec([None, 4], tf.float32, name="boxes")])
        self.detector = detector
        self._detector_threshold = float(detector_threshold)
        if detector is not None:
            self.detect_and_estimate = tf.function(self._detect_and_estimate, input_signature=[
                tf.TensorSpec([], tf.string, name="image_bytes"),
                tf.TensorSpec([None], tf.float32, name="score_threshold")])
            self.detect = tf.function(self._detect, input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                tf.TensorSpec([None], tf.float32, name="score_threshold")])

    def signatures(self) -> dict[str, Any]:
        """The concrete functions to export, by signature name."""
        out = {"serving_default": self.keypoints.get_concrete_function(),
               "heatmaps": self.heatmaps.get_concrete_function(),
               "encoded_image": self.encoded_image.get_concrete_function()}
        if self.detector is not None:
            out["detect_and_estimate"] = self.detect_and_estimate.get_concrete_function()
            out["detect"] = self.detect.get_concrete_function()
        return out

    def _heatmaps(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        # The network reads the checked crops: a crop batch of another rank
        # reached oneDNN's convolution, which aborted the process.
        return {"heatmaps": self._estimator.network_heatmaps(
            check_crops_tf(images, self._crop_size))}

    def _people(self, images: tf.Tensor, image_index: tf.Tensor, boxes: tf.Tensor
                ) -> dict[str, tf.Tensor]:
        center, scale = self._estimator.centers_and_scales(boxes)
        ones = tf.ones(tf.shape(boxes)[:1], tf.float32)
        return self._estimator(images, image_index, center, scale, ones)

    def _encoded_image(self, image_bytes: tf.Tensor, boxes: tf.Tensor) -> dict[str, tf.Tensor]:
        image = decoding.decode_image_tf(_check_image_bytes(image_bytes))
        boxes = check_rank_tf(boxes, "boxes", 2, "float32 (M, 4) boxes [x, y, w, h] of the "
                              "one image (no batch axis)", last_dim=4)
        boxes = check_boxes_tf(boxes, "boxes", tf.shape(image)[:2])
        return self._people(image[None], tf.zeros(tf.shape(boxes)[:1], tf.int32), boxes)

    def _people_found(self, image: tf.Tensor, score_threshold: tf.Tensor):
        """(H, W, 3) uint8 -> the detector's boxes (M, 4) and scores (M,)
        at or above ``score_threshold`` (an empty list: the export's
        default), its NMS included; and M."""
        score_threshold = check_threshold_tf(score_threshold)
        boxes, scores, count = self.detector.detect_tf(image)
        threshold = tf.cond(tf.size(score_threshold) > 0, lambda: score_threshold[0],
                            lambda: tf.constant(self._detector_threshold))
        # Sorted by score: the people above the threshold come first.
        count = tf.minimum(count, tf.reduce_sum(tf.cast(scores >= threshold, tf.int32)))
        return boxes[:count], scores[:count], count

    def _detect(self, image: tf.Tensor, score_threshold: tf.Tensor) -> dict[str, tf.Tensor]:
        """The people of an image, without their poses (predict.py's
        detector when it runs this SavedModel)."""
        boxes, scores, _ = self._people_found(check_one_image_tf(image), score_threshold)
        return {"boxes": boxes, "box_scores": scores}

    def _detect_and_estimate(self, image_bytes: tf.Tensor,
                             score_threshold: tf.Tensor) -> dict[str, tf.Tensor]:
        """Every person of an image: the detector (its NMS included), then
        the pose path on its boxes, all in the graph. ``score_threshold`` is
        optional: an empty list means the export's default."""
        image = decoding.decode_image_tf(_check_image_bytes(image_bytes))
        boxes, scores, count = self._people_found(image, score_threshold)
        center, scale = self._estimator.centers_and_scales(boxes)
        out = self._estimator(image[None], tf.zeros([count], tf.int32), center, scale, scores)
        return {"boxes": boxes, "box_scores": scores, **out}

    def _keypoints(self, images: tf.Tensor, boxes: tf.Tensor,
                   num_boxes: tf.Tensor) -> dict[str, tf.Tensor]:
        # First: every other check reads their shapes.
        images = check_image_shape_tf(images)
        boxes = check_rank_tf(boxes, "boxes", 3, "float32 (N, M, 4) boxes [x, y, w, h], M "
                              "per image (a batch, even of one)", last_dim=4)
        num_boxes = check_rank_tf(num_boxes, "num_boxes", 1, "int32 (N,), one count per image")
        n, max_boxes = tf.shape(images)[0], tf.shape(boxes)[1]
        checks = [
            tf.debugging.assert_equal(tf.shape(boxes)[0], n, message=(
                "boxes: its first dimension must equal the number of images")),
            tf.debugging.assert_equal(tf.shape(num_boxes)[0], n, message=(
                "num_boxes: one count per image")),
            tf.debugging.assert_non_negative(num_boxes, message="num_boxes: counts must be >= 0"),
            tf.debugging.assert_less_equal(num_boxes, max_boxes, message=(
                "num_boxes: a count exceeds the number of box slots (boxes.shape[1])"))]
        # Before anything reads them: else a gather fails first, naming no input.
        with tf.control_dependencies(checks):
            boxes, num_boxes = tf.identity(boxes), tf.identity(num_boxes)
        images = check_images_tf(images, num_boxes)
        positions = tf.where(tf.sequence_mask(num_boxes, max_boxes))  # (P, 2) real boxes
        real = check_boxes_tf(tf.gather_nd(boxes, positions), "boxes", tf.shape(images)[1:3])
        out = self._people(images, tf.cast(positions[:, 0], tf.int32), real)
        k = self._estimator.num_keypoints
        shapes = {"keypoints": [k, 2], "keypoint_scores": [k], "scores": []}
        full = tf.cast(tf.stack([n, max_boxes]), tf.int64)
        return {key: tf.scatter_nd(positions, out[key], tf.concat(
            [full, tf.constant(shape, tf.int64)], 0)) for key, shape in shapes.items()}


def _check_image_bytes(image_bytes: tf.Tensor) -> tf.Tensor:
    """``image_bytes``, once checked to be one string (a list of one, the
    row format's, failed with "The second input must be a scalar")."""
    return check_rank_tf(image_bytes, "image_bytes", 0,
                         "one encoded image: a scalar string, not a list")


def export_saved_model(model: keras.Model, config: ExperimentConfig,
                       output_dir: str | os.PathLike,
                       flip: bool | None = None, optimize: bool = True,
                       precision: str = "fp32", detector: Any = None,
                       detector_threshold: float = 0.3, freeze: bool = True) -> str:
    """Writes the SavedModel (atomically: a temporary directory renamed into
    place) with the ``serving_default``, ``heatmaps`` and ``encoded_image``
    signatures.

    Args:
      model: the Keras pose model.
      config: its experiment config (written to ``assets/config.json``).
      output_dir: the SavedModel directory (a str or a pathlib.Path).
      flip: flip test in the keypoint signatures; default ``test.flip_test``.
      optimize: export the fused inference form (BatchNorm folded,
        sub-pixel deconvolutions; equal outputs, faster on CPU).
      precision: ``fp32``, ``bf16``, ``fp16`` or ``auto``
        (``keras_pose.export.precision``): the network's weights and
        arithmetic in the graph itself, so any TF runtime computes in it with
        no option; inputs and outputs stay float32. Written with the format
        to ``assets/export.json``.
      detector: a ``KerasHubPersonDetector`` to export with the pose model:
        adds the ``detect_and_estimate`` signature (image bytes -> every
        person's box, score and keypoints) and ``detect`` ((H, W, 3) uint8
        image -> boxes and scores: the detector predict.py runs with this
        SavedModel); ``assets/export.json`` names it and its threshold.
      detector_threshold: that signature's default person score threshold.
      freeze: the network's weights as constants of the graph, not variables
        (:func:`frozen_network`: faster on CPU with oneDNN, same outputs;
        the SavedModel's size is unchanged, the weights move from
        ``variables/`` into ``saved_model.pb``).

    Raises:
      ExportError: for ``int8`` (TF has no int8 convolutions on CPU: see
        ``keras_pose.export.runtimes``) or a low precision without
        ``optimize``; ``ExportOutputError`` for an ``output_dir`` that holds
        anything but a keras_pose SavedModel (nothing is written);
        TypeError for an ``output_dir`` that is no path.
    """
    from keras_pose.export.destination import check_output
    from keras_pose.export.precision import write_export_info
    from keras_pose.tf_paths import path_text
    output_dir = path_text(output_dir, "export_saved_model: output_dir")  # A Path: no .strip.
    # A run's folder or the user's own files there were replaced by the
    # SavedModel, in silence (scripts/export_saved_model.py checked; this did not).
    check_output(output_dir, "saved_model", flag="output_dir")
    precision = _saved_model_precision(precision, optimize, model)
    # Was built and traced under the caller's dtype policy / floatx: with
    # floatx float16 the fused network took float16 inputs, labelled fp32.
    with float32_scope():
        if optimize:
            from keras_pose.export.inference_model import build_inference_model
            model = build_inference_model(model, config, precision)
        module = PoseServingModule(model, config, config.test.flip_test if flip is None
                                   else flip, detector, detector_threshold, freeze)
    # The detector's custom gradients are not needed to serve (saves ~10 s).
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=detector is None)

    def write(tmp: str) -> None:
        try:
            tf.saved_model.save(module, tmp, signatures=module.signatures(), options=options)
        except tf.errors.ResourceExhaustedError as e:
            if "No space left" not in str(e):
                raise
            # TF's own error class for a full disk: an OSError, as every
            # other write says it (one line naming the place).
            raise OSError(errno.ENOSPC, "No space left on device", output_dir) from e
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        save_config(config, os.path.join(tmp, "assets", "config.json"))
        detector_info = {} if detector is None else {
            "detector": getattr(detector, "preset", None) or type(detector).__name__,
            "detector_threshold": float(detector_threshold)}
        write_export_info(os.path.join(tmp, "assets"), format="saved_model",
                          precision=precision, fused=bool(optimize), **detector_info)

    with float32_scope():
        return write_checkpoint_dir(output_dir, write)


def _saved_model_precision(precision: str, optimize: bool, model: keras.Model) -> str:
    """``precision`` resolved, refused where a SavedModel cannot hold it."""
    from keras_pose.export.precision import ExportError, resolve_precision
    precision = resolve_precision(precision)
    if precision == "int8":
        raise ExportError("int8 is a quantization of the ONNX, OpenVINO and LiteRT exports "
                          "(keras_pose.export.runtimes); a SavedModel is fp32, bf16 or fp16")
    if precision != "fp32" and not optimize:
        raise ValueError(f"precision {precision} is built into the fused inference form: "
                         "use optimize=True")
    if not optimize:
        _check_float32(model)
    return precision


def _check_float32(model: keras.Model) -> None:
    """Refuses to export ``model`` as it is (``optimize=False``, labelled
    fp32) when it does not compute in float32: a network built under the
    caller's mixed_bfloat16 policy was written as a bf16 graph whose
    export.json said fp32.

    Raises:
      ExportError: naming the layers' types and the ways to export.
    """
    from keras_pose.export.precision import ExportError
    dtypes = sorted({layer.compute_dtype for layer in [model] + list(model.layers)}
                    | {w.dtype for w in model.weights if "float" in w.dtype})
    if dtypes == ["float32"]:
        return
    raise ExportError(
        f"model {model.name!r} computes in {' / '.join(dtypes)} (built under a Keras dtype "
        "policy or floatx other than float32): optimize=False exports it as it is, as fp32. "
        "Load it with keras_pose.checkpoint.load_model (always float32), or export with "
        "optimize=True (precision= fp32, bf16 or fp16 rebuilds it in that type)")


def export_tflite(saved_model_dir: str | os.PathLike, output_path: str | os.PathLike) -> str:
    """Converts the ``heatmaps`` signature of an fp32 SavedModel to a float32
    LiteRT (TFLite) export: the file and its sidecar (``model.json``, the
    SavedModel's config), which predict.py / evaluate.py run as they run
    ``--format litert``'s.

    The keypoint signatures (crops, decoding) stay SavedModel-only; TFLite
    users crop and decode themselves, or use keras_pose's loader.

    Raises:
      ExportOutputError: for an ``output_path`` that is a folder, a file that
        is not a TFLite model, or a sidecar place holding another file
        (nothing is written).
      ExportError: a SavedModel that is not fp32.
      TypeError: either argument is no path (a str or a pathlib.Path).
    """
    import json

    from keras_pose.configs import load_config
    from keras_pose.export.destination import check_tflite_output
    from keras_pose.export.precision import ExportError, read_export_info
    from keras_pose.export.runtimes import sidecar_info, sidecar_path
    from keras_pose.files import write_files_atomically
    from keras_pose.tf_paths import literal_path, path_text
    saved_model_dir = path_text(saved_model_dir, "export_tflite: saved_model_dir")
    output_path = path_text(output_path, "export_tflite: output_path")  # A Path: no .endswith.
    check_tflite_output(output_path)
    if not output_path.endswith(".tflite"):  # Written, then no loader took it.
        from keras_pose.export.destination import ExportOutputError
        raise ExportOutputError(f"output_path {output_path}: give a file name ending in .tflite")
    assets = os.path.join(saved_model_dir, "assets")
    precision = read_export_info(assets).get("precision")
    if precision != "fp32":
        raise ExportError(f"{saved_model_dir} is a {precision} SavedModel: the TFLite file is "
                          "converted from an fp32 one (export --format litert for others)")
    info = sidecar_info(load_config(os.path.join(assets, "config.json")), "litert", "fp32")
    # Was a traceback for a folder holding '[' or '\\' (TF globs the
    # variables path): converted through a plain link.
    with literal_path(saved_model_dir) as literal:
        converter = tf.lite.TFLiteConverter.from_saved_model(literal,
                                                             signature_keys=["heatmaps"])
        data = converter.convert()
    from keras_pose.export.checkpoint_version import content_record
    info["network_files"] = content_record(".tflite", data)  # Tied to this file, as any export.

    def write(tmps: list[str]) -> None:
        for tmp, content in zip(tmps, (data, json.dumps(info, indent=1).encode())):
            with open(tmp, "wb") as f:
                f.write(content)
    write_files_atomically([output_path, sidecar_path(output_path)], write)
    return output_path
