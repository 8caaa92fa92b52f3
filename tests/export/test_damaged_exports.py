"""A damaged export (a file cut short by a full disk or a copy, OpenVINO's
.bin missing, a sidecar that is not JSON) given as --checkpoint: one line
naming the file and the way out, not the runtime's traceback."""

import os
import shutil

import pytest

from keras_pose import cli
from keras_pose.export import runtime_loaders, runtimes
from keras_pose.export.destination import artifact_files
from keras_pose.inference import load_pose_model
from tests.export.runtime_checks import skip_unless_installed

AGAIN = "export the checkpoint again"


@pytest.fixture(scope="module")
def exports(small_network, tmp_path_factory):
    """An fp32 export of the small network per runtime format: {fmt: path}."""
    model, config = small_network
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt in ("onnx", "openvino", "litert"):
        if not runtimes.missing_packages(fmt):
            out[fmt] = runtimes.export_network(
                model, config, str(root / fmt / f"m{runtimes.SUFFIXES[fmt]}"), fmt)
    return out


def _copy(exports, fmt, tmp_path):
    """A private copy of the ``fmt`` export (its artifact path)."""
    skip_unless_installed(fmt)
    source = exports[fmt]
    for path in artifact_files(source, fmt):
        shutil.copy(path, tmp_path)
    return str(tmp_path / os.path.basename(source))


def _cut(path, size=None):
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2 if size is None else size])


DAMAGES = {
    "openvino .bin cut short": ("openvino", lambda p: _cut(p[:-4] + ".bin")),
    "openvino .bin missing": ("openvino", lambda p: os.remove(p[:-4] + ".bin")),
    "onnx cut short": ("onnx", _cut),
    "onnx empty": ("onnx", lambda p: _cut(p, 0)),
    "tflite cut short": ("litert", _cut),
    "sidecar not JSON": ("onnx", lambda p: _cut(runtimes.sidecar_path(p))),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_export_is_one_line_naming_the_file(exports, tmp_path, damage):
    fmt, spoil = DAMAGES[damage]
    path = _copy(exports, fmt, tmp_path)
    spoil(path)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the class is what is tested.
        load_pose_model(path)
    # Was the runtime's RuntimeError / InvalidProtobuf / ValueError / JSONDecodeError.
    assert isinstance(raised.value, runtimes.DamagedExportError), repr(raised.value)
    assert cli.is_user_error(raised.value)
    message = str(raised.value)
    assert str(tmp_path) in message and AGAIN in message and "\n" not in message


def test_predict_names_a_damaged_export(exports, tmp_path, run_script):
    import cv2
    import numpy as np
    path = _copy(exports, "onnx", tmp_path)
    _cut(path)
    cv2.imwrite(str(tmp_path / "photo.png"), np.zeros((40, 30, 3), np.uint8))
    code, _, err = run_script("predict.py")(["--checkpoint", path, "--input",
                                             str(tmp_path / "photo.png"), "--detector", "none",
                                             "--output_dir", str(tmp_path / "out")])
    assert code == 1
    assert f"predict.py: error: {path}: onnxruntime cannot load it" in err
    assert AGAIN in err and "Traceback" not in err


def test_an_openvino_export_that_reads_but_does_not_compile_is_not_called_damaged(
        exports, tmp_path, monkeypatch):
    """OpenVINO raises RuntimeError for a file it cannot read and for a model
    it cannot compile on this CPU (memory, an unsupported operation): only
    the first is a damaged export, which the cache would make again."""
    path = _copy(exports, "openvino", tmp_path)
    real = runtimes.core()

    class NoCompile:
        def read_model(self, *args):
            return real.read_model(*args)

        def compile_model(self, *args):
            raise RuntimeError("Exception from src/inference/src/cpp/core.cpp:112:\n"
                               "Check 'false' failed at src/plugins/intel_cpu/src/node.cpp\n"
                               "Cannot allocate 9 GB")

    monkeypatch.setattr(runtime_loaders, "core", NoCompile)  # Its loader compiles.
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the class is what is tested.
        load_pose_model(path)
    assert not isinstance(raised.value, runtimes.DamagedExportError), repr(raised.value)
    assert cli.is_user_error(raised.value)
    message = str(raised.value)
    assert message.startswith(path) and "cannot compile" in message
    assert "Cannot allocate 9 GB" in message and "\n" not in message
