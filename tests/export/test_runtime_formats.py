"""Formats and precisions of the runtime exports, and what is missing."""

import importlib.util
import os
import shutil

import numpy as np
import pytest

from keras_pose.export import runtimes


def test_missing_packages_names_pip_packages(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name in ("nncf", "ai_edge_litert", "tf2onnx")
                        else real(name))
    assert runtimes.missing_packages("litert") == ["ai-edge-litert"]
    assert "nncf" not in runtimes.missing_packages("openvino", "fp32")
    assert "nncf" in runtimes.missing_packages("openvino", "int8")
    with pytest.raises(ImportError, match=r"ai-edge-litert: pip install \"ai-edge-litert<3,"
                       r">=2\.3\" \(or pip install -e \"\.\[deploy\]\" in keras-pose's folder\)"):
        runtimes.check_format("litert", "fp32")
    # Running an export needs its runtime only, not what made it.
    assert runtimes.missing_packages("onnx", "int8") == ["tf2onnx"]
    assert runtimes.missing_packages("onnx", "int8", export=False) == []
    assert runtimes.missing_packages("openvino", "int8", export=False) == []
    runtimes.check_format("onnx", "int8", export=False)
    with pytest.raises(ImportError, match=r"^running a litert export at fp32 needs ai-edge"):
        runtimes.check_format("litert", "fp32", export=False)


@pytest.mark.parametrize("fmt,precision", [("onnx", "bf16"), ("litert", "bf16"),
                                           ("saved_model", "int8"), ("openvino", "fp16")])
def test_precisions_a_format_lacks_are_refused(fmt, precision):
    with pytest.raises(ValueError, match=f"format {fmt} takes precision"):
        runtimes.check_format(fmt, precision)


def test_bad_suffix_and_int8_without_calibration(small_network, tmp_path):
    model, config = small_network
    if runtimes.missing_packages("litert", "int8"):
        pytest.skip("ai-edge-litert not installed (pip install -e .[deploy])")
    with pytest.raises(ValueError, match=r"a litert export is a named \.tflite file"):
        runtimes.export_network(model, config, str(tmp_path / "m.onnx"), "litert")
    with pytest.raises(ValueError, match=r"named \.tflite file .*got '.*/\.tflite'"):
        runtimes.export_network(model, config, str(tmp_path / ".tflite"), "litert")
    with pytest.raises(ValueError, match="int8 needs calibration crops"):
        runtimes.export_network(model, config, str(tmp_path / "m.tflite"), "litert", "int8",
                                calibration=np.zeros((0, 64, 64, 3), np.float32))
    assert not list(tmp_path.iterdir())


def test_sidecar_path_and_unknown_files(tmp_path):
    assert runtimes.sidecar_path("/a/heatmaps.xml") == "/a/heatmaps.json"
    with pytest.raises(ValueError, match="not an .onnx, .xml or .tflite"):
        runtimes.load_network(str(tmp_path / "model.pt"))
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="m.json"):
        runtimes.load_network(str(tmp_path / "m.onnx"))


def test_a_saved_model_loads_through_the_one_saved_model_loader(tiny_exported, tmp_path):
    # load_network's SavedModel is inference.load_saved_model's: the same
    # network, and the same checks and errors.
    from keras_pose.checkpoint import CheckpointError
    model, _, _, saved = tiny_exported
    crops = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(runtimes.load_network(saved)(crops),
                               model(crops, training=False).numpy(), atol=1e-4)
    copy = tmp_path / "saved"
    shutil.copytree(saved, copy)
    os.remove(copy / "assets" / "config.json")
    with pytest.raises(CheckpointError, match="assets/config.json: it was not exported by"):
        runtimes.load_network(str(copy))
