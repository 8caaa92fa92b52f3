"""Readers: COCO ground truth and detections, MPII JSON, custom sets, load_records."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from keras_pose.configs import apply_overrides, default_experiment, get_experiment
from keras_pose.data import coco, datasets, mpii
from keras_pose.data.coco import AnnotationError, clean_box


def test_clean_box_reproduces_the_reference_quirks():
    # Shifted, not cropped, when x < 0; one pixel smaller.
    assert clean_box([-10, 5, 50, 20], 640, 480) == [0.0, 5.0, 49.0, 19.0]
    assert clean_box([600, 5, 100, 20], 640, 480) == [600.0, 5.0, 39.0, 19.0]
    assert clean_box([10, 10, 0.5, 0.5], 640, 480) == [10.0, 10.0, 0.0, 0.0]
    assert clean_box([700, 10, 5, 5], 640, 480) is None


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
    assert len(datasets.load_records(config, "test", use_gt_boxes=True)) == 12
    # A missing image: dropped and counted for training, an error for evaluation.
    os.remove(os.path.join(root, "images", "train2017", data["images"][0]["file_name"]))
    os.remove(os.path.join(root, "images", "val2017", data["images"][0]["file_name"]))
    train = datasets.load_records(config, "train")
    assert 0 < len(train) < 12 and train.skipped_reasons["image file missing"] == 12 - len(train)
    with pytest.raises(FileNotFoundError, match=data["images"][0]["file_name"]):
        datasets.load_records(config, "test", use_gt_boxes=True)


def test_missing_data_directory(tmp_path):
    config = apply_overrides(get_experiment("coco_resnet50_256x192"),
                             [f"data.root={tmp_path / 'nothing'}"])
    with pytest.raises(datasets.DatasetError, match="nothing does not exist"):
        datasets.load_records(config, "train")
