"""Box mode, split files and metadata checks of the data sets."""

import dataclasses
import os

import pytest

from keras_pose.configs import default_experiment
from keras_pose.data import datasets
from keras_pose.data.datasets import DatasetError


def _coco_config(root, **test):
    cfg = default_experiment("coco")
    return cfg.replace(data=dataclasses.replace(cfg.data, root=str(root)),
                       test=dataclasses.replace(cfg.test, **test))


def test_box_mode_defaults_to_detections_only_when_the_file_exists(tmp_path):
    cfg = _coco_config(tmp_path)
    mode = datasets.resolve_box_mode(cfg)
    assert mode.use_gt_boxes and mode.describe() == "ground-truth boxes"
    det = tmp_path / cfg.test.detection_file
    det.parent.mkdir(parents=True)
    det.write_text("[]")
    mode = datasets.resolve_box_mode(cfg)
    assert not mode.use_gt_boxes and mode.detection_file == str(det)
    assert mode.name == "detected" and str(det) in mode.describe()
    assert datasets.resolve_box_mode(cfg, use_gt_boxes=True).use_gt_boxes
    assert datasets.resolve_box_mode(_coco_config(tmp_path, use_gt_boxes=True)).use_gt_boxes


def test_box_mode_errors(tmp_path):
    cfg = _coco_config(tmp_path)
    with pytest.raises(DatasetError, match="nothere.json does not exist"):
        datasets.resolve_box_mode(cfg, detection_file=str(tmp_path / "nothere.json"))
    det = tmp_path / "dets.json"
    det.write_text("[]")
    with pytest.raises(DatasetError, match="not both"):
        datasets.resolve_box_mode(cfg, use_gt_boxes=True, detection_file=str(det))
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.resolve_box_mode(_coco_config(tmp_path, use_gt_boxes=False))
    # A folder was "does not exist"; an empty setting "detections file  does not exist";
    # a relative one, looked for under data.root, did not say so.
    with pytest.raises(DatasetError, match=f"detections file {tmp_path} is a folder .*give the"):
        datasets.resolve_box_mode(cfg, detection_file=str(tmp_path))
    with pytest.raises(DatasetError, match="no detections file given: test.detection_file is "
                                           "empty; .*--use_gt_boxes"):
        datasets.resolve_box_mode(_coco_config(tmp_path, detection_file="", use_gt_boxes=False))
    with pytest.raises(DatasetError, match=r"a relative test.detection_file, x/d.json, is read "
                                           f"under data.root {tmp_path}"):
        datasets.resolve_box_mode(_coco_config(tmp_path, detection_file="x/d.json",
                                               use_gt_boxes=False))
    mpii = default_experiment("mpii")
    assert datasets.resolve_box_mode(mpii).use_gt_boxes
    with pytest.raises(DatasetError, match="MPII"):
        datasets.resolve_box_mode(mpii, detection_file=str(det))
    with pytest.raises(DatasetError, match="MPII .*--nouse_gt_boxes do not apply"):
        datasets.resolve_box_mode(mpii, use_gt_boxes=False)  # was ignored in silence


def test_a_test_split_uses_detections_and_its_image_info_file(tmp_path):
    cfg = _coco_config(tmp_path)
    test_dev = cfg.replace(data=dataclasses.replace(cfg.data, test_set="test-dev2017"))
    assert datasets.is_test_split(test_dev) and not datasets.is_test_split(cfg)
    assert datasets.annotation_file(test_dev, "test") == os.path.join(
        str(tmp_path), "annotations", "image_info_test-dev2017.json")
    assert datasets.annotation_file(cfg, "test").endswith("person_keypoints_val2017.json")
    with pytest.raises(DatasetError, match="detections file"):
        datasets.resolve_box_mode(test_dev)
    det = tmp_path / cfg.test.detection_file
    det.parent.mkdir(parents=True)
    det.write_text("[]")
    assert datasets.resolve_box_mode(test_dev).detection_file == str(det)
    # --use_gt_boxes was dropped in silence for the detections.
    with pytest.raises(DatasetError, match="test-dev2017 is a test split.*--use_gt_boxes "
                       "cannot apply; drop it"):
        datasets.resolve_box_mode(test_dev, use_gt_boxes=True)


def test_a_labelled_split_named_test_has_its_ground_truth(tmp_path):
    # An own data set's "test" split with person_keypoints_test.json: was
    # looked up as image_info_test.json (validation off, evaluation asking
    # for detections, --use_gt_boxes overridden).
    cfg = _coco_config(tmp_path)
    test = cfg.replace(data=dataclasses.replace(cfg.data, test_set="test"))
    assert datasets.is_test_split(test)  # nothing on disk: the reference's rule
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "person_keypoints_test.json").write_text("{}")
    assert not datasets.is_test_split(test)
    assert datasets.annotation_file(test, "test").endswith("person_keypoints_test.json")
    assert datasets.resolve_box_mode(test, use_gt_boxes=True).use_gt_boxes
    # COCO's test-dev keeps its rule: its image-info file decides.
    (tmp_path / "annotations" / "image_info_test.json").write_text("{}")
    assert datasets.is_test_split(test)


def test_metadata_mismatch_names_both(coco_dir):
    from keras_pose.data import coco
    records = coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 0.75)
    cfg = default_experiment("coco")
    datasets.check_metadata(cfg, records, "checkpoint X")  # same names: fine
    swapped = list(cfg.data.keypoint_names)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    other = cfg.replace(data=dataclasses.replace(cfg.data, keypoint_names=tuple(swapped)))
    with pytest.raises(DatasetError, match="checkpoint X was trained on .*right_eye.*left_eye"):
        datasets.check_metadata(other, records, "checkpoint X")
    # The same keypoints in another order: renaming them (the hint for a
    # spelling difference) would evaluate at AP 0 in silence, so it is not given.
    with pytest.raises(DatasetError, match=r"'left_eye' is keypoint 1 in the data, 2 in the "
                                           r"model.*in the model's order$") as error:
        datasets.check_metadata(other, records, "checkpoint X")
    assert "data.keypoint_names" not in str(error.value)
    mpii = default_experiment("mpii")
    with pytest.raises(DatasetError, match="K=16"):
        datasets.check_metadata(mpii, records, "checkpoint Y")
    # Another naming style of the same keypoints (a preset spells them as its
    # source did) is the same; another name is not, and the error says how
    # to settle a mere spelling difference.
    styled = tuple(n.replace("left_", "L_").replace("right_", "R_").title()
                   for n in cfg.data.keypoint_names)
    assert styled[1] == "L_Eye"
    datasets.check_metadata(cfg.replace(data=dataclasses.replace(
        cfg.data, keypoint_names=styled)), records, "preset Z")
    renamed = cfg.replace(data=dataclasses.replace(
        cfg.data, keypoint_names=("snout",) + cfg.data.keypoint_names[1:]))
    with pytest.raises(DatasetError, match="pass --set data.keypoint_names="):
        datasets.check_metadata(renamed, records, "preset Z")


def test_training_names_given_in_another_order_than_the_files_are_refused(coco_dir):
    # --set data.keypoint_names names the training file's keypoints: in
    # another order, flip pairs and sigmas would go to the wrong channels.
    from keras_pose.data import coco
    records = coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 0.75)
    cfg = default_experiment("coco")
    datasets.check_order(cfg, records)
    styled = tuple(n.replace("left_", "L").replace("right_", "R") for n in cfg.data.keypoint_names)
    datasets.check_order(cfg.replace(data=dataclasses.replace(cfg.data, keypoint_names=styled)),
                         records)
    swapped = (styled[0], styled[2], styled[1]) + styled[3:]
    with pytest.raises(DatasetError, match=r"test_coco.json .*'Reye' is keypoint 1 in "
                                           r"data.keypoint_names, 2 in the file.*drop it"):
        datasets.check_order(cfg.replace(data=dataclasses.replace(
            cfg.data, keypoint_names=swapped)), records)


def test_missing_split_files_name_what_the_folder_holds_and_the_settings(tmp_path):
    cfg = default_experiment("coco")
    cfg = cfg.replace(data=dataclasses.replace(cfg.data, root=str(tmp_path), dataset="custom",
                                               keypoint_names=()))
    (tmp_path / "annotations").mkdir()
    with pytest.raises(DatasetError, match=r"holds no \.json file"):
        datasets.resolve_dataset_config(cfg)
    for name in ("person_keypoints_val.json", "person_keypoints_train.json", "notes.json"):
        (tmp_path / "annotations" / name).write_text("{}")
    with pytest.raises(DatasetError) as info:
        datasets.resolve_dataset_config(cfg)
    message = str(info.value)
    assert "person_keypoints_train2017.json" in message  # what was expected
    assert "holds notes.json, person_keypoints_train.json, person_keypoints_val.json" in message
    assert "--set data.train_set=train --set data.test_set=val" in message


def test_no_person_of_the_chosen_category_names_the_setting():
    import types
    records = types.SimpleNamespace(source="mine/train.json",
                                    skipped_reasons={"another keypoint category": 14})
    assert datasets._no_people(records, "train", "train", "custom") == (
        "mine/train.json: no usable person in the training split (another keypoint category: "
        "14); people of another keypoint category are left out: choose the categories with "
        "--set data.category_ids=<ids>")


def test_an_mpii_split_without_people_says_what_it_must_hold(tmp_path):
    """An empty annot/valid.json was told of COCO's test-dev splits and
    --detections, which MPII has neither of."""
    cfg = default_experiment("mpii")
    cfg = cfg.replace(data=dataclasses.replace(cfg.data, root=str(tmp_path)))
    (tmp_path / "annot").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "annot" / "valid.json").write_text("[]")
    with pytest.raises(DatasetError, match=r"valid.json: no person to evaluate in split "
                       r"'valid' \(it has no annotations\); it must list the split's people "
                       r"with their joints \(scripts/convert_mpii_mat.py writes it from the "
                       r"MPII release\)$"):
        datasets.load_records(cfg, "test")


def test_a_synthetic_run_naming_cocos_detections_is_shown_its_own(tmp_path):
    """Checkpoints of earlier versions record COCO's detections file for
    the synthetic set: --nouse_gt_boxes named the missing file only."""
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.data import synthetic
    root = str(tmp_path / "data")
    synthetic.ensure_dataset(root, num_train=2, num_val=2)
    config = apply_overrides(get_experiment("tiny"), [
        f"data.root={root}", "test.detection_file=person_detection_results/"
        "COCO_val2017_detections_AP_H_56_person.json"])
    own = synthetic.detections_file(root)
    with pytest.raises(DatasetError, match=f"COCO_val2017_detections_AP_H_56_person.json does "
                       f"not exist .*; the synthetic set's own detections are {own} "
                       rf"\(evaluate.py --detections {own}, or --set "
                       rf"test.detection_file={own}\)$"):
        datasets.resolve_box_mode(config, use_gt_boxes=False)
    assert datasets.resolve_box_mode(config, detection_file=own).detection_file == own


def test_a_missing_custom_data_folder_names_the_layout_it_should_hold(tmp_path):
    """Was "expected the custom layout described in the README", a layout
    the README never names (it calls data/<name> the COCO layout)."""
    from keras_pose.configs.cli import build_config
    from keras_pose.data.datasets import DatasetError, resolve_dataset_config
    with pytest.raises(DatasetError, match=r"expected the COCO layout: annotations/"
                                           r"person_keypoints_<split>\.json and images/<split>/"):
        resolve_dataset_config(build_config(dataset="mydata", data_dir=str(tmp_path / "no")))
