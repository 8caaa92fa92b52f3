"""MPII PCKh on gt_valid.mat files laid out as the official one (written by the
test with scipy, not by the library)."""

import json
import os

import numpy as np
import pytest
import scipy.io

from keras_pose.evaluation import mpii
from tests.reference_impl import write_official_gt_mat


@pytest.fixture(params=[True, False], ids=["nested_name_cells", "plain_name_cells"])
def mpii_gt(mpii_dir, tmp_path, request):
    """Real joints of the 5 MPII sample people, with head boxes around the
    head-top/upper-neck segment."""
    with open(os.path.join(mpii_dir, "test_mpii.json")) as f:
        people = json.load(f)
    joints = np.array([p["joints"] for p in people], np.float64)
    visible = np.array([p["joints_vis"] for p in people], np.float64)
    head_top, neck = joints[:, 9], joints[:, 8]
    half = np.abs(head_top - neck).max(axis=1, keepdims=True) * 0.6 + 5
    center = (head_top + neck) / 2
    boxes = np.stack([center - half, center + half], axis=1)
    path = str(tmp_path / "gt_valid.mat")
    write_official_gt_mat(path, joints, visible, boxes, nested_names=request.param)
    head_size = np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1) * 0.6
    return path, joints - 1.0, visible, head_size


def test_ground_truth_as_predictions_gives_100_everywhere(mpii_gt):
    path, preds, _, _ = mpii_gt
    metrics = mpii.evaluate_pckh(preds, path)
    assert list(metrics) == list(mpii.TABLE_COLUMNS)
    for name, value in metrics.items():
        assert value == pytest.approx(100.0), name


def test_errors_land_in_the_right_columns_and_weights(mpii_gt):
    path, preds, visible, head_size = mpii_gt
    assert visible[0, 15] and visible[1, 9]
    preds = preds.copy()
    # Person 0: left wrist (15) off by 0.6 head sizes -> wrong at 0.5.
    preds[0, 15, 0] += 0.6 * head_size[0]
    # Person 1: head-top (9) off by 0.105 head sizes -> right at 0.11 and
    # 0.5, wrong at the true 0.10.
    preds[1, 9, 1] += 0.105 * head_size[1]
    # Person 2: pelvis (6) far off -> excluded from Mean.
    preds[2, 6] += 1000.0
    metrics = mpii.evaluate_pckh(preds, path)
    assert metrics["Wrist"] == pytest.approx(0.5 * (80.0 + 100.0))
    assert metrics["Head"] == pytest.approx(100.0)
    # Visible joints of the 5 people except pelvis and thorax (6, 7).
    pooled = visible.sum() - visible[:, 6:8].sum()
    assert pooled == 66
    assert metrics["Mean"] == pytest.approx(100.0 * (pooled - 1) / pooled)
    assert metrics["Mean@0.1"] == pytest.approx(100.0 * (pooled - 1) / pooled)
    assert metrics["PCKh@0.1"] == pytest.approx(100.0 * (pooled - 2) / pooled)
    for name in ("Shoulder", "Elbow", "Hip", "Knee", "Ankle"):
        assert metrics[name] == pytest.approx(100.0), name


def test_missing_joints_are_not_counted(mpii_dir, tmp_path):
    joints = np.tile(np.arange(16, dtype=float)[None, :, None] * 10 + 50, (2, 1, 2))
    visible = np.ones((2, 16))
    visible[0, 10] = 0  # person 0's right wrist is missing...
    preds = joints - 1.0
    preds[0, 10] += 500.0  # ... so this error does not count.
    preds[1, 13] += 500.0  # left shoulder of person 1 wrong
    boxes = np.array([[[0, 0], [30, 40]]] * 2, float)
    path = str(tmp_path / "gt.mat")
    write_official_gt_mat(path, joints, visible, boxes)
    metrics = mpii.evaluate_pckh(preds, path)
    assert metrics["Wrist"] == pytest.approx(100.0)
    assert metrics["Shoulder"] == pytest.approx(0.5 * (50.0 + 100.0))
    # Count-weighted: 27 visible pooled joints, one wrong.
    assert metrics["Mean"] == pytest.approx(100.0 * 26 / 27)


def test_pred_mat_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    preds = rng.uniform(0, 500, size=(7, 16, 2))
    path = str(tmp_path / "out" / "pred.mat")
    mpii.write_pred_mat(path, preds)
    raw = scipy.io.loadmat(path)["preds"]
    np.testing.assert_allclose(raw, preds + 1.0)  # 1-based on disk, as the reference
    np.testing.assert_allclose(mpii.read_pred_mat(path), preds)


def test_bad_ground_truth_is_a_clear_error(tmp_path, mpii_gt):
    with pytest.raises(mpii.GroundTruthError, match="missing.mat does not exist"):
        mpii.evaluate_pckh(np.zeros((5, 16, 2)), str(tmp_path / "missing.mat"))
    bad = str(tmp_path / "bad.mat")
    scipy.io.savemat(bad, {"something": np.zeros(3)})
    with pytest.raises(mpii.GroundTruthError, match="no 'dataset_joints'"):
        mpii.evaluate_pckh(np.zeros((5, 16, 2)), bad)
    path, preds, _, _ = mpii_gt
    with pytest.raises(ValueError, match=r"\(5, 16, 2\)"):
        mpii.evaluate_pckh(preds[:3], path)


def test_table_columns():
    metrics = {name: 90.0 + i for i, name in enumerate(mpii.TABLE_COLUMNS)}
    lines = mpii.format_mpii_table(metrics, "256x256_pose_resnet_50").splitlines()
    assert lines[0] == ("| Arch | Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | "
                        "Mean | Mean@0.1 | PCKh@0.1 |")
    assert lines[2] == "| 256x256_pose_resnet_50 | 90.000 | 91.000 | 92.000 | 93.000 | " \
                       "94.000 | 95.000 | 96.000 | 97.000 | 98.000 | 99.000 |"


def _official_style_pckh(preds0, joints1, visible, boxes):
    """The official computation, step by step with masked arrays: 1-based
    predictions, PCKh per joint at 0.5 and over arange(0, 0.51, 0.01),
    pelvis/thorax (6, 7) masked out of the count-weighted mean."""
    pos_pred = np.transpose(preds0 + 1.0, [1, 2, 0])
    pos_gt = np.transpose(joints1, [1, 2, 0])
    vis = visible.T.astype(float)
    err = np.linalg.norm(pos_pred - pos_gt, axis=1)
    head = np.transpose(boxes, [1, 2, 0])
    size = np.linalg.norm(head[1] - head[0], axis=0) * 0.6
    scaled = err / (size * np.ones((len(err), 1))) * vis
    count = vis.sum(axis=1)
    at = {}
    for index, thr in enumerate(np.arange(0, 0.5 + 0.01, 0.01)):
        at[index] = 100.0 * ((scaled <= thr) * vis).sum(axis=1) / count
    pckh = np.ma.array(100.0 * ((scaled <= 0.5) * vis).sum(axis=1) / count, mask=False)
    pckh.mask[6:8] = True
    count = np.ma.array(count, mask=False)
    count.mask[6:8] = True
    ratio = count / np.sum(count).astype(np.float64)
    return float(np.sum(pckh * ratio)), float(np.sum(at[11] * ratio)), float(np.sum(at[10] * ratio)), pckh


def test_matches_the_official_computation_on_random_predictions(tmp_path):
    rng = np.random.default_rng(5)
    n = 300
    joints = rng.uniform(50, 400, (n, 16, 2))
    visible = (rng.uniform(size=(n, 16)) > 0.2).astype(float)
    corner = rng.uniform(50, 300, (n, 2))
    boxes = np.stack([corner, corner + rng.uniform(20, 60, (n, 2))], axis=1)
    preds = joints - 1.0 + rng.normal(0, 12, (n, 16, 2))
    path = str(tmp_path / "gt.mat")
    write_official_gt_mat(path, joints, visible, boxes)
    metrics = mpii.evaluate_pckh(preds, path)
    mean, legacy, true01, per_joint = _official_style_pckh(preds, joints, visible, boxes)
    assert metrics["Mean"] == pytest.approx(mean, rel=1e-12)
    assert metrics["Mean@0.1"] == pytest.approx(legacy, rel=1e-12)
    assert metrics["PCKh@0.1"] == pytest.approx(true01, rel=1e-12)
    assert metrics["Head"] == pytest.approx(per_joint[9])
    assert metrics["Knee"] == pytest.approx(0.5 * (per_joint[4] + per_joint[1]))
    assert 0 < metrics["PCKh@0.1"] < metrics["Mean@0.1"] < metrics["Mean"] < 100


def test_metric_class_pools_updates_and_writes_pred_mat(mpii_gt, tmp_path):
    path, preds, _, head_size = mpii_gt

    class Predictions:
        def __init__(self, keypoints):
            self.keypoints = keypoints

        def __len__(self):
            return len(self.keypoints)

    moved = preds.copy()
    moved[3, 12, 0] += 0.7 * head_size[3]  # one wrong right shoulder
    metric = mpii.MpiiPckhMetric(path)
    metric.update(Predictions(moved[:2]), list(range(2)))
    metric.update(Predictions(moved[2:]), list(range(3)))
    assert metric.result() == {**mpii.evaluate_pckh(moved, path), "num_results": 5.0}
    assert metric.result()["Shoulder"] < 100.0
    written = metric.write(str(tmp_path))
    np.testing.assert_allclose(mpii.read_pred_mat(written), moved)
    metric.reset()
    with pytest.raises(ValueError, match="predictions have shape"):
        metric.result()  # nothing for the 5 people of the ground truth
    test_split = mpii.MpiiPckhMetric(None)
    test_split.update(Predictions(moved), list(range(5)))
    assert test_split.result() == {"num_results": 5.0} and test_split.table({}, "x") == ""


def test_a_joint_exactly_half_a_head_size_away_counts(tmp_path):
    """PCKh counts error / head size <= 0.5 (REFERENCE.md): a joint exactly
    at the limit counts."""
    joints = np.tile(np.arange(16, dtype=float)[None, :, None] * 10 + 50, (1, 1, 2))
    # Head box (0, 0)-(30, 40): diagonal 50, head size 0.6 * 50 = 30 px.
    boxes = np.array([[[0, 0], [30, 40]]], float)
    path = str(tmp_path / "gt.mat")
    write_official_gt_mat(path, joints, np.ones((1, 16)), boxes)
    preds = joints - 1.0
    preds[0, 10] += [9.0, 12.0]  # Right wrist off by sqrt(81 + 144) = 15 px = 0.5 * 30.
    preds[0, 15] += [9.0, 12.1]  # Left wrist a little further: wrong.
    assert mpii.evaluate_pckh(preds, path)["Wrist"] == pytest.approx(0.5 * (100.0 + 0.0))


class _Records:
    """The fields of MPII PersonRecords that check_records reads."""

    def __init__(self, joints, joints_vis):
        self.joints, self.joints_vis = joints, joints_vis

    def __len__(self):
        return len(self.joints)


def _split_files(tmp_path, n):
    """A gt .mat of n people and the matching records (0-based joints)."""
    rng = np.random.default_rng(3)
    joints = rng.uniform(50, 400, (n, 16, 2))
    corner = rng.uniform(50, 300, (n, 2))
    boxes = np.stack([corner, corner + 40.0], axis=1)
    path = str(tmp_path / "gt.mat")
    write_official_gt_mat(path, joints, np.ones((n, 16)), boxes)
    return path, _Records(joints - 1.0, np.ones((n, 16)))


def test_more_than_one_percent_of_people_elsewhere_is_refused(tmp_path):
    """Files of another order or split must stop the run: 3 of 200 people
    (1.5% > the 1% allowed) placed
    elsewhere are refused."""
    path, records = _split_files(tmp_path, 200)
    records.joints[[5, 50, 150]] += 100.0  # Every joint of 3 people 141 px away.
    with pytest.raises(mpii.GroundTruthError, match=r"\(3 of 200, e.g. person #5"):
        mpii.MpiiPckhMetric(path).check_records(records, "valid.json")
    records.joints[[50, 150]] -= 100.0  # 1 of 200 (0.5%): a relabelled person is allowed.
    mpii.MpiiPckhMetric(path).check_records(records, "valid.json")


def test_a_person_with_one_relabelled_joint_is_in_the_same_place(tmp_path):
    """One joint of a person moved (a relabelling) must not make the person
    'elsewhere': the median distance of the joints (0 here) decides."""
    path, records = _split_files(tmp_path, 10)
    # One joint 100 px off, 15 exact: median 0 px (mean 100 / 16 = 6.25 px > 2).
    records.joints[4, 7] += [60.0, 80.0]
    mpii.MpiiPckhMetric(path).check_records(records, "valid.json")  # No error.


def test_restrict_scores_only_the_chosen_people_against_their_mat_columns(tmp_path):
    """A guard on some people of the split: after restrict(records, [3, 1])
    the predictions of people 3 and 1 are scored as against a .mat holding
    only those two people (written here), not paired with people 0 and 1."""
    path, records = _split_files(tmp_path, 6)
    preds = records.joints.copy()
    preds[3, 10] += 500.0  # Person 3's right wrist wrong; nobody else's.
    metric = mpii.MpiiPckhMetric(path)
    metric.restrict(records, np.array([3, 1]))

    class Predictions:
        keypoints = preds[[3, 1]]

        def __len__(self):
            return 2
    metric.update(Predictions(), [3, 1])
    got = metric.result()
    # By hand: 2 people x 14 pooled joints, one wrong; one of 4 wrists.
    assert got["Mean"] == pytest.approx(100.0 * 27 / 28)
    assert got["Wrist"] == pytest.approx(0.5 * (50.0 + 100.0))
    assert got["num_results"] == 2.0
    with pytest.raises(mpii.GroundTruthError, match=r"holds 6 people but the split has 5"):
        mpii.MpiiPckhMetric(path).restrict(_Records(records.joints[:5], records.joints_vis[:5]),
                                           np.array([0]))


def test_the_metrics_name_their_primary_number_and_its_scale():
    """The guard compares every data set in points of a [0, 1] scale: COCO's
    AP is a fraction, MPII's PCKh a percentage."""
    from keras_pose.evaluation.coco import CocoKeypointMetric
    assert (mpii.MpiiPckhMetric.primary_name, mpii.MpiiPckhMetric.primary_scale) == (
        "PCKh Mean", 100.0)
    assert (CocoKeypointMetric.primary_name, CocoKeypointMetric.primary_scale) == ("AP", 1.0)


def test_an_mpii_test_split_is_not_sent_to_a_server(script_module):
    """MPII has no evaluation server (its authors score e-mailed test
    predictions); COCO's test-dev has one."""
    from keras_pose.configs import get_experiment
    from keras_pose.evaluation import runner
    mpii_config = get_experiment("mpii_resnet50_256x256")
    coco_config = get_experiment("coco_resnet50_256x192")
    assert runner._scored_by(mpii_config) == "for MPII's authors (e-mailed; no server)"
    assert runner._scored_by(coco_config) == "for the benchmark's server"
    evaluate = script_module(os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "evaluate.py"), "evaluate_script")
    said = evaluate._where_scored(mpii_config, ["pred.mat"])
    assert said.startswith("MPII has no evaluation server: its authors score test predictions "
                           "e-mailed to them") and "submit" not in said
    assert evaluate._where_scored(coco_config, ["results"]) == (
        "submit results to the benchmark's server")
