"""Detections and the score / NMS / top-k filter."""

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.detection import Detections, filter_detections, filter_detections_tf
from keras_pose.detection.base import check_filter

# [x, y, w, h]; B is A shifted 10 px right: IoU 9000 / 11000 = 0.818.
A = [0.0, 0.0, 100.0, 100.0]
B = [10.0, 0.0, 100.0, 100.0]
C = [300.0, 300.0, 50.0, 80.0]  # apart from both


def test_detections_casts_and_checks_lengths():
    d = Detections([[1, 2, 3, 4]], [0.5])
    assert d.boxes.dtype == np.float32 and d.scores.dtype == np.float32
    assert d.boxes.shape == (1, 4) and len(d) == 1
    assert len(Detections.empty()) == 0 and Detections.empty().boxes.shape == (0, 4)
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        Detections([A, B], [0.5])
    # (M, 5) boxes with their scores were read as 5M/4 boxes of garbage.
    with pytest.raises(ValueError, match=r"expected \(M, 4\) .*got shape \(4, 5\)"):
        Detections(np.ones((4, 5)), np.ones(5))


def test_threshold_keeps_equal_scores_and_sorts():
    d = filter_detections([C, A, B], [0.2, 0.9, 0.5], score_threshold=0.5)
    np.testing.assert_array_equal(d.boxes, [A, B])
    np.testing.assert_allclose(d.scores, [0.9, 0.5])


def test_nms_drops_the_weaker_of_overlapping_boxes():
    kept = filter_detections([B, C, A], [0.8, 0.3, 0.9], nms_iou_threshold=0.7)
    np.testing.assert_array_equal(kept.boxes, [A, C])
    # Above the pair's IoU (0.818) nothing is suppressed; None means no NMS.
    for iou in (0.85, None):
        kept = filter_detections([B, C, A], [0.8, 0.3, 0.9], nms_iou_threshold=iou)
        np.testing.assert_array_equal(kept.boxes, [A, B, C])


def test_each_kept_box_keeps_its_category_through_threshold_nms_and_top_k():
    kept = filter_detections([B, C, A, C], [0.8, 0.3, 0.9, 0.1], score_threshold=0.2,
                             nms_iou_threshold=0.7, categories=[5, 7, 6, 8])
    np.testing.assert_array_equal(kept.boxes, [A, C])
    np.testing.assert_array_equal(kept.categories, [6, 7])
    kept = filter_detections([A, B, C], [0.1, 0.2, 0.3], max_detections=2, categories=[1, 2, 3])
    np.testing.assert_array_equal(kept.categories, [3, 2])
    assert filter_detections([A], [0.5]).categories is None
    with pytest.raises(ValueError, match="1 categories for 2 boxes"):
        Detections([A, B], [0.5, 0.4], [1])


def test_max_detections_keeps_the_best_and_ties_keep_their_order():
    d = filter_detections([A, B, C], [1.0, 1.0, 1.0], max_detections=2)
    np.testing.assert_array_equal(d.boxes, [A, B])
    d = filter_detections([A, B, C], [0.1, 0.2, 0.3], max_detections=1)
    np.testing.assert_array_equal(d.boxes, [C])


def test_tf_filter_pads_to_a_static_size_in_a_graph():
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32),
                                  tf.TensorSpec([None], tf.float32)])
    def run(boxes, scores):
        return filter_detections_tf(boxes, scores, 0.25, 0.7, max_detections=4)

    assert run.get_concrete_function().structured_outputs[0].shape == (4, 4)
    boxes, scores, count = run(tf.constant([A, B, C]), tf.constant([0.9, 0.8, 0.3]))
    assert int(count) == 2
    np.testing.assert_array_equal(boxes.numpy(), [A, C, [0] * 4, [0] * 4])
    np.testing.assert_allclose(scores.numpy(), [0.9, 0.3, 0, 0])
    boxes, scores, count = run(tf.zeros([0, 4]), tf.zeros([0]))
    assert int(count) == 0 and boxes.shape == (4, 4) and not np.any(boxes.numpy())


def test_valid_mask_drops_whatever_the_score():
    boxes, scores, count = filter_detections_tf(
        tf.constant([A, B]), tf.constant([0.9, 0.5]), valid=tf.constant([False, True]))
    assert int(count) == 1
    np.testing.assert_array_equal(boxes.numpy(), [B])


@pytest.mark.parametrize("kwargs", [dict(score_threshold=-0.1), dict(score_threshold=1.5),
                                    dict(nms_iou_threshold=0.0), dict(max_detections=0)])
def test_filter_settings_out_of_range_are_refused(kwargs):
    settings = dict(score_threshold=0.0, nms_iou_threshold=None, max_detections=None)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        check_filter(**settings)
    with pytest.raises(ValueError, match=next(iter(kwargs))):  # was TF's error for 1.5 IoU
        filter_detections([A], [0.9], **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(max_detections=2.5), dict(max_detections=True), dict(max_detections="2"),
    dict(score_threshold="0.5"), dict(score_threshold=None), dict(score_threshold=False),
    dict(nms_iou_threshold="0.5")])
def test_filter_settings_of_the_wrong_type_are_refused_by_name(kwargs):
    """Were TF's or NumPy's errors (2.5, "0.5"), or True taken as 1."""
    name, value = next(iter(kwargs.items()))
    settings = dict(score_threshold=0.0, nms_iou_threshold=None, max_detections=None)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name} must be a .*, got {value!r}"):
        check_filter(**settings)
    with pytest.raises(ValueError, match=f"^{name} must be"):
        filter_detections([A], [0.9], **kwargs)


def test_filter_settings_take_numpy_numbers():
    found = filter_detections([A, B], [0.9, 0.5], score_threshold=np.float32(0.4),
                              nms_iou_threshold=np.float64(0.5), max_detections=np.int64(1))
    np.testing.assert_array_equal(found.boxes, [A])
