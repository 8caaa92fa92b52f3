"""The D-FINE person detector with its network in ONNX Runtime or OpenVINO.

    detector = RuntimePersonDetector.from_preset(runtime="openvino")
    people = detector.detect(read_image("photo.jpg", upright=True))  # Detections(boxes, scores)

The same detections as ``KerasHubPersonDetector`` (same resizing, decoding,
person class, thresholds and NMS: the functions of ``keras_hub_detector``)
with only the network call in another runtime: boxes within
:data:`BOX_TOLERANCE_PX` pixels and scores within :data:`SCORE_TOLERANCE` of
the TensorFlow detector's at fp32 (the runtimes reorder float sums; tested
on random weights of the real class). The first use exports the network
(``runtimes.cached_export``: minutes for D-FINE-S), later uses load the
cached export (``export_cache.cached_network``: one that cannot be read, a file cut
short or deleted, is exported again with a warning).

int8 (``precision="int8"``) and bf16 (``"bf16"``, OpenVINO only) need
calibration images and are guarded: the network is kept only if its boxes
agree with the fp32 network's on those images (:func:`boxes_agreement` >=
:data:`MIN_AGREEMENT`); otherwise a warning says so and the fp32 export runs.
The verdict is cached with the export. On random weights of D-FINE-S (the
preset cannot be fetched offline) both moved the boxes: against fp32 on the
four COCO test images, all detections compared, F1 0.61 (int8, ONNX Runtime,
Conv and MatMul quantized), 0.65 and 0.74 (int8, OpenVINO, NNCF; two
sessions) and 0.72 (bf16, OpenVINO, on AVX-512 BF16); at the guard's 0.3
score threshold random weights find no person at all. Random weights say
nothing of the preset's, which is why the guard judges on the user's own
images.

Shapes: N images, Q queries, C classes, K = ``max_detections``.
"""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from keras_pose import log as logging
from keras_pose.data.images import check_rgb_image
from keras_pose.detection import runtimes
from keras_pose.detection.base import Detections, PersonDetector, Source, check_filter
from keras_pose.detection.dfine import person_class_index
from keras_pose.detection.export_cache import (DamagedExportError, cached_network,
                                               load_checked, read_sidecar)
from keras_pose.detection.keras_hub_detector import (DEFAULT_PRESET, detect_in_batches,
                                                     dfine_person_detections_tf,
                                                     load_dfine_detector, preprocess_dfine_tf)

# fp32 runtime vs TensorFlow on the same weights: the runtimes fuse and
# reorder float sums (logits move by ~1e-5, relative boxes by ~1e-7 on the
# tiny test network); these bounds leave room for D-FINE-S's depth and for
# 4K frames (a relative 1e-5 is 0.04 px at 3840 px) while a real change of
# the input (colour order, resizing, another class) moves boxes by pixels.
BOX_TOLERANCE_PX = 0.1
SCORE_TOLERANCE = 1e-4
# The guard of int8 and bf16: a detection agrees when its box overlaps the
# fp32 box by IoU >= 0.9; the precision is kept when the F1 of agreeing
# detections is >= 0.9.
AGREEMENT_IOU = 0.9
MIN_AGREEMENT = 0.9
# The guard compares the people the detector reports by default.
GUARD_SCORE_THRESHOLD = 0.3


class RuntimePersonDetector(PersonDetector):
    """Person boxes from an exported D-FINE network (``runtimes.load_network``).

    Args:
      network: the export loaded in its runtime.
      person_class, score_threshold, nms_iou_threshold, max_detections,
        batch_size: as ``KerasHubPersonDetector``'s (same defaults).
      preset: the preset name, for messages.
    """

    def __init__(self, network: runtimes.ExportedNetwork, person_class: Optional[int] = None,
                 score_threshold: float = 0.3, nms_iou_threshold: Optional[float] = 0.7,
                 max_detections: int = 100, batch_size: int = 4,
                 preset: Optional[str] = None):
        if max_detections is None:
            raise ValueError("max_detections must be an integer (the padded output size)")
        check_filter(score_threshold, nms_iou_threshold, max_detections)
        self.network = network
        self.person_class = person_class_index(int(network.info["num_classes"]), person_class)
        self.input_size = network.input_size
        self.score_threshold = float(score_threshold)
        self.nms_iou_threshold = nms_iou_threshold
        self.max_detections = int(max_detections)
        self.batch_size = int(batch_size)
        self.preset = preset
        self._resize = tf.function(lambda image: preprocess_dfine_tf(image, self.input_size),
                                   input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
        self._postprocess = tf.function(self._postprocess_tf, input_signature=[
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([None, None, 4], tf.float32), tf.TensorSpec([None, 2], tf.float32)])

    @property
    def runtime(self) -> str:
        return self.network.info["runtime"]

    @property
    def precision(self) -> str:
        return self.network.info["precision"]

    @classmethod
    def from_keras_hub(cls, model, runtime: str, precision: str = "fp32",
                       preset: Optional[str] = None, cache: Optional[str] = None,
                       calibration_images: Optional[Sequence[np.ndarray]] = None,
                       num_threads: Optional[int] = None,
                       **kwargs) -> "RuntimePersonDetector":
        """The detector of a keras-hub ``DFineObjectDetector`` in ``runtime``,
        exported on first use into ``cache`` (default
        ``runtimes.export_root()``) and reused after.

        Args:
          precision: ``fp32``, or ``bf16`` / ``int8`` (need
            ``calibration_images``, (H, W, 3) uint8 RGB; guarded, see the
            module docstring).
          num_threads: the runtime's CPU threads (None: its default).
          **kwargs: the constructor's settings.
        """
        runtimes.check_runtime(runtime, precision, export=False)  # Exporting: if not cached.
        network = cached_network(model, runtime, "fp32", preset, cache,
                                 load=lambda directory: load_checked(directory, num_threads))
        if precision != "fp32":
            network = _guarded(model, runtime, precision, network, preset, cache,
                               calibration_images, kwargs.get("person_class"), num_threads)
        return cls(network, preset=preset, **kwargs)

    @classmethod
    def from_preset(cls, preset: str = DEFAULT_PRESET, runtime: str = "onnxruntime",
                    precision: str = "fp32", **kwargs) -> "RuntimePersonDetector":
        """``KerasHubPersonDetector.from_preset``'s model (same errors), run in
        ``runtime``; ``from_keras_hub``'s arguments."""
        runtimes.check_runtime(runtime, precision, export=False)  # Before loading the preset.
        # Without person_class, COCO's classes are checked before the export.
        model = load_dfine_detector(preset, kwargs.get("person_class"))
        return cls.from_keras_hub(model, runtime, precision, preset=preset, **kwargs)

    def _postprocess_tf(self, logits, relative_boxes, image_sizes):
        return dfine_person_detections_tf(logits, relative_boxes, image_sizes,
                                          self.person_class, self.score_threshold,
                                          self.nms_iou_threshold, self.max_detections)

    def detect_resized(self, images: tf.Tensor, image_sizes: tf.Tensor):
        """``KerasHubPersonDetector.detect_resized_tf`` with the network in the
        runtime: (N, h, w, 3) float32 inputs, (N, 2) original (height, width)
        -> padded boxes (N, K, 4), scores (N, K), counts (N,)."""
        logits, relative_boxes = self.network(np.asarray(images))
        return self._postprocess(logits, relative_boxes, image_sizes)

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        """The people in one (H, W, 3) uint8 RGB image."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray],
                     sources: Optional[Sequence[Source]] = None) -> list[Detections]:
        """The people in each image; ``batch_size`` images per network call."""
        return detect_in_batches(images, self.batch_size, self._resize, self.detect_resized)


def boxes_agreement(reference: Sequence[Detections], candidate: Sequence[Detections],
                    iou: float = AGREEMENT_IOU) -> float:
    """How well ``candidate``'s detections reproduce ``reference``'s, image by
    image: the F1 of detections matched one-to-one (greedily, best score
    first) at IoU >= ``iou``; NaN when neither finds anything (nothing to
    judge by)."""
    matched = total = 0
    for ref, cand in zip(reference, candidate, strict=True):
        total += len(ref) + len(cand)
        free = np.ones(len(cand), bool)
        for box in ref.boxes:
            overlaps = np.where(free, _iou(box, cand.boxes), 0.0)
            best = int(np.argmax(overlaps)) if len(cand) else -1
            if best >= 0 and overlaps[best] >= iou:
                free[best] = False
                matched += 1
    return float("nan") if total == 0 else 2.0 * matched / total


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one [x, y, w, h] box with each of (M, 4) boxes."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y2 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return inter / np.maximum(union, 1e-9)


def _images_digest(images: Sequence[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for image in images:
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()[:12]


def _guarded(model, runtime: str, precision: str, fp32_network: runtimes.ExportedNetwork,
             preset: Optional[str], cache: Optional[str], images: Optional[Sequence[np.ndarray]],
             person_class: Optional[int], num_threads: Optional[int] = None
             ) -> runtimes.ExportedNetwork:
    """The ``precision`` (int8, bf16) export if it passes the guard, else
    ``fp32_network``."""
    if not images:
        raise ValueError(f"{precision} detection needs calibration_images: a few dozen of "
                         "your own photos or frames (H, W, 3) uint8 RGB")
    images = [check_rgb_image(image) for image in images]
    if precision == "bf16" and not runtimes.cpu_runs_bf16():
        logging.warning("this CPU has no bf16 units: OpenVINO runs the bf16 detector at f32 "
                        "(same boxes, no faster)")
    # The images are part of the export (calibration, verdict): new images, a new export.
    root = os.path.join(cache or runtimes.export_root(), f"{precision}-{_images_digest(images)}")
    write = _guard_writer(model, runtime, precision, fp32_network, preset, images, person_class)

    def load(directory: str):
        """The verdict and, if it passed, the export (a refused one is not run)."""
        guard = read_sidecar(directory).get("guard")
        problem = _guard_problem(guard)
        if problem:  # Was a KeyError, in every later run.
            raise DamagedExportError(directory, problem)
        return guard, load_checked(directory, num_threads) if guard["passed"] else None

    guard, network = cached_network(model, runtime, precision, preset, root, write, load)
    if network is not None:
        return network
    found = ("no person found on them" if guard["agreement"] is None
             else f"its boxes agree with fp32's at F1 {guard['agreement']:.3f}")
    logging.warning("%s %s detector refused on the %d calibration images: %s (needed: F1 "
                    ">= %.2f at IoU >= %.1f); running fp32", precision, runtime, guard["images"],
                    found, guard["min_agreement"], guard["iou"])
    return fp32_network


def _guard_writer(model, runtime: str, precision: str, fp32_network: runtimes.ExportedNetwork,
                  preset: Optional[str], images: list[np.ndarray],
                  person_class: Optional[int]) -> Callable[[str], None]:
    """What fills the guarded export's directory: the network at
    ``precision`` and, in its ``export.json``, the guard's verdict."""
    settings = dict(person_class=person_class, score_threshold=GUARD_SCORE_THRESHOLD)
    fp32 = RuntimePersonDetector(fp32_network, **settings)

    def write(tmp: str) -> None:
        if precision == "int8":
            inputs = np.stack([fp32._resize(tf.constant(image)).numpy() for image in images])
            runtimes.export_network(model, tmp, runtime, "int8", inputs, name=preset)
        else:
            runtimes.copy_export(fp32_network.directory, tmp, precision)
        candidate = RuntimePersonDetector(runtimes.load_network(tmp), **settings)
        agreement = boxes_agreement(fp32.detect_batch(images), candidate.detect_batch(images))
        info = runtimes.read_sidecar(tmp)
        # NaN (no person found by either network) fails: nothing vouches for it.
        info["guard"] = {"agreement": None if np.isnan(agreement) else agreement,
                         "iou": AGREEMENT_IOU, "min_agreement": MIN_AGREEMENT,
                         "images": len(images), "passed": bool(agreement >= MIN_AGREEMENT)}
        runtimes.write_sidecar(tmp, info)
    return write


def _guard_problem(guard) -> Optional[str]:
    """What the guard's verdict in ``export.json`` (``_guard_writer``'s)
    lacks; None when it is whole."""
    if not isinstance(guard, dict):
        return f"{runtimes.SIDECAR} holds no guard verdict"
    fine = (isinstance(guard.get("passed"), bool) and isinstance(guard.get("images"), int)
            and all(_is_number(guard.get(key)) for key in ("iou", "min_agreement"))
            and (guard.get("agreement") is None or _is_number(guard["agreement"])))
    return None if fine else (f"the guard verdict in {runtimes.SIDECAR} lacks a valid passed, "
                              "agreement, iou, min_agreement or images")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
