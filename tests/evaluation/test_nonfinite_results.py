"""A model whose heatmaps hold NaN or inf (corrupted or badly converted
weights): evaluate.py wrote bare NaN into results/keypoints_<split>_results.json
(not JSON to a strict reader) and printed an AP without a word. The results
file is strict JSON (null for such a number), and the run says how many
people and keypoints, in a warning, table.md and metrics.json's method."""

import json
import logging
import os

import numpy as np

from keras_pose.evaluation import coco
from keras_pose.files import write_json
from keras_pose.json_values import count_nonfinite, nonfinite_people, strict_json


def _strict_load(path):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    with open(path) as f:
        return json.load(f, parse_constant=refuse)


class _Predictions:
    def __init__(self, keypoints, keypoint_scores, scores):
        self.keypoints, self.keypoint_scores, self.scores = keypoints, keypoint_scores, scores

    def __len__(self):
        return len(self.scores)


def test_strict_json_writes_null_for_nan_and_inf(tmp_path):
    value = {"a": [1.5, float("nan"), (float("inf"), -float("inf"))], "b": np.float64("nan"),
             "c": "NaN", "d": 2}
    assert strict_json(value) == '{"a": [1.5, null, [null, null]], "b": null, "c": "NaN", "d": 2}'
    assert strict_json([1.0, 2]) == "[1.0, 2]"
    assert count_nonfinite(value) == 4 and count_nonfinite([1.0, "x", None]) == 0
    path = write_json(str(tmp_path / "x.json"), value, indent=1)
    assert _strict_load(path) == {"a": [1.5, None, [None, None]], "b": None, "c": "NaN", "d": 2}


def test_nonfinite_people_counts_people_and_keypoints():
    nan = float("nan")
    people = [{"keypoints": [1.0, 2.0, 0.5, 3.0, 4.0, 0.5], "score": 0.9},
              {"keypoints": [1.0, 2.0, nan, nan, nan, nan], "score": 0.9},
              {"keypoints": [1.0, 2.0, 0.5, 3.0, 4.0, 0.5], "score": float("inf")}]
    assert nonfinite_people(people) == (2, 2)
    assert nonfinite_people(people[:1]) == (0, 0)


def test_results_are_strict_json_and_the_run_says_so(coco_dir, tmp_path, caplog):
    from keras_pose.data import coco as coco_data
    caplog.set_level(logging.WARNING, logger="absl")
    ann = os.path.join(coco_dir, "test_coco.json")
    records = coco_data.load_coco_gt(ann, coco_dir, 0.75)
    metric = coco.CocoKeypointMetric(coco.load_coco_ground_truth(ann), results_name="r.json")
    scores = np.where(records.joints_vis > 0, 1.0, 0.0)
    scores[0, :3] = np.nan  # One person: 3 keypoints of NaN score.
    scores[1, 5] = np.inf  # Another: 1 keypoint.
    metric.update(_Predictions(records.joints, scores, np.ones(12)), records)
    metric.result()
    said = ("Note: 2 of the 12 people (4 keypoints) have NaN or infinite numbers from the "
            "model, written as null in r.json and scored as they are")
    assert said in caplog.text and caplog.text.count(said) == 1
    assert "the model's weights" in caplog.text
    written = _strict_load(metric.write(str(tmp_path)))
    assert len(written) == 12
    assert sum(v is None for r in written for v in r["keypoints"]) == 4
    assert said in metric.describe(0.2) and said in metric.table(metric.result(), "arch")
    metric.reset()  # A clean model's evaluation says nothing.
    metric.update(_Predictions(records.joints, np.ones((12, 17)), np.ones(12)), records)
    metric.result()
    assert metric.nonfinite_note() == "" and "Note: " not in metric.describe(0.2)
