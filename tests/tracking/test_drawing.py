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
