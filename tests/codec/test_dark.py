"""The dark codec against DARK's formulas (tests/reference_impl.py, loops)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.codec import DarkHeatmap, MSRAHeatmap, build_codec, default_blur_kernel
from keras_pose.codec.dark import gaussian_kernel_1d
from keras_pose.configs import apply_overrides, get_experiment
from tests import reference_impl as ref
from tests.codec.people import PEOPLE, encode_people

GEOMETRY = ((192, 256), (48, 64), 2.0)


def test_encode_matches_the_unbiased_target():
    rng = np.random.default_rng(0)
    codec = DarkHeatmap(*GEOMETRY)
    for _ in range(5):
        joints = rng.uniform(-40, np.array(GEOMETRY[0]) + 40, size=(17, 2))
        vis = (rng.uniform(size=17) > 0.2).astype(np.float32)
        heatmaps, weight = codec.encode(joints, vis)
        target, target_weight = ref.dark_target(joints, vis, *GEOMETRY)
        np.testing.assert_allclose(np.transpose(heatmaps, (2, 0, 1)), target, atol=1e-6)
        np.testing.assert_array_equal(weight, target_weight)


def test_encode_edge_rule():
    """Weight 0 exactly when the 3-sigma box [mu - 3s, mu + 3s + 1) misses
    the 48 x 64 map: mu_x = 48 + 6 is out, 48 + 5.99 in; -7.01 out, -7 in."""
    codec = DarkHeatmap(*GEOMETRY)
    joints = np.array([[4 * 54.0, 100.0], [4 * 53.99, 100.0], [4 * -7.01, 100.0],
                       [4 * -7.0, 100.0], [50.0, 4 * 70.0]])
    _, weight = codec.encode(joints, np.ones(5))
    np.testing.assert_array_equal(weight, [0, 1, 0, 1, 0])


def _decode(codec, heatmaps):
    coords, scores = codec.decode_tf(tf.constant(heatmaps))
    return coords.numpy(), scores.numpy()


@pytest.mark.parametrize("geometry", [GEOMETRY, ((288, 384), (72, 96), 3.0)])
def test_dark_round_trip_is_sub_pixel(geometry):
    """DARK-decoding a DARK target returns the sub-pixel joint (< 0.05 px);
    the msra codec on its own target is off by up to the quantisation.
    Joints at least 2 sigma heatmap pixels from the border: closer, the
    zero border of the modulation pulls the step (as in mmpose)."""
    rng = np.random.default_rng(1)
    (w, h), (hw, hh), sigma = geometry
    margin = 2 * sigma * 4
    joints = rng.uniform([margin, margin], [w - 1 - margin, h - 1 - margin], size=(200, 2))
    dark, msra = DarkHeatmap(*geometry), MSRAHeatmap(*geometry)
    maps = np.stack([dark.encode(joints[i:i + 1], np.ones(1))[0] for i in range(200)])
    coords, scores = _decode(dark, maps)
    truth = joints / 4.0
    error = np.abs(coords[:, 0] - truth)
    assert error.max() < 0.05, error.max()
    plain = np.stack([msra.encode(joints[i:i + 1], np.ones(1))[0] for i in range(200)])
    plain_error = np.abs(_decode(msra, plain)[0][:, 0] - truth)
    assert 0.2 < plain_error.max() <= 0.5 + 1e-6  # what DARK removes
    np.testing.assert_allclose(scores[:, 0], maps.reshape(200, -1).max(axis=1))


def _realistic_heatmaps(rng, n, k, h, w):
    """Blobs of varying width and height with noise: real predictions'
    shape (peaks off-centre, a second peak, negative values)."""
    yy, xx = np.mgrid[0:h, 0:w]
    maps = rng.normal(0, 0.01, size=(n, h, w, k)).astype(np.float32)
    for i in range(n):
        for j in range(k):
            for amp in (rng.uniform(0.3, 1.0), rng.uniform(0.0, 0.3)):
                cx, cy = rng.uniform(-2, w + 1), rng.uniform(-2, h + 1)
                sx, sy = rng.uniform(1.2, 3.5, size=2)
                maps[i, :, :, j] += amp * np.exp(-(xx - cx) ** 2 / (2 * sx ** 2)
                                                 - (yy - cy) ** 2 / (2 * sy ** 2))
    return maps


@pytest.mark.parametrize("kernel", [0, 7, 9, 17])
def test_decode_equals_the_numpy_reference(kernel):
    rng = np.random.default_rng(2)
    maps = _realistic_heatmaps(rng, 8, 17, 64, 48)
    maps[0, :, :, 3] = -0.5             # max <= 0: the argmax rule, no step
    maps[1, :, :, 4] = 0.0
    maps[1, 0, 5, 4] = 1.0               # peak on the border: no step
    codec = DarkHeatmap(*GEOMETRY, blur_kernel=kernel)
    coords, scores = _decode(codec, maps)
    expected, maxvals = ref.dark_refine(np.transpose(maps, (0, 3, 1, 2)), codec.blur_kernel)
    np.testing.assert_allclose(coords, expected, atol=1e-3)
    np.testing.assert_array_equal(scores, maxvals)
    moved = np.abs(coords - np.round(coords)).max(axis=-1) > 1e-3
    assert moved.sum() > 100  # the Taylor step really ran
    np.testing.assert_array_equal(coords[0, 3], [0, 0])
    np.testing.assert_array_equal(coords[1, 4], [5, 0])


def test_decode_without_refinement_is_the_argmax():
    maps = np.zeros((1, 16, 16, 1), np.float32)
    maps[0, 5, 7, 0], maps[0, 5, 8, 0] = 1.0, 0.5
    coords, _ = _decode(DarkHeatmap((64, 64), (16, 16), 2.0, refine=False), maps)
    np.testing.assert_array_equal(coords[0, 0], [7, 5])


def test_blur_kernels_are_opencvs():
    """OpenCV takes sizes up to 9 from a table (9: the default at sigma 1.5,
    computed here from the formula, 2e-3 off), larger ones from sigma."""
    import cv2
    for size in range(1, 22, 2):
        np.testing.assert_allclose(gaussian_kernel_1d(size), cv2.getGaussianKernel(size, 0)[:, 0],
                                   rtol=0, atol=1e-12, err_msg=f"size {size}")


def test_blur_kernel_rule():
    """The default kernel is the odd size whose OpenCV sigma, 0.3 ((k - 1) / 2 - 1)
    + 0.8 (mmpose's stated relation), is nearest the targets' sigma. By hand:
    k 5, 7, 9, 11, 15, 17, 19 have sigmas 1.1, 1.4, 1.7, 2.0, 2.6, 2.9, 3.2."""
    assert default_blur_kernel(2.0) == 11 and default_blur_kernel(3.0) == 17
    # 1.5: 1.4 (k 7) is nearer than 1.7 (k 9): mmpose's "sigma~=1.5 if ks=7".
    assert default_blur_kernel(1.5) == 7
    assert default_blur_kernel(1.0) == 5 and default_blur_kernel(2.5) == 15
    for k in (5, 7, 9, 11, 15, 17, 19):  # A kernel's own sigma gives it back.
        assert default_blur_kernel(0.3 * ((k - 1) / 2 - 1) + 0.8) == k
    with pytest.raises(ValueError, match="odd"):
        DarkHeatmap(*GEOMETRY, blur_kernel=4)


def test_the_config_chooses_the_codec():
    config = get_experiment("coco_resnet50_256x192")
    assert isinstance(build_codec(config.model, config.test), MSRAHeatmap)
    dark = apply_overrides(config, ["test.decoding=dark", "test.blur_kernel=9"])
    codec = build_codec(dark.model, dark.test)
    assert isinstance(codec, DarkHeatmap) and codec.blur_kernel == 9
    trained = apply_overrides(config, ["model.codec=dark"])
    assert isinstance(build_codec(trained.model), DarkHeatmap)
    assert isinstance(build_codec(trained.model, trained.test), DarkHeatmap)
    for bad in ("model.codec=udp", "test.decoding=x", "test.blur_kernel=4"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            apply_overrides(config, [bad])


def test_encode_of_several_people_is_each_persons_target():
    """The pipeline encodes all the people of an image in one call, into an
    array it hands over: each person's maps within one float32 ulp of the
    reference's per-joint loop (the batched code multiplies a column and a
    row factor, exp(a) exp(b), where the loop takes exp(a + b): 1 element in
    ~7e7 rounds the other way), the weights equal, and no people gives
    empty maps."""
    rng = np.random.default_rng(6)
    for image_size, heatmap_size, sigma in [GEOMETRY, ((288, 384), (72, 96), 3.0)]:
        codec = DarkHeatmap(image_size, heatmap_size, sigma)
        joints, vis, heatmaps, weight = encode_people(codec, rng, image_size, heatmap_size)
        for i in range(PEOPLE):
            target, target_weight = ref.dark_target(joints[i].astype(np.float64), vis[i],
                                                    image_size, heatmap_size, sigma)
            np.testing.assert_array_max_ulp(np.transpose(heatmaps[i], (2, 0, 1)), target, 1)
            np.testing.assert_array_equal(weight[i], target_weight)
        assert codec.encode(joints[:0], vis[:0])[0].shape == (0, heatmap_size[1],
                                                              heatmap_size[0], 17)


def test_a_blur_kernel_without_dark_is_said(caplog):
    """test.blur_kernel=11 on a standard-decoding model was ignored in silence;
    a preset's own kernel on its msra model (for a switch to DARK) is not
    the user's setting, and was said on every run of it."""
    from keras_pose.configs.cli import build_config
    config = get_experiment("tiny")
    codec = build_codec(config.model, apply_overrides(config, ["test.blur_kernel=11"]).test)
    assert isinstance(codec, MSRAHeatmap)
    kept = build_config(start=apply_overrides(config, ["test.blur_kernel=11"]))
    build_codec(kept.model, kept.test)
    assert "blur_kernel" not in caplog.text
    build_config(start=config, overrides=["test.blur_kernel=11"])
    assert "test.blur_kernel=11 is DARK's modulation: it has no effect with the msra" in caplog.text
    caplog.clear()
    build_config(start=config, overrides=["test.blur_kernel=11", "test.decoding=dark"])
    assert "blur_kernel" not in caplog.text
