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
