"""Track colours and drawing."""

import numpy as np
import pytest

from keras_pose.configs.keypoints import COCO_SKELETON
from keras_pose.tracking import FrameResult, draw_tracks, track_color


def test_track_colors_are_deterministic_valid_and_distinct():
    colors = [track_color(i) for i in range(20)]
    assert colors == [track_color(i) for i in range(20)]
    assert all(len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
               for c in colors)
    rgb = np.array(colors, np.float64)
    distances = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)
    assert distances[~np.eye(20, dtype=bool)].min() > 30
    # Neighbouring ids (people seen together) differ strongly.
    assert min(distances[i, i + 1] for i in range(19)) > 100
    with pytest.raises(ValueError):
        track_color(-1)


def test_draw_tracks_uses_the_track_colour():
    keypoints = np.tile(np.float32([[20, 20]]), (1, 17, 1))
    keypoints[0, 5] = [60, 40]
    result = FrameResult(0, np.array([7]), keypoints, np.full((1, 17), 0.9, np.float32),
                         np.ones(1, np.float32), np.float32([[10, 10, 70, 50]]),
                         np.zeros(1, bool))
    image = np.zeros((80, 100, 3), np.uint8)
    out = draw_tracks(image, result, COCO_SKELETON)
    assert out[40, 60].tolist() == list(track_color(7))   # a joint
    assert out[30, 10].tolist() == list(track_color(7))   # the box's left side
    assert not image.any()                                 # drawn on a copy


def test_points_and_boxes_that_cannot_be_drawn_are_left_out():
    """A NaN or 1e20 keypoint or box raised in OpenCV (a whole video's run
    stopped at one frame); float, gray or RGBA images were drawn on."""
    from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES
    from keras_pose.visualization import draw_poses
    keypoints = np.tile(np.float32([[20, 20]]), (1, 17, 1))
    keypoints[0, 0], keypoints[0, 1], keypoints[0, 5] = np.nan, 1e20, [60, 40]
    scores = np.full((1, 17), 0.9, np.float32)
    image = np.zeros((80, 100, 3), np.uint8)
    for box in ([10, 10, 70, 50], [np.nan, 10, 70, 50], [1e20, 0, 5, 5]):
        result = FrameResult(0, np.array([7]), keypoints, scores, np.ones(1, np.float32),
                             np.float32([box]), np.zeros(1, bool))
        assert draw_tracks(image, result, COCO_SKELETON)[40, 60].tolist() == list(
            track_color(7))
        poses = draw_poses(image, keypoints, scores, np.float32([box]), COCO_SKELETON,
                           COCO_KEYPOINT_NAMES)
        assert poses[40, 60].any()
    for bad in (image.astype(np.float32), image[..., 0], np.zeros((80, 100, 4), np.uint8)):
        with pytest.raises(ValueError):
            draw_tracks(bad, result, COCO_SKELETON)
        with pytest.raises(ValueError):
            draw_poses(bad, keypoints, scores, None, COCO_SKELETON, COCO_KEYPOINT_NAMES)


def _one_person(joints, scores, box=(np.nan, np.nan, 1, 1), propagated=False, track_id=0):
    """A FrameResult of one person with the given {joint: (x, y)} and {joint: score}
    (other joints score 0); the default box is NaN, so it is not drawn."""
    keypoints = np.zeros((1, 17, 2), np.float32)
    keypoint_scores = np.zeros((1, 17), np.float32)
    for j, xy in joints.items():
        keypoints[0, j] = xy
    for j, s in scores.items():
        keypoint_scores[0, j] = s
    return FrameResult(0, np.array([track_id]), keypoints, keypoint_scores,
                       np.ones(1, np.float32), np.float32([box]), np.array([propagated]))


def test_track_zero_is_red_at_the_first_saturation_value_level():
    """Track 0 is red (hue 0), not blue."""
    # Hue 0, S = 0.85, V = 1.0 (first level): r = 255 * V = 255,
    # g = b = 255 * V * (1 - S) = 255 * 0.15 = 38.25 -> 38.
    assert track_color(0) == (255, 38, 38)


def test_saturation_and_value_cycle_over_three_levels():
    """Three saturation / value levels separate ids of close hues by brightness."""
    # The max channel of an HSV colour is 255 * V; V levels 1.0, 0.75, 0.95 by id % 3:
    # 255, 191.25 -> 191, 242.25 -> 242, then back to 255 for id 3.
    assert [max(track_color(i)) for i in range(4)] == [255, 191, 242, 255]
    # The min channel is 255 * V * (1 - S): S levels 0.85, 1.0, 0.6:
    # 38.25 -> 38, 0, 255 * 0.95 * 0.4 = 96.9 -> 97.
    assert [min(track_color(i)) for i in range(3)] == [38, 0, 97]


def test_a_propagated_box_is_drawn_thinner_than_a_detected_one():
    """A propagated (guessed) box is drawn thinner than a detected one."""
    image = np.zeros((80, 100, 3), np.uint8)
    counts = {}
    for propagated in (True, False):
        result = _one_person({}, {}, box=(10, 20, 60, 40), propagated=propagated)
        counts[propagated] = int(draw_tracks(image, result, []).any(axis=-1).sum())
    assert 0 < counts[True] < counts[False]


def test_a_limb_with_one_weak_joint_is_not_drawn():
    """A limb with one weak joint is not drawn (no stray line to the image corner)."""
    # Joint 5 strong at (60, 40); joint 7 weak (0.1 < 0.4) at (20, 60), so its point
    # becomes (0, 0): a drawn limb would pass through (30, 20) (towards the corner).
    result = _one_person({5: (60, 40), 7: (20, 60)}, {5: 0.9, 7: 0.1})
    out = draw_tracks(np.zeros((80, 100, 3), np.uint8), result, [(5, 7)])
    assert out[40, 60].tolist() == list(track_color(0))   # the strong joint is drawn
    assert not out[20, 30].any()                           # no line towards (0, 0)
    assert not out[50, 40].any()                           # no line towards the weak joint
    assert not out[60, 20].any()                           # nor the weak joint


def test_the_first_limb_of_the_skeleton_is_drawn():
    """The first limb of the skeleton is drawn (a one-limb skeleton draws its line)."""
    result = _one_person({5: (20, 40), 7: (60, 40)}, {5: 0.9, 7: 0.9})
    out = draw_tracks(np.zeros((80, 100, 3), np.uint8), result, [(5, 7)])
    # Midpoint (40, 40) is 20 px from each joint (radius 2): only the limb colours it.
    assert out[40, 40].tolist() == list(track_color(0))


def test_drawing_scales_with_the_image_size():
    """Joints and limbs scale with the image (not hair-thin on large frames)."""
    color = list(track_color(0))
    # 1600x1200: scale = round(1600 / 400) = 4: joint radius 2 * 4 = 8, limb thickness 8
    # (half-width 4). Joints 5 (400, 600) and 7 (1200, 600), a horizontal limb at y = 600.
    big = draw_tracks(np.zeros((1200, 1600, 3), np.uint8),
                      _one_person({5: (400, 600), 7: (1200, 600)}, {5: 0.9, 7: 0.9}), [(5, 7)])
    assert big[600, 394].tolist() == color    # 6 px left of joint 5: inside radius 8
    assert big[603, 800].tolist() == color    # 3 px below the limb: inside half-width 4
    # 400x300: scale = round(400 / 400) = 1: radius 2, thickness 2.
    small = draw_tracks(np.zeros((300, 400, 3), np.uint8),
                        _one_person({5: (100, 150), 7: (300, 150)}, {5: 0.9, 7: 0.9}), [(5, 7)])
    assert small[150, 100].tolist() == color
    assert not small[150, 94].any()
    assert not small[153, 200].any()


def test_a_joint_scoring_exactly_the_threshold_is_drawn_in_neither_picture():
    """--score_threshold draws keypoints above it: a tracked video drew a
    joint (and a limb) scoring exactly it, the photos did not."""
    from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES
    from keras_pose.visualization import draw_poses
    image = np.zeros((80, 100, 3), np.uint8)
    limb = _one_person({5: (20, 40), 7: (60, 40)}, {5: 0.5, 7: 0.5})  # 0.5 exact in binary
    for threshold, drawn in ((0.5, False), (0.49, True)):
        tracks = draw_tracks(image, limb, [(5, 7)], score_threshold=threshold)
        poses = draw_poses(image, limb.keypoints, limb.keypoint_scores, None, [(5, 7)],
                           COCO_KEYPOINT_NAMES, score_threshold=threshold)
        for out in (tracks, poses):  # the joints and the limb's midpoint
            assert [out[40, x].any() for x in (20, 40, 60)] == [drawn] * 3, threshold


@pytest.mark.parametrize("threshold", [np.nan, "0.3", None, True])
def test_a_threshold_that_is_not_a_finite_number_is_refused_as_draw_poses_does(threshold):
    """NaN drew the box without a joint, "0.3" was NumPy's UFuncTypeError."""
    from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES
    from keras_pose.visualization import draw_poses
    person = _one_person({5: (60, 40)}, {5: 0.9})
    image = np.zeros((80, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="^score_threshold: expected a finite number"):
        draw_tracks(image, person, COCO_SKELETON, threshold)
    with pytest.raises(ValueError, match="^score_threshold: expected a finite number"):
        draw_poses(image, person.keypoints, person.keypoint_scores, None, COCO_SKELETON,
                   COCO_KEYPOINT_NAMES, threshold)


def test_a_limb_past_the_keypoints_is_left_out_as_draw_poses_does():
    """A 1-based limb (16, 17) of a 17-keypoint skeleton was an IndexError;
    the limbs that fit are drawn."""
    person = _one_person({5: (20, 40), 7: (80, 40), 16: (50, 10)}, {5: 0.9, 7: 0.9, 16: 0.9})
    image = np.zeros((80, 100, 3), np.uint8)
    out = draw_tracks(image, person, [(5, 7), (16, 17)])
    np.testing.assert_array_equal(out, draw_tracks(image, person, [(5, 7)]))
    assert out[40, 50].tolist() == list(track_color(0))  # the middle of limb (5, 7)
