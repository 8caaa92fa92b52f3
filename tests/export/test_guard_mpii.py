"""The accuracy guard on MPII: PCKh (in percent) counted in the same points as
COCO's AP, and a guard on some images of the split scoring only their people.

The data set is the real MPII sample (5 people, one per image) in the
reference layout with a gt_valid.mat written from its joints (by the test,
with scipy); the networks' predictions are patched in (what a network finds
is not what is tested here), so no network runs.
"""

import dataclasses

import numpy as np
import pytest

from keras_pose.configs import get_experiment
from keras_pose.export import guard
from keras_pose.inference.records import Predictions

# The sample's labelled joints (tests/data/mpii/test_mpii.json: 16 + 16 +
# 14 + 14 + 16) without pelvis and thorax (labelled for all 5), which PCKh
# Mean leaves out: 76 - 10.
POOLED = 66
# Of the first two images' people (16 + 16 labelled, pelvis and thorax 4).
POOLED_FIRST_TWO = 28


@pytest.fixture(scope="module")
def mpii_config(mpii_root):
    """The MPII experiment (tiny network sizes) on the sample, valid split =
    the 5 people, and its gt_valid.mat."""
    root = mpii_root
    source = get_experiment("mpii_resnet50_256x256")
    model = dataclasses.replace(source.model, image_size=(32, 64), heatmap_size=(8, 16))
    return source.replace(model=model, data=dataclasses.replace(source.data, root=str(root)))


def _reference(x):  # Never run: predictions are patched in.
    raise AssertionError("the network ran")


def _candidate(x):
    raise AssertionError("the network ran")


@pytest.fixture
def patched(monkeypatch):
    """The reference finds every labelled joint where it is; the candidate
    puts the first labelled joint of ``moved`` (split row numbers) other than
    pelvis and thorax 1000 px away (wrong at any head size)."""
    moved_people = []

    def predict(estimator, people, batch_size):
        keypoints = np.asarray(people.joints, np.float32).copy()
        if estimator.network is _candidate:
            for row in moved_people:
                # One person per image: its id (the image's index in the
                # annotation file) is its row of the split.
                index = int(np.flatnonzero(people.image_id == row)[0])
                joint = next(j for j in range(16)
                             if people.joints_vis[index, j] > 0 and j not in (6, 7))
                keypoints[index, joint] += 1000.0
        visible = (np.asarray(people.joints_vis) > 0).astype(np.float32)
        return Predictions(keypoints, visible, np.ones(len(people), np.float32))
    monkeypatch.setattr(guard, "predict_records", predict)
    return moved_people


def test_pckh_is_counted_in_the_points_of_ap(mpii_config, patched):
    """One joint of 66 wrong: PCKh Mean 100 -> 98.48, a drop of 1.52 PCKh
    points, refused at the default 0.5 point and kept at 2 points. It was
    a table of 10000.00 / -151.52 and a refusal of any drop above 0.005
    PCKh point (the limit read on AP's [0, 1] scale)."""
    from keras_pose.data.datasets import load_records
    patched.append(0)
    records = load_records(mpii_config, "test")
    reference_ap, (row,) = guard.compare_networks(_reference, {"onnx int8": _candidate},
                                                  mpii_config, records)
    assert reference_ap == pytest.approx(1.0)
    assert row.ap == pytest.approx((POOLED - 1) / POOLED)
    assert row.ap_drop == pytest.approx(1 / POOLED) and row.metric == "PCKh Mean"
    table = guard.format_table(reference_ap, [row])
    assert table.splitlines()[0].startswith("| network | PCKh Mean | PCKh Mean - fp32 |")
    assert "| fp32 reference | 100.00 |" in table
    assert "| onnx int8 | 98.48 | -1.52 |" in table
    with pytest.raises(guard.AccuracyGuardError,
                       match=r"onnx int8 lost more than 0.5 PCKh Mean point"):
        guard.check_guard(reference_ap, [row])
    guard.check_guard(reference_ap, [row], max_drop=0.02)  # --max_ap_drop 2: kept.


def test_a_guard_on_the_first_images_scores_only_their_people(mpii_config, patched):
    """--guard_people 2 (GUARD_PEOPLE on a split larger than it): the first
    two images' people are run and scored against their .mat columns. It
    was "predictions have shape (2, 16, 2); the ground truth needs (5, 16, 2)"."""
    patched.append(1)  # The second image's person.
    measured = guard.guard_on_dataset(_reference, _candidate, "openvino int8", mpii_config,
                                      people=2, max_drop=0.05)
    assert measured["people"] == 2 and measured["metric"] == "PCKh Mean"
    assert measured["fp32_ap"] == pytest.approx(1.0)
    assert measured["ap"] == pytest.approx((POOLED_FIRST_TWO - 1) / POOLED_FIRST_TWO)
    assert measured["rule"] == "PCKh Mean drop <= 5.00 point"
    assert "| openvino int8 | 96.43 | -3.57 |" in measured["table"]  # 100 / 28 = 3.57.
    with pytest.raises(guard.AccuracyGuardError, match="lost more than 0.5 PCKh Mean point"):
        guard.guard_on_dataset(_reference, _candidate, "openvino int8", mpii_config, people=2)


def test_a_guard_on_people_of_another_split_is_refused_by_name(mpii_config, patched, tmp_path):
    """A .mat of another number of people than the split: refused before any
    network runs, naming the .mat (it was a shape ValueError)."""
    from keras_pose.data.datasets import load_records
    from keras_pose.data.mpii_gt import GroundTruthError
    records = load_records(mpii_config, "test")
    with pytest.raises(GroundTruthError, match=r"gt_valid.mat holds 5 people but .*valid.json "
                                               r"has 4"):
        guard.compare_networks(_reference, {"x": _candidate}, mpii_config,
                               records.select(np.arange(4)), people=np.arange(2))
