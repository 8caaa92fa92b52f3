"""Rules of the runtime detectors that need no export: the export cache's
fingerprint, the runtime / precision check, the defaults shared with the
TensorFlow detector, the guard's one-to-one agreement and the SavedModel
detector's top-k.

Expected values come from the docstrings and hand computations, not from
running the code under test.
"""

import importlib.metadata
import inspect

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.detection import KerasHubPersonDetector, RuntimePersonDetector, runtimes
from keras_pose.detection.base import Detections
from keras_pose.detection.runtime_detector import boxes_agreement
from keras_pose.detection.saved_model_detector import SavedModelDetector


@pytest.fixture(scope="module")
def bn_model():
    """A tiny functional model with a BatchNormalization layer (its moving
    statistics are non-trainable weights)."""
    import keras
    keras.utils.set_random_seed(5)
    x = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3)(x)
    h = keras.layers.BatchNormalization(name="bn")(h)
    return keras.Model(x, h)


def test_an_upgraded_runtime_exports_the_detector_anew(bn_model, monkeypatch, tmp_path):
    """Another onnxruntime version exports the detector anew (the old
    runtime's export is not reused)."""
    before = runtimes.export_directory(bn_model, "onnxruntime", "fp32", root=str(tmp_path))
    real_version = importlib.metadata.version

    def upgraded(package):
        if package == "onnxruntime":
            return "999.0.0"  # A version no installed onnxruntime has.
        return real_version(package)

    monkeypatch.setattr(importlib.metadata, "version", upgraded)
    after = runtimes.export_directory(bn_model, "onnxruntime", "fp32", root=str(tmp_path))
    assert after != before


def test_new_batch_norm_statistics_export_the_detector_anew(bn_model, tmp_path):
    """New BatchNorm moving statistics alone (fine-tuning) export the
    detector anew: the stale export is not reused."""
    before = runtimes.export_directory(bn_model, "onnxruntime", "fp32", root=str(tmp_path))
    moving_mean = bn_model.get_layer("bn").moving_mean
    assert not moving_mean.trainable  # The case: a weight outside trainable_weights.
    old = moving_mean.numpy()
    try:
        moving_mean.assign(old + 0.5)
        after = runtimes.export_directory(bn_model, "onnxruntime", "fp32", root=str(tmp_path))
    finally:
        moving_mean.assign(old)
    assert after != before
    # Restored statistics: the same export again (the fingerprint is of the values).
    assert runtimes.export_directory(bn_model, "onnxruntime", "fp32",
                                     root=str(tmp_path)) == before


def test_bf16_is_refused_for_onnxruntime():
    """--detector_runtime onnxruntime --detector_precision bf16 is refused:
    ONNX Runtime has no bf16 CPU kernels (OpenVINO only)."""
    with pytest.raises(ValueError, match=r"runs bf16 in openvino only, not in onnxruntime"):
        runtimes.check_runtime("onnxruntime", "bf16")
    with pytest.raises(ValueError, match=r"bf16 in openvino only"):
        runtimes.check_runtime("onnxruntime", "bf16", export=False)


def test_the_runtime_detector_has_the_tensorflow_detectors_defaults():
    """With --detector_runtime and no threshold flag the runtime detector
    filters as the TensorFlow one (the same people)."""
    settings = ("score_threshold", "nms_iou_threshold", "max_detections", "batch_size")
    runtime = inspect.signature(RuntimePersonDetector.__init__).parameters
    tf_detector = inspect.signature(KerasHubPersonDetector.__init__).parameters
    assert ({name: runtime[name].default for name in settings}
            == {name: tf_detector[name].default for name in settings})
    # The documented D-FINE defaults (make_detector's docstring, predict.py's
    # --box_threshold help): score 0.3, NMS IoU 0.7, at most 100 people.
    documented = {"score_threshold": 0.3, "nms_iou_threshold": 0.7, "max_detections": 100}
    assert {name: runtime[name].default for name in documented} == documented


def test_one_box_cannot_match_three_reference_people():
    """One candidate box over three identical reference people matches one
    of them: the int8 / bf16 guard's F1 is 0.5, not above 1."""
    box = [0.0, 0.0, 10.0, 10.0]
    reference = [Detections(np.array([box] * 3, np.float32), np.array([0.9, 0.8, 0.7]))]
    candidate = [Detections(np.array([box], np.float32), np.array([0.9]))]
    # One-to-one: the candidate matches one reference person only.
    # F1 = 2 * matched / (|reference| + |candidate|) = 2 * 1 / (3 + 1) = 0.5.
    assert boxes_agreement(reference, candidate) == pytest.approx(0.5)
    # Symmetric case by hand: 2 * 1 / (1 + 3) = 0.5 as well.
    assert boxes_agreement(candidate, reference) == pytest.approx(0.5)


class _FakeSavedModel:
    """A loaded SavedModel whose ``detect`` signature returns fixed boxes."""

    def __init__(self, boxes, scores):
        def detect(image, score_threshold):
            return {"boxes": tf.constant(boxes, tf.float32),
                    "box_scores": tf.constant(scores, tf.float32)}
        self.signatures = {"detect": detect}


def test_saved_model_detector_keeps_max_detections_without_nms():
    """SavedModelDetector(max_detections=2) with no NMS threshold returns
    the two best boxes, not every box of the export."""
    # Five disjoint boxes 20 px apart, scores 0.9 .. 0.5 in a shuffled order.
    boxes = [[20.0 * i, 0.0, 10.0, 10.0] for i in range(5)]
    scores = [0.7, 0.9, 0.5, 0.8, 0.6]
    detector = SavedModelDetector(_FakeSavedModel(boxes, scores), "fake", max_detections=2)
    found = detector.detect(np.zeros((40, 120, 3), np.uint8))
    # The best two by hand: 0.9 (box 1, x = 20) then 0.8 (box 3, x = 60).
    assert len(found) == 2
    np.testing.assert_allclose(found.scores, [0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose(found.boxes, [[20, 0, 10, 10], [60, 0, 10, 10]])
