"""A model with PoseTrack18's 15 joints among other keypoints, named in
another style, is written in PoseTrack18's 17-slot layout and read back by
the PoseTrack evaluator with each joint in its place.

Was: its own 19-keypoint layout, refused by scripts/evaluate_posetrack.py
("'keypoints' must list 15 or 17 keypoint names"), and names such as
``L_Ankle`` / ``Head Top`` reported "missing".
"""

import json

import numpy as np
import pytest

from keras_pose.evaluation.posetrack.reader import (JOINT_NAMES, PoseTrackFormatError,
                                                    keypoint_mismatch, read_sequence)
from keras_pose.tracking import POSETRACK18_KEYPOINT_NAMES, FrameResult, to_posetrack18

# COCO's 17 + head_bottom + head_top, in another naming style.
NAMES_19 = ["Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder",
            "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee",
            "L_Ankle", "R_Ankle", "Head Bottom", "Head Top"]


def _one_person(num_keypoints):
    """One person whose keypoint k is at (10 + k, 200 + k), all scoring 0.9."""
    k = np.arange(num_keypoints, dtype=np.float32)
    keypoints = np.stack([10 + k, 200 + k], axis=1)[None]
    return FrameResult(0, np.asarray([7], np.int64), keypoints,
                       np.full((1, num_keypoints), 0.9, np.float32), np.float32([0.8]),
                       np.float32([[1, 2, 30, 40]]), np.zeros(1, bool))


def test_a_19_keypoint_model_in_another_style_is_read_with_each_joint_in_its_slot():
    data = json.loads(json.dumps(to_posetrack18([_one_person(19)], keypoint_names=NAMES_19)))
    assert data["categories"][0]["keypoints"] == list(POSETRACK18_KEYPOINT_NAMES)
    slots = np.reshape(data["annotations"][0]["keypoints"], (17, 3))
    np.testing.assert_array_equal(slots[1], [27, 217, 1])   # head_bottom: model's 17
    np.testing.assert_array_equal(slots[2], [28, 218, 1])   # head_top: model's 18
    np.testing.assert_array_equal(slots[3], [13, 203, 1])   # left_ear: the model's ear
    np.testing.assert_array_equal(slots[16], [26, 216, 1])  # right_ankle: model's 16
    assert len(data["annotations"][0]["scores"]) == 17
    frame, = read_sequence(data, "pred.json", ground_truth=False).frames
    # The model keypoint of each of poseval's joints, by hand: right_ankle is
    # R_Ankle (16), ..., head_bottom is "Head Bottom" (17), nose 0, head_top 18.
    model_index = [16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9, 17, 0, 18]
    expected = np.stack([[10.0 + i for i in model_index], [200.0 + i for i in model_index]], 1)
    np.testing.assert_allclose(frame.people.joints[0], expected)
    assert frame.people.present[0].all() and frame.people.track_ids.tolist() == [7]
    np.testing.assert_allclose(frame.people.scores[0], 0.9, atol=1e-4)


def test_an_earlier_19_keypoint_prediction_file_is_read_by_name():
    """predict.py --track wrote such a model's own 19 names until the 17-slot layout:
    that file was refused ("must list 15 or 17 keypoint names") with no way out; a
    prediction file is read by name (ground truth keeps poseval's 15 or 17)."""
    data = json.loads(json.dumps(to_posetrack18([_one_person(19)], keypoint_names=NAMES_19)))
    person = np.zeros((19, 3))
    person[:, 0], person[:, 1], person[:, 2] = 10 + np.arange(19), 200 + np.arange(19), 1
    data["annotations"][0]["keypoints"] = person.ravel().tolist()
    data["annotations"][0]["scores"] = [0.9] * 19
    data["categories"][0]["keypoints"] = NAMES_19
    frame, = read_sequence(data, "earlier.json", ground_truth=False).frames
    model_index = [16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9, 17, 0, 18]  # As above, by hand.
    np.testing.assert_allclose(frame.people.joints[0][:, 0], [10.0 + i for i in model_index])
    with pytest.raises(PoseTrackFormatError, match="must list 15 or 17 keypoint names"):
        read_sequence(data, "gt.json", ground_truth=True)


def test_a_model_without_ears_leaves_the_ear_slots_empty_and_keeps_its_limbs():
    names = [n.replace("_", " ").title() for n in JOINT_NAMES] + ["tail"]  # "Right Ankle"...
    data = to_posetrack18([_one_person(16)], keypoint_names=names,
                          skeleton=[(0, 1), (14, 15)])  # right_ankle-right_knee, head_top-tail
    slots = np.reshape(data["annotations"][0]["keypoints"], (17, 3))
    np.testing.assert_array_equal(slots[3:5], 0)            # the ears: (0, 0, 0)
    assert data["annotations"][0]["scores"][3:5] == [0, 0]
    np.testing.assert_array_equal(slots[0], [23, 213, 1])   # nose: model's 13
    np.testing.assert_array_equal(slots[15], [15, 205, 1])  # left_ankle: model's 5
    assert data["categories"][0]["skeleton"] == [[17, 15]]  # 1-based slots; tail's dropped


def test_keypoint_mismatch_matches_names_in_another_style():
    assert keypoint_mismatch(NAMES_19) is None
    assert keypoint_mismatch(["leftAnkle" if n == "L_Ankle" else n for n in NAMES_19]) is None
    said = keypoint_mismatch([n for n in NAMES_19 if n != "Head Top"])
    assert "['head_top'] are missing" in said
    assert "the ears" not in said  # PoseTrack18's 15 joints have none.


def test_a_joint_named_twice_is_not_put_in_a_slot():
    """Which of two noses ("nose", "Nose") is the nose is not guessed: the
    model's own layout is written (predict.py --track warns)."""
    names = ["nose", "Nose"] + NAMES_19[2:]
    data = to_posetrack18([_one_person(19)], keypoint_names=names)
    assert data["categories"][0]["keypoints"] == names
