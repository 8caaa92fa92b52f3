"""PoseTrack18 JSON output of tracking results."""

import json

import numpy as np
import pytest

from keras_pose.configs.base import TrackConfig
from keras_pose.tracking import (POSETRACK18_KEYPOINT_NAMES, FrameResult,
                                 posetrack18_image_id, to_posetrack18)
from tests.tracking.scenes import Person, run


def _frame(index, track_ids, k=17):
    count = len(track_ids)
    keypoints = np.arange(count * k * 2, dtype=np.float32).reshape(count, k, 2) + 0.25
    scores = np.full((count, k), 0.8, np.float32)
    if count and k > 3:
        scores[0, 3] = 0.1  # one unconfident joint
    return FrameResult(index, np.asarray(track_ids, np.int64), keypoints, scores,
                       np.linspace(0.5, 0.9, count, dtype=np.float32),
                       np.tile(np.float32([1, 2, 30, 40]), (count, 1)),
                       np.zeros(count, bool))


def test_posetrack18_layout():
    results = [_frame(0, [0, 1]), _frame(1, []), _frame(2, [1])]
    names = [f"images/val/000342_mpii_test/{i:06d}.jpg" for i in range(3)]
    ids = [posetrack18_image_id("000342_mpii_test", i) for i in range(3)]
    data = json.loads(json.dumps(to_posetrack18(results, names, ids, video_id="000342",
                                                keypoint_threshold=0.4)))
    assert [im["file_name"] for im in data["images"]] == names
    assert [im["id"] for im in data["images"]] == [10003420000, 10003420001, 10003420002]
    assert all(im["frame_id"] == im["id"] and im["vid_id"] == "000342" and im["nframes"] == 3
               for im in data["images"])
    assert [im["frame_index"] for im in data["images"]] == [0, 1, 2]
    anns = data["annotations"]
    assert [(a["image_id"], a["track_id"]) for a in anns] == [
        (10003420000, 0), (10003420000, 1), (10003420002, 1)]
    assert len({a["id"] for a in anns}) == 3
    first = anns[0]
    assert len(first["keypoints"]) == 51 and len(first["scores"]) == 17
    assert first["keypoints"][9:12] == [0, 0, 0]          # joint 3 below 0.4: dropped
    assert first["keypoints"][:3] == [0.25, 1.25, 1]      # x, y, 1 for a kept joint
    assert first["scores"][3] == pytest.approx(0.1) and first["score"] == pytest.approx(0.5)
    assert first["bbox"] == [1, 2, 30, 40] and first["category_id"] == 1
    category, = data["categories"]
    assert category["name"] == "person" and category["id"] == 1
    assert category["keypoints"] == list(POSETRACK18_KEYPOINT_NAMES)
    assert category["skeleton"][0] == [16, 14]            # COCO's (15, 13), 1-based
    assert min(map(min, category["skeleton"])) == 1
    assert max(map(max, category["skeleton"])) == 17


def test_defaults_and_errors():
    data = to_posetrack18([_frame(4, [2])])
    assert data["images"][0]["file_name"] == "000004.jpg" and data["images"][0]["id"] == 4
    with pytest.raises(ValueError, match="keypoint_names"):
        to_posetrack18([_frame(0, [0], k=15)])
    data = to_posetrack18([_frame(0, [0], k=2)], keypoint_names=["a", "b"])
    assert data["categories"][0]["skeleton"] == []
    with pytest.raises(ValueError, match="3 keypoint_names for K = 2"):  # Was written so.
        to_posetrack18([_frame(0, [0], k=2)], keypoint_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="2 file_names for 1"):
        to_posetrack18([_frame(0, [0])], ["a.jpg", "b.jpg"])
    assert posetrack18_image_id("024575_bonn_train", 12) == 20245750012
    with pytest.raises(ValueError):
        posetrack18_image_id("video", 0)


def test_tracker_output_serialises():
    person = Person(70, 30, 100, lambda t: (3.0 * t, 0.0), seed=1)
    results, _ = run([person], 4, TrackConfig())
    data = json.loads(json.dumps(to_posetrack18(results)))
    assert [a["track_id"] for a in data["annotations"]] == [0, 0, 0, 0]
    np.testing.assert_allclose(np.reshape(data["annotations"][2]["keypoints"], (17, 3))[:, :2],
                               person.joints(2), atol=0.01)


def _ground_truth(people, num_frames, file_names):
    """PoseTrack18 ground truth of a synthetic video (head box 20 x 20 about
    the nose: PCKh unit 0.6 x 28.3 = 17 px)."""
    images, annotations = [], []
    for t in range(num_frames):
        images.append({"id": t, "file_name": file_names[t]})
        for i, person in enumerate(people):
            if not person.visible(t):
                continue
            joints = person.joints(t)
            triples = np.concatenate([joints, np.ones((17, 1))], axis=1)
            triples[person.scores(t) == 0] = 0  # outside the frame: unlabelled
            nose = joints[0]
            annotations.append({"id": len(annotations), "image_id": t, "track_id": i,
                                "keypoints": triples.reshape(-1).tolist(),
                                "bbox_head": [nose[0] - 10, nose[1] - 10, 20, 20]})
    category = {"name": "person", "id": 1, "keypoints": list(POSETRACK18_KEYPOINT_NAMES)}
    return {"images": images, "annotations": annotations, "categories": [category]}


@pytest.mark.parametrize("flow_method,perfect", [("dis", True), ("none", False)])
def test_poseval_metrics_of_tracked_fast_neighbours(flow_method, perfect):
    # The output goes through the project's PoseTrack evaluation (poseval's
    # rules): with flow, every id is kept (MOTA 100); with plain OKS the
    # two fast neighbours swap ids and MOTA drops.
    from keras_pose.evaluation.posetrack import PoseTrackMetric

    people = [Person(60, 15, 100, lambda t: (10.0 * t, 0.0), seed=5),
              Person(60, 31, 96, lambda t: (10.0 * t, 0.0), seed=6)]
    results, _ = run(people, 8, TrackConfig(flow_method=flow_method))
    names = [f"images/val/000001_mpii_test/{t:06d}.jpg" for t in range(8)]
    metric = PoseTrackMetric()
    metric.update(_ground_truth(people, 8, names),
                  to_posetrack18(results, names, keypoint_threshold=0.4))
    metrics = metric.result()
    assert metrics["AP/Total"] == pytest.approx(100.0)  # the oracle's joints
    if perfect:
        assert metrics["MOTA/Total"] == pytest.approx(100.0)
    else:
        assert metrics["MOTA/Total"] < 60.0


def test_a_joint_scoring_exactly_the_keypoint_threshold_is_written():
    """Joints scoring at least keypoint_threshold are kept: one scoring
    exactly 0.5 under threshold 0.5 is written, not (0, 0, 0)."""
    frame = _frame(0, [0])
    frame.keypoint_scores[0, :] = 0.5  # Exactly representable: no rounding on either side.
    frame.keypoint_scores[0, 4] = 0.25
    (ann,) = to_posetrack18([frame], keypoint_threshold=0.5)["annotations"]
    triples = np.reshape(ann["keypoints"], (17, 3))
    assert triples[:, 2].tolist() == [1] * 4 + [0] + [1] * 12
    np.testing.assert_array_equal(triples[0, :2], frame.keypoints[0, 0])


def test_a_video_with_no_one_of_a_model_of_other_than_17_keypoints():
    """Nobody in any frame: the count fell back to 17 and a 5-keypoint
    model's video stopped predict.py ("5 keypoint_names for K = 17")."""
    names = ["a", "b", "c", "d", "e"]
    data = to_posetrack18([_frame(0, [], k=5), _frame(1, [], k=5)], keypoint_names=names,
                          skeleton=[(0, 1)])
    assert len(data["images"]) == 2 and data["annotations"] == []
    assert data["categories"][0]["keypoints"] == names
    assert data["categories"][0]["skeleton"] == [[1, 2]]
