"""The msra codec against the reference's per-joint loops."""

import numpy as np
import pytest

from keras_pose.codec import MSRAHeatmap
from tests import reference_impl as ref
from tests.codec.people import PEOPLE, encode_people


@pytest.mark.parametrize("image_size,heatmap_size,sigma", [
    ((192, 256), (48, 64), 2.0), ((288, 384), (72, 96), 3.0)])
def test_encode_matches_reference_exactly(image_size, heatmap_size, sigma):
    rng = np.random.default_rng(0)
    codec = MSRAHeatmap(image_size, heatmap_size, sigma)
    for _ in range(20):
        # Include joints around and beyond every edge: the asymmetric cases.
        joints = rng.uniform(-40, np.array(image_size) + 40, size=(17, 2))
        vis = (rng.uniform(size=17) > 0.2).astype(np.float32)
        heatmaps, weight = codec.encode(joints, vis)
        target, target_weight = ref.generate_target(joints, vis, image_size, heatmap_size, sigma)
        np.testing.assert_array_equal(np.transpose(heatmaps, (2, 0, 1)), target)
        np.testing.assert_array_equal(weight, target_weight[:, 0])


@pytest.mark.parametrize("sigma", [0.3, 0.75, 1.1, 1.7, 2.1, 2.5, 3.3,
                                   1.0000000000000002, 2.0000000000000004])  # np.arange's
def test_every_sigma_puts_the_peak_on_the_joint(sigma):
    """3 sigma of fractional part in (0, 0.5) (sigma 0.75, 1.1, 1.7, 2.1):
    the patch's peak (the reference's size // 2) was one pixel up and left of
    the joint, everywhere on the map, training every keypoint off by one."""
    codec = MSRAHeatmap((96, 128), (24, 32), sigma)
    for mu in range(0, 24):
        for my in (0, 16, 31):
            heatmaps, _ = codec.encode(np.array([[4.0 * mu, 4.0 * my]]), np.ones(1))
            peak = np.unravel_index(np.argmax(heatmaps[..., 0]), heatmaps.shape[:2])
            assert peak == (my, mu) and heatmaps[my, mu, 0] == 1.0, (sigma, mu, my)


def test_a_fractional_three_sigma_puts_every_peak_on_its_joint():
    """sigma 1.5 (the tiny experiment): 3 sigma = 4.5. The reference's int()
    rounded a window starting left of / above the map toward zero: joints
    at heatmap x or y 0-4 got their peak one pixel further (the others
    were right). Now every peak is at mu, and the maps equal the
    reference's wherever its window start was not a negative fraction."""
    codec = MSRAHeatmap((96, 128), (24, 32), 1.5)
    for mu in range(0, 24):
        heatmaps, weight = codec.encode(np.array([[4.0 * mu, 64.0]]), np.ones(1))
        row = heatmaps[16, :, 0]
        assert weight[0] == 1 and int(np.argmax(row)) == mu and row[mu] == 1.0, mu
    rng = np.random.default_rng(0)
    joints = rng.uniform(24, np.array([96, 128]) + 40, size=(17, 2))  # windows start >= 0
    heatmaps, weight = codec.encode(joints, np.ones(17))
    target, target_weight = ref.generate_target(joints, np.ones(17), (96, 128), (24, 32), 1.5)
    np.testing.assert_array_equal(np.transpose(heatmaps, (2, 0, 1)), target)
    np.testing.assert_array_equal(weight, target_weight[:, 0])


def test_asymmetric_edge_rule():
    codec = MSRAHeatmap((192, 256), (48, 64), 2.0)
    # Just off the left edge: weight stays 1 (window still overlaps).
    _, weight = codec.encode(np.array([[-20.0, 100.0]]), np.ones(1))
    assert weight[0] == 1
    # Beyond the right edge by the same margin: window starts past the map.
    _, weight = codec.encode(np.array([[192 + 4 * 7.0, 100.0]]), np.ones(1))
    assert weight[0] == 0
    # -1.5 strides truncates to mu = 0 (Python int truncates toward zero).
    heatmaps, _ = codec.encode(np.array([[-4 * 1.4, 40.0]]), np.ones(1))
    assert heatmaps[10, 0, 0] == pytest.approx(1.0)


def decode(codec, heatmaps, center, scale, refine=True):
    codec = MSRAHeatmap(codec.input_size, codec.heatmap_size, codec.sigma, refine=refine)
    coords, scores = codec.decode_tf(heatmaps)
    return codec.to_image_tf(coords, center, scale).numpy(), scores.numpy()


def test_encode_decode_round_trip_within_half_pixel():
    rng = np.random.default_rng(1)
    codec = MSRAHeatmap((192, 256), (48, 64), 2.0)
    joints = rng.uniform([16, 16], [176, 240], size=(17, 2))
    heatmaps, _ = codec.encode(joints, np.ones(17))
    center = np.array([[96.0, 128.0]])
    scale = np.array([[192 / 200, 256 / 200]])  # crop == image
    coords, scores = decode(codec, heatmaps[None], center, scale)
    # Peaks sit at int(x/4 + 0.5); refinement then points toward the joint.
    assert np.all(np.abs(coords[0] - joints) / 4 <= 0.5 + 1e-6)
    assert np.allclose(scores, 1.0)


def test_decode_matches_the_reference():
    rng = np.random.default_rng(2)
    codec = MSRAHeatmap((192, 256), (48, 64), 2.0)
    heatmaps = rng.normal(size=(6, 64, 48, 17)).astype(np.float32)
    heatmaps[0, :, :, 3] = -1.0  # max <= 0: coordinates (0, 0) before the inverse map
    heatmaps[1, 0, 5, 4] = 50.0  # peak on the border: no refinement
    heatmaps[2, 30, 20, 5] = heatmaps[2, 30, 21, 5] = 60.0  # tie: the first maximum
    center = rng.uniform(100, 500, size=(6, 2)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, size=(6, 2)).astype(np.float32)
    coords, scores = decode(codec, heatmaps, center, scale)
    expected, maxvals = ref.reference_final_preds(np.transpose(heatmaps, (0, 3, 1, 2)),
                                                  center, scale)
    # float32 in the graph vs the reference's float32 cv2 matrix: < 1e-5 relative.
    np.testing.assert_allclose(coords, expected, rtol=1e-5, atol=2e-3)
    np.testing.assert_array_equal(scores, maxvals[..., 0])


def test_decode_without_refinement_is_the_argmax():
    codec = MSRAHeatmap((64, 64), (16, 16), 2.0)
    heatmaps = np.zeros((1, 16, 16, 1), np.float32)
    heatmaps[0, 5, 7, 0] = 1.0
    heatmaps[0, 5, 8, 0] = 0.5
    center, scale = np.array([[32.0, 32.0]]), np.array([[0.32, 0.32]])  # crop == 64 px
    coords, _ = decode(codec, heatmaps, center, scale, refine=False)
    np.testing.assert_allclose(coords[0, 0], [7 * 4, 5 * 4])
    coords, _ = decode(codec, heatmaps, center, scale)
    np.testing.assert_allclose(coords[0, 0], [7.25 * 4, 5 * 4])


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma"):
        MSRAHeatmap((64, 64), (16, 16), 0)
    with pytest.raises(ValueError, match="positive"):
        MSRAHeatmap((64, 0), (16, 16), 2)


def test_encode_of_several_people_is_each_persons_reference_target():
    """The pipeline encodes all the people of an image in one call, into an
    array it hands over: equal, bit for bit, to the reference's loop person
    by person (and no people gives empty maps)."""
    rng = np.random.default_rng(5)
    for image_size, heatmap_size, sigma in [((192, 256), (48, 64), 2.0),
                                            ((96, 128), (24, 32), 1.5)]:
        codec = MSRAHeatmap(image_size, heatmap_size, sigma)
        joints, vis, heatmaps, weight = encode_people(codec, rng, image_size, heatmap_size)
        for i in range(PEOPLE):
            if sigma == 1.5:  # Not the reference's int() there (see the test above).
                alone, alone_weight = codec.encode(joints[i], vis[i])
                np.testing.assert_array_equal(heatmaps[i], alone)
                np.testing.assert_array_equal(weight[i], alone_weight)
                continue
            target, target_weight = ref.generate_target(joints[i].astype(np.float64), vis[i],
                                                        image_size, heatmap_size, sigma)
            np.testing.assert_array_equal(np.transpose(heatmaps[i], (2, 0, 1)), target)
            np.testing.assert_array_equal(weight[i], target_weight[:, 0])
        empty, empty_weight = codec.encode(joints[:0], vis[:0])
        assert empty.shape == (0, heatmap_size[1], heatmap_size[0], 17)
        assert empty_weight.shape == (0, 17)
    with pytest.raises(ValueError, match="C-contiguous"):
        codec.encode(joints, vis, out=np.zeros((6, 32, 24, 16), np.float32))
    with pytest.raises(ValueError, match="float32"):
        codec.encode(joints, vis, out=np.zeros((6, 32, 24, 17)))


def test_a_map_with_no_positive_value_decodes_to_the_corner_with_its_score():
    """A joint whose map is <= 0 everywhere is at position (0, 0) with its
    score (REFERENCE.md), not at the negative peak."""
    codec = MSRAHeatmap((32, 64), (8, 16), 2.0)
    heatmaps = np.full((1, 16, 8, 1), -1.0, np.float32)
    heatmaps[0, 5, 3, 0] = -0.2  # the maximum, at x=3, y=5, still negative
    coords, scores = codec.decode_tf(heatmaps)
    np.testing.assert_array_equal(coords.numpy()[0, 0], [0.0, 0.0])  # no refinement at 0
    assert scores.numpy()[0, 0] == np.float32(-0.2)
    # Inverse crop by hand: x = c_x + (0 - 8/2) * 0.4*200/8 = 100 - 40 = 60;
    # y = c_y + (0 - 16/2) * 0.8*200/16 = 150 - 80 = 70.
    image, _ = decode(codec, heatmaps, np.array([[100.0, 150.0]]), np.array([[0.4, 0.8]]))
    np.testing.assert_allclose(image[0, 0], [60.0, 70.0], atol=1e-4)
