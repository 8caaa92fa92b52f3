"""evaluate.py end to end on a tiny model and the real COCO / MPII samples."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from keras_pose.configs import get_experiment
from tests.reference_impl import write_official_gt_mat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DET_FILE = "COCO_val2017_detections_AP_H_56_person.json"


def _tiny_config(dataset, root, num_keypoints):
    base = get_experiment("tiny")
    source = get_experiment("coco_resnet50_256x192" if dataset == "coco"
                            else "mpii_resnet50_256x256")
    model = dataclasses.replace(base.model, num_keypoints=num_keypoints,
                                image_size=(32, 64), heatmap_size=(8, 16),
                                deconv_filters=(16, 16, 16))
    return source.replace(name=f"tiny_{dataset}", model=model,
                          data=_first_keypoints(source.data, num_keypoints, root),
                          test=dataclasses.replace(source.test, batch_size=8))


def _first_keypoints(data, k, root):
    """The data set's metadata cut to its first ``k`` keypoints (a checkpoint
    of another K is loaded only with metadata of its own K)."""
    inside = lambda pairs: tuple(p for p in pairs if max(p) < k)  # noqa: E731
    return dataclasses.replace(
        data, root=str(root), keypoint_names=data.keypoint_names[:k],
        oks_sigmas=data.oks_sigmas[:k], flip_pairs=inside(data.flip_pairs),
        skeleton=inside(data.skeleton),
        upper_body_ids=tuple(i for i in data.upper_body_ids if i < k))


def _checkpoint(path, config):
    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.models import build_model_from_config
    model = build_model_from_config(config.model)
    save_model_checkpoint(model, config, str(path))
    return str(path)


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory, coco_dir):
    """The real COCO sample in the reference layout, with detections."""
    root = tmp_path_factory.mktemp("coco")
    os.makedirs(root / "annotations")
    os.makedirs(root / "images" / "val2017")
    os.makedirs(root / "person_detection_results")
    shutil.copy(os.path.join(coco_dir, "test_coco.json"),
                root / "annotations" / "person_keypoints_val2017.json")
    shutil.copy(os.path.join(coco_dir, "test_coco_det_AP_H_56.json"),
                root / "person_detection_results" / DET_FILE)
    for name in os.listdir(coco_dir):
        if name.endswith(".jpg"):
            shutil.copy(os.path.join(coco_dir, name), root / "images" / "val2017" / name)
    return root


@pytest.fixture
def run_evaluate(run_script):
    return run_script("evaluate.py")


@pytest.fixture(scope="module")
def coco_checkpoint(tmp_path_factory, coco_root):
    return _checkpoint(tmp_path_factory.mktemp("ckpt") / "best",
                       _tiny_config("coco", coco_root, 17))


def test_cli_detected_boxes_flip_writes_consistent_metrics(run_evaluate, coco_root,
                                                           coco_checkpoint, tmp_path):
    from pycocotools.coco import COCO

    from keras_pose.evaluation import coco as coco_eval

    out = tmp_path / "eval"
    code, stdout, stderr = run_evaluate(
        ["--dataset", "coco", "--data_dir", str(coco_root), "--checkpoint", coco_checkpoint,
         "--flip", "--output_dir", str(out), "--noprogress", "--batch_size", "16"])
    assert code == 0, stderr[-3000:]
    with open(out / "metrics.json") as f:
        report = json.load(f)
    # The table on stdout is the one in metrics.json, and says which boxes.
    assert report["table"] and report["table"] in stdout
    assert "detected boxes" in report["table"] and "flip test" in report["table"]
    assert report["box_mode"] == "detected"
    assert report["detection_file"].endswith(DET_FILE)
    assert report["flip_test"] is True and report["shift_heatmap"] is True
    assert report["decoding"] == {"codec": "msra", "refinement": "quarter offset"}
    assert report["quarter_offset_refinement"] is True
    assert report["dataset"] == "coco" and report["split"] == "val2017"
    assert report["checkpoint"] == os.path.abspath(coco_checkpoint)
    assert report["num_images"] == 4
    assert report["num_people"] == 118  # every detection (image_thre 0)
    assert list(report["metrics"]) == list(coco_eval.STATS_NAMES)
    row = report["table"].splitlines()[-1].split("|")[2:-1]
    assert [float(v) for v in row] == pytest.approx(
        [report["metrics"][n] for n in coco_eval.STATS_NAMES], abs=5e-4)
    # The written results give the same AP when scored again from the file.
    results_file = out / "results" / "keypoints_val2017_results.json"
    with open(results_file) as f:
        results = json.load(f)
    assert len(results) == report["num_results"] > 0
    assert {r["image_id"] for r in results} <= {785, 40083, 196141, 197388}
    again = coco_eval.run_cocoeval(
        COCO(str(coco_root / "annotations" / "person_keypoints_val2017.json")),
        str(results_file))
    assert again == pytest.approx(report["metrics"])


def test_ground_truth_boxes_without_flip(coco_root, coco_checkpoint, tmp_path):
    from keras_pose.evaluation import runner
    result = runner.run_evaluation(
        checkpoint=coco_checkpoint, dataset="coco", data_dir=str(coco_root),
        flip=False, use_gt_boxes=True, output_dir=str(tmp_path), progress=False)
    with open(result.metrics_file) as f:
        report = json.load(f)
    assert report["box_mode"] == "ground_truth" and report["flip_test"] is False
    assert "ground-truth boxes" in result.table and "no flip test" in result.table
    assert report["num_people"] == 12  # annotated people with keypoints
    # The numbers are COCOeval's on the written results (scored again here).
    from pycocotools.coco import COCO

    from keras_pose.evaluation import coco as coco_eval
    again = coco_eval.run_cocoeval(
        COCO(str(coco_root / "annotations" / "person_keypoints_val2017.json")),
        str(tmp_path / "results" / "keypoints_val2017_results.json"))
    assert again == pytest.approx({k: result.metrics[k] for k in coco_eval.STATS_NAMES})


def test_ground_truth_as_predictions_through_records_gives_ap_one(coco_root):
    from keras_pose.data.datasets import BoxMode, load_records
    from keras_pose.evaluation.metrics import metric_for
    from keras_pose.inference.records import Predictions
    config = _tiny_config("coco", coco_root, 17)
    records = load_records(config, "test", BoxMode(True))
    metric = metric_for(config)
    metric.update(Predictions(records.joints, records.joints_vis.astype(np.float32),
                              np.ones(len(records), np.float32)), records)
    assert metric.result()["AP"] == pytest.approx(1.0)


def test_bad_detections_and_checkpoints_are_clear_errors(coco_root, coco_checkpoint, tmp_path):
    from keras_pose.evaluation import runner
    other = tmp_path / "other_images.json"
    other.write_text(json.dumps([{"image_id": 999, "category_id": 1,
                                  "bbox": [1, 2, 30, 40], "score": 0.9}]))
    with pytest.raises(ValueError, match="999|other_images.json"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                              data_dir=str(coco_root), detection_file=str(other),
                              progress=False)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(ValueError, match="empty.json|no people"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                              data_dir=str(coco_root), detection_file=str(empty),
                              progress=False)
    wrong_k = _checkpoint(tmp_path / "k16", _tiny_config("coco", coco_root, 16))
    # Both named: the data file and the checkpoint.
    with pytest.raises(ValueError, match=r"\.json has 17 keypoints but checkpoint "
                       rf"{re.escape(wrong_k)}\S* has model.num_keypoints=16"):
        runner.run_evaluation(checkpoint=wrong_k, dataset="coco",
                              data_dir=str(coco_root), progress=False)


def test_a_split_without_annotations_is_a_clear_error(coco_root, coco_checkpoint, tmp_path):
    from keras_pose.data.datasets import DatasetError
    from keras_pose.evaluation import runner
    root = tmp_path / "coco"
    shutil.copytree(coco_root, root)
    path = root / "annotations" / "person_keypoints_val2017.json"
    data = json.loads(path.read_text())
    data["annotations"] = []
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"person_keypoints_val2017.json: no person to "
                       r"evaluate in split 'val2017' \(it has no annotations\)"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco", data_dir=str(root),
                              use_gt_boxes=True, progress=False)


def test_cli_error_is_one_clear_line(run_evaluate, coco_root, tmp_path):
    code, _, stderr = run_evaluate(["--dataset", "coco", "--data_dir", str(coco_root),
                                    "--checkpoint", str(tmp_path / "missing_ckpt")])
    assert code == 1
    assert "missing_ckpt does not exist" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow  # evaluate.py in a subprocess
def test_a_bug_deep_in_the_evaluation_shows_its_traceback(coco_root, coco_checkpoint):
    """evaluate.py as a user runs it, with a bug planted where the network
    runs over the people: the traceback, not a one-line 'error'."""
    planted = ("import runpy, sys\n"
               "import keras_pose.inference.records as records\n"
               "def buggy(*args, **kwargs):\n"
               "    return {}['image_id']\n"
               "records.predict_records = buggy\n"
               f"sys.argv = ['evaluate.py', '--dataset', 'coco', '--data_dir', {str(coco_root)!r},"
               f" '--checkpoint', {coco_checkpoint!r}, '--use_gt_boxes', '--noprogress']\n"
               "runpy.run_path('evaluate.py', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", planted], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "KeyError: 'image_id'" in proc.stderr
    assert "evaluate.py: error" not in proc.stderr


def test_mpii_end_to_end_pckh_and_pred_mat(mpii_root, tmp_path, monkeypatch):
    import scipy.io
    from keras_pose.evaluation import mpii, runner
    ckpt = _checkpoint(tmp_path / "mpii_ckpt", _tiny_config("mpii", mpii_root, 16))
    out = tmp_path / "eval"
    result = runner.run_evaluation(checkpoint=ckpt, dataset="mpii", data_dir=str(mpii_root),
                                   flip=True, output_dir=str(out), progress=False)
    assert list(result.table.splitlines()[1].split("|")[2:-1]) == [
        f" {c} " for c in mpii.TABLE_COLUMNS]
    preds = mpii.read_pred_mat(str(out / "pred.mat"))
    assert preds.shape == (5, 16, 2)
    again = mpii.evaluate_pckh(preds, str(mpii_root / "annot" / "gt_valid.mat"))
    for name in mpii.TABLE_COLUMNS:
        assert result.metrics[name] == pytest.approx(again[name]), name
    with open(out / "metrics.json") as f:
        report = json.load(f)
    assert report["primary_metric"] == "Mean" and report["num_people"] == 5
    assert "0.11" in report["method"]
    # A missing gt_valid.mat stops before the network runs.
    with pytest.raises(mpii.GroundTruthError, match="gt_missing.mat does not exist"):
        runner.run_evaluation(checkpoint=ckpt, dataset="mpii", data_dir=str(mpii_root),
                              overrides=["test.gt_mat=annot/gt_missing.mat"],
                              progress=False)
    # So does a .mat of another number of people (a traceback after the inference).
    gt = mpii.load_gt_mat(str(mpii_root / "annot" / "gt_valid.mat"))
    cut = str(tmp_path / "gt_4.mat")
    scipy.io.savemat(cut, {"dataset_joints": scipy.io.loadmat(
        str(mpii_root / "annot" / "gt_valid.mat"))["dataset_joints"],
        "jnt_missing": gt["jnt_missing"][:, :4], "pos_gt_src": gt["pos_gt_src"][..., :4],
        "headboxes_src": gt["headboxes_src"][..., :4]})
    calls = []
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: calls.append(1))
    with pytest.raises(mpii.GroundTruthError, match=r"gt_4.mat holds 4 people but .*valid.json "
                                                    r"has 5: PCKh pairs them by position"):
        runner.run_evaluation(checkpoint=ckpt, dataset="mpii", data_dir=str(mpii_root),
                              overrides=[f"test.gt_mat={cut}"], progress=False)
    # And a .mat of the same people in another order (PCKh 3.0 for 39.4, in silence).
    reversed_gt = str(tmp_path / "gt_reversed.mat")
    write_official_gt_mat(reversed_gt, np.transpose(gt["pos_gt_src"][..., ::-1], (2, 0, 1)),
                          1 - gt["jnt_missing"][:, ::-1].T,
                          np.transpose(gt["headboxes_src"][..., ::-1], (2, 0, 1)))
    with pytest.raises(mpii.GroundTruthError, match=r"gt_reversed.mat and .*valid.json list "
                       r"other people at the same places \(4 of 5, e.g. person #0"):
        runner.run_evaluation(checkpoint=ckpt, dataset="mpii", data_dir=str(mpii_root),
                              overrides=[f"test.gt_mat={reversed_gt}"], progress=False)
    assert calls == []


def test_corrupt_image_is_named(coco_root, coco_checkpoint, tmp_path):
    from keras_pose.evaluation import runner
    root = tmp_path / "coco"
    shutil.copytree(coco_root, root)
    bad = root / "images" / "val2017" / "000000040083.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    from keras_pose.data.images import ImageReadError
    with pytest.raises(ImageReadError, match="000000040083.jpg"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                              data_dir=str(root), use_gt_boxes=True, progress=False)


def test_test_dev_split_writes_results_without_ground_truth(coco_root, coco_checkpoint, tmp_path,
                                                             run_evaluate):
    from keras_pose.evaluation import runner
    # The real layout: an image-info file (images and categories, no
    # annotations), no person_keypoints file, the images in test2017/.
    root = tmp_path / "coco"
    os.makedirs(root / "annotations")
    shutil.copytree(coco_root / "images" / "val2017", root / "images" / "test2017")
    with open(coco_root / "annotations" / "person_keypoints_val2017.json") as f:
        info = json.load(f)
    info.pop("annotations")
    with open(root / "annotations" / "image_info_test-dev2017.json", "w") as f:
        json.dump(info, f)
    dets = coco_root / "person_detection_results" / DET_FILE
    out = tmp_path / "out"
    result = runner.run_evaluation(
        checkpoint=coco_checkpoint, dataset="coco", data_dir=str(root), flip=False,
        detection_file=str(dets), overrides=["data.test_set=test-dev2017"],
        output_dir=str(out), progress=False)
    assert result.table == "" and "AP" not in result.metrics
    with open(out / "results" / "keypoints_test-dev2017_results.json") as f:
        results = json.load(f)
    assert len(results) == result.metrics["num_results"] > 0
    assert set(results[0]) >= {"image_id", "category_id", "keypoints", "score"}
    code, stdout, err = run_evaluate(["--checkpoint", coco_checkpoint, "--dataset", "coco",
                                      "--data_dir", str(root), "--detections", str(dets),
                                      "--set", "data.test_set=test-dev2017", "--output_dir",
                                      str(out), "--noprogress"])
    assert code == 0, err[-2000:]  # It named "the results file"; MPII's is pred.mat.
    assert "only (submit results to the benchmark's server)" in stdout
    # Without --output_dir the predictions, the only result, went nowhere
    # (the run said they were written): refused before the inference.
    from keras_pose.evaluation.runner import EvaluationError
    with pytest.raises(EvaluationError, match=r"split test-dev2017 has no ground truth.*give "
                                              r"--output_dir"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco", data_dir=str(root),
                              detection_file=str(dets), overrides=["data.test_set=test-dev2017"],
                              progress=False)


def test_an_onnx_export_is_evaluated_as_the_saved_model(coco_root, tiny_exported, tiny_onnx,
                                                        tmp_path, run_evaluate):
    """evaluate.py --checkpoint <.onnx>: the AP the user gets from the
    export, through the same crops, flip test, decoding and rescoring as the
    SavedModel (keypoints within 1e-3 px); metrics.json and table.md say
    which runtime and precision ran."""
    reports, keypoints = {}, {}
    for name, checkpoint in (("saved", tiny_exported[3]), ("onnx", tiny_onnx)):
        code, _, err = run_evaluate(["--checkpoint", checkpoint, "--dataset", "coco",
                                     "--data_dir", str(coco_root), "--use_gt_boxes", "--flip",
                                     "--output_dir", str(tmp_path / name), "--noprogress"])
        assert code == 0, err[-3000:]
        reports[name] = json.load(open(tmp_path / name / "metrics.json"))
        results = json.load(open(tmp_path / name / "results" / "keypoints_val2017_results.json"))
        keypoints[name] = np.array([r["keypoints"] for r in results])
    assert (reports["onnx"]["runtime"], reports["onnx"]["precision"]) == ("onnxruntime", "fp32")
    assert (reports["saved"]["runtime"], reports["saved"]["precision"]) == ("tf", "fp32")
    assert reports["onnx"]["checkpoint_kind"] == "onnx"
    assert "| onnxruntime fp32" in (tmp_path / "onnx" / "table.md").read_text()
    np.testing.assert_allclose(keypoints["onnx"], keypoints["saved"], atol=1e-3)
    assert reports["onnx"]["metrics"] == pytest.approx(reports["saved"]["metrics"], abs=1e-6)


@pytest.mark.slow  # an int8 export
def test_runtime_int8_calibrates_and_guards_on_the_evaluated_data(
        coco_root, tiny_exported, fake_onnx_export, tmp_path):
    """--runtime / --precision on a checkpoint: the export is made from the
    data set evaluated here (only its val2017 split is on disk, as for many
    COCO users: it calibrates too) and metrics.json says what ran. The int8
    export itself is replaced by the fp32 ONNX (tests/export/test_cache.py
    and the slow tests run real ones)."""
    from keras_pose.export import runtimes
    from keras_pose.evaluation import runner
    checkpoint = str(tmp_path / "ckpt")
    shutil.copytree(tiny_exported[2], checkpoint)
    result = runner.run_evaluation(
        checkpoint=checkpoint, dataset="coco", data_dir=str(coco_root), use_gt_boxes=True,
        output_dir=str(tmp_path / "eval"), progress=False, runtime="onnxruntime",
        precision="int8")
    (_, precision, crops), = fake_onnx_export
    assert precision == "int8" and crops[0] == 118  # val2017's people (detected boxes).
    side = runtimes.read_sidecar(os.path.join(checkpoint, "exports", "onnxruntime-int8",
                                              "heatmaps.onnx"))
    assert side["calibration"] == f"118 people of {coco_root} val2017"
    assert side["guard"]["data"] == f"{coco_root} val2017" and side["guard"]["people"] == 118
    report = json.load(open(result.metrics_file))
    assert (report["runtime"], report["precision"]) == ("onnxruntime", "int8")
    assert "| onnxruntime int8" in result.table


def test_a_preset_name_is_evaluated_with_its_recorded_config(coco_root, tiny_preset, tmp_path,
                                                             run_evaluate):
    from keras_pose.configs import config_to_dict

    out = tmp_path / "eval"
    code, _, err = run_evaluate(["--checkpoint", tiny_preset.name, "--dataset", "coco",
                                 "--data_dir", str(coco_root), "--use_gt_boxes",
                                 "--output_dir", str(out), "--noprogress"])
    assert code == 0, err[-2000:]
    report = json.load(open(out / "metrics.json"))
    assert report["checkpoint"] == report["preset"] == tiny_preset.name
    assert report["checkpoint_resolved"] == str(tiny_preset.cache / "presets" / tiny_preset.name)
    # What the preset records decides: its model and its test settings.
    assert report["config"]["model"] == config_to_dict(tiny_preset.config)["model"]
    assert report["flip_test"] is tiny_preset.config.test.flip_test
    assert report["num_people"] == 12 and len(tiny_preset.conversions) == 1
    code, _, err = run_evaluate(["--checkpoint", "pose_resnet_50_256x129", "--dataset", "coco"])
    assert code == 1 and "Traceback" not in err
    assert "close preset names: pose_resnet_50_256x192" in err


def test_a_preset_is_not_downloaded_when_its_data_set_is_missing(tiny_preset, tmp_path,
                                                                 run_evaluate):
    # Downloads allowed and the preset's file served: the missing data stops the
    # run first, before 100 MB of weights would download for nothing.
    code, _, err = run_evaluate(["--checkpoint", tiny_preset.name, "--dataset", "coco",
                                 "--data_dir", str(tmp_path / "no_coco_here")])
    assert code == 1 and "Traceback" not in err
    missing = os.path.join(str(tmp_path / "no_coco_here"), "annotations",
                           "person_keypoints_val2017.json")
    assert f"{missing} does not exist: the coco val2017 files to evaluate preset " \
           f"{tiny_preset.name} on" in err and "Checked before downloading the weights" in err
    assert not os.path.exists(tiny_preset.cache) or not os.listdir(tiny_preset.cache)
    assert not tiny_preset.conversions


def test_without_checkpoint_the_default_preset_is_evaluated(tmp_path, run_evaluate, monkeypatch):
    from keras_pose import presets
    monkeypatch.chdir(tmp_path)  # no data/coco here
    code, out, err = run_evaluate(["--flip"])
    assert code == 1 and "Traceback" not in err
    assert f"pose model: preset {presets.DEFAULT_PRESET} (the default" in out
    assert "data/coco/annotations/person_keypoints_val2017.json does not exist: the coco " \
           f"val2017 files to evaluate preset {presets.DEFAULT_PRESET} on" in err


def test_missing_data_says_where_it_was_looked_for(coco_checkpoint, tmp_path):
    from keras_pose.evaluation import runner
    # Was "annotation file .../person_keypoints_val2017.json does not exist" only.
    with pytest.raises(runner.EvaluationError, match=r"person_keypoints_val2017.json does not "
                       r"exist: the coco val2017 files to evaluate .* on \(data.root .*no_data: "
                       r"--data_dir or --dataset chooses"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                              data_dir=str(tmp_path / "no_data"), progress=False)
    # A set whose splits are named otherwise: the settings that name them
    # (train.py said so, evaluate.py did not).
    (tmp_path / "mine" / "annotations").mkdir(parents=True)
    (tmp_path / "mine" / "annotations" / "person_keypoints_val.json").write_text("{}")
    with pytest.raises(runner.EvaluationError, match=r"holds person_keypoints_val.json: name "
                                                     r"its splits, e.g. .*data.test_set=val"):
        runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                              data_dir=str(tmp_path / "mine"), progress=False)


def test_a_second_evaluation_into_one_folder_keeps_the_first(coco_root, coco_checkpoint,
                                                            tmp_path, caplog):
    """Ground-truth boxes, then detections, into one --output_dir: the
    second replaced the first's results, metrics.json and table.md in
    silence. Another evaluation's outputs move to earlier.<n>/; the same
    evaluation again replaces its own."""
    from keras_pose.evaluation import runner
    out = tmp_path / "out"

    def evaluate(use_gt_boxes, overrides=()):
        return runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                                     data_dir=str(coco_root), flip=False,
                                     use_gt_boxes=use_gt_boxes, output_dir=str(out),
                                     progress=False, overrides=overrides)

    first = evaluate(True)
    evaluate(True)  # the same evaluation: replaced
    assert not os.path.exists(out / "earlier.1")
    evaluate(False)
    with open(out / "earlier.1" / "metrics.json") as f:
        earlier = json.load(f)
    assert earlier["box_mode"] == "ground_truth" and earlier["num_people"] == 12
    assert earlier["metrics"]["AP"] == pytest.approx(first.metrics["AP"])
    assert sorted(os.listdir(out / "earlier.1")) == ["metrics.json", "results", "table.md"]
    with open(out / "metrics.json") as f:
        assert json.load(f)["box_mode"] == "detected"
    # Only a test.* setting differs (another decoding): another evaluation too.
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    evaluate(False, ["test.decoding=dark"])
    assert os.path.isfile(out / "earlier.2" / "metrics.json")
    assert "(test.decoding '' -> 'dark'): kept in" in caplog.text
    evaluate(False, ["test.decoding=dark", "test.batch_size=3"])  # the same, batched otherwise
    assert not os.path.exists(out / "earlier.3")


def test_an_earlier_versions_report_of_the_same_evaluation_is_replaced(
        coco_root, coco_checkpoint, tmp_path, caplog):
    """An evaluation by an earlier version, without the fields it did not
    record (runtime, precision, test.decoding ...), was "another
    evaluation (runtime None -> 'tf', ...)", moved aside; a recorded setting
    that differs still keeps it."""
    import logging

    from keras_pose.evaluation import runner
    caplog.set_level(logging.WARNING, logger="absl")
    out = tmp_path / "out"

    def evaluate(overrides=()):
        return runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                                     data_dir=str(coco_root), flip=False, use_gt_boxes=True,
                                     output_dir=str(out), progress=False, overrides=overrides)

    def as_an_earlier_version_wrote_it():
        report = json.load(open(out / "metrics.json"))
        del report["runtime"], report["precision"]
        del report["config"]["test"]["decoding"], report["config"]["data"]["gt_box_rule"]
        del report["config"]["test"]["batch_size"], report["config"]["data"]["root"]
        (out / "metrics.json").write_text(json.dumps(report))

    evaluate()
    as_an_earlier_version_wrote_it()
    evaluate()
    assert not os.path.exists(out / "earlier.1"), caplog.text
    as_an_earlier_version_wrote_it()
    evaluate(["test.decoding=dark"])  # Its decoding then was the default, msra.
    assert os.path.isfile(out / "earlier.1" / "metrics.json")
    assert "(test.decoding '' -> 'dark'): kept in" in caplog.text


def test_a_model_retrained_at_the_same_path_keeps_the_earlier_evaluation(
        coco_root, coco_checkpoint, tmp_path, caplog):
    """A checkpoint retrained (or a detections file edited) at the same path,
    evaluated into the same --output_dir: its results replaced the first
    model's in silence, paths being all that was compared."""
    import logging

    from keras_pose.evaluation import runner
    caplog.set_level(logging.WARNING, logger="absl")
    checkpoint, out = tmp_path / "run" / "best", tmp_path / "out"
    shutil.copytree(coco_checkpoint, checkpoint)

    def evaluate():
        return runner.run_evaluation(checkpoint=str(checkpoint), dataset="coco",
                                     data_dir=str(coco_root), flip=False, use_gt_boxes=True,
                                     output_dir=str(out), progress=False)
    evaluate()
    first = json.load(open(out / "metrics.json"))
    del first["model_sha256"], first["detection_file_sha256"]  # As an earlier version wrote it.
    (out / "metrics.json").write_text(json.dumps(first))
    evaluate()  # The same evaluation: replaced, digests or not.
    assert not os.path.exists(out / "earlier.1")
    _checkpoint(checkpoint, _tiny_config("coco", coco_root, 17))  # Retrained: other weights.
    evaluate()
    assert os.path.isfile(out / "earlier.1" / "metrics.json")
    assert "(the model's files changed): kept in" in caplog.text
    # Retrained again while evaluated (train.py replacing best/): the digest
    # was of the new files, so the next evaluation replaced these results.
    from keras_pose.digests import model_files_digest
    evaluated, real_evaluate = model_files_digest(str(checkpoint)), runner.evaluate

    def replaced_meanwhile(*args, **kwargs):
        metrics = real_evaluate(*args, **kwargs)
        _checkpoint(checkpoint, _tiny_config("coco", coco_root, 17))
        return metrics
    runner.evaluate = replaced_meanwhile
    try:
        evaluate()
    finally:
        runner.evaluate = real_evaluate
    assert json.load(open(out / "metrics.json"))["model_sha256"] == evaluated
    assert model_files_digest(str(checkpoint)) != evaluated


def test_a_full_disk_is_one_line_and_the_numbers_are_logged(coco_root, coco_checkpoint,
                                                            tmp_path, run_evaluate):
    """A full disk at the last write was a traceback of write_atomically (an
    OSError naming no file) and the table was printed nowhere."""
    out = tmp_path / "out"
    out.mkdir()
    code = ("import errno, runpy, sys, keras_pose.files as files\n"
            "real = files.os.replace\n"
            "def full(src, dst):\n"
            "    if dst.endswith('metrics.json'):\n"
            "        raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "    return real(src, dst)\n"
            "files.os.replace = full\n"
            "sys.argv = ['evaluate.py'] + sys.argv[1:]\n"
            "runpy.run_path('evaluate.py', run_name='__main__')\n")
    proc = subprocess.run(
        [sys.executable, "-c", code, "--dataset", "coco", "--data_dir", str(coco_root),
         "--checkpoint", coco_checkpoint, "--use_gt_boxes", "--output_dir", str(out),
         "--noprogress"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"evaluate.py: error: No space left on device: {out / 'metrics.json'}")
    assert "could not all be written" in proc.stderr and "| Arch | AP |" in proc.stderr
    assert [n for n in os.listdir(out) if ".tmp-" in n] == []


def test_two_evaluations_at_once_into_one_folder_are_refused(run_evaluate, coco_root,
                                                            coco_checkpoint, tmp_path):
    # Both wrote, the last one's files won (and could mix with the other's).
    from keras_pose.locks import DirectoryLock
    out = tmp_path / "out"
    with DirectoryLock(str(out), run="evaluate.py run"):
        code, stdout, stderr = run_evaluate(
            ["--dataset", "coco", "--data_dir", str(coco_root), "--checkpoint",
             coco_checkpoint, "--use_gt_boxes", "--output_dir", str(out), "--noprogress"])
    assert code == 1 and f"{out} is in use by the evaluate.py run (pid" in stderr
    assert "--output_dir" in stderr.strip().splitlines()[-1]


def test_an_output_name_taken_by_the_other_kind_is_refused_before_inference(
        coco_root, coco_checkpoint, tmp_path, monkeypatch):
    """A file named `results` in --output_dir was found at the last write,
    after the whole inference and evaluation (nothing written)."""
    from keras_pose.evaluation import runner
    calls = []
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: calls.append(1))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results").write_text("mine")
    (tmp_path / "b" / "table.md").mkdir(parents=True)
    for out, what in (("a", "results is a file where the evaluation writes its folder results"),
                      ("b", "table.md is a folder where the evaluation writes its file table.md")):
        with pytest.raises(runner.EvaluationError, match=f"{tmp_path / out}/{what}: move or "
                                                         "rename it, or give another --output_dir"):
            runner.run_evaluation(checkpoint=coco_checkpoint, dataset="coco",
                                  data_dir=str(coco_root), use_gt_boxes=True,
                                  output_dir=str(tmp_path / out), progress=False)
    assert calls == [] and (tmp_path / "a" / "results").read_text() == "mine"


def test_a_detections_file_named_with_set_is_used_or_refused(run_evaluate, coco_root,
                                                             coco_checkpoint, tmp_path,
                                                             monkeypatch):
    """--set test.detection_file=~/dets.json was looked for as
    <root>/~/dets.json and, missing, replaced by ground-truth boxes with an
    INFO line: AP on other boxes than the ones named, exit 0."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(coco_root / "person_detection_results" / DET_FILE, home / "dets.json")
    monkeypatch.setenv("HOME", str(home))
    base = ["--dataset", "coco", "--data_dir", str(coco_root), "--checkpoint", coco_checkpoint,
            "--noflip", "--noprogress"]
    code, _, err = run_evaluate([*base, "--output_dir", str(tmp_path / "a"), "--set",
                                 "test.detection_file=~/dets.json"])
    assert code == 0, err[-2000:]
    report = json.load(open(tmp_path / "a" / "metrics.json"))
    assert report["box_mode"] == "detected" and report["num_people"] == 118
    code, _, err = run_evaluate([*base, "--output_dir", str(tmp_path / "b"), "--set",
                                 "test.detection_file=absent.json"])
    assert code == 1 and "absent.json does not exist" in err
