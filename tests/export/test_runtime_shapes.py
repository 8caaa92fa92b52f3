"""A runtime export of a non-square model: crops are (B, h, w, 3) and
heatmaps (B, H, W, K) though the config gives sizes as (w, h).

The config's ``model.image_size=64,96`` is (width 64, height 96) and
``model.heatmap_size=16,24`` is (width 16, height 24) (keras_pose.configs;
the reference's IMAGE_SIZE [w, h]): so the network takes crops of 96 rows by
64 columns and gives heatmaps of 24 rows by 16 columns. Every square test
export (64x64) is blind to a swap of the two.
"""

import numpy as np
import pytest

from keras_pose.export import runtimes
from tests.export.runtime_checks import assert_fp32_equal, skip_unless_installed

# (w, h) as the config takes them, and what they mean for the arrays.
NON_SQUARE = ["model.image_size=64,96", "model.heatmap_size=16,24"]
CROP_H, CROP_W = 96, 64  # image_size (w=64, h=96) -> crops (h, w).
MAP_H, MAP_W = 24, 16  # heatmap_size (w=16, h=24) -> heatmaps (h, w).
K = 17  # The tiny experiment's COCO keypoints.


@pytest.fixture(scope="module")
def tall_network(tiny_synthetic):
    """The small random network of 64-wide, 96-high crops: (model, config)."""
    from keras_pose.configs import apply_overrides
    from tests.export.runtime_checks import small_model
    return small_model(apply_overrides(tiny_synthetic, NON_SQUARE))


@pytest.fixture(scope="module")
def tall_crops():
    """Random normalised crops of the tall network's size, (3, 96, 64, 3)."""
    return np.random.default_rng(5).normal(size=(3, CROP_H, CROP_W, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def tall_exports(tall_network, tmp_path_factory):
    """fp32 exports of the tall network per installed runtime: {fmt: path}."""
    model, config = tall_network
    root = tmp_path_factory.mktemp("tall")
    # One folder each: the two would share the sidecar tall.json.
    return {fmt: runtimes.export_network(
        model, config, str(root / fmt / f"tall{runtimes.SUFFIXES[fmt]}"), fmt)
        for fmt in ("onnx", "openvino") if not runtimes.missing_packages(fmt)}


def _export(tall_exports, fmt):
    skip_unless_installed(fmt)
    return tall_exports[fmt]


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_a_tall_exports_sidecar_gives_rows_before_columns(tall_exports, tall_network, fmt):
    """The sidecar gives rows before columns: an application sizing its crops from it feeds
    the network 96-row, 64-column crops, as it takes."""
    model, _ = tall_network
    assert model.input_shape == (None, CROP_H, CROP_W, 3)  # The Keras model's own (h, w).
    sidecar = runtimes.read_sidecar(_export(tall_exports, fmt))
    assert sidecar["input_shape"] == [None, CROP_H, CROP_W, 3]
    assert sidecar["output_shape"] == [None, MAP_H, MAP_W, K]


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_a_tall_export_loads_and_equals_the_keras_model(tall_exports, tall_network, tall_crops,
                                                         fmt):
    """A non-square export loads (not refused as "does not match the config of its sidecar")
    and takes the crops its model takes."""
    model, config = tall_network
    path = _export(tall_exports, fmt)
    pose_model = runtimes.load_export(path)  # Its shape check runs one crop.
    assert pose_model.config.model.image_size == config.model.image_size
    expected = model(tall_crops, training=False).numpy()
    assert expected.shape == (3, MAP_H, MAP_W, K)
    assert_fp32_equal(runtimes.load_network(path)(tall_crops), expected)
    assert_fp32_equal(np.asarray(pose_model.network(tall_crops)), expected)


def test_float64_crops_give_an_onnx_network_the_float32_result(tall_exports, tall_crops):
    """Crops a numpy pipeline left in float64 give the heatmaps (ONNX Runtime itself raises
    "Unexpected input data type")."""
    network = runtimes.load_network(_export(tall_exports, "onnx"))
    as_float32 = network(tall_crops)
    got = network(tall_crops.astype(np.float64))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, as_float32)
