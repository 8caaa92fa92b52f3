"""The library side of predict.py: the inputs it reads for calibration."""

import os

import cv2
import numpy as np

from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.runner import calibration_images


def _video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert writer.isOpened(), "OpenCV cannot write .mp4 here"
    for t in range(frames):  # Frame t is grey level 80 t: which frame came, in which order.
        writer.write(np.full((48, 64, 3), 80 * t, np.uint8))
    writer.release()


def test_calibration_images_are_the_first_images_and_frames_shrunk(tmp_path):
    # Sorted by key: a.png (large), b.jpg (unreadable, skipped), c.mp4 (4 frames).
    cv2.imwrite(str(tmp_path / "a.png"), np.full((1500, 2600, 3), 200, np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    _video(tmp_path / "c.mp4", 4)
    items = list_inputs(str(tmp_path))
    images = calibration_images(items, count=3, max_side=1300)
    assert [image.shape for image in images] == [(750, 1300, 3), (48, 64, 3), (48, 64, 3)]
    assert all(image.dtype == np.uint8 for image in images)
    # Frames 0 and 1 (grey 0 and 80, within MPEG-4's and YUV's rounding).
    np.testing.assert_allclose([np.median(image) for image in images[1:]], [0, 80], atol=8)
    # Fewer inputs than asked: all of them; a small image keeps its size.
    everything = calibration_images(items, count=16)
    assert len(everything) == 5 and everything[0].shape == (738, 1280, 3)
    assert calibration_images([item for item in items if item.key == "b.jpg"]) == []
    assert os.path.exists(tmp_path / "b.jpg")
