"""Shared checks of the deployment-runtime tests (one test file per runtime).

Tolerances. fp32 artifacts must equal the Keras model within float32
rounding (1e-4 of the heatmaps' range). int8 artifacts are judged by what
the pose decoder reads, the argmax: on a random network heatmaps are flat
(no trained peak), so quantization noise legitimately moves some argmaxes
between near-equal values. The check is therefore (a) most argmaxes
(>= 70%) are the fp32 ones, and (b) where one moved, the fp32 heatmap at the
int8 argmax is within 10% of the fp32 heatmap's range from its maximum: the
int8 network picks a location that fp32 also scores as (nearly) the best.
A broken quantization (wrong ranges, saturation) fails both.
"""

from __future__ import annotations

import numpy as np
import pytest

from keras_pose.export import runtimes


def small_model(config, blocks_per_stage=(1, 1, 1, 1)):
    """(model, config): ``config``'s ResNet-18 with ``blocks_per_stage``
    (None: the config's own), random BN statistics and head weights of
    unit-scale activations; the config returned says which blocks, so that
    a checkpoint of the pair loads."""
    import keras

    from keras_pose.models import build_pose_resnet
    import dataclasses
    if blocks_per_stage is None:
        blocks_per_stage = config.model.blocks_per_stage or None
    config = config.replace(model=dataclasses.replace(
        config.model, blocks_per_stage=tuple(blocks_per_stage or ())))
    m = config.model
    width, height = m.image_size
    keras.utils.set_random_seed(3)
    model = build_pose_resnet(18, m.num_keypoints, input_shape=(height, width, 3),
                              deconv_filters=m.deconv_filters,
                              deconv_kernels=m.deconv_kernels, blocks_per_stage=blocks_per_stage)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n),
                               rng.normal(0, 0.2, n), rng.uniform(0.5, 2.0, n)])
        elif layer.name.startswith("head_") and layer.weights:
            std = np.sqrt(2.0 / np.prod(layer.kernel.shape[:-1]))
            layer.kernel.assign(rng.normal(0, std, layer.kernel.shape).astype(np.float32))
    return model, config


def skip_unless_installed(fmt: str, precision: str = "fp32") -> None:
    missing = runtimes.missing_packages(fmt, precision)
    if missing:
        pytest.skip(f"{fmt} {precision}: {', '.join(missing)} not installed "
                    '(the optional deploy extra: pip install -e ".[deploy]")')


def argmax_yx(heatmaps: np.ndarray) -> np.ndarray:
    """(B, H, W, K) -> (B, K) flat argmax indices."""
    b, h, w, k = heatmaps.shape
    return heatmaps.reshape(b, h * w, k).argmax(1)


def assert_fp32_equal(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.ptp(expected))


def assert_int8_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    b, h, w, k = expected.shape
    same = argmax_yx(got) == argmax_yx(expected)
    assert same.mean() >= 0.7, f"only {same.mean():.0%} of the argmaxes are fp32's"
    flat = expected.reshape(b, h * w, k)
    at_int8 = np.take_along_axis(flat, argmax_yx(got)[:, None, :], 1)[:, 0]
    regret = (flat.max(1) - at_int8) / np.ptp(flat, axis=1)
    assert regret.max() <= 0.1, f"an int8 argmax scores {regret.max():.0%} below fp32's peak"
    assert not np.allclose(got, expected, atol=1e-6 * np.ptp(expected))  # Really quantized.


def check_fp32(fmt: str, network, calibration, tmp_path) -> None:
    """An fp32 export of ``fmt`` against the Keras model (skipped, with the
    reason, when the runtime is not installed)."""
    skip_unless_installed(fmt)
    model, config = network
    crops = calibration[:8]
    expected = model(crops, training=False).numpy()
    fp32 = runtimes.export_network(model, config, str(tmp_path / f"fp32{runtimes.SUFFIXES[fmt]}"),
                                   fmt)
    assert runtimes.read_sidecar(fp32)["precision"] == "fp32"
    assert_fp32_equal(runtimes.load_network(fp32)(crops), expected)
    assert runtimes.load_network(fp32)(crops[:1]).shape[0] == 1  # Dynamic batch.


def check_int8(fmt: str, network, calibration, tmp_path) -> None:
    """An int8 export of ``fmt`` against the Keras model (skipped, with the
    reason, when the runtime or its quantizer is not installed: never
    passed on the fp32 check alone)."""
    skip_unless_installed(fmt, "int8")
    model, config = network
    crops = calibration[:8]
    expected = model(crops, training=False).numpy()
    int8 = runtimes.export_network(model, config, str(tmp_path / f"int8{runtimes.SUFFIXES[fmt]}"),
                                   fmt, "int8", calibration=calibration)
    assert runtimes.read_sidecar(int8)["precision"] == "int8"
    assert_int8_close(runtimes.load_network(int8)(crops), expected)


def run_export(script, *args) -> int:
    """``scripts/export_saved_model.py *args`` in this process (``script``:
    the conftest fixture's module); its exit code."""
    script.FLAGS.unparse_flags()
    script.FLAGS(["export_saved_model.py", *args])
    return script.main([])
