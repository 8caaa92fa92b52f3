"""The evaluation runner's pieces: names, titles, reports."""

import dataclasses
import json
import os

import pytest

from keras_pose.configs import default_experiment, get_experiment
from keras_pose.data.datasets import BoxMode, load_records
from keras_pose.evaluation import mpii, runner
from keras_pose.evaluation.metrics import metric_for
from keras_pose.inference import load_pose_model
# The tiny model and the real COCO sample of the evaluate.py tests (MPII: conftest.py)
# (module fixtures: built once for this module).
from tests.test_evaluate_cli import (  # noqa: F401
    _checkpoint, _tiny_config, coco_checkpoint, coco_root)


def test_arch_name_is_the_official_full_arch_name():
    assert runner.arch_name(get_experiment("coco_resnet50_256x192")) == \
        "256x192_pose_resnet_50_d256d256d256"
    assert runner.arch_name(get_experiment("mpii_resnet101_384x384")) == \
        "384x384_pose_resnet_101_d256d256d256"


def test_table_title_says_which_boxes_and_flip():
    coco = default_experiment("coco")
    title = runner.table_title(coco, BoxMode(False, "dets.json"), True)
    assert title == "coco val2017 | detected boxes (dets.json) | flip test"
    assert runner.table_title(coco, BoxMode(True), False).endswith(
        "ground-truth boxes | no flip test")
    assert "Mean@0.1" in runner.table_title(default_experiment("mpii"), BoxMode(True), True)


def test_a_detections_file_name_that_is_not_utf8_is_escaped_in_the_title():
    """dets\\xff.json (a str holding a lone surrogate): table.md's UTF-8
    write failed after the whole evaluation, no metrics written."""
    title = runner.table_title(default_experiment("coco"), BoxMode(False, "dets\udcff.json"),
                               True)
    assert title == "coco val2017 | detected boxes (dets\\xff.json) | flip test"
    title.encode("utf-8")


def test_a_nan_metric_is_null_in_metrics_json(tmp_path):
    """MPII with a joint never visible in the split: its PCKh is NaN, which
    json.dumps wrote as a bare NaN (no strict JSON reader takes it)."""
    import json
    report = {"metrics": {"Head": 97.1, "Ankle": float("nan"), "x": [float("inf"), 1.0]}}
    path = runner.write_report(str(tmp_path), report)
    text = open(path).read()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["metrics"] == {"Head": 97.1, "Ankle": None, "x": [None, 1.0]}


def test_metrics_json_names_the_decoding():
    """A DARK model's metrics.json said "quarter_offset_refinement": true and
    named its decoding nowhere but deep in its config."""
    import dataclasses
    import types
    coco = default_experiment("coco")
    metric = types.SimpleNamespace(primary="AP", describe=lambda threshold: "OKS AP")

    def report(model=None, **test):
        config = coco.replace(model=dataclasses.replace(coco.model, **(model or {})),
                              test=dataclasses.replace(coco.test, **test))
        return runner.metrics_report({}, config, metric, box_mode=BoxMode(True),
                                     flip=True)
    dark = report(model={"codec": "dark"})
    assert dark["decoding"] == {"codec": "dark", "refinement": "modulation and Taylor step",
                                "blur_kernel": 11}
    assert dark["quarter_offset_refinement"] is False
    plain = report()
    assert plain["decoding"] == {"codec": "msra", "refinement": "quarter offset"}
    assert plain["quarter_offset_refinement"] is True
    assert report(decoding="dark", blur_kernel=7)["decoding"]["blur_kernel"] == 7
    assert report(refine=False)["decoding"] == {"codec": "msra", "refinement": None}


def test_a_batch_size_below_one_is_refused_not_replaced():
    """batch_size 0 (evaluate.py --batch_size 0, or the API) fell back to
    the config's batch size in silence."""
    import pytest
    coco = default_experiment("coco")
    assert runner.evaluation_config(coco, batch_size=3).test.batch_size == 3
    assert runner.evaluation_config(coco).test.batch_size == coco.test.batch_size
    for bad in (0, -3):
        with pytest.raises(runner.EvaluationError, match=f"batch_size .* is {bad}: give 1"):
            runner.evaluation_config(coco, batch_size=bad)


def test_reports_hold_absolute_paths_and_compare_by_them(tmp_path, monkeypatch):
    """evaluate.py --data_dir own (relative) run from two folders into one
    --output_dir: the second replaced the first in silence (data_root was
    stored as typed and the config's relative root compared equal)."""
    import dataclasses
    import types
    coco = default_experiment("coco")
    metric = types.SimpleNamespace(primary="AP", describe=lambda threshold: "OKS AP")
    config = coco.replace(data=dataclasses.replace(coco.data, root="own"))

    def report_in(folder):
        (tmp_path / folder).mkdir(exist_ok=True)
        monkeypatch.chdir(tmp_path / folder)
        return runner.metrics_report({}, config, metric, box_mode=BoxMode(False, "d.json"),
                                     flip=True)
    first, second = report_in("a"), report_in("b")
    assert first["data_root"] == str(tmp_path / "a" / "own")
    assert first["detection_file"] == str(tmp_path / "a" / "d.json")
    assert runner._evaluation_key(first) != runner._evaluation_key(second)
    assert runner._evaluation_key(report_in("a")) == runner._evaluation_key(first)


def test_mpii_evaluations_without_then_with_flip_keep_the_first_whole(mpii_root, tmp_path):
    """--noflip then --flip into one folder: the first run's metrics, table and pred.mat kept whole."""
    ckpt = _checkpoint(tmp_path / "ckpt", _tiny_config("mpii", mpii_root, 16))
    out = tmp_path / "out"

    def evaluate(flip):
        return runner.run_evaluation(checkpoint=ckpt, dataset="mpii", data_dir=str(mpii_root),
                                     flip=flip, output_dir=str(out), progress=False)
    evaluate(False)
    first = {name: (out / name).read_bytes() for name in ("metrics.json", "table.md",
                                                          "pred.mat")}
    evaluate(True)
    kept = out / "earlier.1"
    assert kept.is_dir(), f"the no-flip evaluation was not kept aside: {os.listdir(out)}"
    # MPII's outputs: metrics.json, table.md and pred.mat (no results/ folder).
    assert sorted(os.listdir(kept)) == ["metrics.json", "pred.mat", "table.md"]
    assert json.loads((kept / "metrics.json").read_text())["flip_test"] is False
    assert {name: (kept / name).read_bytes() for name in first} == first
    assert json.loads((out / "metrics.json").read_text())["flip_test"] is True
    assert mpii.read_pred_mat(str(out / "pred.mat")).shape == (5, 16, 2)  # 5 people, 16 joints.


def test_a_second_validation_with_the_same_metric_scores_only_its_own_predictions(
        coco_root, coco_checkpoint):
    """A validation scores only its own predictions, not the earlier ones too (best/ on true AP)."""
    config = _tiny_config("coco", coco_root, 17)
    records = load_records(config, "test", BoxMode(True))
    estimator = load_pose_model(coco_checkpoint).estimator(False)
    metric = metric_for(config)
    first = runner.evaluate(estimator, records, metric, batch_size=8)
    second = runner.evaluate(estimator, records, metric, batch_size=8)
    # The sample's 12 annotated people with keypoints (ground-truth boxes),
    # at most one result each after OKS NMS; the same model on the same people
    # gives the same numbers every time.
    assert first["num_people"] == second["num_people"] == 12
    assert 0 < first["num_results"] <= 12
    assert second["num_results"] == first["num_results"]
    assert second == pytest.approx(first)


def test_the_validation_digest_changes_with_the_detections_files_contents(tmp_path):
    """Other boxes in the same detections file are another validation (no AP compared across them)."""
    coco = default_experiment("coco")
    coco = coco.replace(data=dataclasses.replace(coco.data, root=str(tmp_path)))
    dets = tmp_path / "dets.json"

    def digest(boxes):
        dets.write_text(json.dumps([{"image_id": 785, "category_id": 1, "bbox": box,
                                     "score": 0.9} for box in boxes]))
        return runner.validation_digest(coco, BoxMode(False, str(dets)))
    one = digest([[10, 20, 30, 40]])
    assert digest([[10, 20, 30, 40]]) == one  # The same contents: the same digest.
    assert digest([[10, 20, 30, 41]]) != one
    assert digest([[10, 20, 30, 40], [50, 60, 30, 40]]) != one
