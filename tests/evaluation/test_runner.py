"""The evaluation runner's pieces: names, titles, reports."""

from keras_pose.configs import default_experiment, get_experiment
from keras_pose.data.datasets import BoxMode
from keras_pose.evaluation import runner


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
