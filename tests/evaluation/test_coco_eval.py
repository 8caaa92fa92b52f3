"""OKS NMS, results JSON, COCOeval and the COCO metric on the real COCO sample."""

import json
import os

import numpy as np
import pytest

from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS
from keras_pose.evaluation import coco
from tests.test_oks import reference_oks


def _person(x0, y0, k=17, spread=10.0):
    grid = np.stack([x0 + spread * np.arange(k), y0 + spread * np.arange(k) % 7], -1)
    return np.concatenate([grid, np.ones((k, 1))], -1)


def test_nms_is_per_image():
    a = _person(100, 100)
    keypoints = np.stack([a, a, a])[..., :2]
    kept = coco.nms_per_image(np.array([7, 3, 7]), keypoints, np.array([0.5, 0.45, 0.4]),
                              np.full(3, 1e4))
    # Image 7 first (first appearance): its duplicate row 2 is suppressed.
    assert kept.tolist() == [0, 1]


def test_group_by_image_keeps_first_appearance_order():
    groups = coco.group_by_image(np.array([5, 2, 5, 9, 2]))
    assert [g.tolist() for g in groups] == [[0, 2], [1, 4], [3]]


def _gt_predictions(annotation_file):
    """Ground-truth keypoints of every annotated person, as predictions."""
    with open(annotation_file) as f:
        data = json.load(f)
    people = [a for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    kpts = np.array([a["keypoints"] for a in people], np.float64).reshape(len(people), -1, 3)
    boxes = np.array([a["bbox"] for a in people])
    return (np.array([a["image_id"] for a in people]), kpts[..., :2],
            (kpts[..., 2] > 0).astype(np.float64), boxes[:, 2] * boxes[:, 3] * 1.25 ** 2)


class _Predictions:
    def __init__(self, keypoints, keypoint_scores, scores):
        self.keypoints, self.keypoint_scores, self.scores = keypoints, keypoint_scores, scores

    def __len__(self):
        return len(self.scores)


def test_ground_truth_as_predictions_gives_ap_one(coco_dir, tmp_path):
    from keras_pose.data import coco as coco_data
    ann = os.path.join(coco_dir, "test_coco.json")
    records = coco_data.load_coco_gt(ann, coco_dir, 0.75)
    assert len(records) == 12
    metric = coco.CocoKeypointMetric(coco.load_coco_ground_truth(ann), results_name="r.json")
    scores = np.where(records.joints_vis > 0, 1.0, 0.0)
    metric.update(_Predictions(records.joints, scores, np.ones(12)), records)
    metrics = metric.result()
    assert metrics["num_results"] == 12
    assert metrics["AP"] == pytest.approx(1.0)
    for name in coco.STATS_NAMES:
        assert metrics[name] == pytest.approx(1.0) or metrics[name] == -1.0, name
    path = metric.write(str(tmp_path))
    written = json.load(open(path))
    assert len(written) == 12 and len(written[0]["keypoints"]) == 51
    assert {r["category_id"] for r in written} == {1}
    # A moved prediction lowers AP: the evaluation is not blind.
    moved = records.joints.copy()
    moved[0] += 25.0
    metric.reset()
    metric.update(_Predictions(moved, scores, np.ones(12)), records)
    assert metric.result()["AP"] < 1.0
    # No ground truth (a test split): results only.
    metric = coco.CocoKeypointMetric(None)
    metric.update(_Predictions(records.joints, scores, np.ones(12)), records)
    assert metric.result() == {"num_results": 12.0} and metric.table({}, "x") == ""


def test_custom_keypoint_count_uses_its_own_sigmas_and_category(tmp_path):
    k = 4
    gt = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}],
        "categories": [{"id": 3, "name": "cat", "keypoints": ["a", "b", "c", "d"],
                        "skeleton": []}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 0,
                         "bbox": [50, 50, 100, 100], "area": 10000.0, "num_keypoints": 4,
                         "keypoints": [60, 60, 2, 140, 60, 2, 60, 140, 2, 140, 140, 2]}],
    }
    ann = str(tmp_path / "custom.json")
    with open(ann, "w") as f:
        json.dump(gt, f)
    coco_gt = coco.load_coco_ground_truth(ann)
    joints = np.array(gt["annotations"][0]["keypoints"], float).reshape(1, k, 3)[..., :2]
    moved = joints + 6.0
    ones = np.ones((1, k))
    results = coco.make_results([1], moved, ones, [1.0], category_ids=3)
    strict = coco.run_cocoeval(coco_gt, results, sigmas=[0.02] * k)
    loose = coco.run_cocoeval(coco_gt, results, sigmas=[0.2] * k)
    assert strict["AP"] < loose["AP"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sigmas"):
        coco.run_cocoeval(coco_gt, results)  # COCO's 17 sigmas do not fit K=4.
    wrong = coco.make_results([1], joints, ones, [1.0], category_ids=1)
    assert coco.run_cocoeval(coco_gt, wrong, sigmas=[0.2] * k)["AP"] <= 0.0


def test_results_for_unknown_images_and_missing_files_are_clear_errors(coco_dir, tmp_path):
    gt = coco.load_coco_ground_truth(os.path.join(coco_dir, "test_coco.json"))
    results = coco.make_results([123456789], np.zeros((1, 17, 2)), np.ones((1, 17)), [1.0])
    with pytest.raises(ValueError, match="not in the annotation file"):
        coco.run_cocoeval(gt, results)
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        coco.load_coco_ground_truth(str(tmp_path / "nothere.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="bad.json"):
        coco.load_coco_ground_truth(str(bad))
    assert coco.run_cocoeval(gt, []) == {name: 0.0 for name in coco.STATS_NAMES}


def test_table_has_the_readme_layout():
    metrics = dict(zip(coco.STATS_NAMES, np.linspace(0.1, 1.0, 10)))
    table = coco.format_coco_table(metrics, "256x192_pose_resnet_50", "boxes: detected")
    lines = table.splitlines()
    assert lines[0] == "boxes: detected"
    assert lines[1] == ("| Arch | AP | AP .5 | AP .75 | AP (M) | AP (L) | AR | AR .5 | "
                        "AR .75 | AR (M) | AR (L) |")
    assert lines[2] == "|---" * 11 + "|"
    assert lines[3].startswith("| 256x192_pose_resnet_50 | 0.100 | 0.200 |")
    assert lines[3].endswith("| 1.000 |")


def _loop_nms(image_ids, kpts, scores, areas, thr=0.9):
    """Greedy OKS NMS with per-person / per-joint loops, the way the
    reference computes it (dict of images in first-appearance order)."""
    by_image = {}
    for row, image in enumerate(image_ids.tolist()):
        by_image.setdefault(image, []).append(row)
    kept = []
    for rows in by_image.values():
        order = np.argsort(np.asarray([scores[r] for r in rows]), kind="stable")[::-1]
        while order.size:
            best = order[0]
            kept.append(rows[best])
            rest = order[1:]
            similarity = np.array([reference_oks(kpts[rows[best]], kpts[rows[j]],
                                                 areas[rows[best]], areas[rows[j]],
                                                 COCO_OKS_SIGMAS) for j in rest])
            order = rest[similarity <= thr] if rest.size else rest
    return kept


def test_nms_matches_loops_on_random_images():
    rng = np.random.default_rng(7)
    n = 150
    image_ids = rng.integers(0, 12, n)
    owner = rng.integers(0, 3, n)
    base = rng.uniform(50, 400, (12, 3, 17, 2))
    kpts = base[image_ids, owner] + rng.normal(0, 2.0, (n, 17, 2))
    scores = rng.uniform(0, 1, n)
    scores[:10] = scores[10:20]  # ties
    areas = rng.uniform(2000, 20000, n)
    kept = coco.nms_per_image(image_ids, kpts, scores, areas)
    assert kept.tolist() == _loop_nms(image_ids, kpts, scores, areas)
    assert 36 <= len(kept) < n  # duplicates were suppressed, true people kept


def test_what_the_records_reader_says_of_a_file_is_not_said_again(coco_dir, tmp_path, caplog):
    """evaluate.py and train.py read a file twice (people, then COCOeval's
    ground truth): each warning about it was logged twice."""
    import logging

    from keras_pose.data import coco_files
    data = json.load(open(os.path.join(coco_dir, "test_coco.json")))
    for ann in data["annotations"]:
        ann.pop("area")
    path = tmp_path / "noarea.json"
    path.write_text(json.dumps(data))
    caplog.set_level(logging.WARNING, logger="absl")
    coco_files.read_annotation_file(str(path))
    coco.load_coco_ground_truth(str(path))
    assert caplog.text.count("filled in missing fields") == 1


def test_areas_taken_from_boxes_are_said_under_the_table_and_in_the_method(coco_dir, tmp_path):
    """A file without 'area' (nor segmentation) gets its boxes' areas, which
    make OKS more lenient (AP 0.689 -> 0.867 on the demo): that was only a
    log line, not in the table nor metrics.json."""
    from keras_pose.data import coco as coco_data
    original = os.path.join(coco_dir, "test_coco.json")
    data = json.load(open(original))
    for ann in data["annotations"]:
        ann.pop("area")
        ann.pop("segmentation", None)
    path = str(tmp_path / "noarea.json")
    json.dump(data, open(path, "w"))
    tables = {}
    for name, ann_file in (("given", original), ("from boxes", path)):
        records = coco_data.load_coco_gt(ann_file, coco_dir, 0.75)
        metric = coco.CocoKeypointMetric(coco.load_coco_ground_truth(ann_file))
        moved = records.joints + 6.0  # Off a little: the areas change the AP.
        metric.update(_Predictions(moved, np.ones(records.joints.shape[:2]), np.ones(12)),
                      records)
        metrics = metric.result()
        tables[name] = (metrics["AP"], metric.table(metrics, "arch"), metric.describe(0.2))
    (ap, table, method), (ap_boxes, table_boxes, method_boxes) = tables.values()
    assert ap_boxes > ap
    assert "Note" not in table and "box area" not in method
    note = f"Note: {len(data['annotations'])} ground-truth people have no 'area'"
    assert note in table_boxes and "not comparable" in method_boxes
    assert table_boxes.startswith(table.split("\n")[0])


def _one_image_ground_truth(tmp_path, people, category_id=1, k=17):
    """An annotation file of one 200x200 image holding ``people``, a list of
    (annotation id, (K, 2) joints); every joint visible, box area 100x100."""
    names = [f"j{i}" for i in range(k)]
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}],
          "categories": [{"id": category_id, "name": "thing", "keypoints": names,
                          "skeleton": []}],
          "annotations": [{"id": ann_id, "image_id": 1, "category_id": category_id,
                           "iscrowd": 0, "bbox": [50, 50, 100, 100], "area": 10000.0,
                           "num_keypoints": k,
                           "keypoints": np.concatenate([joints, np.full((k, 1), 2.0)],
                                                       1).ravel().tolist()}
                          for ann_id, joints in people]}
    path = str(tmp_path / "gt.json")
    with open(path, "w") as f:
        json.dump(gt, f)
    return path


class _Records:
    """The fields of PersonRecords the COCO metric reads."""

    def __init__(self, image_id, area, center, scale, category_id=None):
        self.image_id, self.area = np.asarray(image_id), np.asarray(area, np.float64)
        self.center, self.scale = np.asarray(center, np.float64), np.asarray(scale, np.float64)
        if category_id is not None:
            self.category_id = np.asarray(category_id)

    def __len__(self):
        return len(self.image_id)


def test_a_person_whose_annotation_id_is_0_is_found(tmp_path):
    """pycocotools takes a match with ground-truth id 0 for no match: a
    perfect prediction of a person numbered 0 must still score AP 1."""
    joints = np.stack([60 + 4.0 * np.arange(17), 60 + 3.0 * np.arange(17)], 1)
    coco_gt = coco.load_coco_ground_truth(_one_image_ground_truth(tmp_path, [(0, joints)]))
    results = coco.make_results([1], joints[None], np.ones((1, 17)), [1.0])
    # The prediction is the ground truth: every OKS is 1, AP 1 by definition.
    assert coco.run_cocoeval(coco_gt, results)["AP"] == pytest.approx(1.0)


def test_the_metric_writes_each_records_category(tmp_path):
    """A custom set whose category is 3: results carry category 3
    (as category 1 they would find no ground truth: AP 0)."""
    k = 4
    joints = np.array([[60, 60], [140, 60], [60, 140], [140, 140]], np.float64)
    coco_gt = coco.load_coco_ground_truth(
        _one_image_ground_truth(tmp_path, [(1, joints)], category_id=3, k=k))
    metric = coco.CocoKeypointMetric(coco_gt, sigmas=[0.2] * k)
    records = _Records([1], [12500.0], [[100, 100]], [[0.6, 0.6]], category_id=[3])
    metric.update(_Predictions(joints[None], np.ones((1, k)), np.ones(1)), records)
    assert metric.result()["AP"] == pytest.approx(1.0)  # Predictions = ground truth.
    assert [r["category_id"] for r in metric.results()] == [3]


def _two_people_oks_0_7():
    """Two people of one image, every joint of the second 12 px right and
    12 px down of the first's; area 10000 each. With one sigma of 0.1 for
    every joint, OKS = exp(-d^2 / (2 * area * (2 sigma)^2))
    = exp(-288 / (2 * 10000 * 0.04)) = exp(-0.36) = 0.698."""
    first = _person(60, 60)[..., :2]
    keypoints = np.stack([first, first + 12.0])
    records = _Records([1, 1], [1e4, 1e4], [[100, 100], [112, 112]], [[0.5, 0.6], [0.7, 0.8]])
    return _Predictions(keypoints, np.ones((2, 17)), np.array([0.9, 0.8])), records


@pytest.mark.parametrize("threshold, kept", [(0.5, 1), (0.9, 2)])
def test_the_metric_suppresses_people_at_its_own_oks_threshold(threshold, kept):
    """The NMS suppresses at the config's oks_threshold, not at 0.9 always."""
    predictions, records = _two_people_oks_0_7()  # OKS 0.698 (see there).
    metric = coco.CocoKeypointMetric(None, sigmas=[0.1] * 17, oks_threshold=threshold)
    metric.update(predictions, records)
    assert len(metric.results()) == kept


def test_the_metric_suppresses_with_its_own_sigmas_for_17_keypoints():
    """The NMS of a 17-joint set uses its own sigmas, not COCO's."""
    predictions, records = _two_people_oks_0_7()
    # Sigma 1: OKS = exp(-288 / (2 * 10000 * 4)) = exp(-0.0036) = 0.996 > 0.9:
    # the lower-scoring person is suppressed. (COCO's sigmas, at most 0.107,
    # give each joint at most exp(-288 / (2e4 * 0.0458)) = 0.73: both kept.)
    metric = coco.CocoKeypointMetric(None, sigmas=[1.0] * 17)
    metric.update(predictions, records)
    assert len(metric.results()) == 1


def test_results_carry_each_joints_score_and_the_kept_rows_center_and_scale():
    """The results keep each joint's score (not 1), and after NMS the kept
    person's own crop center and scale (not a suppressed person's)."""
    results = coco.make_results([1], np.zeros((1, 2, 2)), [[0.3, 0.7]], [1.0])
    assert results[0]["keypoints"][2::3] == [0.3, 0.7]
    predictions, records = _two_people_oks_0_7()
    predictions.scores = np.array([0.5, 0.9])  # Row 0 is now the one suppressed.
    metric = coco.CocoKeypointMetric(None, sigmas=[1.0] * 17)
    metric.update(predictions, records)
    (result,) = metric.results()
    assert result["score"] == 0.9
    assert result["center"] == [112.0, 112.0] and result["scale"] == [0.7, 0.8]


def test_the_written_results_hold_only_the_references_fields(tmp_path):
    """pycocotools' loadRes adds 'bbox', 'area' and 'id' to the dicts it is
    given, and the results file is written after the numbers: it held them.
    The reference writes image_id, category_id, keypoints, score, center and
    scale."""
    joints = np.stack([60 + 4.0 * np.arange(17), 60 + 3.0 * np.arange(17)], 1)
    coco_gt = coco.load_coco_ground_truth(_one_image_ground_truth(tmp_path, [(1, joints)]))
    metric = coco.CocoKeypointMetric(coco_gt)
    records = _Records([1], [12500.0], [[100, 100]], [[0.6, 0.6]])
    metric.update(_Predictions(joints[None], np.ones((1, 17)), np.ones(1)), records)
    assert metric.result()["AP"] == pytest.approx(1.0)  # Predictions = ground truth.
    with open(metric.write(str(tmp_path))) as f:
        (written,) = json.load(f)
    assert set(written) == {"image_id", "category_id", "keypoints", "score", "center", "scale"}
    results = coco.make_results([1], joints[None], np.ones((1, 17)), [1.0])
    coco.run_cocoeval(coco_gt, results)
    assert set(results[0]) == {"image_id", "category_id", "keypoints", "score"}
