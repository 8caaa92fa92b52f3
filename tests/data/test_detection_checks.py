"""Detections used as given: warnings on their format and coverage, and
numbers beyond float32 dropped (keras_pose.data.coco, detection_checks)."""

import json
import logging
import os

import numpy as np
import pytest

from keras_pose.data import coco, synthetic

XYXY = "the boxes look like [x1, y1, x2, y2]; COCO detection results are [x, y, w, h]"
FRACTIONS = "fractions of the image size?"


@pytest.fixture(autouse=True)
def _warnings(caplog):
    caplog.set_level(logging.WARNING, logger="absl")


def _annotations(people_per_image=(1,), size=(100, 100)):
    """Images 1, 2... of ``size`` (width, height), each with its number of
    people (3 keypoints, all labelled)."""
    images = [{"id": i + 1, "file_name": f"{i + 1}.jpg", "width": size[0], "height": size[1]}
              for i in range(len(people_per_image))]
    anns = [{"id": 100 * (i + 1) + p, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
             "bbox": [10.0, 10.0, 40.0, 60.0], "area": 2400.0, "num_keypoints": 3,
             "keypoints": [20.0, 20.0, 2, 30.0, 40.0, 2, 40.0, 60.0, 2]}
            for i, n in enumerate(people_per_image) for p in range(n)]
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b", "c"]}]}


def _write(tmp_path, data, name):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _dets(boxes, image_id=1, score=0.9):
    return [{"image_id": image_id, "category_id": 1, "bbox": list(b), "score": score}
            for b in boxes]


def _load(tmp_path, dets, ann=None):
    ann = _write(tmp_path, ann or _annotations(), "ann.json")
    return coco.load_coco_detections(_write(tmp_path, dets, "det.json"), ann, str(tmp_path),
                                     0.75)


# -- Boxes of another format than [x, y, w, h] in pixels. ------------------------------------

@pytest.mark.parametrize("normal, past, warned", [
    (7, 3, True),    # 3 of 10 end past 110 px: 30% > 20%, and 3 of them.
    (8, 2, False),   # 20%, but 2 are too few: people cut by the border.
    (16, 4, False),  # 4 of 20: 20%, not more.
    (15, 5, True),   # 5 of 20: 25%.
])
def test_boxes_ending_well_past_the_image_are_said_to_look_like_x1y1x2y2(
        tmp_path, caplog, normal, past, warned):
    # On a 100x100 image: x + w = 60 (inside), 105 (past the edge, not well past),
    # 10 + 101 = 111 > 1.1 * 100 (well past), on the right or the bottom.
    boxes = [[10, 10, 95, 95]] * 2 + [[10, 10, 50, 50]] * (normal - 2) + \
        ([[10, 10, 101, 20], [10, 10, 20, 101]] * past)[:past]
    records = _load(tmp_path, _dets(boxes))
    assert len(records) == normal + past  # A warning, not a refusal: all used.
    assert (XYXY in caplog.text) == warned
    if warned:
        assert "det.json: " in caplog.text


def test_real_coco_detections_say_nothing_and_as_x1y1x2y2_are_said(coco_dir, tmp_path, caplog):
    ann = os.path.join(coco_dir, "test_coco.json")
    det = os.path.join(coco_dir, "test_coco_det_AP_H_56.json")
    coco.load_coco_detections(det, ann, coco_dir, 0.75)
    assert XYXY not in caplog.text and FRACTIONS not in caplog.text
    raw = json.load(open(det))
    for d in raw:
        x, y, w, h = d["bbox"]
        d["bbox"] = [x, y, x + w, y + h]
    records = coco.load_coco_detections(_write(tmp_path, raw, "xyxy.json"), ann, coco_dir, 0.75)
    assert len(records) == 118
    assert caplog.text.count(XYXY) == 1 and "xyxy.json: " in caplog.text


def test_the_demo_sets_detections_say_nothing(tmp_path, caplog):
    """The synthetic demo set's detections (2 of 116 boxes end past 1.1
    times the edge): no warning on their format."""
    root = str(tmp_path / "demo")
    synthetic.generate(root, num_train=1, num_val=50)
    ann = os.path.join(root, "annotations", "person_keypoints_val.json")
    records = coco.load_coco_detections(synthetic.detections_file(root), ann,
                                        os.path.join(root, "images", "val"), 0.75)
    assert len(records) == 116
    assert XYXY not in caplog.text and FRACTIONS not in caplog.text


def test_boxes_of_about_one_pixel_are_said_to_be_fractions(tmp_path, caplog):
    # The last runs past the bottom edge: 1.07 high, as one of the demo set's.
    fractions = [[0.1, 0.2, 0.5, 0.7], [0.6, 0.1, 0.3, 1.0], [0.2, -0.03, 0.5, 1.07]]
    records = _load(tmp_path, _dets(fractions))
    assert len(records) == 3  # Used: a warning, not a refusal.
    assert caplog.text.count(FRACTIONS) == 1
    assert "det.json: every detection box is at most 1.5 px wide and high" in caplog.text
    caplog.clear()
    _load(tmp_path, _dets(fractions + [[10, 10, 2, 30]]))  # One box of pixels.
    assert FRACTIONS not in caplog.text
    caplog.clear()
    # 1-px boxes on 10x10 images are no fractions.
    _load(tmp_path, _dets(fractions), _annotations(size=(10, 10)))
    assert FRACTIONS not in caplog.text


# -- Numbers beyond float32. -----------------------------------------------------------------

def test_numbers_beyond_float32_and_boxes_far_off_the_image_are_dropped(tmp_path, caplog):
    boxes = [[10, 10, 50, 50],
             [1e200, 1, 10, 10],     # Past float32 (3.4e38), finite as float64.
             [10, 10, 50, 1e39],     # Also over 10 times the image: float32 said first.
             [-1000, 10, 50, 50],    # Off the 100 px image by at most 10 sizes (1000 px): kept.
             [-1001, 10, 50, 50],    # By more: dropped.
             [10, 1101, 50, 50],     # 1001 px past the bottom edge: dropped.
             [10, 1100, 50, 50]]     # 1000 px past it: kept.
    dets = _dets(boxes) + _dets([[20, 20, 30, 30]], score=1e308) + \
        _dets([[20, 20, 30, 30]], score=-1e39)
    records = _load(tmp_path, dets)
    assert len(records) == 3 and np.isfinite(records.box).all()
    assert np.isfinite(records.score).all() and np.isfinite(records.center).all()
    assert records.skipped_reasons == {"bbox beyond float32": 2, "score beyond float32": 2,
                                       "box over 10 image sizes off its image": 2}
    assert records.box[:, 0].tolist() == [10.0, -1000.0, 10.0]


# -- Images of the split without a detection. ------------------------------------------------

def test_annotated_images_without_detections_are_said(tmp_path, caplog):
    ann = _annotations(people_per_image=(2, 3, 1, 0))
    ann["annotations"][2]["iscrowd"] = 1  # Image 2: a crowd, not scored.
    # Detections of images 1 and 4 only: images 2 and 3 (of the 3 with people)
    # have none; their 2 + 1 people to score count as missed.
    dets = _dets([[10, 10, 40, 60]], image_id=1) + _dets([[10, 10, 40, 60]], image_id=4)
    records = _load(tmp_path, dets, ann)
    assert len(records) == 2
    assert ("det.json: 2 of 3 images of the split have no detection: their 3 people count as "
            "missed") in caplog.text
    caplog.clear()
    every = [d for i in (1, 2, 3) for d in _dets([[10, 10, 40, 60]], image_id=i)]
    _load(tmp_path, every, ann)
    assert "have no detection" not in caplog.text


def test_an_image_whose_detections_are_all_below_the_threshold_has_none(tmp_path, caplog):
    dets = _dets([[10, 10, 40, 60]], image_id=1) + \
        _dets([[10, 10, 40, 60]], image_id=2, score=0.1)
    path = _write(tmp_path, _annotations(people_per_image=(1, 2)), "ann.json")
    coco.load_coco_detections(_write(tmp_path, dets, "det.json"), path, str(tmp_path), 0.75,
                              image_threshold=0.5)
    assert "1 of 2 images of the split have no detection: their 2 people" in caplog.text
