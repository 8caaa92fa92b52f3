"""The export functions' path arguments: a pathlib.Path is a path (was an
AttributeError: no 'strip' / 'endswith'), anything else a TypeError naming
the argument; and runtime exports whose path is not UTF-8 (an export cache
under ``cache\\xe9``) load in every runtime (ONNX Runtime and LiteRT raised
a TypeError of their bindings)."""

import os
import pathlib
import shutil

import numpy as np
import pytest

from keras_pose.export import export_network, export_saved_model, export_tflite, load_network
from keras_pose.export.runtimes import SUFFIXES
from tests.export.runtime_checks import skip_unless_installed


@pytest.fixture(scope="module")
def tiny(tiny_exported):
    return tiny_exported[:2]


def test_export_saved_model_and_export_tflite_take_pathlib_paths(tiny, tmp_path):
    skip_unless_installed("litert")
    model, config = tiny
    saved = export_saved_model(model, config, tmp_path / "sm")
    assert saved == str(tmp_path / "sm")
    assert os.path.isfile(tmp_path / "sm" / "saved_model.pb")
    tflite = export_tflite(tmp_path / "sm", tmp_path / "h.tflite")
    assert tflite == str(tmp_path / "h.tflite")
    assert (tmp_path / "h.tflite").read_bytes()[4:8] == b"TFL3"  # The TFLite file mark.
    assert (tmp_path / "h.json").is_file()  # Its sidecar.


def test_export_network_and_load_network_take_pathlib_paths(tiny, tmp_path):
    skip_unless_installed("onnx")
    model, config = tiny
    path = export_network(model, config, tmp_path / "h.onnx", "onnx")
    assert path == str(tmp_path / "h.onnx") and (tmp_path / "h.json").is_file()
    width, height = config.model.image_size
    hw, hh = config.model.heatmap_size
    heatmaps = load_network(pathlib.Path(path))(np.zeros((1, height, width, 3), np.float32))
    assert heatmaps.shape == (1, hh, hw, config.model.num_keypoints)


@pytest.mark.parametrize("call, argument", [
    (lambda m, c, d: export_saved_model(m, c, None), "export_saved_model: output_dir"),
    (lambda m, c, d: export_network(m, c, 3, "onnx"), "export_network: path"),
    (lambda m, c, d: export_tflite(None, d / "h.tflite"), "export_tflite: saved_model_dir"),
    (lambda m, c, d: export_tflite(d, ["h.tflite"]), "export_tflite: output_path"),
    (lambda m, c, d: load_network(7), "load_network: path"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_an_argument_that_is_no_path_is_a_type_error_naming_it(tiny, tmp_path, call, argument):
    with pytest.raises(TypeError, match=f"^{argument}: expected a path"):
        call(*tiny, tmp_path)
    assert os.listdir(tmp_path) == []  # Nothing written.


@pytest.mark.parametrize("fmt", ["onnx", "openvino", "litert"])
def test_a_runtime_export_in_a_folder_whose_name_is_not_utf8_loads(tiny, tmp_path, fmt):
    skip_unless_installed(fmt)
    model, config = tiny
    folder = os.path.join(str(tmp_path), os.fsdecode(b"cache\xe9"))  # cache\udce9 in Python.
    path = export_network(model, config, os.path.join(folder, "heatmaps" + SUFFIXES[fmt]), fmt)
    plain = tmp_path / "plain"  # The same files at a plain path: the heatmaps to expect.
    shutil.copytree(folder, plain)
    width, height = config.model.image_size
    hw, hh = config.model.heatmap_size
    crops = np.random.default_rng(0).normal(size=(2, height, width, 3)).astype(np.float32)
    heatmaps = load_network(path)(crops)
    assert heatmaps.shape == (2, hh, hw, config.model.num_keypoints)
    np.testing.assert_array_equal(
        heatmaps, load_network(str(plain / ("heatmaps" + SUFFIXES[fmt])))(crops))
