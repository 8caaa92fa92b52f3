"""evaluate.py's warning on detections of zero or negative width or height
said "their keypoints all fall on one point" of every one; only a scale of 0
does. With one side > 0 the aspect-ratio fix makes a full-size crop, with
both sides < 0 the scale is negative (a crop turned 180 degrees)."""

import json
import logging
import os

import numpy as np
import pytest

from keras_pose.data import coco
from keras_pose.data.transforms import box_to_center_scale

ASPECT = 192 / 256  # the network's width / height (0.75)


@pytest.mark.parametrize("box, scale_px", [
    # w = 0: w = h * 0.75 = 225, times the padding 1.25: 281.25 x 375.
    ([300, 50, 0, 300], [281.25, 375]),
    # h < 0 beside w > 0: h = w / 0.75 = 133.3, padded 166.7; w 125.
    ([300, 50, 100, -300], [125, 166.6667]),
    # Both < 0: w = -100 > 0.75 * -300, so h = -100 / 0.75: a negative scale.
    ([300, 50, -100, -300], [-125, -166.6667]),
    # A 0 beside a side <= 0: scale 0.
    ([300, 50, 0, 0], [0, 0]), ([300, 50, -100, 0], [0, 0]), ([300, 50, 0, -100], [0, 0])])
def test_the_crops_the_warning_describes(box, scale_px):
    center, scale = box_to_center_scale(box, ASPECT)
    np.testing.assert_allclose(center, [box[0] + box[2] / 2, box[1] + box[3] / 2])
    np.testing.assert_allclose(scale * 200, scale_px, rtol=1e-5)


def test_each_case_is_worded_by_what_its_crop_is(coco_dir, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="absl")
    det = tmp_path / "zero.json"
    boxes = [[10, 10, 50, 80], [300, 50, 0, 300], [300, 50, 100, -300], [300, 50, -100, -300],
             [30, 40, 0, 0], [30, 40, -5, 0]]
    det.write_text(json.dumps([{"image_id": 785, "category_id": 1, "bbox": b, "score": 0.9}
                               for b in boxes]))
    records = coco.load_coco_detections(str(det), os.path.join(coco_dir, "test_coco.json"),
                                        coco_dir, ASPECT)
    assert len(records) == 6  # all used as given, as the reference does
    said = caplog.text
    assert ("zero.json: 5 detection(s) have a box of zero or negative width or height: used "
            "as given, as the reference does; ") in said
    assert ("2 with one side > 0 (e.g. [300.0, 50.0, 0.0, 300.0]) are cropped at the size "
            "that side gives") in said
    assert ("1 with both < 0 (e.g. [300.0, 50.0, -100.0, -300.0]) are cropped at a negative "
            "scale: the crop is turned 180 degrees") in said
    assert ("2 with no side > 0, one = 0 (e.g. [30.0, 40.0, 0.0, 0.0]) are of scale 0: all "
            "their keypoints fall on one point") in said
    assert said.count("fall on one point") == 1
