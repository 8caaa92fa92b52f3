"""Readers: COCO ground truth and detections, MPII JSON, custom sets, load_records."""

import dataclasses
import json
import logging
import os
import shutil

import numpy as np
import pytest

from keras_pose.configs import apply_overrides, default_experiment, get_experiment
from keras_pose.configs.keypoints import COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES, COCO_SKELETON
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA
from keras_pose.data import coco, coco_files, datasets, mpii
from keras_pose.data.coco import clean_box
from keras_pose.data.coco_files import AnnotationError


def test_clean_box_reproduces_the_reference_quirks():
    # Shifted, not cropped, when x < 0; one pixel smaller.
    assert clean_box([-10, 5, 50, 20], 640, 480) == [0.0, 5.0, 49.0, 19.0]
    assert clean_box([600, 5, 100, 20], 640, 480) == [600.0, 5.0, 39.0, 19.0]
    assert clean_box([10, 10, 0.5, 0.5], 640, 480) == [10.0, 10.0, 0.0, 0.0]
    assert clean_box([700, 10, 5, 5], 640, 480) is None


@pytest.mark.parametrize("rule,box,expected", [
    # A box inside the image: the reference shrinks it by one pixel, mmpose not.
    ("official", [10, 20, 50, 80], [10.0, 20.0, 49.0, 79.0]),
    ("mmpose", [10, 20, 50, 80], [10.0, 20.0, 50.0, 80.0]),
    ("mmpose_0x", [10, 20, 50, 80], [10.0, 20.0, 50.0, 80.0]),
    # x < 0: shifted right (official, 0.x) or cropped at 0 (1.x).
    ("official", [-10, 5, 50, 20], [0.0, 5.0, 49.0, 19.0]),
    ("mmpose", [-10, 5, 50, 20], [0.0, 5.0, 40.0, 20.0]),
    ("mmpose_0x", [-10, 5, 50, 20], [0.0, 5.0, 50.0, 20.0]),
    # Clipped at W - 1; a sub-pixel box is kept by the reference only.
    ("mmpose", [600, 5, 100, 20], [600.0, 5.0, 39.0, 20.0]),
    ("official", [10, 10, 0.5, 0.5], [10.0, 10.0, 0.0, 0.0]),
    ("mmpose_0x", [10, 10, 0.0, 0.5], None),
    ("mmpose", [700, 10, 5, 5], None),
])
def test_clean_box_rules(rule, box, expected):
    assert clean_box(box, 640, 480, rule) == expected


def test_gt_box_rule_is_a_checked_config_field_honoured_by_load_records(coco_dir):
    from keras_pose.configs import ConfigError
    with pytest.raises(ConfigError, match="data.gt_box_rule must be one of"):
        apply_overrides(get_experiment("coco_resnet50_256x192"), ["data.gt_box_rule=mmpose1"])
    assert get_experiment("coco_resnet50_256x192").data.gt_box_rule == "official"
    base = apply_overrides(default_experiment("coco"), [
        f"data.root={coco_dir}", "data.test_set=val2017"])
    boxes = {}
    for rule in ("official", "mmpose"):
        config = apply_overrides(base, [f"data.gt_box_rule={rule}"])
        ann = os.path.join(coco_dir, "test_coco.json")
        records = coco.load_coco_gt(ann, coco_dir, 0.75, box_rule=rule)
        config_records = _load_test_records_from(config, ann)
        np.testing.assert_allclose(config_records.box, records.box)
        boxes[rule] = records.box
    # Same people; mmpose's boxes are one pixel larger unless cut by the border.
    grown = boxes["mmpose"][:, 2:] - boxes["official"][:, 2:]
    assert np.isclose(grown, 1.0).sum() >= 20 and np.all((grown >= 0) & (grown <= 1))
    np.testing.assert_allclose(boxes["mmpose"][:, :2], boxes["official"][:, :2])


def _load_test_records_from(config, ann):
    """load_records on a copy of the sample laid out as data/coco."""
    import tempfile
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "annotations"))
    shutil.copy(ann, os.path.join(root, "annotations", "person_keypoints_val2017.json"))
    os.makedirs(os.path.join(root, "images", "val2017"))
    for image in json.load(open(ann))["images"]:
        shutil.copy(os.path.join(os.path.dirname(ann), image["file_name"]),
                    os.path.join(root, "images", "val2017", image["file_name"]))
    config = apply_overrides(config, [f"data.root={root}"])
    try:
        return datasets.load_records(config, "test", datasets.BoxMode(True))
    finally:
        shutil.rmtree(root)


def test_coco_gt_on_real_sample(coco_dir):
    path = os.path.join(coco_dir, "test_coco.json")
    records = coco.load_coco_gt(path, coco_dir, 192 / 256)
    data = json.load(open(path))
    usable = [a for a in data["annotations"]
              if not a["iscrowd"] and a["area"] > 0 and max(a["keypoints"]) > 0]
    assert len(records) == len(usable) == 12
    assert records.num_skipped == 2 and records.skipped_reasons == {"no labelled keypoints": 2}
    assert records.num_keypoints == 17 and records.joints.shape == (12, 17, 2)
    first = usable[0]
    image = next(i for i in data["images"] if i["id"] == first["image_id"])
    box = clean_box(first["bbox"], image["width"], image["height"])
    np.testing.assert_allclose(records.box[0], box, rtol=1e-6)
    kp = np.array(first["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(records.joints[0], kp[:, :2])
    np.testing.assert_array_equal(records.joints_vis[0], np.minimum(kp[:, 2], 1))
    np.testing.assert_allclose(records.area, np.prod(records.scale * 200, axis=1), rtol=1e-5)
    assert np.all(records.score == 1) and os.path.isabs(records.image_path[0])
    assert set(records.select(records.image_id == first["image_id"]).image_id) == {first["image_id"]}


def test_coco_detections_on_real_sample(coco_dir):
    ann = os.path.join(coco_dir, "test_coco.json")
    det = os.path.join(coco_dir, "test_coco_det_AP_H_56.json")
    records = coco.load_coco_detections(det, ann, coco_dir, 0.75)
    raw = json.load(open(det))
    assert len(records) == len([d for d in raw if d["category_id"] == 1]) == 118
    np.testing.assert_allclose(records.box[0], raw[0]["bbox"], rtol=1e-6)  # used as given
    high = coco.load_coco_detections(det, ann, coco_dir, 0.75, image_threshold=0.5)
    assert len(high) == sum(d["score"] >= 0.5 for d in raw)
    assert high.skipped_reasons["below image_thre"] == 118 - len(high)


def test_detection_file_errors(coco_dir, tmp_path):
    ann = os.path.join(coco_dir, "test_coco.json")
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(AnnotationError, match="empty.json is empty"):
        coco.load_coco_detections(str(empty), ann, coco_dir, 0.75)
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"image_id": 123456789, "category_id": 1,
                                  "bbox": [0, 0, 10, 10], "score": 0.9}]))
    with pytest.raises(AnnotationError, match="other images"):
        coco.load_coco_detections(str(other), ann, coco_dir, 0.75)
    notdet = tmp_path / "notdet.json"
    notdet.write_text(json.dumps({"a": 1}))
    with pytest.raises(AnnotationError, match="not a COCO detection-results file"):
        coco.load_coco_detections(str(notdet), ann, coco_dir, 0.75)
    # Every box below the threshold: the reasons as words and the setting (was a dict).
    low = tmp_path / "low.json"
    low.write_text(json.dumps([{"image_id": 785, "category_id": 1, "bbox": [0, 0, 10, 10],
                                "score": -0.5}]))
    with pytest.raises(AnnotationError, match=r"low.json: no usable person detection \(below "
                                              r"image_thre: 1\); data.image_threshold is 0.0$"):
        coco.load_coco_detections(str(low), ann, coco_dir, 0.75)
    # Boxes of another category than the model's: which, and the way out (none was said).
    cat = tmp_path / "cat7.json"
    cat.write_text(json.dumps([{"image_id": 785, "category_id": 7, "bbox": [0, 0, 10, 10],
                                "score": 0.9}]))
    with pytest.raises(AnnotationError, match=r"cat7.json: no usable person detection \(not a "
                       r"chosen keypoint category: 1\); data.image_threshold is 0.0; its "
                       r"detections are of categories \[7\], the chosen keypoint categories "
                       r"\[1\]: give detections of those \(their category_id\) "
                       r"\(.*test_coco.json has no people of category 7 with these keypoints\)$"):
        coco.load_coco_detections(str(cat), ann, coco_dir, 0.75)
    # Choosing the detections' category is only said when the file has people of it
    # (it was said always, and then refused: "not keypoint categories of this file").
    data = json.load(open(ann))
    data["categories"].append(dict(data["categories"][0], id=7, name="robot"))
    two = tmp_path / "two_categories.json"
    two.write_text(json.dumps(data))
    # Category 7 listed but without people: choosing it gives nothing to score.
    with pytest.raises(AnnotationError, match=r"give detections of those \(their "
                       r"category_id\) \(.*two_categories.json has no people of category 7 with "
                       r"these keypoints\)$"):
        coco.load_coco_detections(str(cat), str(two), coco_dir, 0.75, category_ids=(1,))
    data["annotations"].append(dict(data["annotations"][0], id=999_999, category_id=7))
    two.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=r"give detections of those \(their "
                       r"category_id\), or choose theirs with --set data.category_ids=7$"):
        coco.load_coco_detections(str(cat), str(two), coco_dir, 0.75, category_ids=(1,))


def test_empty_detection_boxes_are_used_as_given_and_named(coco_dir, tmp_path, caplog):
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    ann = os.path.join(coco_dir, "test_coco.json")
    det = tmp_path / "det.json"
    det.write_text(json.dumps([
        {"image_id": 785, "category_id": 1, "bbox": [10, 10, 50, 80], "score": 0.9},
        {"image_id": 785, "category_id": 1, "bbox": [30, 40, 0, 0], "score": 0.8}]))
    records = coco.load_coco_detections(str(det), ann, coco_dir, 0.75)
    assert len(records) == 2  # the reference's boxes, as given
    assert ("det.json: 1 detection(s) have a box of zero or negative width or height: used "
            "as given, as the reference does; 1 with no side > 0, one = 0 (e.g. "
            "[30.0, 40.0, 0.0, 0.0]) are of scale 0") in caplog.text


def test_annotation_file_errors(tmp_path, coco_dir):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        coco.load_coco_gt(str(tmp_path / "nope.json"), coco_dir, 0.75)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(AnnotationError, match="broken.json is not valid JSON"):
        coco.load_coco_gt(str(broken), coco_dir, 0.75)
    nococo = tmp_path / "nococo.json"
    nococo.write_text(json.dumps({"images": []}))
    with pytest.raises(AnnotationError, match="no 'categories'"):
        coco.load_coco_gt(str(nococo), coco_dir, 0.75)
    mpii_file = os.path.join(os.path.dirname(coco_dir), "mpii", "test_mpii.json")
    with pytest.raises(AnnotationError, match="not a COCO annotation file"):
        coco.load_coco_gt(mpii_file, coco_dir, 0.75)
    with pytest.raises(AnnotationError, match="not an MPII annotation file"):
        mpii.load_mpii(os.path.join(coco_dir, "test_coco.json"), coco_dir)


def test_mpii_on_real_sample(mpii_dir):
    path = os.path.join(mpii_dir, "test_mpii.json")
    records = mpii.load_mpii(path, mpii_dir)
    raw = json.load(open(path))
    assert len(records) == len(raw) == 5
    for i, person in enumerate(raw):
        s = person["scale"]
        center = np.array(person["center"], float)
        center[1] += 15 * s
        np.testing.assert_allclose(records.center[i], center - 1, rtol=1e-6)
        np.testing.assert_allclose(records.scale[i], [s * 1.25, s * 1.25], rtol=1e-6)
        np.testing.assert_allclose(records.joints[i], np.array(person["joints"]) - 1, rtol=1e-6)
        np.testing.assert_array_equal(records.joints_vis[i], person["joints_vis"])
    assert records.flip_pairs[0] == (0, 5)


def _coco_like(root, split, data, images_from):
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    os.makedirs(os.path.join(root, "images", split), exist_ok=True)
    for image in data["images"]:
        shutil.copy(os.path.join(images_from, image["file_name"]),
                    os.path.join(root, "images", split, image["file_name"]))
    with open(os.path.join(root, "annotations", f"person_keypoints_{split}.json"), "w") as f:
        json.dump(data, f)


def test_custom_dataset_with_other_keypoints(tmp_path, coco_dir):
    data = json.load(open(os.path.join(coco_dir, "test_coco.json")))
    keep = [0, 5, 6, 9, 10, 15, 16]  # nose, shoulders, wrists, ankles
    names = ["nose", "l_shoulder", "r_shoulder", "l_paw", "r_paw", "l_foot", "r_foot"]
    data["categories"] = [{"id": 1, "name": "animal", "keypoints": names,
                           "skeleton": [[2, 4], [3, 5]]}]
    for ann in data["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(17, 3)[keep]
        ann["keypoints"] = kp.reshape(-1).tolist()
    root = str(tmp_path / "animals")
    _coco_like(root, "train2017", data, coco_dir)
    config = default_experiment("animals")
    config = config.replace(data=dataclasses.replace(config.data, root=root))
    resolved = datasets.resolve_dataset_config(config)
    assert resolved.model.num_keypoints == 7
    assert resolved.data.keypoint_names == tuple(names)
    assert resolved.data.flip_pairs == ((1, 2), (3, 4), (5, 6))
    assert resolved.data.skeleton == ((1, 3), (2, 4))
    assert resolved.data.category_ids == (1,)  # recorded with the checkpoint
    assert len(resolved.data.oks_sigmas) == 7
    records = datasets.load_records(resolved, "train")
    assert records.num_keypoints == 7 and len(records) > 0
    with pytest.raises(datasets.DatasetError, match="model.num_keypoints=17"):
        datasets.load_records(config, "train")


def test_load_records_box_modes_and_missing_images(tmp_path, coco_dir):
    data = json.load(open(os.path.join(coco_dir, "test_coco.json")))
    root = str(tmp_path / "coco")
    _coco_like(root, "val2017", data, coco_dir)
    _coco_like(root, "train2017", data, coco_dir)
    config = get_experiment("coco_resnet50_256x192")
    config = config.replace(data=dataclasses.replace(config.data, root=root))
    # No detection file: ground-truth boxes.
    assert len(datasets.load_records(config, "test")) == 12
    os.makedirs(os.path.join(root, "person_detection_results"))
    shutil.copy(os.path.join(coco_dir, "test_coco_det_AP_H_56.json"),
                os.path.join(root, config.test.detection_file))
    assert len(datasets.load_records(config, "test")) == 118  # detections by default
    assert len(datasets.load_records(config, "test", datasets.BoxMode(True))) == 12
    # A missing image: dropped and counted for training, an error for evaluation.
    os.remove(os.path.join(root, "images", "train2017", data["images"][0]["file_name"]))
    os.remove(os.path.join(root, "images", "val2017", data["images"][0]["file_name"]))
    train = datasets.load_records(config, "train")
    assert 0 < len(train) < 12 and train.skipped_reasons["image file missing"] == 12 - len(train)
    with pytest.raises(FileNotFoundError, match=data["images"][0]["file_name"]):
        datasets.load_records(config, "test", datasets.BoxMode(True))


def test_missing_data_directory(tmp_path):
    config = apply_overrides(get_experiment("coco_resnet50_256x192"),
                             [f"data.root={tmp_path / 'nothing'}"])
    with pytest.raises(datasets.DatasetError, match="nothing does not exist"):
        datasets.load_records(config, "train")


# --- Hand-written annotation files: every way a public file goes wrong ---------

def _tiny_coco(names=("nose", "left_eye", "right_eye"), people=2, category_id=1,
               first_id=100, **category):
    """One 100x80 image and ``people`` annotations of one keypoint category."""
    k = len(names)
    anns = [{"id": first_id + i, "image_id": 1, "category_id": category_id,
             "bbox": [5.0, 5.0, 40.0, 50.0], "area": 1500.0, "iscrowd": 0, "num_keypoints": k,
             "keypoints": [v for j in range(k) for v in (10.0 + j + i, 20.0 + j, 2)]}
            for i in range(people)]
    cat = {"id": category_id, "name": "thing", "keypoints": list(names), **category}
    return {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
            "annotations": anns, "categories": [cat]}


def _write(tmp_path, data, name="ann.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("skeleton,expected", [
    ([[1, 2], [2, 3]], ((0, 1), (1, 2))),  # max == K: 1-based
    ([[0, 1], [1, 2]], ((0, 1), (1, 2))),  # a 0: 0-based
    ([[1, 2]], ((0, 1),)),                 # 1..K-1: ambiguous, COCO's 1-based
])
def test_skeleton_base_is_detected(tmp_path, caplog, skeleton, expected):
    path = _write(tmp_path, _tiny_coco(skeleton=skeleton))
    assert coco_files.dataset_metadata(path)["skeleton"] == expected
    data = coco_files.read_annotation_file(path)
    assert data[coco_files.META_KEY]["skeleton"] == expected
    # The normalised dict is COCO again: 1-based.
    assert data["categories"][0]["skeleton"] == [[a + 1, b + 1] for a, b in expected]
    assert ("fit both 0-based and 1-based; read as 1-based" in caplog.text) == (len(skeleton) == 1)


@pytest.mark.parametrize("skeleton,base", [
    # 0-based shoulders, hips, left arm: read 1-based they would join the
    # right ear to the left shoulder and the right wrist to the left hip.
    ([[5, 6], [11, 12], [5, 7], [7, 9]], 0),
    # COCO's own 1-based limbs without those touching 1 or 17.
    ([[16, 14], [14, 12], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [8, 10]], 1),
])
def test_the_names_settle_an_ambiguous_skeleton_base(tmp_path, caplog, skeleton, base):
    path = _write(tmp_path, _tiny_coco(COCO_KEYPOINT_NAMES, skeleton=skeleton))
    expected = tuple((a - base, b - base) for a, b in skeleton)
    assert coco_files.dataset_metadata(path)["skeleton"] == expected
    assert f"read as {base}-based (the reading that joins no left and right" in caplog.text


def test_out_of_range_skeleton_names_file_and_limb(tmp_path):
    names = [f"k{i}" for i in range(14)]
    coco_skeleton = [[a + 1, b + 1] for a, b in COCO_SKELETON]  # 17-keypoint limbs
    path = _write(tmp_path, _tiny_coco(names, skeleton=coco_skeleton), "crowd14.json")
    for read in (coco_files.read_annotation_file, coco_files.dataset_metadata):
        with pytest.raises(AnnotationError, match=r"crowd14.json: category 1 \('thing'\) "
                           r"'skeleton': pair #0 \[16, 14\] is out of range for 14 keypoints"
                           r".*--set data.skeleton=\[\]"):
            read(path)
    negative = _write(tmp_path, _tiny_coco(skeleton=[[0, 1], [-1, 2]]), "neg.json")
    with pytest.raises(AnnotationError, match=r"neg.json.*pair #1 \[-1, 2\]"):
        coco_files.read_annotation_file(negative)
    # Not a list of pairs at all: the file and category were not named.
    for bad in ("oops", [[0, 1], [2]]):
        path = _write(tmp_path, _tiny_coco(skeleton=bad), "bad.json")
        with pytest.raises(AnnotationError, match=r"bad.json: category 1 \('thing'\) "
                           r"'skeleton'.*--set data.skeleton=\[\]"):
            coco_files.read_annotation_file(path)


def test_a_skeleton_that_does_not_fit_k_yields_to_data_skeleton(tmp_path, coco_dir):
    """A file with COCO's 17-keypoint skeleton for 14 keypoints: training on
    it stops naming the limb and the override; --set data.skeleton=[] (or
    one's own limbs) wins; reading people and COCOeval's ground truth never
    needed the skeleton, so evaluation does not stop."""
    from keras_pose.evaluation.metrics import metric_for
    data = json.load(open(os.path.join(coco_dir, "test_coco.json")))
    names = [f"k{i}" for i in range(14)]
    data["categories"] = [{"id": 1, "name": "thing", "keypoints": names,
                           "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}]
    for ann in data["annotations"]:
        ann["keypoints"] = ann["keypoints"][:3 * 14]
        ann["num_keypoints"] = sum(v > 0 for v in ann["keypoints"][2::3])
    root = str(tmp_path / "crowd14")
    _coco_like(root, "train2017", data, coco_dir)
    _coco_like(root, "val2017", data, coco_dir)
    config = default_experiment("crowd14")
    config = config.replace(data=dataclasses.replace(config.data, root=root))
    with pytest.raises(AnnotationError, match=r"person_keypoints_train2017.json: .*pair #0 "
                       r"\[16, 14\].*--set data.skeleton=\[\]"):
        datasets.resolve_dataset_config(config)
    for override, expected in (("data.skeleton=[]", ()), ("data.skeleton=[[0,1]]", ((0, 1),))):
        resolved = datasets.resolve_dataset_config(apply_overrides(config, [override]))
        assert resolved.data.skeleton == expected and resolved.model.num_keypoints == 14
        assert len(datasets.load_records(resolved, "train")) > 0
        assert len(datasets.load_records(resolved, "test", datasets.BoxMode(True))) > 0
        metric_for(resolved)  # COCOeval's ground truth


def test_flip_pairs_given_by_the_annotation_file(tmp_path):
    names = ["nose", "eye_a", "eye_b"]
    swap = _write(tmp_path, _tiny_coco(names, swap=["", "eye_b", "eye_a"]), "swap.json")
    assert coco_files.dataset_metadata(swap)["flip_pairs"] == ((1, 2),)
    assert coco.load_coco_gt(swap, str(tmp_path), 0.75).flip_pairs == ((1, 2),)
    zero_based = _write(tmp_path, _tiny_coco(names, flip_pairs=[[0, 2]]), "zero.json")
    assert coco_files.dataset_metadata(zero_based)["flip_pairs"] == ((0, 2),)
    assert coco_files.dataset_metadata(_write(tmp_path, _tiny_coco(names)))["flip_pairs"] is None
    bad = _write(tmp_path, _tiny_coco(names, flip_pairs=[[0, 5]]), "badpairs.json")
    with pytest.raises(AnnotationError, match=r"badpairs.json: category 1 \('thing'\) "
                       r"'flip_pairs': pair #0 \[0, 5\] is out of range for 3"):
        coco_files.read_annotation_file(bad)


def _real_coco(coco_dir):
    return json.load(open(os.path.join(coco_dir, "test_coco.json")))


def test_missing_area_from_segmentation_else_box(tmp_path, coco_dir, caplog):
    data = _real_coco(coco_dir)
    original = {a["id"]: a["area"] for a in data["annotations"]}
    for ann in data["annotations"]:
        del ann["area"]
    boxed = data["annotations"][0]
    boxed["segmentation"] = []
    path = _write(tmp_path, data, "noarea.json")
    records = coco.load_coco_gt(path, coco_dir, 0.75)
    assert len(records) == 12  # before: every person dropped as "zero area"
    areas = {a["id"]: a["area"] for a in coco_files.read_annotation_file(path)["annotations"]}
    assert areas[boxed["id"]] == pytest.approx(boxed["bbox"][2] * boxed["bbox"][3])
    for ann_id, area in areas.items():  # pycocotools' mask area ~ COCO's polygon area
        if ann_id != boxed["id"]:
            assert area == pytest.approx(original[ann_id], rel=0.015)
    assert "area from the box: 1, area from the segmentation: 13" in caplog.text


def _cocoeval_ap(dataset):
    """COCOeval on a normalised dict with the ground truth as the results."""
    import contextlib
    import io
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = COCO()
    gt.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        results = [{"image_id": a["image_id"], "category_id": a["category_id"],
                    "keypoints": a["keypoints"], "score": 1.0}
                   for a in dataset["annotations"] if max(a["keypoints"]) > 0]
        evaluator = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats[0]


def test_missing_num_keypoints_and_iscrowd_are_filled(tmp_path, coco_dir, caplog):
    data = _real_coco(coco_dir)
    counts = {a["id"]: a.pop("num_keypoints") for a in data["annotations"]}
    for ann in data["annotations"]:
        del ann["iscrowd"]
    path = _write(tmp_path, data, "nocount.json")
    normalised = coco_files.read_annotation_file(path)
    assert {a["id"]: a["num_keypoints"] for a in normalised["annotations"]} == counts
    assert all(a["iscrowd"] == 0 for a in normalised["annotations"])
    assert "iscrowd = 0: 14, num_keypoints from the visibilities: 14" in caplog.text
    # Before: COCOeval died with the bare message 'num_keypoints'.
    assert _cocoeval_ap(normalised) == pytest.approx(1.0)
    assert len(coco.load_coco_gt(path, coco_dir, 0.75)) == 12


@pytest.mark.parametrize("field", ["bbox", "keypoints"])
def test_missing_required_field_names_file_id_and_field(tmp_path, field):
    data = _tiny_coco()
    del data["annotations"][1][field]
    path = _write(tmp_path, data, "nobox.json")
    for read in (coco_files.read_annotation_file, lambda p: coco.load_coco_gt(p, str(tmp_path), 1)):
        with pytest.raises(AnnotationError, match=rf"nobox.json: annotation id 101 "
                           rf"\(#1, image 1\): has no '{field}'"):
            read(path)


@pytest.mark.parametrize("change,match", [
    (lambda a: a["keypoints"].__setitem__(3, float("nan")), r"'keypoints' .* non-finite"),
    (lambda a: a["bbox"].__setitem__(2, float("inf")), r"'bbox' .* non-finite"),
    (lambda a: a.__setitem__("area", float("nan")), r"'area' must be a finite number"),
    (lambda a: a.__setitem__("bbox", [1.0, 2.0, 3.0]), r"'bbox' .* has 3 values, expected 4"),
    (lambda a: a["keypoints"].__setitem__(0, "5"), r"'keypoints' .* non-number '5' \(str\)"),
    (lambda a: a.__setitem__("keypoints", [1.0] * 6), r"has 6 values, expected 9"),
    (lambda a: a.__setitem__("num_keypoints", "3"), r"'num_keypoints' must be an integer"),
    (lambda a: a.__setitem__("iscrowd", 2), r"'iscrowd' must be 0 or 1"),
    (lambda a: a.__setitem__("image_id", "1"), r"'image_id' is missing or not an integer"),
    (lambda a: a["keypoints"].__setitem__(5, -1), r"'keypoints': keypoint 1's visibility must be "
                                                  r"0 \(not labelled\), 1 .* got -1"),
    (lambda a: a["keypoints"].__setitem__(8, 3), r"keypoint 2's visibility .* got 3"),
])
def test_bad_ground_truth_values_are_rejected_at_load(tmp_path, change, match):
    data = _tiny_coco(people=3)
    change(data["annotations"][1])
    path = _write(tmp_path, data, "bad.json")
    with pytest.raises(AnnotationError, match=r"bad.json: annotation id 101 .*" + match):
        coco_files.read_annotation_file(path)


def test_one_error_counts_the_other_bad_annotations(tmp_path):
    data = _tiny_coco(people=3)
    for ann in data["annotations"][1:]:
        ann["bbox"][0] = float("nan")
    data["annotations"].append(dict(data["annotations"][0]))  # a duplicate id
    with pytest.raises(AnnotationError, match=r"annotation id 101 .*\(2 more annotations"):
        coco_files.read_annotation_file(_write(tmp_path, data))


def test_bad_images_are_named(tmp_path):
    data = _tiny_coco()
    for value in (1.0, "img1"):  # The value was not shown: "image #0 has no integer 'id'".
        data["images"][0]["id"] = value
        with pytest.raises(AnnotationError, match=rf"ann.json: image #0 \('a.jpg'\) has no "
                           rf"integer 'id': {value!r}"):
            coco_files.read_annotation_file(_write(tmp_path, data))
    data["images"][0]["id"] = 1
    data["images"][0]["height"] = float("nan")
    with pytest.raises(AnnotationError, match=r"ann.json: image id 1: 'height' must be"):
        coco_files.read_annotation_file(_write(tmp_path, data))
    del data["images"][0]["height"]
    with pytest.raises(AnnotationError, match=r"ann.json: image id 1 has no 'height' \(the "):
        coco_files.read_annotation_file(_write(tmp_path, data))
    data = _tiny_coco()
    data["images"][0]["id"] = 2 ** 63  # was numpy's OverflowError traceback in train.py
    for ann in data["annotations"]:
        ann["image_id"] = 2 ** 63
    with pytest.raises(AnnotationError, match=r"image id 9223372036854775808 does not fit a "
                                              r"64-bit integer .*: renumber the images"):
        coco_files.read_annotation_file(_write(tmp_path, data))


def test_a_keypoint_name_given_twice_is_refused(tmp_path):
    # Flipping, sigmas and checks go by name: two left_eyes were never flipped.
    data = _tiny_coco(names=("nose", "left_eye", "left_eye"))
    with pytest.raises(AnnotationError, match=r"category 1 \('thing'\): 'keypoints' names "
                                              r"'left_eye' more than once \(at \[1, 2\]\)"):
        coco_files.read_annotation_file(_write(tmp_path, data))


def test_num_keypoints_is_recounted_and_dangling_references_named(tmp_path, coco_dir, caplog):
    data = _real_coco(coco_dir)
    empty = [a for a in data["annotations"] if max(a["keypoints"]) == 0]
    assert len(empty) == 2  # no labelled keypoint: the readers skip them
    for ann in empty:
        ann["num_keypoints"] = 5  # stale: COCOeval counted them as people to find
    data["annotations"][0]["id"] = 0  # COCOeval's "unmatched" mark
    normalised = coco_files.read_annotation_file(_write(tmp_path, data, "stale.json"))
    empty_ids = {a["id"] for a in empty}
    assert [a["num_keypoints"] for a in normalised["annotations"] if a["id"] in empty_ids] == [
        0, 0]
    assert (f"stale.json: 2 annotations give a 'num_keypoints' other than their labelled "
            f"keypoints (visibility > 0), e.g. annotation ids {[a['id'] for a in empty]}; "
            "recounted") in caplog.text
    # Ground truth as results: every person found, as before the changes.
    from keras_pose.evaluation.coco import load_coco_ground_truth, run_cocoeval
    gt = load_coco_ground_truth(_write(tmp_path, data, "stale.json"))
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
                "score": 1.0} for a in data["annotations"] if max(a["keypoints"]) > 0]
    assert run_cocoeval(gt, results)["AP"] == pytest.approx(1.0)
    data["annotations"][1]["image_id"] = 424242
    data["annotations"][2]["category_id"] = 77
    coco_files.read_annotation_file(_write(tmp_path, data, "dangling.json"))
    assert (f"dangling.json: 1 annotations name an image_id that 'images' does not list "
            f"(annotation ids [{data['annotations'][1]['id']}])") in caplog.text
    assert (f"dangling.json: 1 annotations have a category_id that 'categories' does not list "
            f"(annotation ids [{data['annotations'][2]['id']}])") in caplog.text


def test_detections_non_finite_dropped_malformed_refused(tmp_path, coco_dir, caplog):
    ann = os.path.join(coco_dir, "test_coco.json")
    raw = json.load(open(os.path.join(coco_dir, "test_coco_det_AP_H_56.json")))
    raw[0]["score"] = float("nan")
    raw[1]["bbox"][2] = float("inf")
    raw[2]["bbox"][0] = float("-inf")
    raw[12]["bbox"] = [0.0, 0.0, 1e30, 1e30]  # Garbage: its pose overflowed to infinities.
    raw[13]["bbox"][3] = 6401.0  # Over 10 times its 640-pixel image.
    raw[14]["bbox"] = [-5000.0, -5000.0, 100.0, 100.0]  # Off the image: the reference's.
    raw[15]["bbox"] = [10.0, 10.0, -1e30, -1e30]  # Its pose suppressed the image's others.
    records = coco.load_coco_detections(_write(tmp_path, raw, "det.json"), ann, coco_dir, 0.75)
    assert len(records) == 112 and np.isfinite(records.box).all()
    assert np.isfinite(records.score).all() and np.isfinite(records.center).all()
    assert np.isfinite(records.scale).all() and records.scale.max() < 1e4
    assert records.skipped_reasons == {"non-finite bbox": 2, "non-finite score": 1,
                                       "box over 10 times its image's size": 3}
    assert "3 of 118 detections dropped" in caplog.text
    for index, change, match in [
            (5, lambda d: d.__setitem__("score", "0.9"), r"'score' must be a number, got str"),
            (7, lambda d: d.__setitem__("bbox", [1.0, 2.0, 3.0]), r"has 3 values, expected 4"),
            (8, lambda d: d.pop("score"), r"has no 'score'"),
            (9, lambda d: d.__setitem__("image_id", 1.5), r"'image_id' must be an integer")]:
        bad = json.loads(json.dumps(raw[3:12]))
        change(bad[index - 3])
        path = _write(tmp_path, bad, "baddet.json")
        with pytest.raises(AnnotationError, match=rf"baddet.json: detection #{index - 3} "
                           rf"\(image_id .*\): .*{match}"):
            coco.load_coco_detections(path, ann, coco_dir, 0.75)


def _species_file():
    """Two species with the same 3 keypoints (ids 1, 2) and one with 4 (id 3)."""
    data = _tiny_coco(people=2, category_id=1)
    horse = _tiny_coco(people=3, category_id=2, first_id=200)
    fly = _tiny_coco(names=("head", "wingL", "wingR", "tail"), people=4, category_id=3,
                     first_id=300)
    for extra in (horse, fly):
        data["annotations"] += extra["annotations"]
        data["categories"] += extra["categories"]
    data["categories"][1]["name"], data["categories"][2]["name"] = "horse", "fly"
    return data


def test_several_keypoint_categories(tmp_path, caplog):
    path = _write(tmp_path, _species_file(), "species.json")
    records = coco.load_coco_gt(path, str(tmp_path), 0.75)
    assert records.num_keypoints == 3 and list(records.category_id) == [1, 1, 2, 2, 2]
    assert records.skipped_reasons == {"another keypoint category": 4}
    assert "category 3 ('fly'): 4 keypoints, 4 annotations" in caplog.text
    normalised = coco_files.read_annotation_file(path)
    assert [c["id"] for c in normalised["categories"]] == [1, 2]
    assert {a["category_id"] for a in normalised["annotations"]} == {1, 2}
    flies = coco.load_coco_gt(path, str(tmp_path), 0.75, category_ids=(3,))
    assert flies.num_keypoints == 4 and set(flies.category_id) == {3}
    assert flies.flip_pairs == ((1, 2),)
    assert coco_files.dataset_metadata(path, (3,))["keypoint_names"] == ("head", "wingL", "wingR",
                                                                    "tail")
    with pytest.raises(AnnotationError, match=r"\[1, 3\] have different numbers of keypoints"):
        coco_files.read_annotation_file(path, (1, 3))
    with pytest.raises(AnnotationError, match=r"\[9\] are not keypoint categories.*1 \('thing'"):
        coco_files.read_annotation_file(path, (9,))
    # The training file's categories on a validation file that lacks one of
    # them: its people of the others (was an error about a setting never given).
    some = coco.load_coco_gt(path, str(tmp_path), 0.75, category_ids=(2, 9))
    assert set(some.category_id) == {2}
    assert "data.category_ids [9] are not categories of this file; its people of [2]" \
        in caplog.text


def test_detections_keep_their_category(tmp_path):
    path = _write(tmp_path, _species_file(), "species.json")
    dets = [{"image_id": 1, "category_id": c, "bbox": [1.0, 2.0, 30.0, 40.0], "score": 0.5}
            for c in (1, 2, 3, 2)]
    records = coco.load_coco_detections(_write(tmp_path, dets, "det.json"), path,
                                        str(tmp_path), 0.75)
    assert list(records.category_id) == [1, 2, 2]
    assert records.skipped_reasons == {"not a chosen keypoint category": 1}


def test_coco_test_dev_layout(tmp_path, coco_dir):
    """Real layout: image_info_test-dev2017.json (images and categories, no
    annotations), no person_keypoints file, images in images/test2017."""
    data = _real_coco(coco_dir)
    info = {"info": data["info"], "images": data["images"], "licenses": data["licenses"],
            "categories": [{"supercategory": "person", "id": 1, "name": "person"},
                           {"supercategory": "vehicle", "id": 2, "name": "bicycle"}]}
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "images" / "test2017").mkdir(parents=True)
    (root / "annotations" / "image_info_test-dev2017.json").write_text(json.dumps(info))
    for image in data["images"]:
        shutil.copy(os.path.join(coco_dir, image["file_name"]), root / "images" / "test2017")
    shutil.copy(os.path.join(coco_dir, "test_coco_det_AP_H_56.json"), root / "dets.json")
    config = apply_overrides(get_experiment("coco_resnet50_256x192"), [
        f"data.root={root}", "data.test_set=test-dev2017", "test.detection_file=dets.json"])
    assert coco.annotation_path(str(root), "test-dev2017").endswith(
        "annotations/image_info_test-dev2017.json")
    config = datasets.resolve_dataset_config(config)
    records = datasets.load_records(config, "test")
    assert len(records) == 118 and records.num_keypoints == 17
    assert all("/images/test2017/" in p for p in records.image_path)
    assert set(records.category_id) == {1} and records.flip_pairs == COCO_FLIP_PAIRS
    with pytest.raises(AnnotationError, match="image-info file.*no ground truth"):
        datasets.load_records(config, "test", datasets.BoxMode(True))


def test_mpii_bad_entries_name_file_entry_and_field(tmp_path, mpii_dir):
    raw = json.load(open(os.path.join(mpii_dir, "test_mpii.json")))
    cases = [
        (lambda p: p["joints"][3].__setitem__(0, float("nan")), r"'joints'\[3\] .*non-finite"),
        (lambda p: p.__setitem__("center", [float("inf"), 3.0]), r"'center' .*non-finite"),
        (lambda p: p.__setitem__("scale", "1.2"), r"'scale' must be a finite number > 0"),
        (lambda p: p.__setitem__("scale", float("nan")), r"'scale' must be a finite number"),
        (lambda p: p.__setitem__("joints", p["joints"][:15]), r"'joints' must be a list of 16"),
        (lambda p: p["joints_vis"].__setitem__(2, None), r"'joints_vis' has a non-number None"),
        # The flag is the joint's loss weight: these trained silently wrong.
        (lambda p: p["joints_vis"].__setitem__(4, 2), r"'joints_vis'\[4\] must be 0 or 1 .*got 2"),
        (lambda p: p["joints_vis"].__setitem__(0, -1), r"'joints_vis'\[0\] must be 0 or 1"),
        (lambda p: p["joints_vis"].__setitem__(9, 0.5), r"'joints_vis'\[9\] .*got 0.5"),
    ]
    for change, match in cases:
        bad = json.loads(json.dumps(raw))
        change(bad[2])
        path = _write(tmp_path, bad, "mpii.json")
        with pytest.raises(AnnotationError, match=rf"mpii.json: entry 2 \(image "
                           rf"'{raw[2]['image']}'\): {match}"):
            mpii.load_mpii(path, mpii_dir)


def _custom_root(tmp_path, data):
    root = tmp_path / "custom"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "person_keypoints_train2017.json").write_text(json.dumps(data))
    config = default_experiment("custom")
    return config.replace(data=dataclasses.replace(config.data, root=str(root)))


def test_resolve_flip_pairs_and_sigmas_of_a_custom_set(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    animal = [f"part{i}" for i in range(15)] + ["paw_a", "paw_b"]
    config = _custom_root(tmp_path, _tiny_coco(animal, flip_pairs=[[16, 17]]))
    resolved = datasets.resolve_dataset_config(config)
    assert resolved.model.num_keypoints == 17 and resolved.data.flip_pairs == ((15, 16),)
    assert resolved.data.oks_sigmas == (DEFAULT_OKS_SIGMA,) * 17
    assert "17 of 17 keypoints are not COCO keypoints" in caplog.text
    assert "Flip pairs (" in caplog.text and "paw_a<->paw_b" in caplog.text
    override = config.replace(data=dataclasses.replace(config.data, flip_pairs=((0, 1),)))
    assert datasets.resolve_dataset_config(override).data.flip_pairs == ((0, 1),)
    # COCO's keypoints in another order and style: each gets its sigma by name.
    order = list(range(17))[::-1]
    names = [COCO_KEYPOINT_NAMES[i].replace("left_", "L").replace("right_", "R") for i in order]
    resolved = datasets.resolve_dataset_config(_custom_root(tmp_path / "b", _tiny_coco(names)))
    assert resolved.data.oks_sigmas == tuple(COCO_OKS_SIGMAS[i] for i in order)
    assert resolved.data.flip_pairs == tuple(sorted((16 - a, 16 - b)[::-1]
                                                    for a, b in COCO_FLIP_PAIRS))
    wrong = override.replace(data=dataclasses.replace(override.data, oks_sigmas=(0.1,) * 3))
    with pytest.raises(datasets.DatasetError, match="3 values for 17 keypoints"):
        datasets.resolve_dataset_config(wrong)


def test_half_body_of_a_custom_set_knows_its_upper_body(tmp_path, caplog):
    # Own sets had no upper body: half-body cropped around all the visible
    # keypoints in silence; an id beyond K was an IndexError in tf.data.
    caplog.set_level(logging.INFO)
    names = ["RShoulder", "Nose", "LShoulder", "RHip", "LHip"]
    config = _custom_root(tmp_path, _tiny_coco(names))
    assert datasets.resolve_dataset_config(config).data.upper_body_ids == ()  # half-body off

    def half_body(config, ids=()):
        return config.replace(data=dataclasses.replace(config.data, half_body_prob=0.3,
                                                       upper_body_ids=ids))
    assert datasets.resolve_dataset_config(half_body(config)).data.upper_body_ids == (0, 1, 2)
    assert "from the keypoint names): ['RShoulder', 'Nose', 'LShoulder']" in caplog.text
    assert datasets.resolve_dataset_config(half_body(config, (3, 4))).data.upper_body_ids == (3, 4)
    with pytest.raises(datasets.DatasetError, match=r"data.upper_body_ids \[0, 1, 20\]: \[20\] "
                                                    r"outside the 5 keypoints"):
        datasets.resolve_dataset_config(half_body(config, (0, 1, 20)))
    animal = _custom_root(tmp_path / "b", _tiny_coco([f"part{i}" for i in range(5)]))
    assert datasets.resolve_dataset_config(half_body(animal)).data.upper_body_ids == ()
    assert "data.half_body_prob=0.3 without data.upper_body_ids" in caplog.text


def test_keypoints_outside_their_image_or_normalised_are_named(tmp_path, coco_dir, caplog):
    # Trained as targets no crop holds: a loss of 0, nothing learnt, in silence.
    data = _real_coco(coco_dir)
    coco.load_coco_gt(_write(tmp_path, data, "right.json"), coco_dir, 0.75)
    assert "keypoints outside" not in caplog.text and "0..1" not in caplog.text
    people = [a for a in data["annotations"] if max(a["keypoints"][2::3]) > 0]
    moved = json.loads(json.dumps(data))
    for ann in (a for a in moved["annotations"] if a["id"] in {people[0]["id"], people[1]["id"]}):
        ann["keypoints"] = [v + 5000 * (i % 3 != 2) for i, v in enumerate(ann["keypoints"])]
    coco.load_coco_gt(_write(tmp_path, moved, "moved.json"), coco_dir, 0.75)
    assert (f"moved.json: 2 annotation(s) have labelled keypoints outside their image (e.g. "
            f"annotation id {people[0]['id']}, image {people[0]['image_id']})") in caplog.text
    images = {i["id"]: i for i in data["images"]}
    for ann in data["annotations"]:
        image = images[ann["image_id"]]
        ann["keypoints"] = [v / (image["width"], image["height"], 1)[i % 3]
                            for i, v in enumerate(ann["keypoints"])]
    coco.load_coco_gt(_write(tmp_path, data, "unit.json"), coco_dir, 0.75)
    assert "unit.json: all " in caplog.text and "lie within 0..1: normalised" in caplog.text


def test_images_of_another_size_than_their_entries_are_named(tmp_path, coco_dir, caplog):
    # Width and height swapped (an EXIF-turning annotation tool): boxes were
    # clipped to the wrong size, people cut or dropped, AP 0.87 -> 0.45, silently.
    data = _real_coco(coco_dir)
    path = _write(tmp_path, data, "right.json")
    coco.load_coco_gt(path, coco_dir, 0.75)
    assert "images checked are not" not in caplog.text
    for image in data["images"]:
        image["width"], image["height"] = image["height"], image["width"]
    coco.load_coco_gt(_write(tmp_path, data, "swapped.json"), coco_dir, 0.75)
    first = sorted(data["images"], key=lambda i: i["id"])[0]
    assert (f"swapped.json: 4 of 4 images checked are not the width x height their 'images' "
            f"entry gives ({first['file_name']}: entry {first['width']}x{first['height']}, file "
            f"{first['height']}x{first['width']}") in caplog.text
    assert "Swapped sizes come from a tool that showed photos turned by their EXIF tag" \
        in caplog.text


def test_an_image_whose_header_claims_900_megapixels_is_left_to_the_decoder(tmp_path):
    # Pillow's DecompressionBombError came out of train.py and evaluate.py
    # as a traceback (predict.py skipped the file and named it).
    import struct
    import zlib
    def chunk(name, payload):
        return (struct.pack(">I", len(payload)) + name + payload
                + struct.pack(">I", zlib.crc32(name + payload)))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0,
                                                                0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * 64)))  # Then cut.
    (tmp_path / "huge.png").write_bytes(png)
    images = [{"file_name": "huge.png", "width": 30000, "height": 30000}]
    assert coco.check_image_sizes(images, str(tmp_path), "huge.json") == 0


def test_ground_truth_boxes_without_size_or_outside_the_image_are_named(tmp_path, coco_dir,
                                                                           caplog):
    """A negative width was kept as a box of width 0 (a crop that missed the
    person) and a box off the image dropped, each only counted at INFO,
    with no id to find it by. The reference's cleaning stays."""
    data = _real_coco(coco_dir)
    anns = [a for a in data["annotations"] if not a["iscrowd"] and max(a["keypoints"]) > 0]
    anns[0]["bbox"] = [100, 100, -50, 80]
    anns[1]["bbox"] = [5000, 5000, 100, 100]
    path = _write(tmp_path, data, "boxes.json")
    records = coco.load_coco_gt(path, coco_dir, 0.75)
    assert len(records) == 11  # As before: the first kept (width 0), the second dropped.
    assert records.skipped_reasons["zero area or empty box"] == 1
    assert (f"{path}: 1 annotation(s) have a box of no width or height (e.g. annotation id "
            f"{anns[0]['id']}, bbox [100, 100, -50, 80]): cleaned as the reference does"
            ) in caplog.text
    assert (f"{path}: 1 annotation(s) have a box outside its image (e.g. annotation id "
            f"{anns[1]['id']}, bbox [5000, 5000, 100, 100])") in caplog.text
    caplog.clear()
    coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 0.75)
    assert "have a box" not in caplog.text


def test_detections_of_a_category_without_people_are_said(coco_dir, tmp_path, caplog):
    """A file listing a second category of the same keypoints, without
    people, and detections of it: both categories are chosen, the boxes used,
    and the AP was 0.000 without a word."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    data = json.load(open(os.path.join(coco_dir, "test_coco.json")))
    data["categories"].append(dict(data["categories"][0], id=2, name="mannequin"))
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 785, "category_id": c, "bbox": [10, 10, 50, 90],
                                 "score": 0.9} for c in (1, 2, 2)]))
    records = coco.load_coco_detections(str(dets), str(ann), coco_dir, 0.75)
    assert len(records) == 3
    assert "dets.json: 2 detections are of categories [2], of which" in caplog.text
    assert "has no people" in caplog.text
    caplog.clear()
    dets.write_text(json.dumps([{"image_id": 785, "category_id": 1, "bbox": [10, 10, 50, 90],
                                 "score": 0.9}]))
    coco.load_coco_detections(str(dets), str(ann), coco_dir, 0.75)
    assert "no people" not in caplog.text


def test_a_keypoint_count_set_on_a_data_set_that_names_its_keypoints_is_said_replaced(
        tmp_path, coco_dir, caplog):
    """--set model.num_keypoints=5 on a 7-keypoint file: K is the file's 7,
    which replaced the setting without a word; now a warning says so."""
    import logging

    from keras_pose.configs.cli import build_config
    data = json.load(open(os.path.join(coco_dir, "test_coco.json")))
    names = [f"k{i}" for i in range(7)]
    data["categories"] = [{"id": 1, "name": "thing", "keypoints": names, "skeleton": []}]
    for ann in data["annotations"]:
        ann["keypoints"] = np.array(ann["keypoints"]).reshape(17, 3)[:7].reshape(-1).tolist()
    root = str(tmp_path / "things")
    _coco_like(root, "train2017", data, coco_dir)
    caplog.set_level(logging.WARNING, logger="absl")
    config = build_config(dataset="things", data_dir=root, overrides=["model.num_keypoints=5"])
    assert f"model.num_keypoints=5 is replaced by the keypoint count of {root}" in caplog.text
    assert datasets.resolve_dataset_config(config).model.num_keypoints == 7  # As said.
    caplog.clear()
    build_config(dataset="things", data_dir=root, overrides=[
        "model.num_keypoints=2", 'data.keypoint_names=["k0", "k1"]'])
    assert "is replaced" not in caplog.text  # K of the names given: the setting holds.
