"""scripts/export_saved_model.py: formats, precisions and the accuracy guard."""

import os

import pytest

from tests.export.runtime_checks import run_export as _run
from tests.export.runtime_checks import skip_unless_installed


@pytest.mark.slow  # an int8 export and its guard
def test_guard_refuses_and_writes_nothing(script, checkpoint, tmp_path, capsys):
    """An impossible limit (AP must rise by a point) makes the guard refuse
    the export, with its table, and nothing is written. (``--force_precision``
    is ``check_guard(force=True)``, tested in test_guard.py.)"""
    skip_unless_installed("openvino")
    output = tmp_path / "deploy"
    assert _run(script, "--checkpoint", checkpoint, "--output", str(output), "--format",
                "openvino", "--max_ap_drop", "-1") == 1
    err = capsys.readouterr().err
    assert "openvino fp32 lost more than -1 AP point" in err  # --max_ap_drop as given
    assert "| fp32 reference |" in err and "--force_precision" in err
    assert not output.exists() or not os.listdir(output)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".export")]  # Cleaned up.


def test_int8_saved_model_is_an_error(script, checkpoint, tmp_path, capsys):
    assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "sm"),
                "--precision", "int8", "--noguard") == 1
    assert "int8 is a quantization" in capsys.readouterr().err
    assert not (tmp_path / "sm").exists()


def test_with_detector_on_another_format_is_an_error(script, checkpoint, tmp_path, capsys):
    # Was exported without the detector, exit 0, not a word.
    assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "x.onnx"),
                "--format", "onnx", "--with_detector", "dfine_small_obj2coco") == 1
    assert ("--with_detector adds the detector to a SavedModel only, not to --format onnx"
            in capsys.readouterr().err)
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.slow  # a preset export
def test_a_preset_name_exports_with_its_config(script, tiny_preset, tmp_path, capsys):
    from keras_pose.configs import load_config
    output = tmp_path / "exported"
    assert _run(script, "--checkpoint", tiny_preset.name, "--output", str(output)) == 0
    assert f"saved_model (fp32): {output}" in capsys.readouterr().out
    exported = load_config(str(output / "assets" / "config.json"))
    assert exported == tiny_preset.config and len(tiny_preset.conversions) == 1
    assert _run(script, "--checkpoint", "simplebaseline_resnet50_ap10k_265x256",
                "--output", str(tmp_path / "x")) == 1
    assert "close preset names: simplebaseline_resnet50_ap10k_256x256" in capsys.readouterr().err
