"""The ground truth an evaluation scores against: a split with no person to
score is refused in every box mode, and the ground truth's contents tell
one evaluation from another in an output folder."""

import json
import logging
import os
import re
import shutil

import pytest
import scipy.io

from keras_pose.data.datasets import BoxMode, DatasetError, load_records
from keras_pose.evaluation import runner
# The tiny model and the real COCO sample of the evaluate.py tests (MPII: conftest.py).
from tests.test_evaluate_cli import (  # noqa: F401
    DET_FILE, _checkpoint, _tiny_config, coco_checkpoint, coco_root)

NEEDS_PEOPLE = ("; evaluation needs annotated people with keypoints (a split without ground "
                "truth is named with 'test', e.g. test-dev2017, and evaluated on --detections)")


def _copy(root, tmp_path, name="data"):
    """A copy of a sample data set, to edit (the module's own stays whole)."""
    return shutil.copytree(root, tmp_path / name)


def _edit_annotations(root, change):
    path = root / "annotations" / "person_keypoints_val2017.json"
    data = json.loads(path.read_text())
    change(data["annotations"])
    path.write_text(json.dumps(data))
    return str(path)


def _no_keypoints(anns):
    for ann in anns:
        ann["keypoints"], ann["num_keypoints"] = [0] * 51, 0


def _crowds(anns):
    # The sample's 14 people: 12 with keypoints (made crowds), 2 without.
    for ann in anns:
        ann["iscrowd"] = int(ann["num_keypoints"] > 0)


@pytest.mark.parametrize("change, why", [
    (lambda anns: anns.clear(), "it has no annotations"),
    (_no_keypoints, "no labelled keypoints: 14"),
    (_crowds, "crowd: 12, no labelled keypoints: 2"),
])
def test_a_split_with_no_person_to_score_is_refused_with_detections_too(
        coco_root, coco_checkpoint, tmp_path, change, why):
    """With detections, such a split was evaluated: every number -1.000 in
    the table and "AP": -1.0 in metrics.json, exit 0. It is refused before
    any inference and output, in the words of the ground-truth boxes' refusal."""
    root = _copy(coco_root, tmp_path)
    source = _edit_annotations(root, change)
    expected = f"{source}: no person to evaluate in split 'val2017' ({why}){NEEDS_PEOPLE}"
    out = tmp_path / "out"
    for boxes in (dict(detection_file=str(root / "person_detection_results" / DET_FILE)),
                  dict(use_gt_boxes=True)):
        with pytest.raises(DatasetError) as error:
            runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                                  data_dir=str(root), flip=False, output_dir=str(out),
                                  progress=False, **boxes)
        assert str(error.value) == expected
        assert not out.exists()
    # The reader of the people says the same.
    with pytest.raises(DatasetError, match="^" + re.escape(expected) + "$"):
        load_records(_tiny_config("coco", root, 17), "test", BoxMode(True))


def test_a_validation_split_with_no_person_to_score_stops_training_before_it_starts(
        coco_root, tmp_path):
    """train.val_use_gt_boxes=false: validation on detections scored -1
    every epoch; now the refusal of the ground-truth boxes, before training."""
    import dataclasses

    from keras_pose.training.validation_data import TrainingError, validation_setup
    root = _copy(coco_root, tmp_path)
    source = _edit_annotations(root, _no_keypoints)
    config = _tiny_config("coco", root, 17)
    train = load_records(_tiny_config("coco", coco_root, 17), "test", BoxMode(True))
    config = config.replace(
        train=dataclasses.replace(config.train, validate_every=1, val_use_gt_boxes=False),
        test=dataclasses.replace(config.test, detection_file=str(
            root / "person_detection_results" / DET_FILE)))
    expected = (f"validation split: {source}: no person to evaluate in split 'val2017' (no "
                f"labelled keypoints: 14){NEEDS_PEOPLE} (--set train.validate_every=0 trains "
                "without validation)")
    with pytest.raises(TrainingError, match="^" + re.escape(expected) + "$"):
        validation_setup(config, True, train)


def test_a_split_with_one_person_to_score_is_evaluated_with_detections(
        coco_root, coco_checkpoint, tmp_path):
    """One labelled person among crowds and people without keypoints is enough."""
    root = _copy(coco_root, tmp_path)

    def all_but_the_first_crowds(anns):
        for ann in anns[1:]:
            ann["iscrowd"] = int(ann["num_keypoints"] > 0)
    _edit_annotations(root, all_but_the_first_crowds)
    result = runner.run_evaluation(
        checkpoint=coco_checkpoint, dataset="coco", data_dir=str(root), flip=False,
        detection_file=str(root / "person_detection_results" / DET_FILE), progress=False)
    assert result.metrics["AP"] >= 0  # -1 only when COCOeval has no one to score.


def _kept_because(out, caplog, n):
    return f"(the ground truth changed): kept in {out / f'earlier.{n}'}" in caplog.text


def test_coco_ground_truth_edited_keeps_the_earlier_evaluation(coco_root, coco_checkpoint,
                                                               tmp_path, caplog):
    """The annotation file edited and evaluated again into the same
    --output_dir: the earlier results were replaced without a word."""
    caplog.set_level(logging.WARNING, logger="absl")
    root, out = _copy(coco_root, tmp_path), tmp_path / "out"

    def evaluate():
        return runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                                     data_dir=str(root), flip=False, use_gt_boxes=True,
                                     output_dir=str(out), progress=False)
    evaluate()
    first = (out / "metrics.json").read_bytes()
    _edit_annotations(root, lambda anns: anns[0]["keypoints"].__setitem__(0, 300.0))
    evaluate()
    assert (out / "earlier.1" / "metrics.json").read_bytes() == first
    assert _kept_because(out, caplog, 1), caplog.text
    evaluate()  # The same ground truth again: the same evaluation, replaced.
    assert not (out / "earlier.2").exists()


def test_an_earlier_report_without_the_ground_truths_digest_is_the_same_evaluation(
        coco_root, coco_checkpoint, tmp_path):
    """An earlier version's metrics.json records no ground-truth digest: as
    for the model's, what it cannot tell apart is taken for the same
    evaluation (not moved aside for a change nobody made)."""
    out = tmp_path / "out"

    def evaluate():
        return runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                                     data_dir=str(coco_root), flip=False, use_gt_boxes=True,
                                     output_dir=str(out), progress=False)
    evaluate()
    report = json.loads((out / "metrics.json").read_text())
    assert len(report.pop("ground_truth_sha256")) == 64  # A hex SHA-256.
    (out / "metrics.json").write_text(json.dumps(report))
    evaluate()
    assert not (out / "earlier.1").exists()


def test_mpii_ground_truth_edited_keeps_the_earlier_evaluation(mpii_root, tmp_path, caplog):
    """gt_valid.mat, then the split's annotation file, edited between two
    evaluations into one --output_dir: each is another evaluation."""
    caplog.set_level(logging.WARNING, logger="absl")
    root, out = _copy(mpii_root, tmp_path), tmp_path / "out"
    ckpt = _checkpoint(tmp_path / "ckpt", _tiny_config("mpii", root, 16))

    def evaluate():
        return runner.run_evaluation(checkpoint=ckpt, dataset="mpii", data_dir=str(root),
                                     flip=False, output_dir=str(out), progress=False)
    evaluate()
    mat = scipy.io.loadmat(str(root / "annot" / "gt_valid.mat"))
    mat["headboxes_src"] = mat["headboxes_src"] * 1.5  # Other head sizes: other PCKh.
    scipy.io.savemat(str(root / "annot" / "gt_valid.mat"),
                     {k: v for k, v in mat.items() if not k.startswith("__")})
    evaluate()
    assert _kept_because(out, caplog, 1), caplog.text
    people = json.loads((root / "annot" / "valid.json").read_text())
    people[0]["scale"] *= 1.1  # Another crop of the first person.
    (root / "annot" / "valid.json").write_text(json.dumps(people))
    evaluate()
    assert _kept_because(out, caplog, 2), caplog.text
    evaluate()
    assert not (out / "earlier.3").exists()
    assert sorted(os.listdir(out / "earlier.1")) == ["metrics.json", "pred.mat", "table.md"]
