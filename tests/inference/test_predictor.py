"""Predictor and predict.py on the real COCO sample."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from keras_pose import Predictor
from keras_pose.checkpoint import CheckpointError
from keras_pose.data import coco
from keras_pose.data.images import ImageReadError, read_image
from tests import reference_impl as ref



@pytest.fixture(scope="module")
def checkpoints(tiny_exported):
    return tiny_exported[2], tiny_exported[3]


def test_predictor_and_serving_follow_the_reference(tiny_exported, coco_dir):
    """Predictor (checkpoint and SavedModel) and serving_default against the
    reference's validation path written person by person in NumPy/OpenCV
    (tests/reference_impl.py), on the people of a real image."""
    model, config, keras_ckpt, saved = tiny_exported
    records = coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 1.0)
    rows = np.nonzero(records.image_id == records.image_id[0])[0]
    image = read_image(records.image_path[rows[0]])
    boxes = records.box[rows]
    expected = ref.reference_top_down_for(
        config, lambda x: model(x, training=False).numpy(), image, boxes)
    largest = max(np.max(boxes[:, 2:]) * 1.25 / config.model.heatmap_size[0], 1.0)
    for checkpoint in (keras_ckpt, saved):
        result = Predictor.from_checkpoint(checkpoint).predict(image, boxes)
        assert result.keypoints.shape == (len(rows), 17, 2)
        ref.assert_matches_reference(result.keypoints, result.keypoint_scores, result.scores,
                                     expected, heatmap_pixel=largest)
    serve = tf.saved_model.load(saved).signatures["serving_default"]
    out = serve(images=tf.constant(image[None]), boxes=tf.constant(boxes[None]),
                num_boxes=tf.constant([len(rows)], tf.int32))
    ref.assert_matches_reference(out["keypoints"].numpy()[0], out["keypoint_scores"].numpy()[0],
                                 out["scores"].numpy()[0], expected, heatmap_pixel=largest)


def test_whole_image_is_one_person(checkpoints, coco_dir):
    predictor = Predictor.from_checkpoint(checkpoints[0])
    image = read_image(os.path.join(coco_dir, "000000000785.jpg"))
    result = predictor.predict(image, flip=False)
    np.testing.assert_array_equal(result.boxes, [[0, 0, image.shape[1], image.shape[0]]])
    same = predictor.predict(image, boxes=[[0, 0, image.shape[1], image.shape[0]]], flip=False)
    np.testing.assert_array_equal(result.keypoints, same.keypoints)


def test_people_run_test_batch_size_at_a_time(checkpoints, coco_dir):
    # All the boxes of an image went through the network in one call: about
    # 6 MB a box, 11 GB for a crowded photo's 2000 boxes.
    image = read_image(os.path.join(coco_dir, "000000000785.jpg"))
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(0, 300, (5, 2)), rng.uniform(20, 200, (5, 2))], 1)
    whole = Predictor.from_checkpoint(checkpoints[0]).predict(image, boxes, flip=True)
    predictor = Predictor.from_checkpoint(checkpoints[0], ["test.batch_size=2"])
    run, calls = predictor._run(True), []
    predictor._runs[True] = lambda image, boxes, scores: (calls.append(len(boxes)),
                                                          run(image, boxes, scores))[1]
    chunked = predictor.predict(image, boxes, flip=True)
    assert calls == [2, 2, 1]
    np.testing.assert_allclose(chunked.keypoints, whole.keypoints, atol=1e-3)
    np.testing.assert_allclose(chunked.scores, whole.scores, atol=1e-5)
    np.testing.assert_array_equal(chunked.boxes, whole.boxes)
    calls.clear()
    assert predictor.predict(image, np.zeros((0, 4)), flip=True).keypoints.shape == (0, 17, 2)
    assert calls == [0]


def test_drawing_puts_joints_and_limbs_where_the_keypoints_are(checkpoints):
    from keras_pose.inference import PoseResult
    from keras_pose.visualization import CENTRE, LEFT
    predictor = Predictor.from_checkpoint(checkpoints[0])
    image = np.zeros((200, 200, 3), np.uint8)
    keypoints = np.zeros((1, 17, 2), np.float32)
    keypoints[0, 0] = (100, 20)   # nose: centre colour
    keypoints[0, 5] = (150, 60)   # left shoulder
    keypoints[0, 7] = (150, 120)  # left elbow: limb 5-7 is a left limb
    keypoints[0, 6] = (50, 60)    # right shoulder
    scores = np.zeros((1, 17), np.float32)
    scores[0, [0, 5, 6, 7]] = 0.9
    scores[0, 6] = 0.1  # below the threshold: not drawn
    result = PoseResult(keypoints, scores, np.ones(1, np.float32), np.zeros((0, 4), np.float32))
    drawn = predictor.draw(image, result, score_threshold=0.2)
    assert tuple(drawn[20, 100]) == CENTRE
    assert tuple(drawn[60, 150]) == LEFT and tuple(drawn[90, 150]) == LEFT  # on the limb
    assert not drawn[60, 50].any() and not drawn[60, 100].any()  # the hidden shoulder, no 5-6 limb
    assert not image.any()  # the input is not modified


def test_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Predictor.from_checkpoint(str(tmp_path / "none"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_image(str(bad))


@pytest.mark.parametrize("as_path", [str, pathlib.Path])
def test_a_path_given_to_predictor_says_to_use_from_checkpoint(as_path):
    # Was AttributeError: 'str' object has no attribute 'config'.
    with pytest.raises(TypeError, match=r"loaded model; .* use "
                                        r"Predictor\.from_checkpoint\('output/tiny'\)"):
        Predictor(as_path("output/tiny"))


def test_boxes_are_checked_and_no_box_is_no_person(checkpoints):
    predictor = Predictor.from_checkpoint(checkpoints[0])
    image = np.zeros((50, 60, 3), np.uint8)
    for boxes, message in (([[1, 2, 3]], r"\(M, 4\)"), ([[1, 2, 0, 5]], "box 0"),
                           ([[1, 2, 3, 4], [1, 2, np.nan, 4]], "box 1"), ([["a", 1, 2, 3]], "not a list"),
                           # Read as numbers, or as no box at all, before.
                           ([["1", "2", "30", "40"]], "given str"), ([[True] * 4], "given bool"),
                           (np.zeros((3, 0)), r"\(M, 4\).*\(3, 0\)")):
        with pytest.raises(ValueError, match=message):
            predictor.predict(image, boxes)
    result = predictor.predict(image, np.zeros((0, 4)))
    assert result.keypoints.shape == (0, 17, 2) and result.scores.shape == (0,)
    # Box scores and flip were taken as given: nan and -1 person scores, "no" as True.
    for scores in ([np.nan], [-1.0]):
        with pytest.raises(ValueError, match="box score 0 is .*: box scores are finite"):
            predictor.predict(image, [[1, 2, 30, 40]], box_scores=scores)
    with pytest.raises(ValueError, match="box_scores must be numbers, one per box"):
        predictor.predict(image, [[1, 2, 30, 40]], box_scores=["a"])  # Was NumPy's words.
    with pytest.raises(ValueError, match="flip must be True, False or None, got 'no'"):
        predictor.predict(image, [[1, 2, 30, 40]], flip="no")
    with pytest.raises(ValueError, match="uint8"):
        predictor.predict(image.astype(np.float32), [[1, 2, 3, 4]])
    for empty in ((0, 0, 3), (0, 60, 3), (50, 0, 3)):  # Not TF's graph error from deep inside.
        for boxes in (None, [[1, 2, 3, 4]]):
            with pytest.raises(ValueError, match=r"image is empty: \d+ x \d+ pixels"):
                predictor.predict(np.zeros(empty, np.uint8), boxes)


def test_calibration_people_without_a_runtime_are_refused(checkpoints):
    """samples and data_config only calibrate an export: without runtime or
    precision they were ignored, no export made, nothing said."""
    from keras_pose.inference import load_pose_model
    for given in ({"samples": lambda: iter(())}, {"data_config": object()}):
        with pytest.raises(ValueError, match="calibrate an export: give them with runtime"):
            load_pose_model(checkpoints[0], **given)


def test_overrides_of_the_model_are_refused(checkpoints):
    from keras_pose.configs import ConfigError
    with pytest.raises(ConfigError, match="model"):
        Predictor.from_checkpoint(checkpoints[0], ["model.depth=50"])
    predictor = Predictor.from_checkpoint(checkpoints[1], ["test.shift_heatmap=false"])
    assert predictor.config.test.shift_heatmap is False


def test_a_ctrl_c_while_a_new_size_is_traced_waits_for_the_call(checkpoints, coco_dir,
                                                                 ctrl_c_raises):
    """A Ctrl-C inside TensorFlow's tracing of a new image size came out as
    TF's "AssertionError: Concurrent access?" (a notebook's except
    KeyboardInterrupt missed it), or left every later call failing. It is
    raised once the call is over; the next call gives the same result."""
    import signal
    predictor = Predictor.from_checkpoint(checkpoints[0])
    image = read_image(os.path.join(coco_dir, "000000000785.jpg"))
    estimator = predictor.pose_model.estimator(False)
    real, traced = type(estimator).centers_and_scales, []

    def ctrl_c_while_tracing(self, boxes):
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 0.05)  # The handler runs here (old code: the stop, here).
        traced.append("whole")
        return real(self, boxes)
    type(estimator).centers_and_scales = ctrl_c_while_tracing
    try:
        with pytest.raises(KeyboardInterrupt):
            predictor.predict(image, flip=False)
    finally:
        type(estimator).centers_and_scales = real
    assert traced == ["whole"]
    first = predictor.predict(image, flip=False)
    again = Predictor.from_checkpoint(checkpoints[0]).predict(image, flip=False)
    np.testing.assert_allclose(first.keypoints, again.keypoints, atol=1e-4)
