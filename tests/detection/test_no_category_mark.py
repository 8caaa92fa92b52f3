"""A box without category_id is marked apart from every category id: 0 is
one (a data set's own), and was the mark (its people were written under
the model's first category)."""

import json
from collections import Counter

import numpy as np

from keras_pose.detection import FileDetector
from keras_pose.detection.results import NO_CATEGORY, results_entries

IMAGE = np.zeros((100, 120, 3), np.uint8)


def test_category_zero_stays_apart_from_boxes_without_category(tmp_path):
    path = tmp_path / "det.json"
    path.write_text(json.dumps([
        {"file_name": "a.jpg", "category_id": 0, "bbox": [1, 2, 30, 40], "score": 0.9},
        {"file_name": "a.jpg", "category_id": 5, "bbox": [40, 2, 30, 40], "score": 0.8},
        {"file_name": "a.jpg", "bbox": [70, 2, 30, 40], "score": 0.7}]))
    detector = FileDetector(str(path), category_ids=(5, 0))
    detector.bind(["a.jpg"])
    found = detector.detect(IMAGE, "a.jpg")
    np.testing.assert_array_equal(found.boxes[:, 0], [1, 40, 70])
    np.testing.assert_array_equal(found.categories, [0, 5, -1])
    assert NO_CATEGORY == -1


def test_a_negative_category_is_no_category_id_whatever_the_list_says():
    dropped: Counter = Counter()
    records = [{"image_id": 1, "category_id": -1, "bbox": [1, 2, 3, 4], "score": 0.5},
               {"image_id": 1, "category_id": 0, "bbox": [1, 2, 3, 4], "score": 0.5}]
    entries = results_entries(records, (-1, 0), dropped, str)
    assert [(key, category) for key, _, _, category, _ in entries] == [(1, 0)]
    assert dropped == {-1: 1}
