"""predict.py's boxes files in another format than [x, y, w, h] in pixels
([x1, y1, x2, y2], fractions of the image) are said, as evaluate.py says
them (keras_pose.detection.file_detectors.FormatWatch, the rule of
keras_pose.data.detection_checks.warn_box_format): once their images'
sizes are known, naming the file. Real detections say nothing."""

import json
import logging
import os

import numpy as np
import pytest

from keras_pose.detection import FileDetector

XYXY = "the boxes look like [x1, y1, x2, y2]; COCO detection results are [x, y, w, h]"
FRACTIONS = "fractions of the image size?"


@pytest.fixture(autouse=True)
def _warnings(caplog):
    caplog.set_level(logging.WARNING, logger="absl")


def _image(height, width):
    return np.zeros((height, width, 3), np.uint8)


def _boxes_file(tmp_path, boxes, name="boxes.json"):
    path = tmp_path / name
    path.write_text(json.dumps(boxes))
    return str(path)


def test_x1y1x2y2_boxes_are_said_once_every_input_with_boxes_is_detected(tmp_path, caplog):
    # On 100x100 images, x + w or y + h beyond 110 is well past the edge:
    # a.jpg's 60 and 60 are not; b.jpg's 40 + 90 = 130; c.jpg's 145 and 158.
    path = _boxes_file(tmp_path, {"a.jpg": [[10, 10, 50, 50]], "b.jpg": [[40, 40, 90, 80]],
                                  "c.jpg": [[50, 20, 95, 60], [60, 60, 90, 98]]})
    detector = FileDetector(path)
    detector.bind(["a.jpg", "b.jpg", "c.jpg"])
    for key in ("a.jpg", "b.jpg"):
        detector.detect(_image(100, 100), key)
    assert XYXY not in caplog.text  # c.jpg's boxes not seen yet.
    detector.detect(_image(100, 100), "c.jpg")
    assert f"{path}: 3 of 4 detection boxes end well past" in caplog.text
    assert XYXY in caplog.text
    for key in ("a.jpg", "b.jpg", "c.jpg"):  # The run's second pass says nothing new.
        detector.detect(_image(100, 100), key)
    assert caplog.text.count(XYXY) == 1


def test_fractions_of_the_image_are_said(tmp_path, caplog):
    path = _boxes_file(tmp_path, {"a.jpg": [[0.1, 0.2, 0.3, 0.5]],
                                  "b.jpg": [[0.5, 0.1, 0.2, 0.8, 0.9]]})
    detector = FileDetector(path)
    detector.bind(["a.jpg", "b.jpg"])
    detector.detect(_image(80, 100), "a.jpg")
    detector.detect(_image(80, 100), "b.jpg")
    assert f"{path}: every detection box is at most 1.5 px wide and high" in caplog.text
    assert FRACTIONS in caplog.text


def _coco_inputs(coco_dir):
    """({file name: image id}, {file name: (height, width)}) of the COCO sample."""
    with open(os.path.join(coco_dir, "test_coco.json")) as f:
        images = json.load(f)["images"]
    return ({img["file_name"]: img["id"] for img in images},
            {img["file_name"]: (img["height"], img["width"]) for img in images})


def _run(detector, ids, sizes):
    detector.bind(list(ids), ids)
    for name, (height, width) in sizes.items():
        detector.detect(_image(height, width), name)


def test_the_demo_detections_say_nothing_and_as_x1y1x2y2_are_said(coco_dir, tmp_path, caplog):
    ids, sizes = _coco_inputs(coco_dir)
    det = os.path.join(coco_dir, "test_coco_det_AP_H_56.json")
    _run(FileDetector(det), ids, sizes)
    assert XYXY not in caplog.text and FRACTIONS not in caplog.text
    with open(det) as f:
        records = json.load(f)
    for record in records:
        x, y, w, h = record["bbox"]
        record["bbox"] = [x, y, x + w, y + h]
    path = _boxes_file(tmp_path, records, "xyxy.json")
    _run(FileDetector(path), ids, sizes)
    assert f"{path}: " in caplog.text and XYXY in caplog.text


def test_a_long_run_is_checked_on_its_first_hundred_boxes(tmp_path, caplog):
    # 150 frames of one box each, x + w = 40 + 90 = 130 > 110 on 100x100 frames.
    keys = [f"frame{i:03d}.jpg" for i in range(150)]
    detector = FileDetector(_boxes_file(tmp_path, {key: [[40, 40, 90, 50]] for key in keys}))
    detector.bind(keys)
    for key in keys[:99]:
        detector.detect(_image(100, 100), key)
    assert XYXY not in caplog.text
    detector.detect(_image(100, 100), keys[99])
    assert "100 of 100 detection boxes end well past" in caplog.text


def test_an_unbound_detector_checks_once_every_entry_is_seen(caplog):
    # A loaded table (the API): image 1's box ends at x 30 + 95 = 125, image 2's at
    # y 20 + 100 = 120 and x 50 + 70 = 120, all past 110.
    table = {1: (np.array([[30, 10, 95, 40]], np.float32), np.array([0.9], np.float32)),
             2: (np.array([[20, 20, 90, 100], [50, 50, 70, 70]], np.float32),
                 np.array([0.8, 0.7], np.float32))}
    detector = FileDetector(table)
    detector.detect(_image(100, 100), 1)
    assert XYXY not in caplog.text
    detector.detect(_image(100, 100), 2)
    assert "boxes: 3 of 3 detection boxes end well past" in caplog.text


def test_predict_says_a_x1y1x2y2_boxes_file(run_script, tiny_exported, coco_dir, tmp_path,
                                            caplog):
    with open(os.path.join(coco_dir, "test_coco_det_AP_H_56.json")) as f:
        records = json.load(f)
    for record in records:
        x, y, w, h = record["bbox"]
        record["bbox"] = [x, y, x + w, y + h]
    boxes = _boxes_file(tmp_path, records, "xyxy.json")
    code, _, err = run_script("predict.py")([
        "--checkpoint", tiny_exported[2], "--input", coco_dir, "--boxes", boxes,
        "--annotations", os.path.join(coco_dir, "test_coco.json"),
        "--output_dir", str(tmp_path / "out")])
    assert code == 0, err[-2000:]
    assert f"{boxes}: " in caplog.text and XYXY in caplog.text
