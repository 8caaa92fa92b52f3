"""Calibration and the accuracy guard on a data set of other keypoints, and
the export script's data without a training split.

A data set with the model's K but other keypoints (another order, another
name) was taken: only another K was refused. int8 was calibrated on it, the
guard scored it (both networks equally wrong: passed) and the export was
written, and by --runtime cached and reused. The README: "A data set whose
keypoints differ from the checkpoint's (another K, names or order) is an
error naming both".
"""

import os

import pytest

from keras_pose.checkpoint import save_model_checkpoint
from keras_pose.data.datasets import DatasetError
from keras_pose.export import guard
from keras_pose.inference import load_pose_model
from tests.export.data_copies import synthetic_copy
from tests.export.runtime_checks import run_export, skip_unless_installed

# What each copy's refusal says of the keypoints (the model's, then the file's).
EXPECTED = {"order": ("'left_eye', 'right_eye'", "'right_eye', 'left_eye'"),
            "names": ("'nose'", "'snout'")}


@pytest.fixture(scope="module", params=["order", "names"])
def other_keypoints(request, tiny_synthetic, tmp_path_factory):
    """(kind, the tiny config with data.root a copy of its data set whose
    keypoints are in another order / have another name)."""
    root = tmp_path_factory.mktemp(f"other_{request.param}") / "data"
    return request.param, synthetic_copy(tiny_synthetic, root, request.param)


def _refusal(message: str, kind: str, use: str) -> None:
    """The message names the file, both keypoint lists and the way out."""
    ours, theirs = EXPECTED[kind]
    assert "person_keypoints_" in message and f"{use} data with the same keypoints" in message
    file_side, model_side = message.split(" was trained on ")
    assert theirs in file_side and ours in model_side, message


def _never(x):
    pytest.fail("a network ran on a data set of other keypoints")


def test_the_guard_refuses_other_keypoints_before_running_a_network(other_keypoints):
    kind, config = other_keypoints
    with pytest.raises(DatasetError) as raised:
        guard.guard_on_dataset(_never, _never, "onnx int8", config)
    _refusal(str(raised.value), kind, "guard its export on")
    assert "but the model was trained on" in str(raised.value)


def test_calibration_refuses_other_keypoints(other_keypoints):
    from keras_pose.export.calibration import calibration_crops
    kind, config = other_keypoints
    with pytest.raises(DatasetError) as raised:
        calibration_crops(config, count=4, split="train")
    _refusal(str(raised.value), kind, "calibrate it on")


def test_the_runtime_cache_exports_nothing_on_other_keypoints(
        other_keypoints, tiny_exported, fake_onnx_export, tmp_path):
    """--runtime: refused before the export (was: calibrated, exported,
    passed, cached in exports/ and served from then on)."""
    skip_unless_installed("onnx", "int8")
    kind, config = other_keypoints
    ckpt = str(tmp_path / "ckpt")
    save_model_checkpoint(tiny_exported[0], config, ckpt)
    with pytest.raises(DatasetError) as raised:
        load_pose_model(ckpt, runtime="onnxruntime", precision="int8")
    _refusal(str(raised.value), kind, "guard its export on")
    assert f"checkpoint {ckpt} was trained on" in str(raised.value)
    assert fake_onnx_export == [] and not os.path.exists(os.path.join(ckpt, "exports"))


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_the_export_script_refuses_other_keypoints_before_any_export(
        script, checkpoint, other_keypoints, tmp_path, capsys, monkeypatch, precision):
    """The guard's data set is checked first (was: calibrated, exported,
    guarded and written); the error is the data set's, not --output's."""
    from keras_pose.export import runtimes
    skip_unless_installed("onnx", precision)
    kind, config = other_keypoints
    monkeypatch.setattr(runtimes, "export_network", lambda *a, **k: pytest.fail("exported"))
    output = tmp_path / "deploy"
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output), "--format",
                      "onnx", "--precision", precision, "--data_dir", config.data.root) == 1
    err = capsys.readouterr().err
    _refusal(err, kind, "guard its export on")
    assert err.startswith(f"export_saved_model.py: error: {config.data.root}{os.sep}annotations")
    assert f"--checkpoint {checkpoint} was trained on" in err
    assert not output.exists()


def test_int8_without_a_training_split_calibrates_on_the_evaluation_split(
        script, checkpoint, tiny_synthetic, tmp_path, capsys, fake_onnx_export):
    """As the --runtime cache does (COCO val alone is a common download);
    was "--output ...: ...person_keypoints_train.json does not exist"."""
    config = synthetic_copy(tiny_synthetic, tmp_path / "val_only", "val_only")
    output = tmp_path / "m.onnx"
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output), "--format",
                      "onnx", "--precision", "int8", "--data_dir", config.data.root,
                      "--noguard") == 0
    (fmt, precision, crops), = fake_onnx_export
    assert (fmt, precision) == ("onnx", "int8") and crops[1:] == (64, 64, 3)
    assert (f"calibration: {crops[0]} crops of {config.data.root} val (the evaluation split: "
            "there is no training split train)\n") in capsys.readouterr().out
    assert output.is_file()


@pytest.mark.parametrize("error", [
    guard.AccuracyGuardError("accuracy guard: onnx fp32 lost more than 0.5 AP point"),
    FileNotFoundError(2, "No such file or directory", "/data/annotations/x.json")])
def test_only_errors_about_writing_the_output_name_it(script, checkpoint, tmp_path, capsys,
                                                      fake_onnx_export, monkeypatch, error):
    """The guard's refusal and a data file's absence were both said as
    "--output <path>: ..." (a full disk still is: test_export_output.py)."""
    def refuse(*args, **kwargs):
        raise error
    monkeypatch.setattr(guard, "guard_on_dataset", refuse)
    output = tmp_path / "m.onnx"
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output),
                      "--format", "onnx") == 1
    err = capsys.readouterr().err
    assert "--output" not in err, err
    expected = "accuracy guard: onnx fp32 lost" if isinstance(error, guard.AccuracyGuardError) \
        else "No such file or directory: /data/annotations/x.json"
    assert err.startswith(f"export_saved_model.py: error: {expected}"), err
    assert not output.exists()
