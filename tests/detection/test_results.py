"""Detections written as COCO detection results, read back by the evaluation reader."""

import json
import os

import numpy as np
import pytest

from keras_pose.data.coco import load_coco_detections
from keras_pose.detection import Detections, FileDetector, write_coco_detections

PEOPLE = {
    785: Detections([[10.5, 20.25, 100, 200], [1, 2, 3, 4]], [0.9, 0.25]),
    40083: Detections([[7, 8, 9, 10]], [0.5]),
    196141: Detections.empty(),
}


def test_written_file_is_read_by_evaluate_and_by_file_detector(tmp_path, coco_dir):
    path = str(tmp_path / "out" / "detections.json")
    assert write_coco_detections(path, PEOPLE) == 3
    with open(path) as f:
        written = json.load(f)
    assert written[0] == {"image_id": 785, "category_id": 1, "bbox": [10.5, 20.25, 100.0, 200.0],
                          "score": pytest.approx(0.9)}
    assert not [n for n in os.listdir(tmp_path / "out") if n != "detections.json"]
    # evaluate.py --detections reads it with the reference's rules.
    records = load_coco_detections(path, os.path.join(coco_dir, "test_coco.json"), coco_dir,
                                   aspect_ratio=0.75)
    np.testing.assert_array_equal(records.image_id, [785, 785, 40083])
    np.testing.assert_allclose(records.box, [[10.5, 20.25, 100, 200], [1, 2, 3, 4],
                                             [7, 8, 9, 10]])
    np.testing.assert_allclose(records.score, [0.9, 0.25, 0.5])
    found = FileDetector(path).detect(np.zeros((300, 200, 3), np.uint8), "000000000785.jpg")
    np.testing.assert_allclose(found.boxes, PEOPLE[785].boxes)


def test_pairs_and_category(tmp_path):
    path = str(tmp_path / "d.json")
    write_coco_detections(path, [(np.int64(5), PEOPLE[40083])], category_id=3)
    with open(path) as f:
        assert json.load(f) == [{"image_id": 5, "category_id": 3, "bbox": [7, 8, 9, 10],
                                 "score": 0.5}]


@pytest.mark.parametrize("entries,message", [
    ({"a.jpg": PEOPLE[40083]}, "image_id must be an integer"),
    ({1: Detections([[0, 0, float("nan"), 1]], [0.5])}, "non-finite")])
def test_bad_entries_write_nothing(tmp_path, entries, message):
    path = tmp_path / "d.json"
    with pytest.raises(ValueError, match=message):
        write_coco_detections(str(path), entries)
    assert not path.exists()


def test_a_nan_score_is_refused_and_no_file_is_written(tmp_path):
    """A NaN score is refused: written, it would be a bare NaN, a file no JSON reader accepts."""
    path = tmp_path / "d.json"
    with pytest.raises(ValueError, match="non-finite"):
        write_coco_detections(str(path), {1: Detections([[0, 0, 10, 10]], [float("nan")])})
    assert not path.exists()


def test_a_bool_image_id_is_refused_not_written_as_1(tmp_path):
    """{True: boxes} is refused, not written as image 1's boxes (a silent wrong image id)."""
    path = tmp_path / "d.json"
    with pytest.raises(ValueError, match="image_id must be an integer"):
        write_coco_detections(str(path), {True: PEOPLE[40083]})
    assert not path.exists()
