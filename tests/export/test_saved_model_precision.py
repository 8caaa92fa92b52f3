"""A bf16 SavedModel computes in bf16 by its graph alone, in any TF runtime."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.export import export_saved_model
from keras_pose.export.inference_model import build_inference_model


@pytest.fixture(scope="module")
def bf16_saved_model(small_network, tmp_path_factory):
    model, config = small_network
    path = str(tmp_path_factory.mktemp("bf16") / "saved_model")
    export_saved_model(model, config, path, precision="bf16")
    return path


def _conv_dtypes(signature) -> set[str]:
    """The dtypes of every Conv2D in the signature's graph and the functions
    it calls (the network lives in the function library)."""
    graph_def = signature.graph.as_graph_def()
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes += list(function.node_def)
    return {tf.dtypes.as_dtype(n.attr["T"].type).name for n in nodes if n.op == "Conv2D"}


@pytest.mark.slow  # a bf16 export
def test_bf16_graph_and_precision_asset(bf16_saved_model, small_network):
    model, config = small_network
    loaded = tf.saved_model.load(bf16_saved_model)
    assert _conv_dtypes(loaded.signatures["heatmaps"]) == {"bfloat16"}
    assert _conv_dtypes(loaded.signatures["serving_default"]) == {"bfloat16"}
    fp32 = tf.function(build_inference_model(model, config)).get_concrete_function(
        tf.TensorSpec([None, 64, 64, 3], tf.float32))
    assert _conv_dtypes(fp32) == {"float32"}  # What the check sees in an fp32 graph.
    with open(os.path.join(bf16_saved_model, "assets", "export.json")) as f:
        assert json.load(f)["precision"] == "bf16"
    # The weights are stored in bf16 (half the bytes of fp32).
    reader = tf.train.load_checkpoint(os.path.join(bf16_saved_model, "variables", "variables"))
    dtypes = {d.name for d in reader.get_variable_to_dtype_map().values()} - {"string"}
    assert dtypes == {"bfloat16"}


def test_bf16_heatmaps_equal_fp32_within_bf16_rounding(bf16_saved_model, small_network):
    """About 1% of the heatmaps' range (8 significant bits through the
    network); 5% fails only on a real error, not on rounding."""
    model = small_network[0]
    crops = np.random.default_rng(2).normal(size=(3, 64, 64, 3)).astype(np.float32)
    loaded = tf.saved_model.load(bf16_saved_model)
    got = loaded.signatures["heatmaps"](images=tf.constant(crops))["heatmaps"].numpy()
    expected = model(crops, training=False).numpy()
    assert got.dtype == np.float32
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, atol=0.05 * scale)
    assert np.abs(got - expected).max() > 1e-5 * scale  # Not fp32 in disguise.


def test_int8_saved_model_and_unfused_low_precision_are_refused(small_network, tmp_path):
    model, config = small_network
    with pytest.raises(ValueError, match="int8 is a quantization"):
        export_saved_model(model, config, str(tmp_path / "a"), precision="int8")
    with pytest.raises(ValueError, match="optimize=True"):
        export_saved_model(model, config, str(tmp_path / "b"), precision="bf16",
                           optimize=False)
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")
