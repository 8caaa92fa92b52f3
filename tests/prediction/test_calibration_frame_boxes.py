"""The people that calibrate an int8 export of predict.py's inputs are the
people the run detects: each video frame's boxes come from the source the
run asks (a boxes file's ``clip.avi#3`` entry), not from the video's key
(with per-frame boxes that found 0 people: "your inputs hold 0 people")."""

import json

import numpy as np

from keras_pose.detection import FileDetector
from keras_pose.prediction.input_pixels import input_people
from keras_pose.prediction.inputs import list_inputs
from tests.prediction.videos import mjpg_avi_bytes

BOX_A, BOX_B, BOX_V = [8, 6, 40, 36], [2, 2, 20, 20], [0, 0, 60, 44]


def _people(tmp_path, table):
    (tmp_path / "in").mkdir(exist_ok=True)
    mjpg_avi_bytes(tmp_path / "in" / "clip.avi", 3)  # 64x48 frames 0, 1, 2
    (tmp_path / "boxes.json").write_text(json.dumps(table))
    items = list_inputs(str(tmp_path / "in"))
    detector = FileDetector(str(tmp_path / "boxes.json"))
    detector.bind([item.key for item in items])
    return [boxes.tolist() for _, boxes in input_people(items, detector)]


def test_per_frame_boxes_calibrate_each_frame_on_its_own_entry(tmp_path):
    # Frame 0 has BOX_A, frame 1 BOX_B, frame 2 no entry: no people.
    people = _people(tmp_path, {"clip.avi#0": [BOX_A], "clip.avi#1": [BOX_B]})
    assert people == [[BOX_A], [BOX_B], []]


def test_the_videos_entry_serves_its_frames_without_one(tmp_path):
    # As the run: a video's own entry gives every frame lacking its own entry its boxes.
    people = _people(tmp_path, {"clip.avi": [BOX_V], "clip.avi#1": [BOX_B]})
    assert people == [[BOX_V], [BOX_B], [BOX_V]]
