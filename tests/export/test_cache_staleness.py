"""A cached export serves only as what was asked, made as it is made now:
one whose sidecar is another export's or edited is made again, as is one
made by another keras-pose export or other packages (keras_pose.export.
staleness), each with a warning saying why. ``fake_onnx_export``
(tests/conftest.py) stands in for the converter: its calls count exports."""

import importlib.metadata
import json

import pytest

from keras_pose.export import runtimes, staleness
from keras_pose.inference import load_pose_model


@pytest.fixture
def checkpoint(private_checkpoint):
    """A private copy of tiny_exported's checkpoint (exports go beside it)."""
    return private_checkpoint


def _edit_sidecar(path, edit):
    side = runtimes.sidecar_path(path)
    with open(side) as f:
        sidecar = json.load(f)
    edit(sidecar)
    with open(side, "w") as f:
        json.dump(sidecar, f)


def _set(key, value):
    return lambda sidecar: sidecar.__setitem__(key, value)


def _keypoints(count):
    return lambda sidecar: sidecar["experiment"]["model"].__setitem__("num_keypoints", count)


@pytest.mark.parametrize("edit, said", [
    # An int8 sidecar in the fp32 folder: was served, and ran as "int8".
    (_set("precision", "int8"), "heatmaps.json describes an export in onnx at int8, not in "
                                "onnx at fp32 (another export's sidecar, or an edited one)"),
    # Another runtime's sidecar: failed every run ("export the checkpoint again").
    (_set("format", "openvino"), "heatmaps.json describes an export in openvino at fp32, not "
                                 "in onnx at fp32"),
    # Heatmaps of 5 keypoints promised, 17 given: failed every run.
    (_keypoints(5), "the sidecar promises heatmaps (1, 16, 16, 5), the file gives "
                    "(1, 16, 16, 17); the sidecar belongs to another export, or was edited"),
], ids=["precision", "format", "config"])
def test_an_export_whose_sidecar_is_another_or_edited_is_made_again(
        checkpoint, fake_onnx_export, caplog, edit, said):
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    _edit_sidecar(path, edit)
    with caplog.at_level("WARNING"):
        loaded = load_pose_model(checkpoint, runtime="onnxruntime")
    assert len(fake_onnx_export) == 2 and loaded.path == path  # Made again, in its place.
    assert said in caplog.text and "exporting it again" in caplog.text
    assert (loaded.runtime, loaded.precision) == ("onnxruntime", "fp32")
    assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 2  # The new one is reused.


def test_the_sidecar_records_the_export_version_and_packages(checkpoint, fake_onnx_export):
    sidecar = runtimes.read_sidecar(load_pose_model(checkpoint, runtime="onnxruntime").path)
    assert sidecar["export_version"] == staleness.EXPORT_VERSION
    # TF and Keras make the network, tf2onnx and onnx convert it, ONNX Runtime runs it.
    assert sidecar["versions"] == {name: importlib.metadata.version(name) for name in (
        "tensorflow", "keras", "onnxruntime", "tf2onnx", "onnx")}


def _no_record(sidecar):
    del sidecar["export_version"], sidecar["versions"]


def _old_onnxruntime(sidecar):
    sidecar["versions"]["onnxruntime"] = "0.0.1"


@pytest.mark.parametrize("edit, said", [
    (_no_record, "was exported by an earlier keras-pose (its sidecar has no record of the "
                 "export version and packages)"),
    (_set("export_version", 0), "was exported by another keras-pose (export version 0, this "
                                f"one makes {staleness.EXPORT_VERSION})"),
    (_old_onnxruntime, "was exported with other packages (onnxruntime 0.0.1, now "
                       f"{importlib.metadata.version('onnxruntime')})"),
], ids=["no record", "export version", "package"])
def test_an_export_made_otherwise_is_made_again_once(checkpoint, fake_onnx_export, caplog,
                                                     edit, said):
    """An export made before an export or quantization fix, or with another
    converter or runtime, was reused for good."""
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    _edit_sidecar(path, edit)
    with caplog.at_level("WARNING"):
        assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 2
    assert f"{path} {said}: exporting it again into" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_pose_model(checkpoint, runtime="onnxruntime")
    assert len(fake_onnx_export) == 2 and said not in caplog.text  # Once.


def test_without_the_converters_an_export_made_otherwise_is_used_and_said(
        checkpoint, fake_onnx_export, caplog, monkeypatch):
    """Where only the runtime is installed (a deployment), the export cannot
    be made again: it runs, with a warning, rather than nothing running."""
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    _edit_sidecar(path, _old_onnxruntime)
    monkeypatch.setattr(runtimes, "missing_packages",
                        lambda fmt, precision="fp32", export=True: ["tf2onnx"] if export else [])
    with caplog.at_level("WARNING"):
        assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 1
    assert (f"{path} was exported with other packages (onnxruntime 0.0.1, now "
            f"{importlib.metadata.version('onnxruntime')}); using it all the same: exporting "
            "it again needs tf2onnx") in caplog.text
