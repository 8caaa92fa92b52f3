"""The pixels of predict.py's inputs outside a run (what calibrates an int8 or
bf16 export): video frames as RGB, photos turned upright only when asked."""

import cv2
import numpy as np
import pytest
from PIL import Image

from keras_pose.prediction.input_pixels import calibration_images, input_images
from keras_pose.prediction.inputs import InputFile


def test_video_frames_are_rgb_not_opencvs_bgr(tmp_path):
    """Video frames are RGB (a red shirt calibrates the export red, not blue as in BGR)."""
    path = str(tmp_path / "red.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 24))
    for _ in range(2):
        writer.write(np.full((24, 32, 3), (0, 0, 255), np.uint8))  # Pure red in OpenCV's BGR.
    writer.release()
    _, frame = next(input_images([InputFile(path, "red.avi", 0)]))
    # Pure red in RGB is (255, 0, 0); MJPG loses a few levels: +-30.
    assert frame.shape == (24, 32, 3)
    assert abs(int(frame[..., 0].mean()) - 255) <= 30
    assert int(frame[..., 2].mean()) <= 30


@pytest.mark.parametrize("upright, shape", [(False, (20, 40, 3)), (True, (40, 20, 3))])
def test_calibration_photos_are_turned_upright_only_when_asked(upright, shape, tmp_path):
    """A phone's portrait photo calibrates the export upright, and as stored under ``ignore``."""
    path = str(tmp_path / "phone.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: a viewer turns the stored pixels 90 degrees clockwise.
    Image.fromarray(np.full((20, 40, 3), 128, np.uint8)).save(path, exif=exif)
    # Stored 40 wide x 20 high: (20, 40, 3) as stored; turned a quarter, 20 wide x 40 high.
    images = calibration_images([InputFile(path, "phone.jpg", 0)], upright=upright)
    assert [image.shape for image in images] == [shape]


@pytest.mark.parametrize("upright, shape", [(False, (48, 64, 3)), (True, (64, 48, 3))])
def test_calibration_frames_of_a_rotated_video_follow_the_photos_rule(upright, shape, tmp_path):
    """A phone's portrait video (rotation metadata 90) was turned by OpenCV
    whatever the rule (--exif_orientation ignore, or auto with --boxes)."""
    from tests.prediction.videos import rotated_mp4
    rotated_mp4(tmp_path / "phone.mp4")
    images = calibration_images([InputFile(str(tmp_path / "phone.mp4"), "phone.mp4", 0)],
                                count=1, upright=upright)
    assert [image.shape for image in images] == [shape]  # Stored 64 wide x 48 high.
