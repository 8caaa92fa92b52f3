"""A cached detector export that cannot be read (a network file cut short
or deleted, an ``export.json`` that is not JSON, deleted, or without the
guard's verdict) is exported again with a warning, as the pose exports
are; where that cannot be done, one line names the folder to delete. Each
of these was a traceback (InvalidProtobuf, NoSuchFile, JSONDecodeError,
"Incorrect weights in bin file!", KeyError 'guard') or "No such file or
directory: .../export.json", in every later run: the cache only checked its
``complete`` marker."""

import json
import os
import shutil
import sys
import types

import numpy as np
import pytest

from keras_pose import cli
from keras_pose.detection import (RuntimePersonDetector, export_cache, runtime_detector,
                                  runtimes)
from keras_pose.export.checkpoint_version import files_mismatch
from tests.detection.conftest import TINY_SIZE, skip_if_missing

QUERIES = 4


@pytest.fixture(scope="module")
def stand_in():
    """A few random layers mapping (N, 64, 64, 3) to D-FINE's two outputs,
    with the attributes of a DFineObjectDetector the export reads."""
    import keras
    keras.utils.set_random_seed(5)
    x = keras.Input((*TINY_SIZE, 3))
    h = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, strides=8)(x))
    logits = keras.layers.Reshape((QUERIES, 80))(keras.layers.Dense(QUERIES * 80)(h))
    boxes = keras.layers.Reshape((QUERIES, 4))(
        keras.layers.Dense(QUERIES * 4, activation="sigmoid")(h))
    model = keras.Model(x, {"logits": logits, "pred_boxes": boxes})
    model.backbone = types.SimpleNamespace(anchor_image_size=TINY_SIZE, num_queries=QUERIES)
    model.num_classes = 80
    return model


@pytest.fixture(scope="module")
def pristine(stand_in, tmp_path_factory):
    """runtime -> a cache holding the stand-in's fp32 export (each test
    damages a copy)."""
    made = {}

    def cache(runtime):
        skip_if_missing(runtime)
        if runtime not in made:
            made[runtime] = str(tmp_path_factory.mktemp(f"pristine_{runtime}"))
            runtimes.cached_export(stand_in, runtime, root=made[runtime])
        return made[runtime]
    return cache


def _damaged_copy(pristine, stand_in, runtime, tmp_path, damage):
    """A copy of the pristine cache with ``damage(directory)`` done to its
    export: (the cache, the export's directory)."""
    root = str(tmp_path / "cache")
    shutil.copytree(pristine(runtime), root)
    directory = runtimes.export_directory(stand_in, runtime, "fp32", root=root)
    damage(directory)
    return root, directory


def _cut(name, size):
    def damage(directory):
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            head = f.read(size)
        with open(path, "wb") as f:
            f.write(head)
    return damage


def _write(name, text):
    def damage(directory):
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    return damage


def _delete(name):
    return lambda directory: os.remove(os.path.join(directory, name))


def _edit_sidecar(edit):
    def damage(directory):
        path = os.path.join(directory, runtimes.SIDECAR)
        with open(path) as f:
            info = json.load(f)
        edit(info)
        with open(path, "w") as f:
            json.dump(info, f)
    return damage


def _assert_made_again(stand_in, detector, directory, problem, caplog, monkeypatch):
    """The detector runs the export made again, which says why, is whole
    (its files are those its sidecar records) and is reused from then on."""
    assert detector.network.directory == directory and runtimes.is_complete(directory)
    assert (f"The cached detector export {directory} cannot be read ({problem}" in caplog.text
            and "exporting it again" in caplog.text), caplog.text
    info = runtimes.read_sidecar(directory)
    paths = runtimes.network_paths(directory, info["runtime"])
    assert files_mismatch(info["network_files"], paths) is None
    x = np.random.default_rng(0).random((2, *TINY_SIZE, 3), np.float32)
    logits, boxes = detector.network(x)
    expected = stand_in(x, training=False)
    np.testing.assert_allclose(logits, expected["logits"], atol=1e-4)
    np.testing.assert_allclose(boxes, expected["pred_boxes"], atol=1e-5)
    monkeypatch.setattr(runtimes, "export_network", None)  # Reused: not exported again.
    again = RuntimePersonDetector.from_keras_hub(stand_in, info["runtime"],
                                                 cache=os.path.dirname(directory))
    assert again.network.directory == directory


@pytest.mark.parametrize("damage, problem", [
    (_cut("network.onnx", 500), "network.onnx: it is 500 bytes, the sidecar records "),
    (_delete("network.onnx"), "network.onnx is missing"),
    (_write("export.json", '{"runt'), "export.json is not valid JSON: "),
    (_delete("export.json"), "export.json is missing"),
    (_write("export.json", "[]"), "export.json is not a JSON object"),
    (_edit_sidecar(lambda info: info.pop("input_size")),
     "export.json lacks a valid runtime, precision, input_size or num_classes"),
], ids=["onnx cut", "onnx deleted", "sidecar not JSON", "sidecar deleted", "sidecar a list",
        "sidecar without input_size"])
def test_a_damaged_onnx_export_is_made_again_with_a_warning(damage, problem, stand_in, pristine,
                                                            tmp_path, caplog, monkeypatch):
    root, directory = _damaged_copy(pristine, stand_in, "onnxruntime", tmp_path, damage)
    detector = RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", cache=root)
    _assert_made_again(stand_in, detector, directory, problem, caplog, monkeypatch)


def _without_record(damage):
    """An export of keras-pose before the files' record, then ``damage``."""
    def both(directory):
        _edit_sidecar(lambda info: info.pop("network_files"))(directory)
        damage(directory)
    return both


@pytest.mark.parametrize("damage, problem", [
    (_cut("network.bin", 1000), "network.bin: it is 1000 bytes, the sidecar records "),
    (_without_record(_cut("network.bin", 1000)),
     "openvino cannot load it: Incorrect weights in bin file!"),
    (_delete("network.xml"), "network.xml is missing"),
], ids=["bin cut", "bin cut, no record", "xml deleted"])
def test_a_damaged_openvino_export_is_made_again_with_a_warning(damage, problem, stand_in,
                                                                pristine, tmp_path, caplog,
                                                                monkeypatch):
    root, directory = _damaged_copy(pristine, stand_in, "openvino", tmp_path, damage)
    detector = RuntimePersonDetector.from_keras_hub(stand_in, "openvino", cache=root)
    _assert_made_again(stand_in, detector, directory, problem, caplog, monkeypatch)


@pytest.mark.parametrize("edit, problem", [
    (lambda info: info.pop("guard"), "export.json holds no guard verdict"),
    (lambda info: info["guard"].update(passed="yes"),
     "the guard verdict in export.json lacks a valid passed, agreement, iou, min_agreement or "
     "images"),
], ids=["no guard", "guard not a verdict"])
def test_a_guarded_export_without_its_verdict_is_made_again(edit, problem, stand_in, pristine,
                                                            tmp_path, caplog, monkeypatch):
    """bf16 (int8 alike): the verdict is read from export.json; was KeyError 'guard'."""
    root = str(tmp_path / "cache")
    shutil.copytree(pristine("openvino"), root)
    monkeypatch.setattr(runtime_detector, "GUARD_SCORE_THRESHOLD", 0.0)
    images = [np.random.default_rng(i).integers(0, 256, (48, 80, 3), np.uint8)
              for i in range(3)]
    first = RuntimePersonDetector.from_keras_hub(stand_in, "openvino", "bf16", cache=root,
                                                 calibration_images=images)
    (directory,) = [os.path.join(top, d) for top, dirs, _ in os.walk(root) for d in dirs
                    if "-openvino-bf16-" in d]
    verdict = runtimes.read_sidecar(directory)["guard"]
    _edit_sidecar(edit)(directory)
    again = RuntimePersonDetector.from_keras_hub(stand_in, "openvino", "bf16", cache=root,
                                                 calibration_images=images)
    assert f"The cached detector export {directory} cannot be read ({problem})" in caplog.text
    assert runtimes.read_sidecar(directory)["guard"] == verdict  # Judged again, the same.
    assert again.precision == first.precision == ("bf16" if verdict["passed"] else "fp32")


def _converter_missing(monkeypatch):
    for exporter in ("tf2onnx", "onnx"):
        monkeypatch.setitem(sys.modules, exporter, None)  # Not installed.
    return ("the onnxruntime detector at fp32 needs tf2onnx, onnx: pip install "
            "\"tf2onnx<2,>=1.17\" \"onnx<2,>=1.23\" (or pip install -e \".[deploy]\" in "
            "keras-pose's folder)")


def _cache_not_writable(monkeypatch):
    from keras_pose import files

    def refused(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(files, "write_directory_atomically", refused)
    return "Permission denied"


@pytest.mark.parametrize("obstacle", [_converter_missing, _cache_not_writable],
                         ids=["converter missing", "cache not writable"])
def test_an_export_that_cannot_be_made_again_names_the_folder_to_delete(
        obstacle, stand_in, pristine, tmp_path, monkeypatch, capsys):
    root, directory = _damaged_copy(pristine, stand_in, "onnxruntime", tmp_path,
                                    _cut("network.onnx", 500))
    why = obstacle(monkeypatch)
    capsys.readouterr()
    code = cli.run("predict.py", lambda: RuntimePersonDetector.from_keras_hub(
        stand_in, "onnxruntime", cache=root))
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"predict.py: error: the detector export {directory} cannot be read "
                          "(network.onnx: it is 500 bytes, the sidecar records "), err
    assert f" and making it again failed ({why}" in err, err
    assert err.endswith(": delete that folder and run again, or use --detector_runtime tf\n")


def test_an_export_unreadable_just_after_it_is_made_is_not_made_again_and_again(monkeypatch):
    """Made again once: unreadable then too is not the cache's doing (no loop)."""
    written = []

    def cached_export(model, runtime, precision, name, root, write=None, again=False):
        written.append(again)
        return "/cache/d", again

    def load(directory):
        raise export_cache.DamagedExportError(directory, "network.onnx is missing")

    monkeypatch.setattr(runtimes, "cached_export", cached_export)
    with pytest.raises(export_cache.DamagedExportError,
                       match=r"^the detector export /cache/d cannot be read \(network.onnx is "
                             r"missing\): delete that folder"):
        export_cache.cached_network(None, "onnxruntime", "fp32", None, None, load=load)
    assert written == [False, True]
