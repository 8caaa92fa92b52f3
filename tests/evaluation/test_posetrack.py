"""PoseTrack AP / MOTA (poseval's rules) on tiny hand-made sequences.

Every sequence is written here as PoseTrack18 JSON: people stand 300 px
apart, move 5 px per frame, and have a 30 x 40 head box, so the head size is
0.6 x 50 = 30 px and a joint matches within 15 px. Expected numbers are
worked out by hand in the comments. Two poseval rules shape them:
- tracking metrics leave out the last evaluated frame of each sequence
  (4 frames -> 3 tracking frames);
- per joint, 2 people x 3 tracking frames = 6 ground-truth objects, and
  totals are means over the 15 joints, so equal per-joint values carry over.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_pose.evaluation import posetrack
from keras_pose.evaluation.posetrack import PoseTrackFormatError, PoseTrackMetric

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KEYPOINT_NAMES = [
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
# Offsets of the 17 keypoints from the head top (x, y), in KEYPOINT_NAMES order.
POSE = np.array([
    (0, 20), (0, 40), (0, 0), (-8, 18), (8, 18), (20, 50), (-20, 50), (25, 80),
    (-25, 80), (28, 110), (-28, 110), (12, 120), (-12, 120), (14, 160),
    (-14, 160), (15, 200), (-15, 200)], dtype=float)
HEAD_BOTTOM, LEFT_EAR, LEFT_WRIST, LEFT_ANKLE, RIGHT_ANKLE = 1, 3, 9, 15, 16
GROUPS = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Total"]


def person(track_id, x, y=50.0, score=0.9, moved=None, absent=(), invisible=(),
           score_in_keypoints=False):
    """One annotation: head top at (x, y); ``moved`` {keypoint: (dx, dy)};
    ``absent`` keypoints written as (0, 0, 0); ``invisible`` ones as (x, y, 0)."""
    points = POSE + (x, y)
    for k, delta in (moved or {}).items():
        points[k] += delta
    keypoints = []
    for k, (px, py) in enumerate(points):
        third = score if score_in_keypoints else (0 if k in invisible else 1)
        keypoints += [0, 0, 0] if k in absent else [float(px), float(py), third]
    entry = {"track_id": track_id, "keypoints": keypoints,
             "bbox_head": [x - 15, y - 5, 30, 40]}
    if not score_in_keypoints:
        entry["scores"] = [score] * 17
    return entry


def sequence(frames, ignore_regions=None):
    """PoseTrack18 JSON of one video: ``frames`` lists each frame's people;
    ``ignore_regions`` {frame: ([[x...]...], [[y...]...])}."""
    images, annotations = [], []
    for i, people in enumerate(frames):
        image = {"id": 100 + i, "file_name": f"images/val/000342_mpii_test/{i:06d}.jpg",
                 "frame_id": 100 + i, "vid_id": "000342", "is_labeled": bool(people)}
        if ignore_regions and i in ignore_regions:
            image["ignore_regions_x"], image["ignore_regions_y"] = ignore_regions[i]
        images.append(image)
        annotations += [dict(p, image_id=100 + i, id=1000 * i + n)
                        for n, p in enumerate(people)]
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "keypoints": KEYPOINT_NAMES}]}


def two_people(frames=4, ids=(1, 2), **kwargs):
    return [[person(ids[0], 100 + 5 * i, **kwargs), person(ids[1], 400 + 5 * i, **kwargs)]
            for i in range(frames)]


def evaluate(*pairs):
    metric = PoseTrackMetric()
    for gt, pred in pairs:
        metric.update(gt, pred)
    return metric.result()


def assert_groups(metrics, prefix, expected):
    for group in GROUPS:
        assert metrics[f"{prefix}/{group}"] == pytest.approx(expected, abs=1e-9), group


def test_perfect_prediction():
    gt = sequence(two_people())
    # The ears are not evaluated: predicting them 500 px off changes nothing.
    pred = sequence(two_people(ids=(11, 12), moved={LEFT_EAR: (500, 0), LEFT_EAR + 1: (0, 500)}))
    metrics = evaluate((gt, pred))
    for prefix in ("AP", "MOTA", "MOTP", "Precision", "Recall"):
        assert_groups(metrics, prefix, 100.0)
    assert set(posetrack.JOINT_NAMES) <= {k.split("/")[1] for k in metrics}
    assert "AP/left_ear" not in metrics


def test_motp_of_a_perfect_prediction_drops_when_people_stand_close():
    """poseval's MOTP sums motmetrics' RAW distances too: a joint within half
    a head size (15 px) of the same joint of another person adds its
    distance, so even a perfect prediction is below 100 (the package
    docstring says so)."""
    def close_pair(ids):  # 10 px apart: every joint pair within 15 px.
        return [[person(ids[0], 100 + 5 * i), person(ids[1], 110 + 5 * i)] for i in range(4)]
    metrics = evaluate((sequence(close_pair((1, 2))), sequence(close_pair((11, 12)))))
    assert_groups(metrics, "MOTA", 100.0)  # Every person tracked right...
    assert metrics["MOTP/Total"] == pytest.approx(200 / 3)  # ...yet MOTP is not 100.


def test_only_labelled_frames_are_evaluated():
    # Frame 1 has no ground-truth people (not labelled); the tracker's people
    # there are not false positives.
    frames = two_people(5)
    frames[1] = []
    metrics = evaluate((sequence(frames), sequence(two_people(5, ids=(11, 12)))))
    for prefix in ("AP", "MOTA", "Precision", "Recall"):
        assert_groups(metrics, prefix, 100.0)


def test_frames_pair_by_position_with_the_same_id_or_file_name():
    # The tracker's own ids and bare file names: paired by position, checked
    # by file name; a perfect prediction stays perfect.
    pred = sequence(two_people(ids=(11, 12)))
    for i, image in enumerate(pred["images"]):
        image.update(id=i, file_name=f"{i:06d}.jpg")
    for ann in pred["annotations"]:
        ann["image_id"] -= 100
    assert_groups(evaluate((sequence(two_people()), pred)), "MOTA", 100.0)


def test_identity_switch():
    gt = sequence(two_people())
    # Tracks 11 and 12 follow people 1 and 2 in frames 0-1, swap in 2-3.
    pred = sequence(two_people(2, ids=(11, 12)) + [
        [person(12, 100 + 5 * i), person(11, 400 + 5 * i)] for i in (2, 3)])
    metrics = evaluate((gt, pred))
    # Tracking frames 0-2 (frame 3 is the last one): per joint 6 objects, all
    # detected, 2 switches in frame 2 -> MOTA = 100 (1 - 2/6) = 66.67, i.e. 30
    # switches over 90 ground-truth joints. (With frame 3 it would be 75.)
    assert_groups(metrics, "MOTA", 100 * (1 - 2 / 6))
    assert_groups(metrics, "Precision", 100.0)
    assert_groups(metrics, "Recall", 100.0)
    assert_groups(metrics, "MOTP", 100.0)  # All distances are 0.
    assert_groups(metrics, "AP", 100.0)    # AP ignores track ids.


def test_missed_person():
    gt = sequence(two_people())
    frames = two_people(ids=(11, 12))
    del frames[1][1]  # Person 2 not predicted in frame 1.
    metrics = evaluate((gt, sequence(frames)))
    # Tracking: 6 objects per joint, 1 miss -> MOTA = recall = 100 (1 - 1/6);
    # person 2 is matched to track 12 again in frame 2: no switch.
    assert_groups(metrics, "MOTA", 100 * 5 / 6)
    assert_groups(metrics, "Recall", 100 * 5 / 6)
    assert_groups(metrics, "Precision", 100.0)
    # AP: 8 ground-truth joints per joint, 7 true positives and no false
    # positive -> precision 1 up to recall 7/8 -> AP 87.5.
    assert_groups(metrics, "AP", 87.5)


def test_missed_person_in_the_last_frame_only_lowers_ap():
    gt = sequence(two_people())
    frames = two_people(ids=(11, 12))
    del frames[3][1]
    metrics = evaluate((gt, sequence(frames)))
    assert_groups(metrics, "MOTA", 100.0)  # poseval leaves out the last frame.
    assert_groups(metrics, "AP", 87.5)


def test_frame_without_predictions_counts_one_miss_and_one_false_positive():
    gt = sequence(two_people())
    frames = two_people(ids=(11, 12))
    frames[1] = []
    metrics = evaluate((gt, sequence(frames)))
    # poseval feeds an empty frame as one dummy object and one dummy
    # hypothesis that never match: per joint 2 + 1 + 2 = 5 objects, 1 miss,
    # 1 false positive, 4 detections -> MOTA = 100 (1 - 2/5) = 60,
    # precision = recall = 100 x 4/5 = 80.
    assert_groups(metrics, "MOTA", 60.0)
    assert_groups(metrics, "Precision", 80.0)
    assert_groups(metrics, "Recall", 80.0)
    assert_groups(metrics, "AP", 75.0)  # 6 of 8 ground-truth joints found.


def test_false_positive_person():
    gt = sequence(two_people())
    # Scores in the third keypoint values (no "scores"); the extra person far
    # from everyone scores 0.95, above the true people's 0.9.
    frames = two_people(ids=(11, 12), score_in_keypoints=True)
    frames[0].append(person(13, 700, score=0.95, score_in_keypoints=True))
    metrics = evaluate((gt, sequence(frames)))
    # Tracking: 6 objects per joint, 6 detections, 1 false positive ->
    # MOTA = 100 (1 - 1/6), precision = 100 x 6/7, recall 100.
    assert_groups(metrics, "MOTA", 100 * 5 / 6)
    assert_groups(metrics, "Precision", 100 * 6 / 7)
    assert_groups(metrics, "Recall", 100.0)
    # AP: ranked FP, then 8 TPs; precision after k TPs is k/(k+1), so the
    # interpolated precision is 8/9 at every recall -> AP = 100 x 8/9.
    assert_groups(metrics, "AP", 100 * 8 / 9)


def test_duplicate_prediction_of_one_person_is_a_false_positive():
    gt = sequence(two_people())
    # In frame 0 a duplicate of person 1, listed first and scored higher, sits
    # 10 px off (1/3 head size) with its left wrist 40 px off: PCKh 14/15, so
    # person 1 keeps the exact prediction (PCKh 1) and every joint of the
    # duplicate is a false positive, even those within 15 px.
    frames = two_people(ids=(11, 12))
    frames[0].insert(0, person(13, 110, score=0.95, moved={LEFT_WRIST: (30, 0)}))
    metrics = evaluate((gt, sequence(frames)))
    # AP: FP ranked first, then 8 TPs -> 100 x 8/9 per joint.
    assert_groups(metrics, "AP", 100 * 8 / 9)
    # Tracking: the exact tracks match (distance 0), track 13 is 1 FP per
    # joint -> MOTA 100 (1 - 1/6), precision 100 x 6/7.
    assert_groups(metrics, "MOTA", 100 * 5 / 6)
    assert_groups(metrics, "Precision", 100 * 6 / 7)
    # MOTP as poseval: the unmatched pair at distance 1/3 still enters the
    # distance sum as a RAW event (all joints but the left wrist):
    # 100 (1 - (1/3) / 6) over 6 detections.
    motp = 100 * (1 - (1 / 3) / 6)
    assert metrics["MOTP/left_wrist"] == pytest.approx(100.0)
    assert metrics["MOTP/Total"] == pytest.approx((14 * motp + 100) / 15)


@pytest.mark.parametrize("offset", [14.99, 15.0, 15.01])
def test_joint_just_inside_or_outside_half_head_size(offset):
    # One person, 3 frames; in frame 0 the predicted left wrist is `offset` px
    # off (threshold 0.5 x 30 = 15 px, inclusive) and scores 0.5.
    gt = sequence([[person(1, 100 + 5 * i)] for i in range(3)])
    frames = [[person(11, 100 + 5 * i)] for i in range(3)]
    frames[0][0]["keypoints"][3 * LEFT_WRIST] += offset
    frames[0][0]["scores"][LEFT_WRIST] = 0.5
    metrics = evaluate((gt, sequence(frames)))
    if offset <= 15:
        assert_groups(metrics, "AP", 100.0)
        assert_groups(metrics, "MOTA", 100.0)
        # MOTP as poseval with motmetrics: the matched distance d = offset/30
        # is summed twice (RAW and MATCH event) over the 2 tracking frames'
        # 2 detections: left wrist 100 (1 - 2d/2), the other joints 100.
        d = offset / 30
        assert metrics["MOTP/left_wrist"] == pytest.approx(100 * (1 - d))
        assert metrics["MOTP/Wrist"] == pytest.approx((100 * (1 - d) + 100) / 2)
        assert metrics["MOTP/Total"] == pytest.approx((1400 + 100 * (1 - d)) / 15)
        return
    # Left wrist AP: TP, TP (0.9), FP (0.5) of 3 -> AP = 2/3.
    assert metrics["AP/left_wrist"] == pytest.approx(100 * 2 / 3)
    assert metrics["AP/Wrist"] == pytest.approx((100 * 2 / 3 + 100) / 2)
    assert metrics["AP/Total"] == pytest.approx((1400 + 100 * 2 / 3) / 15)
    # Tracking frames 0-1, left wrist: a miss and a false positive in frame 0,
    # a match in frame 1 -> MOTA 100 (1 - 2/2) = 0, precision = recall = 50.
    assert metrics["MOTA/Wrist"] == pytest.approx(50.0)
    assert metrics["MOTA/Total"] == pytest.approx(1400 / 15)
    assert metrics["Precision/Total"] == pytest.approx((1400 + 50) / 15)
    assert metrics["Recall/Total"] == pytest.approx((1400 + 50) / 15)


def test_invisible_but_placed_joint_is_annotated():
    # poseval skips only (0, 0, 0) keypoints: a ground-truth ankle with
    # visibility 0 but coordinates is still a joint to find.
    # The head bottom (poseval's "neck", part of Head) is not predicted either.
    gt = sequence(two_people(3, invisible=(LEFT_ANKLE,)))
    pred = sequence(two_people(3, ids=(11, 12), absent=(LEFT_ANKLE, HEAD_BOTTOM)))
    metrics = evaluate((gt, pred))
    # Left ankle: 6 ground-truth joints, no prediction -> AP 0; tracking
    # frames 0-1: 4 objects, 4 misses -> MOTA 0. Likewise the head bottom.
    assert metrics["AP/left_ankle"] == 0.0
    assert metrics["MOTA/left_ankle"] == 0.0
    assert metrics["AP/right_ankle"] == 100.0
    assert metrics["AP/Ankle"] == pytest.approx(50.0)
    assert metrics["AP/Head"] == pytest.approx(200 / 3)  # head top, head bottom, nose
    assert metrics["MOTA/Head"] == pytest.approx(200 / 3)
    assert metrics["AP/Knee"] == 100.0
    assert metrics["AP/Total"] == pytest.approx(1300 / 15)


def test_sequences_are_pooled_not_averaged():
    a = (sequence(two_people()), sequence(two_people(ids=(11, 12))))
    # Sequence b: 3 frames, person 2 missed in frame 0, and the predicted ids
    # swapped relative to a: accumulators are per sequence, so no switch.
    frames = two_people(3, ids=(12, 11))
    del frames[0][1]
    b = (sequence(two_people(3)), sequence(frames))
    metrics = evaluate(a, b)
    # Tracking: a has 6 objects per joint, b 4 (frames 0-1) with 1 miss ->
    # MOTA = 100 (1 - 1/10) = 90 (the mean of 100 and 75 would be 87.5).
    assert_groups(metrics, "MOTA", 90.0)
    assert_groups(metrics, "Recall", 90.0)
    # AP: 13 of 14 ground-truth joints found, no false positive -> 13/14
    # (the mean of per-sequence APs would be (100 + 500/6) / 2).
    assert_groups(metrics, "AP", 100 * 13 / 14)



def test_metric_interface_write_lists_the_sequences_in_update_order(tmp_path):
    # The project's metric interface: write() names what was evaluated, in
    # update order (it breaks AP score ties); reset() forgets it.
    metric = PoseTrackMetric()
    metric.update(sequence(two_people()), sequence(two_people(ids=(11, 12))))
    metric.update(str(_write(tmp_path / "gt.json", sequence(two_people(3)))),
                  sequence(two_people(3, ids=(11, 12))))
    path = metric.write(str(tmp_path / "out"))
    assert path == str(tmp_path / "out" / "posetrack_sequences.json")
    assert json.load(open(path)) == [
        {"ground_truth": "<ground truth>", "predictions": "<predictions>", "frames": 4},
        {"ground_truth": str(tmp_path / "gt.json"), "predictions": "<predictions>",
         "frames": 3}]
    assert metric.primary in metric.result()
    assert "poseval" in metric.describe(0.2) and "| Head |" in metric.table(
        metric.result(), "arch", "title")
    metric.reset()
    assert json.load(open(metric.write(str(tmp_path / "out")))) == []


def _write(path, data):
    path.write_text(json.dumps(data))
    return path

def test_ignore_regions_drop_predictions_and_ground_truth_inside():
    region = {0: ([[600, 800, 800, 600]], [[0, 0, 400, 400]])}
    frames = [[person(11, 100 + 5 * i)] for i in range(3)]
    frames[0].append(person(13, 700, score=0.95))  # Wholly inside the region.
    pred = sequence(frames)
    metrics = evaluate((sequence([[person(1, 100 + 5 * i)] for i in range(3)], region), pred))
    for prefix in ("AP", "MOTA", "Precision", "Recall"):
        assert_groups(metrics, prefix, 100.0)
    # Without the region the extra person is a false positive: AP = 3/4
    # (FP ranked first, then 3 TPs), tracking frames 0-1: 2 objects, 1 FP.
    metrics = evaluate((sequence([[person(1, 100 + 5 * i)] for i in range(3)]), pred))
    assert_groups(metrics, "AP", 75.0)
    assert_groups(metrics, "MOTA", 50.0)
    # A region over the person's ankles in frame 0 removes them from the
    # ground truth too, so not predicting them there costs nothing.
    ankles = {0: ([[60, 160, 160, 60]], [[240, 240, 300, 300]])}
    frames = [[person(11, 100 + 5 * i)] for i in range(3)]
    frames[0][0] = person(11, 100, absent=(LEFT_ANKLE, RIGHT_ANKLE))
    gt = [[person(1, 100 + 5 * i)] for i in range(3)]
    assert_groups(evaluate((sequence(gt, ankles), sequence(frames))), "AP", 100.0)
    assert evaluate((sequence(gt), sequence(frames)))["AP/Ankle"] == pytest.approx(200 / 3)


def test_format_table_has_both_tables():
    gt = sequence(two_people())
    pred = sequence(two_people(2, ids=(11, 12)) + [
        [person(12, 100 + 5 * i), person(11, 400 + 5 * i)] for i in (2, 3)])
    table = posetrack.format_table(evaluate((gt, pred)))
    lines = table.splitlines()
    ap_header = lines.index("| Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Total |")
    assert lines[ap_header + 2] == "| " + " | ".join(["100.0"] * 8) + " |"
    mot_header = next(i for i, line in enumerate(lines) if line.startswith("| MOTA Head"))
    assert lines[mot_header].endswith(
        "| MOTA Total | MOTP Total | Precision Total | Recall Total |")
    assert lines[mot_header + 2] == "| " + " | ".join(["66.7"] * 8 + ["100.0"] * 3) + " |"


def write(path, data):
    with open(path, "w") as f:
        json.dump(data, f)  # NaN is written as the JSON extension NaN.
    return str(path)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["annotations"][1].pop("track_id"), r"annotations\[1\]: missing key 'track_id'"),
    (lambda d: d["annotations"][0]["keypoints"].pop(),
     r"annotations\[0\]: 'keypoints' has 50 values, expected 51"),
    (lambda d: d["annotations"][2]["keypoints"].__setitem__(4, math.nan),
     r"annotations\[2\]: 'keypoints' holds a non-finite number"),
    (lambda d: d["annotations"][3].__setitem__("scores", [0.9] * 16),
     r"annotations\[3\]: 'scores' has 16 values, expected 17"),
    (lambda d: d["annotations"][0].__setitem__("image_id", 7),
     r"annotations\[0\]: 'image_id' 7 is not the id of an image"),
    (lambda d: d["annotations"][1].__setitem__("track_id", 11),
     r"images\[0\]: non-unique track ids \[11, 11\]"),
    (lambda d: d.update(images=d["images"][:3], annotations=d["annotations"][:6]),
     r"3 images, but the ground truth .*gt.json has 4"),
    (lambda d: d["images"][2].pop("file_name"), r"images\[2\]: missing key 'file_name'"),
    (lambda d: d["images"].reverse(), r"images\[0\]: '.*000003\.jpg' \(id 103\) is "
     r"ground-truth images\[3\], not the frame at this position .*listed in another order"),
    (lambda d: d.pop("categories"), r": missing key 'categories'"),
    # Was numpy's OverflowError traceback.
    (lambda d: d["annotations"][0].__setitem__("track_id", 2 ** 70),
     r"annotations\[0\]: 'track_id' 1180591620717411303424 does not fit a 64-bit integer"),
])
def test_malformed_predictions_name_file_and_entry(tmp_path, edit, message):
    gt = write(tmp_path / "gt.json", sequence(two_people()))
    data = sequence(two_people(ids=(11, 12)))
    edit(data)
    pred = write(tmp_path / "pred.json", data)
    with pytest.raises(PoseTrackFormatError, match=r"pred\.json.*" + message):
        PoseTrackMetric().update(gt, pred)


def test_malformed_ground_truth_names_file_and_entry(tmp_path):
    pred = write(tmp_path / "pred.json", sequence(two_people(ids=(11, 12))))
    data = sequence(two_people())
    data["annotations"][5].pop("bbox_head")
    with pytest.raises(PoseTrackFormatError,
                       match=r"gt\.json: annotations\[5\]: missing key 'bbox_head'"):
        PoseTrackMetric().update(write(tmp_path / "gt.json", data), pred)
    data = sequence(two_people(), {1: ([[0, 10]], [[0, 10]])})
    with pytest.raises(PoseTrackFormatError,
                       match=r"gt\.json: images\[1\]: ignore_regions.*2 points"):
        PoseTrackMetric().update(write(tmp_path / "gt.json", data), pred)
    (tmp_path / "bad.json").write_text("{\"images\": [")
    with pytest.raises(PoseTrackFormatError, match=r"bad\.json: not valid JSON"):
        PoseTrackMetric().update(str(tmp_path / "bad.json"), pred)


def test_a_repeated_ground_truth_track_id_names_file_and_frame(tmp_path):
    """Was motmetrics' KeyError traceback; the predictions' check did not
    look at the ground truth."""
    pred = write(tmp_path / "pred.json", sequence(two_people(ids=(11, 12))))
    data = sequence(two_people(ids=(3, 3)))
    with pytest.raises(PoseTrackFormatError, match=r"gt\.json: images\[0\]: track id 3 is "
                       r"given to two people with 'right_ankle' labelled"):
        PoseTrackMetric().update(write(tmp_path / "gt.json", data), pred)
    # Legal (these evaluated before the check, and must still): an id repeated on a
    # person with no labelled joint, on two people who share no labelled joint, and
    # on a person inside an ignore region (poseval drops them).
    frames = two_people(ids=(3, 4))
    frames[0].append(person(3, 70.0, absent=range(17)))
    PoseTrackMetric().update(write(tmp_path / "gt.json", sequence(frames)), pred)
    frames = two_people(ids=(3, 4))
    frames[0][0] = person(3, 10.0, absent=range(8, 17))
    frames[0].append(person(3, 400.0, absent=range(8)))
    PoseTrackMetric().update(write(tmp_path / "gt.json", sequence(frames)), pred)
    frames = two_people(ids=(3, 4))
    frames[0].append(person(3, 700.0))
    inside = sequence(frames, {0: ([[650, 800, 800, 650]], [[0, 0, 400, 400]])})
    PoseTrackMetric().update(write(tmp_path / "gt.json", inside), pred)


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "scripts/evaluate_posetrack.py", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)


def test_command_line(tmp_path):
    gt_dir, pred_dir, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    gt_dir.mkdir()
    pred_dir.mkdir()
    frames = two_people(3, ids=(12, 11))
    del frames[0][1]
    write(gt_dir / "000342_mpii_test.json", sequence(two_people()))
    write(pred_dir / "000342_mpii_test.json", sequence(two_people(ids=(11, 12))))
    write(gt_dir / "000522_mpii_test.json", sequence(two_people(3)))
    write(pred_dir / "000522_mpii_test.json", sequence(frames))
    proc = run_cli("--gt", str(gt_dir), "--pred", str(pred_dir), "--output_dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "| 90.0 | 90.0 |" in proc.stdout  # MOTA as the pooled test above.
    report = json.load(open(out / "metrics.json"))
    assert report["metrics"]["MOTA/Total"] == pytest.approx(90.0)
    assert report["metrics"]["AP/Total"] == pytest.approx(100 * 13 / 14)
    assert report["num_sequences"] == 2 and report["primary_metric"] == "MOTA/Total"
    # A ground-truth sequence without a prediction file is a clear error.
    os.remove(pred_dir / "000522_mpii_test.json")
    proc = run_cli("--gt", str(gt_dir), "--pred", str(pred_dir))
    assert proc.returncode == 1
    assert "000522_mpii_test.json" in proc.stderr and "Traceback" not in proc.stderr
    # An --output_dir that is a file: named at once, before any work (was
    # "[Errno 17] File exists" after the whole evaluation).
    (tmp_path / "afile").write_text("")
    proc = run_cli("--gt", str(gt_dir), "--pred", str(gt_dir), "--output_dir",
                   str(tmp_path / "afile"))
    assert proc.returncode == 1 and "sequences," not in proc.stdout
    assert f"--output_dir {tmp_path / 'afile'} is a file, not a directory" in proc.stderr


def test_command_line_keeps_an_earlier_evaluation_in_the_output_dir(tmp_path):
    """Another evaluation's metrics.json (evaluate.py's, or another --pred)
    is moved into earlier.<n>/; it was overwritten in silence."""
    gt_dir, out = tmp_path / "gt", tmp_path / "out"
    gt_dir.mkdir()
    out.mkdir()
    write(gt_dir / "000342_mpii_test.json", sequence(two_people()))
    preds = {}
    for name, ids in (("good", (11, 12)), ("swapped", (12, 11))):
        (tmp_path / name).mkdir()
        write(tmp_path / name / "000342_mpii_test.json",
              sequence(two_people(ids=ids)[:2] + two_people(ids=ids[::-1])[2:]))
        preds[name] = str(tmp_path / name)
    coco = {"checkpoint_resolved": "/runs/a", "dataset": "coco", "metrics": {"AP": 0.7}}
    write(out / "metrics.json", coco)
    (out / "table.md").write_text("coco table")
    (out / "mine.txt").write_text("the user's")
    assert run_cli("--gt", str(gt_dir), "--pred", preds["good"], "--output_dir",
                   str(out)).returncode == 0
    assert json.load(open(out / "earlier.1" / "metrics.json")) == coco
    assert (out / "earlier.1" / "table.md").read_text() == "coco table"
    assert json.load(open(out / "metrics.json"))["predictions"] == preds["good"]
    for _ in range(2):  # The same evaluation again replaces itself.
        assert run_cli("--gt", str(gt_dir), "--pred", preds["good"], "--output_dir",
                       str(out)).returncode == 0
    assert not (out / "earlier.2").exists()
    proc = run_cli("--gt", str(gt_dir), "--pred", preds["swapped"], "--output_dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.load(open(out / "earlier.2" / "metrics.json"))["predictions"] == preds["good"]
    assert json.load(open(out / "metrics.json"))["predictions"] == preds["swapped"]
    assert (out / "mine.txt").read_text() == "the user's"
    # Predictions made again into the same --pred (other track.* settings):
    # another evaluation, kept; it was replaced because the paths were equal.
    swapped = json.load(open(out / "metrics.json"))
    write(tmp_path / "swapped" / "000342_mpii_test.json", sequence(two_people(ids=(11, 12))))
    proc = run_cli("--gt", str(gt_dir), "--pred", preds["swapped"], "--output_dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.load(open(out / "earlier.3" / "metrics.json")) == swapped
    assert "the prediction files changed" in proc.stderr
    assert json.load(open(out / "metrics.json"))["metrics"] != swapped["metrics"]


def test_a_file_that_is_not_text_is_not_valid_json(tmp_path):
    # Was a UnicodeDecodeError traceback.
    gt = write(tmp_path / "gt.json", sequence(two_people()))
    (tmp_path / "pred.json").write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(PoseTrackFormatError, match=r"pred\.json: not valid JSON"):
        PoseTrackMetric().update(gt, str(tmp_path / "pred.json"))


def test_a_zero_size_head_box_is_named_its_person_counts_as_missed(caplog):
    """A ground-truth person with a head box of zero size can never be
    matched (poseval scores it so): that is kept, but no longer silent."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    gt = sequence(two_people())
    gt["annotations"][2]["bbox_head"] = [100, 50, 0, 0]  # frame 1, first person
    metrics = evaluate((gt, sequence(two_people(ids=(11, 12)))))
    assert metrics["Recall/Total"] < 100.0
    assert ("<ground truth>: 1 ground-truth person(s) with labelled joints have a 'bbox_head' "
            "of zero size (images 101)") in caplog.text
    caplog.clear()
    evaluate((sequence(two_people()), sequence(two_people(ids=(11, 12)))))
    assert "bbox_head" not in caplog.text


def test_pairs_take_the_tracked_file_and_refuse_two_predictions_of_a_sequence(tmp_path):
    from keras_pose.errors import FlagError
    from keras_pose.evaluation.posetrack import sequence_pairs
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    write(tmp_path / "gt" / "000342_mpii_test.json", sequence(two_people()))
    tracked = write(tmp_path / "pred" / "000342_mpii_test.posetrack.json",
                    sequence(two_people()))
    assert sequence_pairs(str(tmp_path / "gt"), str(tmp_path / "pred"))[0][1] == tracked
    # An older file of the ground truth's name beside it: one was used in silence.
    write(tmp_path / "pred" / "000342_mpii_test.json", sequence(two_people()[:1]))
    with pytest.raises(FlagError, match=r"two predictions of sequence 000342_mpii_test\.json"
                       r".*000342_mpii_test\.posetrack\.json; move one"):
        sequence_pairs(str(tmp_path / "gt"), str(tmp_path / "pred"))


def test_sequences_that_add_nothing_and_unpaired_predictions_are_said(tmp_path, caplog):
    """A ground-truth sequence without labelled people counted among the
    sequences, and prediction files of no sequence were left out: in silence."""
    import logging

    from keras_pose.evaluation.posetrack import sequence_pairs
    caplog.set_level(logging.WARNING, logger="absl")
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    write(tmp_path / "gt" / "a.json", sequence(two_people()))
    write(tmp_path / "gt" / "empty.json", sequence([[], []]))
    write(tmp_path / "pred" / "a.json", sequence(two_people(ids=(11, 12))))
    for name in ("empty.json", "other.json", "seq.posetrack.json", "seq.frames.json",
                 "predictions.json"):
        write(tmp_path / "pred" / name, sequence([[], []]))
    pairs = sequence_pairs(str(tmp_path / "gt"), str(tmp_path / "pred"))
    assert "2 prediction file(s) have no ground-truth sequence of their name and are not " \
        "evaluated: other.json, seq.posetrack.json" in caplog.text
    metric = PoseTrackMetric()
    for gt, pred in pairs:
        metric.update(gt, pred)
    assert metric.num_sequences == 2
    assert caplog.text.count("no frame with labelled people") == 1
    assert "empty.json: no frame with labelled people" in caplog.text


def test_relative_paths_from_another_folder_are_another_evaluation(tmp_path):
    """metrics.json kept --gt / --pred as typed and they were resolved at the
    next run against its folder: another folder's data with the same
    relative names replaced the evaluation in silence. And a metrics.json
    that is not JSON was overwritten."""
    out = tmp_path / "out"
    for folder, ids in (("one", (11, 12)), ("two", (12, 11))):
        (tmp_path / folder / "gt").mkdir(parents=True)
        (tmp_path / folder / "pred").mkdir()
        write(tmp_path / folder / "gt" / "s.json", sequence(two_people()))
        write(tmp_path / folder / "pred" / "s.json",
              sequence(two_people(ids=ids)[:2] + two_people(ids=ids[::-1])[2:]))
    env = dict(os.environ, PYTHONPATH=REPO)

    def run_in(folder):
        return subprocess.run([sys.executable, os.path.join(REPO, "scripts/evaluate_posetrack.py"),
                               "--gt", "gt", "--pred", "pred", "--output_dir", str(out)],
                              cwd=tmp_path / folder, capture_output=True, text=True,
                              timeout=120, env=env)

    out.mkdir()
    (out / "metrics.json").write_text("my notes")
    assert run_in("one").returncode == 0
    assert (out / "earlier.1" / "metrics.json").read_text() == "my notes"
    assert run_in("two").returncode == 0
    kept = json.load(open(out / "earlier.2" / "metrics.json"))
    assert kept["predictions"] == str(tmp_path / "one" / "pred")
    assert json.load(open(out / "metrics.json"))["ground_truth"] == str(tmp_path / "two" / "gt")
    assert run_in("two").returncode == 0 and not (out / "earlier.3").exists()
