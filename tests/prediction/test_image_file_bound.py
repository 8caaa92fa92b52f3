"""Image files above 512 MiB are refused unread, reported and skipped like
any unreadable input: a 20 GB file of zeros named .jpg was a MemoryError
traceback that ended the run (the inputs after it never ran), 2 GiB crashed
TensorFlow, 1 GiB took 6 GB of memory to be called corrupt."""

import cv2
import numpy as np
import pytest

from keras_pose.data.images import ImageReadError, read_image
from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.outputs import JsonListFile
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt

BOUND = 2 ** 29  # 512 MiB


def _sparse(path, size):
    with open(path, "wb") as f:
        f.truncate(size)  # No disk space: a hole.


def test_a_file_one_byte_above_the_bound_is_refused_unread(tmp_path):
    _sparse(tmp_path / "big.jpg", BOUND + 1)
    with pytest.raises(ImageReadError) as raised:
        read_image(str(tmp_path / "big.jpg"))
    assert raised.value.reason == (
        "too large to read as an image (536,870,913 bytes, above the bound of 512 MiB: "
        "TensorFlow decodes photos of 179 MP at most, whose files are far smaller): not an "
        "image (a copy cut short on a sparse disk?), or downscale it")


def test_a_huge_file_in_a_folder_is_skipped_and_the_run_goes_on(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.jpg", "c.jpg"):
        cv2.imwrite(str(tmp_path / "in" / name), np.full((48, 64, 3), 120, np.uint8))
    _sparse(tmp_path / "in" / "b_huge.jpg", 20 * 2 ** 30)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    predictions = JsonListFile(run.writer, str(tmp_path / "out" / "predictions.json"))
    run.images(list_inputs(str(tmp_path / "in")), predictions)
    predictions.close()
    assert run.summary.processed == 2  # a.jpg and c.jpg
    assert run.summary.unreadable == [
        f"{tmp_path / 'in' / 'b_huge.jpg'}: too large to read as an image (21,474,836,480 "
        "bytes, above the bound of 512 MiB: TensorFlow decodes photos of 179 MP at most, whose "
        "files are far smaller): not an image (a copy cut short on a sparse disk?), or "
        "downscale it"]
