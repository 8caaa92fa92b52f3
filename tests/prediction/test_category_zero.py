"""People of category 0 (a data set's own id) are written under it: 0 was
the mark of a box without category, so they took the model's first
category, with a warning that their boxes gave none."""

import dataclasses
import json

import cv2
import numpy as np

from keras_pose.configs import ExperimentConfig
from keras_pose.detection.file_detectors import FileDetector
from keras_pose.inference.predictor import PoseResult
from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.outputs import JsonListFile
from keras_pose.prediction.runner import PredictionRun, coco_entries


class _Poses:
    """A model of categories 5 and 0; one confident pose per box."""

    def __init__(self):
        config = ExperimentConfig()
        self.config = config.replace(data=dataclasses.replace(config.data, category_ids=(5, 0)))

    def predict(self, image, boxes, flip=None, box_scores=None):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        k = len(self.config.data.keypoint_names)
        return PoseResult(np.zeros((len(boxes), k, 2), np.float32),
                          np.full((len(boxes), k), 0.9, np.float32),
                          np.full(len(boxes), 0.9, np.float32), boxes)

    def draw(self, image, result, score_threshold=0.2):
        return image.copy()


def test_coco_entries_keep_category_zero():
    boxes = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], np.float32)
    result = PoseResult(np.zeros((3, 2, 2), np.float32), np.ones((3, 2), np.float32),
                        np.ones(3, np.float32), boxes, categories=np.array([0, 7, -1]))
    assert [e["category_id"] for e in coco_entries(result, 1, "a.png", 5)] == [0, 7, 5]


def test_people_of_category_zero_are_written_under_it_unwarned(tmp_path, caplog):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), np.full((60, 80, 3), 120, np.uint8))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([
        {"file_name": "a.png", "category_id": 0, "bbox": [1, 2, 30, 40], "score": 0.9},
        {"file_name": "a.png", "category_id": 5, "bbox": [40, 2, 30, 40], "score": 0.8}]))
    detector = FileDetector(str(boxes), category_ids=(5, 0))
    items = list_inputs(str(photos))
    detector.bind([item.key for item in items])
    run = PredictionRun(_Poses(), detector, str(tmp_path / "out"))
    predictions = JsonListFile(run.writer, str(tmp_path / "out" / "predictions.json"))
    with caplog.at_level("WARNING"):
        run.images(items, predictions)
    predictions.close()
    written = json.load(open(tmp_path / "out" / "predictions.json"))
    assert [(p["bbox"][0], p["category_id"]) for p in written] == [(1.0, 0), (40.0, 5)]
    assert "give no category" not in caplog.text
