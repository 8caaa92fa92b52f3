"""A boxes file's numbers that float32 cannot hold: the table keeps float32,
where a width of 1e-46 is 0 and a score of 1e39 inf. Such an entry stopped
predict.py's whole run in the predictor's box check ("box 1 [100.0, 100.0,
0.0, 20.0] is not finite with positive width and height"); it is skipped and
counted like the other entries that are not boxes (evaluate.py's detections:
"bbox/score beyond float32")."""

import json
import logging

import numpy as np
import pytest

from keras_pose.detection.box_files import load_detection_file, valid_box
from keras_pose.json_values import FLOAT32_MAX, fits_float32


@pytest.mark.parametrize("box, score", [
    ([100, 100, 1e-46, 20], 1.0),   # width 0 as float32
    ([100, 100, 20, 1e-46], 1.0),   # height 0 as float32
    ([100, 100, 1e39, 20], 1.0),    # width inf as float32
    ([1e39, 100, 20, 20], 1.0),     # x inf as float32
    ([100, 50, 200, 300], 1e39),    # score inf as float32
    ([100, 50, 200, 300], -1e39)])
def test_a_box_float32_cannot_hold_is_not_a_box(box, score):
    assert valid_box(box, score) is None


def test_numbers_float32_holds_stay_boxes():
    assert valid_box([0.5, -3, 1e-30, 3e38], 1e-46) == ([0.5, -3.0, 1e-30, 3e38], 1e-46)


def test_fits_float32_is_float32s_largest_number():
    assert FLOAT32_MAX == 3.4028234663852886e38
    assert fits_float32(3.4e38) and fits_float32(-3.4e38) and fits_float32(1e-46)
    assert not fits_float32(3.5e38) and not fits_float32(-1e39) and not fits_float32(10 ** 40)


def test_both_file_forms_skip_and_count_them(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="absl")
    mapping = tmp_path / "den.json"
    mapping.write_text('{"a.jpg": [[100, 50, 200, 300], [100, 100, 1e-46, 20]]}')
    boxes, scores = load_detection_file(str(mapping))["a.jpg"]
    np.testing.assert_array_equal(boxes, [[100, 50, 200, 300]])
    np.testing.assert_array_equal(scores, [1])
    assert "den.json: 1 entry skipped" in caplog.text and "'a.jpg' box 1" in caplog.text
    results = tmp_path / "bs.json"
    results.write_text(json.dumps([
        {"image_id": 785, "bbox": [100, 50, 200, 300], "score": 1e39, "category_id": 1},
        {"image_id": 785, "bbox": [10, 5, 20, 30], "score": 0.5, "category_id": 1}]))
    boxes, scores, _ = load_detection_file(str(results))[785]
    np.testing.assert_array_equal(boxes, [[10, 5, 20, 30]])
    np.testing.assert_array_equal(scores, [0.5])
    assert "bs.json: 1 entry skipped" in caplog.text
