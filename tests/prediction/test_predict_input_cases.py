"""predict.py's inputs at the edges: a run over nothing but an earlier run's
copies, image ids beside those of a boxes file, the box threshold the
summary names."""

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses


def _image_ids(tmp_path, boxes):
    """{file name: image id} predictions.json gives a.jpg, b.jpg, c_1.jpg
    with the boxes file of entries ``boxes``."""
    from keras_pose.detection.file_detectors import FileDetector
    from keras_pose.prediction.outputs import JsonListFile
    photos = tmp_path / "photos"
    photos.mkdir(exist_ok=True)
    for name in ("a.jpg", "b.jpg", "c_1.jpg"):
        cv2.imwrite(str(photos / name), np.full((60, 80, 3), 120, np.uint8))
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(boxes))
    detector, items = FileDetector(str(path)), list_inputs(str(photos))
    detector.bind([item.key for item in items])
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), detector, str(out))
    predictions = JsonListFile(run.writer, str(out / "predictions.json"))
    run.images(items, predictions)
    predictions.close()
    with open(out / "predictions.json") as f:
        return {entry["file_name"]: entry["image_id"] for entry in json.load(f)}


def test_images_a_boxes_file_gives_no_id_take_ids_above_its_own(tmp_path):
    """a.jpg and b.jpg by file_name, image_id 1 (c_1.jpg, by the number in
    its name): b.jpg took its index, 1, c_1.jpg's id too."""
    box = {"bbox": [10, 10, 40, 30], "score": 0.9, "category_id": 1}
    ids = _image_ids(tmp_path, [{"file_name": "a.jpg", **box}, {"file_name": "b.jpg", **box},
                                {"image_id": 1, **box}])
    # The file's largest id, 1, + 1 + the index (a.jpg 0, b.jpg 1).
    assert ids == {"a.jpg": 2, "b.jpg": 3, "c_1.jpg": 1}


def test_images_of_a_boxes_file_without_ids_keep_their_index(tmp_path):
    ids = _image_ids(tmp_path, {name: [[10, 10, 40, 30]] for name in ("a.jpg", "b.jpg",
                                                                      "c_1.jpg")})
    assert ids == {"a.jpg": 0, "b.jpg": 1, "c_1.jpg": 2}


@pytest.fixture
def run_predict(run_script):
    return run_script("predict.py")


def test_a_run_over_nothing_but_earlier_copies_stops_before_any_file_moves(
        run_predict, tiny_exported, coco_dir, tmp_path):
    """--input prev --output_dir prev, prev a finished run's output folder:
    the run went on with 0 inputs, moved predictions.json to
    predictions.1.json, wrote [] and exited 0."""
    prev = tmp_path / "prev"
    prev.mkdir()
    shutil.copy(os.path.join(coco_dir, "000000000785.jpg"), prev / "x.pose.jpg")
    entries = [{"image_id": 0, "category_id": 1, "file_name": "x.jpg", "score": 0.9}]
    (prev / "predictions.json").write_text(json.dumps(entries))
    args = ["--checkpoint", tiny_exported[2], "--detector", "none", "--output_dir", str(prev)]
    code, out, err = run_predict(args + ["--input", str(prev)])
    assert code == 1, out + err
    assert (f"--input {prev}: all 1 file(s) under it are predict.py's own outputs (an earlier "
            f"run's annotated copies, in --output_dir {prev} or a folder holding its "
            f"predictions.json): x.pose.jpg; give the original photos' folder") in err
    assert sorted(f for f in os.listdir(prev) if f != ".lock") == ["predictions.json",
                                                                   "x.pose.jpg"]
    assert json.loads((prev / "predictions.json").read_text()) == entries
    # A file named on its own is read whatever its name: a copy too (was left out).
    code, out, err = run_predict(args + ["--input", str(prev / "x.pose.jpg")])
    assert code == 0, err[-3000:]
    assert "1 input(s) processed" in out
    assert [e["file_name"] for e in json.loads((prev / "predictions.json").read_text())] == [
        "x.pose.jpg"]


def test_the_summary_names_the_box_threshold_in_effect(run_predict, tiny_exported, coco_dir,
                                                       tmp_path):
    """Without --box_threshold: "scored below --box_threshold None"."""
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(os.path.join(coco_dir, "000000000785.jpg"), photos / "a.jpg")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"file_name": "a.jpg", "bbox": [100, 50, 200, 300],
                                  "score": score, "category_id": 1} for score in (0.9, -0.5)]))
    args = ["--checkpoint", tiny_exported[2], "--input", str(photos), "--boxes", str(boxes)]
    code, out, err = run_predict(args + ["--output_dir", str(tmp_path / "o1")])
    assert code == 0, err[-3000:]
    assert (f"1 box(es) of {boxes} scored below --box_threshold 0 (the default for a boxes "
            "file) and were not run") in out
    code, out, err = run_predict(args + ["--box_threshold", "0.95",
                                         "--output_dir", str(tmp_path / "o2")])
    assert code == 0, err[-3000:]
    assert f"2 box(es) of {boxes} scored below --box_threshold 0.95 and were not run" in out
