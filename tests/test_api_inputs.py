"""The Python API refuses malformed inputs naming them, in one line (found
by a hunt through the API: each was another error, or a wrong result)."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from keras_pose import Predictor
from keras_pose.checkpoint import CheckpointError
from keras_pose.configs.base import TrackConfig
from keras_pose.detection import FileDetector, filter_detections
from keras_pose.inference import load_pose_model
from keras_pose.tracking import PoseTracker

IMAGE = np.zeros((240, 320, 3), np.uint8)
PERSON = [33.0, 0.0, 214.0, 203.0]


@pytest.fixture(scope="module")
def predictor(tiny_exported):
    return Predictor.from_checkpoint(tiny_exported[2])


def _estimate_with(predictor, calls):
    """The Predictor as the tracker's estimate_fn, recording its boxes."""
    def estimate(image, boxes, box_scores):
        calls.append(np.array(boxes))
        return predictor.predict(image, boxes, box_scores=box_scores)
    return estimate


def _refused(*args, **kwargs):
    raise AssertionError("the estimator ran")


@pytest.mark.parametrize("detections", [
    [], np.array([PERSON]), np.array([PERSON, [50.0, 10, 100, 200]]), [PERSON, PERSON],
    ([PERSON], [0.9], [1])])
def test_tracker_refuses_detections_that_are_not_a_pair(detections):
    # Were "not enough values to unpack", or a message about the first row.
    tracker = PoseTracker(TrackConfig(), _refused)
    with pytest.raises(ValueError, match=r"detections: expected None, a \(boxes \(M, 4\)"):
        tracker.step(IMAGE, detections)


def test_tracker_takes_none_and_an_empty_pair_as_no_people():
    # K of the sigmas: the estimator is not asked it (see test_tracker.py).
    tracker = PoseTracker(TrackConfig(), _refused, sigmas=[0.05] * 17)
    for detections in (None, ([], []), (np.zeros((0, 4)), np.zeros(0))):
        assert len(tracker.step(IMAGE, detections).track_ids) == 0


@pytest.mark.parametrize("sigma", [0.0, -0.05, np.nan, np.inf])
def test_tracker_refuses_sigmas_that_are_not_positive(sigma):
    # Zeros made every OKS NaN: a new id for the same still person each frame.
    sigmas = [0.05] * 16 + [sigma]
    with pytest.raises(ValueError, match=f"OKS sigmas: sigma 16 is {sigma}; .* finite number > 0"):
        PoseTracker(TrackConfig(), _refused, sigmas=sigmas)


def test_tracker_skips_detections_off_the_image_and_says_so(predictor, caplog):
    """One box off the image failed the whole frame (the Predictor refuses
    it), while one of negative width was dropped without a word: both are
    skipped, counted and logged once, as predict.py skips off-image boxes."""
    calls = []
    tracker = PoseTracker(TrackConfig(), _estimate_with(predictor, calls))
    boxes = [PERSON, [1000.0, 1000.0, 10.0, 10.0], [100.0, 0.0, -10.0, 10.0]]
    with caplog.at_level(logging.WARNING):
        tracker.step(IMAGE, (boxes, [0.9, 0.9, 0.9]))
        tracker.step(IMAGE, (boxes, [0.9, 0.9, 0.9]))
    np.testing.assert_array_equal(calls[0], [PERSON])
    assert tracker.unusable_detections == 4
    warnings = [r.getMessage() for r in caplog.records if "PoseTracker" in r.getMessage()]
    assert len(warnings) == 1
    assert "2 detection(s) of frame 0 skipped: they do not overlap the image" in warnings[0]


def test_file_detector_takes_loaded_lists():
    # Were accepted, then a TypeError in detect.
    found = FileDetector({"a.jpg": ([[10, 10, 50, 50]], [0.7])}).detect(IMAGE, "a.jpg")
    np.testing.assert_array_equal(found.boxes, [[10, 10, 50, 50]])
    np.testing.assert_allclose(found.scores, [0.7])
    with pytest.raises(ValueError, match=r"boxes entry 'a.jpg': 1 boxes but 2 scores"):
        FileDetector({"a.jpg": ([[10, 10, 50, 50]], [0.7, 0.5])})
    # An image without boxes, as empty lists: was taken for a boxes file's
    # entry, and the whole table refused ("none of its 2 entries is a box").
    table = FileDetector({"a.jpg": ([[10, 10, 50, 50]], [0.7]), "b.jpg": ([], [])})
    assert table.detect(IMAGE, "b.jpg").boxes.shape == (0, 4)
    np.testing.assert_array_equal(table.detect(IMAGE, "a.jpg").boxes, [[10, 10, 50, 50]])


def test_filter_detections_counts_boxes_and_scores():
    # Was TF's GatherV2 error.
    with pytest.raises(ValueError, match="1 boxes but 2 scores"):
        filter_detections([[0, 0, 10, 10]], [0.5, 0.4])


def test_predict_on_none_says_the_image_is_none(predictor):
    # Was "a file's path: read it first".
    with pytest.raises(ValueError, match="the image is None .*cv2.imread returns None"):
        predictor.predict(None, [[10, 10, 50, 50]])


def test_draw_refuses_a_threshold_that_is_not_a_number(predictor):
    # Was "'>' not supported between instances of 'float' and 'NoneType'".
    result = predictor.predict(IMAGE, [[10, 10, 50, 50]])
    for threshold in (None, "0.2", float("nan")):
        with pytest.raises(ValueError, match="score_threshold: expected a finite number"):
            predictor.draw(IMAGE, result, threshold)
    assert predictor.draw(IMAGE, result, 0.5).shape == IMAGE.shape


def test_load_pose_model_refuses_a_path_of_none():
    # Was os.stat's TypeError.
    with pytest.raises(CheckpointError, match="path: expected a checkpoint.*got None"):
        load_pose_model(None)


class _Threshold(tf.Module):
    """check_threshold_tf behind a signature of detect_and_estimate's spec."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="score_threshold")])
    def check(self, score_threshold):
        from keras_pose.export.signature_checks import check_threshold_tf
        return {"threshold": check_threshold_tf(score_threshold)}


def test_a_saved_signature_names_a_score_threshold_of_another_shape(tmp_path):
    """A loaded signature is not held to its input's shape (nor is TF
    Serving): a (1, 1) threshold failed with "The second input must be a
    scalar" from node All. The export's check, saved and loaded as there."""
    module = _Threshold()
    tf.saved_model.save(module, str(tmp_path), signatures={"check": module.check})
    check = tf.saved_model.load(str(tmp_path)).signatures["check"]
    assert check(score_threshold=tf.constant([0.5]))["threshold"].numpy().tolist() == [0.5]
    assert check(score_threshold=tf.zeros([0]))["threshold"].shape == (0,)
    for bad in (tf.zeros([1, 1]), tf.zeros([2])):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"score_threshold: a list of zero or one number, got shape"):
            check(score_threshold=bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="score_threshold: must be a finite number"):
        check(score_threshold=tf.constant([np.nan]))


@pytest.mark.slow  # D-FINE in a SavedModel (about a minute)
def test_detect_and_estimate_names_a_score_threshold_of_another_shape(tiny_exported, tmp_path):
    """The same on the real signature, exported with a tiny random D-FINE."""
    import cv2
    import keras

    from keras_pose.detection import KerasHubPersonDetector
    from keras_pose.detection.dfine import build_dfine_detector
    from keras_pose.export import export_saved_model
    from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE
    keras.utils.set_random_seed(0)
    detector = KerasHubPersonDetector(
        build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                             num_queries=TINY_QUERIES), score_threshold=0.0, max_detections=4)
    export_saved_model(tiny_exported[0], tiny_exported[1], str(tmp_path), detector=detector)
    serve = tf.saved_model.load(str(tmp_path)).signatures["detect_and_estimate"]
    image = tf.constant(cv2.imencode(".png", IMAGE)[1].tobytes())
    assert "keypoints" in serve(image_bytes=image, score_threshold=tf.zeros([0]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"score_threshold: a list of zero or one number, got shape"):
        serve(image_bytes=image, score_threshold=tf.zeros([1, 1]))
