"""The default person detector: a COCO-trained D-FINE from keras-hub.

    detector = KerasHubPersonDetector.from_preset()      # dfine_small_obj2coco
    people = detector.detect(read_image("photo.jpg", upright=True))  # Detections(boxes, scores)

The first ``from_preset`` downloads the preset from Kaggle through kagglehub
into its cache (``$KAGGLEHUB_CACHE``, by default
``~/.cache/kagglehub/models/keras/d-fine/keras/<preset>/``); later runs read
it from there with no network. Without network and cache it raises
``DetectorUnavailableError``, which says how to pass boxes instead.

The detector is a ``tf.Module``: attach it to your own module and call
``detect_tf`` inside a ``tf.function`` to run detection in the same graph as
the pose network (the SavedModel then holds the detector's weights).

Shapes: N images, K = ``max_detections``.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from keras_pose import log as logging
from keras_pose.data.images import check_rgb_image
from keras_pose.detection.base import (Detections, PersonDetector, Source, check_filter,
                                       filter_detections_tf)
from keras_pose.detection.dfine import (COCO_CLASS_COUNTS, PRESETS, decode_dfine_tf,
                                        person_class_index, use_depthwise_kernels)
from keras_pose.errors import FlagError, UserError, import_required
from keras_pose.fork_safety import check_not_forked
from keras_pose.models.dtypes import float32_scope

DEFAULT_PRESET = "dfine_small_obj2coco"
# How predict.py goes on without a preset it cannot fetch (``unavailable_message``).
PREDICT_WAY_OUT = ("or pass a local copy of the preset directory as the detector; predict.py "
                   "runs without it given the people's boxes: --boxes FILE (COCO detection "
                   "results or {\"photo.jpg\": [[x, y, w, h], ...]}), or --detector none (each "
                   "whole image is one person)")


class DetectorUnavailableError(UserError, RuntimeError):
    """A detector preset that cannot be loaded (typically: no network on
    first use); the message says how to go on without it."""


class NotCocoDetectorError(UserError, ValueError):
    """A D-FINE preset whose classes are not COCO's (80 labels or 91 ids),
    among which "person" is not known; the message names the preset."""


class _Untracked:
    """Holds what a SavedModel must not traverse: the Keras model (SavedModel
    saving traces a ``serving_default`` for every nested Keras model, three
    for D-FINE, slow to trace) and the eager path's tf.functions."""

    def __init__(self, model):
        self.model = model
        self.resize = self.detect = None


class KerasHubPersonDetector(PersonDetector, tf.Module):
    """Person boxes from a keras-hub D-FINE object detector.

    Args:
      model: a ``keras_hub.models.DFineObjectDetector`` (from a preset, or
        built with ``keras_pose.detection.dfine.build_dfine_detector``).
      person_class: index of "person" in its classes; None: 0 for 80
        classes (COCO labels), 1 for 91 (COCO category ids).
      score_threshold: person probability below which boxes are dropped.
      nms_iou_threshold: NMS IoU (D-FINE rarely predicts duplicates; this
        removes the few); None: no NMS.
      max_detections: at most this many people per image (also the padded
        size of ``detect_tf``'s outputs).
      batch_size: images per network call in ``detect_batch``.
      fast_depthwise: run the backbone's depthwise convolutions with TF's
        depthwise kernel (``dfine.use_depthwise_kernels``: same results, 2-3x
        faster on CPU); changes ``model`` in place.
      preset: the preset name, for messages.
    """

    def __init__(self, model, person_class: Optional[int] = None, score_threshold: float = 0.3,
                 nms_iou_threshold: Optional[float] = 0.7, max_detections: int = 100,
                 batch_size: int = 4, fast_depthwise: bool = True,
                 preset: Optional[str] = None):
        tf.Module.__init__(self, name="person_detector")
        from keras_hub.models import DFineObjectDetector
        if not isinstance(model, DFineObjectDetector):
            raise TypeError(f"expected a keras_hub DFineObjectDetector, got {type(model).__name__}")
        if max_detections is None:
            raise ValueError("max_detections must be an integer (the padded output size)")
        check_filter(score_threshold, nms_iou_threshold, max_detections)
        if fast_depthwise:
            use_depthwise_kernels(model)
        self._untracked = _Untracked(model)
        # The weights are tracked as plain tf.Variables (as keras.export does):
        # a SavedModel holding this module saves and restores them.
        self.model_variables = [v.value for v in model.weights]
        self.person_class = person_class_index(model.num_classes, person_class)
        self.input_size = tuple(int(v) for v in model.backbone.anchor_image_size)
        self.score_threshold = float(score_threshold)
        self.nms_iou_threshold = nms_iou_threshold
        self.max_detections = int(max_detections)
        self.batch_size = int(batch_size)
        self.preset = preset
        height, width = self.input_size
        self._untracked.resize = tf.function(
            self.preprocess_tf, input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
        self._untracked.detect = tf.function(self.detect_resized_tf, input_signature=[
            tf.TensorSpec([None, height, width, 3], tf.float32),
            tf.TensorSpec([None, 2], tf.float32)])

    @property
    def model(self):
        """The keras-hub ``DFineObjectDetector``."""
        return self._untracked.model

    @classmethod
    def from_preset(cls, preset: str = DEFAULT_PRESET, *, way_out: Optional[str] = None,
                    **kwargs) -> "KerasHubPersonDetector":
        """Loads (downloading on first use) a keras-hub D-FINE preset.

        Args:
          preset: a keras-hub D-FINE preset name (the preset, even beside a
            folder of that name: ``./name`` is the folder), a local preset
            directory or a ``kaggle://`` / ``hf://`` handle.
          way_out: how the caller's tool goes on without a preset it cannot
            fetch (``unavailable_message``; default: predict.py's flags).
          **kwargs: the constructor's settings; without ``person_class`` the
            preset must have COCO's classes.

        Raises:
          ValueError: an unknown preset name.
          NotCocoDetectorError: not COCO's classes and no ``person_class``.
          DetectorUnavailableError: it cannot be fetched or read.
        """
        model = load_dfine_detector(preset, kwargs.get("person_class"), way_out)
        return cls(model, preset=preset, **kwargs)

    def preprocess_tf(self, image: tf.Tensor) -> tf.Tensor:
        """(H, W, 3) uint8 -> (h, w, 3) float32 in [0, 1] at the model's
        input size: stretched, not cropped or padded (the official eval)."""
        return preprocess_dfine_tf(image, self.input_size)

    def predict_raw_tf(self, images: tf.Tensor):
        """The network: (N, h, w, 3) float32 in [0, 1] -> logits (N, Q, C),
        relative boxes (N, Q, 4) (cx, cy, w, h) of the last decoder layer."""
        outputs = self.model(images, training=False)
        return outputs["logits"], outputs["pred_boxes"]

    def detect_resized_tf(self, images: tf.Tensor, image_sizes: tf.Tensor):
        """Detection on preprocessed images.

        Args:
          images: (N, h, w, 3) float32, ``preprocess_tf`` outputs.
          image_sizes: (N, 2) float32 (height, width) of the original images.

        Returns:
          boxes (N, K, 4) float32 [x, y, w, h] original-image pixels, scores
          (N, K) in decreasing order, counts (N,) int32 (the rest is padding).
        """
        logits, relative_boxes = self.predict_raw_tf(images)
        return dfine_person_detections_tf(
            logits, relative_boxes, image_sizes, self.person_class, self.score_threshold,
            self.nms_iou_threshold, self.max_detections)

    def detect_tf(self, image: tf.Tensor):
        """One image in a graph: (H, W, 3) uint8 -> boxes (K, 4) float32
        [x, y, w, h] pixels, scores (K,) decreasing, count int32 (the rest is
        zero padding). Usable inside any ``tf.function``; it calls the same
        traced function as ``detect`` (the network is traced once)."""
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        boxes, scores, counts = self._untracked.detect(self.preprocess_tf(image)[None],
                                                       size[None])
        return boxes[0], scores[0], counts[0]

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        """The people in one (H, W, 3) uint8 RGB image."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray],
                     sources: Optional[Sequence[Source]] = None) -> list[Detections]:
        """The people in each image; ``batch_size`` images per network call."""
        return detect_in_batches(images, self.batch_size, self._untracked.resize,
                                 self._untracked.detect)


def preprocess_dfine_tf(image: tf.Tensor, input_size: Sequence[int]) -> tf.Tensor:
    """(H, W, 3) uint8 RGB -> (h, w, 3) float32 in [0, 1] at ``input_size``
    (h, w): stretched, not cropped or padded (the official eval)."""
    resized = tf.image.resize(tf.cast(image, tf.float32), input_size, method="bilinear",
                              antialias=True)
    return resized / 255.0


def dfine_person_detections_tf(logits: tf.Tensor, relative_boxes: tf.Tensor,
                               image_sizes: tf.Tensor, person_class: int,
                               score_threshold: float, nms_iou_threshold: Optional[float],
                               max_detections: int):
    """D-FINE's raw outputs -> the people of each image, padded.

    Every detector running a D-FINE network (in TensorFlow or another
    runtime) decodes and filters with this, so their boxes differ only by
    the network's numerics.

    Args:
      logits: (N, Q, C) class logits.
      relative_boxes: (N, Q, 4) relative (cx, cy, w, h).
      image_sizes: (N, 2) float32 (height, width) of the original images.

    Returns:
      boxes (N, K, 4) float32 [x, y, w, h] original-image pixels, scores
      (N, K) in decreasing order, counts (N,) int32 (the rest is padding).
    """
    boxes, scores, valid = decode_dfine_tf(logits, relative_boxes, image_sizes, person_class)

    def one_image(args):
        return filter_detections_tf(*args[:2], score_threshold, nms_iou_threshold,
                                    max_detections, valid=args[2])

    k = max_detections
    return tf.map_fn(one_image, (boxes, scores, valid), fn_output_signature=(
        tf.TensorSpec([k, 4], tf.float32), tf.TensorSpec([k], tf.float32),
        tf.TensorSpec([], tf.int32)))


def detect_in_batches(images: Sequence[np.ndarray], batch_size: int,
                      resize: Callable, detect: Callable) -> list[Detections]:
    """Runs ``detect`` on ``batch_size`` images at a time.

    Args:
      images: (H, W, 3) uint8 RGB images (checked).
      resize: (H, W, 3) uint8 tensor -> (h, w, 3) float32 network input.
      detect: (n, h, w, 3) float32, (n, 2) float32 original sizes ->
        padded boxes, scores, counts (``dfine_person_detections_tf``).
    """
    check_not_forked("the person detector's detect")  # TF would hang in such a child.
    images = [check_rgb_image(image) for image in images]
    results: list[Detections] = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        batch = tf.stack([resize(tf.constant(im)) for im in chunk])
        sizes = tf.constant([im.shape[:2] for im in chunk], tf.float32)
        boxes, scores, counts = (np.asarray(t) for t in detect(batch, sizes))
        results.extend(Detections(b[:n], s[:n]) for b, s, n in zip(boxes, scores, counts))
    return results


def _fetch_errors() -> tuple:
    """What keras-hub / kagglehub raise when a preset cannot be fetched:
    requests' ConnectionError / Timeout (OSError subclasses) without network,
    FileNotFoundError for missing files, ValueError for other Kaggle API
    errors, kagglehub's own errors for credentials or corrupt downloads."""
    errors: tuple = (OSError, ValueError, ImportError)
    try:
        from kagglehub import exceptions as kaggle_errors
        errors += (kaggle_errors.BackendError, kaggle_errors.CredentialError,
                   kaggle_errors.DataCorruptionError, kaggle_errors.NotFoundError,
                   kaggle_errors.UnauthenticatedError)
    except ImportError:
        pass
    return errors


def _cache_dir() -> str:
    try:
        from kagglehub.config import get_cache_folder
        return get_cache_folder()
    except ImportError:
        return os.path.join("~", ".cache", "kagglehub")


def _hf_cache_dir() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
        return HF_HUB_CACHE
    except ImportError:
        return os.path.join("~", ".cache", "huggingface", "hub")


def _download_source(preset: str) -> tuple[str, str]:
    """(who serves ``preset``, the cache keras-hub downloads it into), by
    its handle's scheme as keras-hub reads it: ``hf://`` from Hugging Face
    into its cache, ``modelscope://`` from ModelScope, a preset name or
    ``kaggle://`` from Kaggle into kagglehub's (was said of every handle),
    ``gs://`` and TF's other file systems into Keras' own."""
    scheme = preset.split("://")[0].lower() if "://" in preset else "kaggle"
    if scheme == "hf":
        return "Hugging Face", (f"the Hugging Face cache ({_hf_cache_dir()}; HF_HOME or "
                                "HF_HUB_CACHE moves it)")
    if scheme == "modelscope":
        return "ModelScope", ("the ModelScope cache (~/.cache/modelscope/hub; MODELSCOPE_CACHE "
                              "moves it)")
    if scheme == "kaggle":
        return "Kaggle", f"the kagglehub cache ({_cache_dir()}; KAGGLEHUB_CACHE moves it)"
    return f"{scheme}://", "Keras' cache (~/.keras/models; KERAS_HOME moves it)"


def _short_cause(error: BaseException, preset: str = "") -> str:
    """One line on why a fetch of ``preset`` failed (the full error stays
    chained)."""
    try:
        import requests
        if isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return (f"no network connection to {_download_source(preset)[0]} "
                    f"({type(error).__name__})")
    except ImportError:
        pass
    cause = f"{type(error).__name__}: {error}".splitlines()[0]
    return cause if len(cause) <= 200 else cause[:200] + "..."


def unavailable_message(preset: str, error: BaseException, handle: Optional[str] = None,
                        way_out: Optional[str] = None) -> str:
    """Why ``preset`` could not be loaded and how to go on without it.

    Args:
      way_out: the caller's tool's ways on, after "; " (default
        ``PREDICT_WAY_OUT``: was predict.py's flags for every tool, the
        export script's ``--with_detector`` included).
    """
    info = PRESETS.get(preset)
    size = f" (about {info.download_mb} MB)" if info else ""
    where = f" ({handle})" if handle else ""
    folder = (f" (the folder {preset} here is not read for that name: give "
              f"{os.path.join(os.curdir, preset)} to use it)" if os.path.isdir(preset) else "")
    # A known name's handle is where it comes from (kaggle://...).
    cache = _download_source(handle or preset)[1]
    # One line, as every user error (it was three).
    return (f"cannot load the person detector preset '{preset}'{where}: "
            f"{_short_cause(error, handle or preset)}; it is downloaded once{size} into "
            f"{cache}, which needs network access on first use{folder}; "
            f"{way_out or PREDICT_WAY_OUT}")


# keras-hub's names of its Objects365-only presets (a bare name is always a
# preset; a folder is given as ./name), also in a kaggle:// or hf:// handle
# (.../dfine_small_obj365/1).
_OBJECTS365_PRESET = re.compile(r"dfine_[a-z]+_obj365")


def check_coco_classes(num_classes: int, preset: str) -> None:
    """Raises NotCocoDetectorError, naming ``preset``, unless it has COCO's
    classes (``COCO_CLASS_COUNTS``), where "person" is known."""
    if num_classes not in COCO_CLASS_COUNTS:
        raise NotCocoDetectorError(
            f"the person detector {preset} has {num_classes} classes: it must be a "
            "COCO-trained D-FINE (80 classes, or COCO's 91 category ids), whose 'person' "
            f"class is known; give a COCO preset (such as {DEFAULT_PRESET} or "
            "dfine_nano_coco) or the folder of one")


def check_not_objects365(preset: str) -> None:
    """Raises NotCocoDetectorError for keras-hub's Objects365-only D-FINE
    presets (``dfine_<size>_obj365``), before their download: was refused
    by ``check_coco_classes`` only once its 40-250 MB had been fetched (or
    offline, a download error for a preset that could never serve)."""
    name = preset.rstrip("/").split("/")[-2:] if "://" in preset else [preset]
    if any(_OBJECTS365_PRESET.fullmatch(part) for part in name):
        raise NotCocoDetectorError(
            f"the person detector {preset} is keras-hub's D-FINE trained on Objects365's "
            "365 classes only: it must be a COCO-trained D-FINE, whose 'person' class is "
            f"known; give a COCO preset (such as {DEFAULT_PRESET}, the same network "
            "pretrained on Objects365 and fine-tuned on COCO, or dfine_nano_coco)")


def load_dfine_detector(preset: str, person_class: Optional[int] = None,
                        way_out: Optional[str] = None):
    """The ``DFineObjectDetector`` of a preset (``load_dfine_backbone``'s errors).

    Args:
      person_class: None: the preset must have COCO's classes
        (NotCocoDetectorError); else the caller's index of "person".
      way_out: as for ``unavailable_message``.
    """
    check_not_forked("the D-FINE person detector")  # TF would hang in such a child.
    if person_class is None:
        check_not_objects365(preset)
    # Built in float32 and channels-last whatever the caller's Keras settings
    # (keras.json's channels_first failed in the backbone's first layer).
    with float32_scope():
        backbone = load_dfine_backbone(preset, way_out)
        if person_class is None:
            # Checked before any export: was person_class_index's ValueError
            # (a traceback naming an option no tool has), after it.
            check_coco_classes(backbone.num_labels, preset)
        return _keras_hub_models().DFineObjectDetector(backbone=backbone,
                                                       num_classes=backbone.num_labels)


def _keras_hub_models():
    """``keras_hub.models``, or one line naming keras-hub and the ways
    around the detector."""
    return import_required("keras_hub.models", "keras-hub", "the D-FINE person detector",
                           instead="predict.py runs without it given the people's boxes: "
                           "--boxes FILE, or --detector none (each whole image is one person)")


def load_dfine_backbone(preset: str, way_out: Optional[str] = None):
    """``DFineBackbone.from_preset`` with clear errors.

    A known preset name is the preset (keras-hub's cache or a download),
    as keras-hub reads it, even where a folder of that name is; a path to
    such a folder holds a separator (``./dfine_small_obj2coco``).

    Raises:
      ValueError: a name that is no D-FINE preset, path or handle.
      DetectorUnavailableError: it cannot be fetched or read.
    """
    DFineBackbone = _keras_hub_models().DFineBackbone
    known = DFineBackbone.presets
    # Was: a folder named like the preset took the folder's checks ("holds
    # no config.json" with no --detector given), then keras-hub fetched the
    # name all the same (a valid copy "is not a keras-hub D-FINE preset").
    local = preset not in known and "://" not in preset
    if local:
        _check_preset_directory(preset, known)
    elif os.path.isdir(preset):
        logging.info("%s: the keras-hub preset, not the folder of that name here (give %s to "
                     "use the folder)", preset, os.path.join(os.curdir, preset))
    try:
        return DFineBackbone.from_preset(preset)
    except _fetch_errors() as e:
        if local:  # Nothing to download: the folder is not one.
            raise FlagError(f"detector directory {preset} is not a keras-hub D-FINE preset "
                            f"({_short_cause(e)}): give the folder save_to_preset wrote, or "
                            "a downloaded D-FINE preset's folder, or a preset name") from e
        handle = known.get(preset, {}).get("kaggle_handle")
        raise DetectorUnavailableError(unavailable_message(preset, e, handle, way_out)) from e


def _check_preset_directory(path: str, known) -> None:
    """A FlagError unless ``path`` (no preset name nor handle) is a folder
    holding a preset's config.json."""
    if not os.path.isdir(path):
        coco = ", ".join(sorted(name for name in known if "coco" in name))
        raise FlagError(f"unknown detector preset {path!r}: not a keras-hub D-FINE preset, "
                        f"a directory or a kaggle:// / hf:// handle (COCO presets: {coco})")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FlagError(f"detector directory {path} holds no config.json: not a keras-hub "
                        "preset directory (one written by save_to_preset, or a downloaded "
                        "preset's folder); give that folder or a D-FINE preset name")
