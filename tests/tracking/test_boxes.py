"""Boxes from joints, IoU and the NMS of detected and propagated boxes."""

import numpy as np
import pytest

from keras_pose.tracking import box_from_joints, box_iou, unify_boxes
from keras_pose.tracking.boxes import pose_area


def _joints():
    joints = np.array([[10, 20], [110, 220], [60, 100], [500, -400]], np.float32)
    valid = np.array([True, True, True, False])  # the far joint is not confident
    return joints, valid


def test_box_from_joints_grows_the_joint_box_by_the_ratio_about_its_centre():
    joints, valid = _joints()
    # Tight box x 10..110, y 20..220 (100 x 200); +15%: 7.5% on each side.
    np.testing.assert_allclose(box_from_joints(joints, valid, 0.15),
                               [2.5, 5.0, 115.0, 230.0], atol=1e-4)
    np.testing.assert_allclose(box_from_joints(joints, valid, 0.0), [10, 20, 100, 200])
    assert pose_area(joints, valid, 0.15) == pytest.approx(115.0 * 230.0)


def test_box_from_joints_clips_to_the_image_and_needs_two_joints():
    joints, valid = _joints()
    np.testing.assert_allclose(box_from_joints(joints, valid, 0.15, image_size=(100, 200)),
                               [2.5, 5.0, 97.5, 195.0], atol=1e-4)
    assert box_from_joints(joints, np.array([True, False, False, False])) is None
    assert box_from_joints(joints + 1000, valid, image_size=(100, 200)) is None  # left the image


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [100, 100, 5, 5]], np.float32)
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [2, 2, 4, 4]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 1.0, 16 / 100], [0, 0, 0]])


def test_unify_boxes_prefers_detections_and_keeps_propagated_boxes_elsewhere():
    """Every detection stays, even two overlapping by IoU 0.82 (two people
    side by side in the user's --boxes lost one of them under --track, not
    without it); a propagated box goes where a detection or a better
    propagated box overlaps it."""
    det = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 10, 10]], np.float32)
    det_scores = np.array([0.6, 0.9, 0.7], np.float32)
    prop = np.array([[0, 1, 10, 10], [100, 0, 10, 10], [101, 0, 10, 10]], np.float32)
    prop_scores = np.array([0.99, 0.3, 0.2], np.float32)  # a higher score does not win
    boxes, scores, propagated = unify_boxes(det, det_scores, prop, prop_scores, 0.5)
    # By score: detection 1 (0.9), 2 (0.7), 0 (0.6); propagated box 0
    # overlaps the detections, box 2 overlaps box 1 (IoU 0.82).
    np.testing.assert_array_equal(boxes, [det[1], det[2], det[0], prop[1]])
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.6, 0.3])
    np.testing.assert_array_equal(propagated, [False, False, False, True])


def test_unify_boxes_keeps_boxes_overlapping_at_most_the_threshold():
    det = np.array([[0, 0, 10, 10]], np.float32)
    prop = np.array([[5, 0, 10, 10]], np.float32)  # IoU 1/3
    boxes, _, propagated = unify_boxes(det, [0.8], prop, [0.5], iou_threshold=0.4)
    assert len(boxes) == 2 and propagated.tolist() == [False, True]
    boxes, _, _ = unify_boxes(det, [0.8], prop, [0.5], iou_threshold=0.3)
    assert len(boxes) == 1
    half = np.array([[0, 0, 10, 5]], np.float32)  # IoU exactly 0.5: kept at 0.5
    boxes, _, _ = unify_boxes(det, [0.8], half, [0.5], iou_threshold=0.5)
    assert len(boxes) == 2
    boxes, scores, propagated = unify_boxes(np.zeros((0, 4)), [], prop, [0.5], 0.5)
    assert boxes.shape == (1, 4) and propagated.tolist() == [True]


def test_joints_on_a_vertical_or_horizontal_line_give_no_propagated_box():
    """Aligned joints give no box: a zero-width (or zero-height) one would be a phantom person."""
    both = np.array([True, True])
    # Same x: tight box width 0, grown by 15% of 0 -> still 0 wide: no box.
    assert box_from_joints(np.array([[5, 0], [5, 10]], np.float32), both) is None
    # Same y: height 0 -> no box.
    assert box_from_joints(np.array([[0, 7], [10, 7]], np.float32), both) is None
