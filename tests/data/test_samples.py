"""Each person's training sample (augmentation, crop, targets) against the
reference's per-sample code."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.codec import MSRAHeatmap
from keras_pose.configs.keypoints import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS
from keras_pose.data import samples
from tests import reference_impl as ref

IMAGE_SIZE, HEATMAP_SIZE, SIGMA = (192, 256), (48, 64), 2.0
COCO_AUG = samples.Augmentation(IMAGE_SIZE, COCO_FLIP_PAIRS, scale_factor=0.3,
                                rotation_factor=40.0, flip=True)


class ScriptedRng:
    """Hands out pre-set random draws in the order augment_sample asks."""

    def __init__(self, normals, uniforms):
        self.normals, self.uniforms = list(normals), list(uniforms)

    def standard_normal(self):
        return self.normals.pop(0)

    def random(self):
        return self.uniforms.pop(0)


@pytest.mark.parametrize("normal_scale,rot_coin,normal_rot,flip_coin", [
    (0.0, 0.9, 0.0, 0.9),      # no augmentation
    (0.7, 0.3, -0.8, 0.9),     # scale and rotation
    (-2.5, 0.5, 3.0, 0.9),     # clipped scale and rotation
    (0.7, 0.3, -0.8, 0.2),     # scale, rotation and flip
    (2.5, 0.9, 0.0, 0.9),      # scale clipped from above (1 + sf)
])
@pytest.mark.parametrize("which", ["coco", "mpii"])
def test_augment_matches_reference(which, normal_scale, rot_coin, normal_rot, flip_coin,
                                   coco_records, mpii_records):
    records = coco_records if which == "coco" else mpii_records
    sf, rf = (0.3, 40.0) if which == "coco" else (0.25, 30.0)
    pairs = COCO_FLIP_PAIRS if which == "coco" else MPII_FLIP_PAIRS
    image_size = IMAGE_SIZE if which == "coco" else (256, 256)
    heatmap_size = HEATMAP_SIZE if which == "coco" else (64, 64)
    aug = samples.Augmentation(image_size, pairs, scale_factor=sf, rotation_factor=rf,
                               flip=True)
    flipped = flip_coin <= 0.5
    for i in range(min(len(records), 5)):
        image_bgr = cv2.imread(records.image_path[i])
        rng = ScriptedRng([normal_scale, normal_rot], [rot_coin, flip_coin])
        crop, joints, vis = samples.augment_sample(
            image_bgr[..., ::-1].copy(), records.joints[i], records.joints_vis[i],
            records.center[i], records.scale[i], rng, aug)
        multiplier = np.clip(normal_scale * sf + 1, 1 - sf, 1 + sf)
        rotation = float(np.clip(normal_rot * rf, -2 * rf, 2 * rf)) if rot_coin <= 0.6 else 0.0
        r_crop, r_target, r_weight, r_joints = ref.reference_sample(
            records.image_path[i], records.joints[i], records.joints_vis[i], records.center[i],
            records.scale[i], image_size=image_size, heatmap_size=heatmap_size, sigma=SIGMA,
            flip_pairs=pairs, scale_multiplier=multiplier, rotation=rotation, flip=flipped,
            image=image_bgr)
        if flipped:  # The mirror is folded into the warp: float rounding only.
            assert np.abs(crop.astype(float) - r_crop[..., ::-1]).mean() < 0.05
        else:  # The same warpAffine call on the same pixels: identical.
            np.testing.assert_array_equal(crop, r_crop[..., ::-1])
        np.testing.assert_allclose(joints, r_joints[:, :2], atol=1e-3)
        heatmaps, weight = MSRAHeatmap(image_size, heatmap_size, SIGMA).encode(joints, vis)
        np.testing.assert_array_equal(np.transpose(heatmaps, (2, 0, 1)), r_target)
        np.testing.assert_array_equal(weight, r_weight[:, 0])


def test_the_sample_code_warps_into_aligned_output_that_tf_takes_without_a_copy(coco_records):
    """Crops are warped straight into the output array, whose data are
    64-byte aligned: tf.numpy_function (in a graph) then hands it to TF
    without copying it with the GIL held."""
    image = cv2.imread(coco_records.image_path[0])
    out = samples.aligned_empty((2, 256, 192, 3), np.uint8)
    assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous
    args = (image, coco_records.joints[0], coco_records.joints_vis[0], coco_records.center[0],
            coco_records.scale[0])
    crop, joints, _ = samples.augment_sample(*args, np.random.default_rng(1), COCO_AUG,
                                             out=out[1])
    assert np.shares_memory(crop, out)
    again, joints_again, _ = samples.augment_sample(*args, np.random.default_rng(1), COCO_AUG)
    np.testing.assert_array_equal(out[1], again)
    np.testing.assert_array_equal(joints, joints_again)

    kept = {}

    def make():
        kept["array"] = samples.aligned_empty((1000,), np.float32)
        kept["array"][:] = 1
        return kept["array"]

    tensor = tf.function(lambda: tf.numpy_function(make, [], tf.float32, stateful=True))()
    kept["array"][:] = 2
    assert float(tensor[0]) == 2  # the same memory: not copied


def test_half_body_follows_the_reference_rule():
    """HRNet's rule on fixed draws: a normal draw < 0.5 picks the upper body
    (when it has > 2 visible joints), the box of those joints is fixed to the
    aspect ratio and x1.5."""
    joints = np.array([[x, y] for x, y in zip(range(10, 180, 10), range(20, 190, 10))],
                      np.float32)
    vis = np.ones(17, np.float32)
    upper = tuple(range(11))
    c, s = samples.half_body_center_scale(joints, vis, upper, 0.75, ScriptedRng([0.1], []))
    sel = joints[:11]
    np.testing.assert_allclose(c, sel.mean(0))
    w, h = np.ptp(sel[:, 0]), np.ptp(sel[:, 1])
    w = max(w, h * 0.75)
    np.testing.assert_allclose(s, [w / 200 * 1.5, w / 0.75 / 200 * 1.5], rtol=1e-6)
    c, _ = samples.half_body_center_scale(joints, vis, upper, 0.75, ScriptedRng([0.9], []))
    np.testing.assert_allclose(c, joints[11:].mean(0))  # the lower body
    aug = samples.Augmentation((192, 256), COCO_FLIP_PAIRS, half_body_prob=1.0,
                               upper_body_ids=upper)
    image = np.zeros((300, 300, 3), np.uint8)
    _, crop_joints, _ = samples.augment_sample(image, joints, vis, [150, 150], [2, 2],
                                               ScriptedRng([0.1, 0.0], [0.0, 0.9, 0.9]), aug)
    m = ref.affine_matrix(sel.mean(0), [w / 200 * 1.5, w / 0.75 / 200 * 1.5], 0, (192, 256))
    np.testing.assert_allclose(crop_joints[0], ref.apply_affine(joints[0], m), atol=1e-3)


@pytest.mark.parametrize("sf,image_size,expected_x", [
    # COCO: 1 + 2.5 * 0.3 = 1.75, clipped to 1.3: a box of 1.3 * 200 = 260 px onto
    # 192 px; a joint 65 px right of the centre lands at 96 + 65 * 192 / 260 = 144.
    (0.3, (192, 256), 144.0),
    # MPII: 1 + 2.5 * 0.25 = 1.625, clipped to 1.25: 250 px onto 256 px; a joint
    # 62.5 px right of the centre lands at 128 + 62.5 * 256 / 250 = 192.
    (0.25, (256, 256), 192.0),
])
def test_the_random_scale_is_clipped_at_one_plus_sf(sf, image_size, expected_x):
    """A large normal draw enlarges the box by 1 + sf at most (REFERENCE step 1)."""
    aug = samples.Augmentation(image_size, COCO_FLIP_PAIRS, scale_factor=sf)
    joints = np.array([[100 + 200 * (1 + sf) / 4, 100.0]] * 17, np.float32)
    _, crop_joints, _ = samples.augment_sample(
        np.zeros((300, 300, 3), np.uint8), joints, np.ones(17, np.float32), [100.0, 100.0],
        [1.0, 1.0], ScriptedRng([2.5], [0.9]), aug)
    np.testing.assert_allclose(crop_joints[0], [expected_x, image_size[1] / 2], atol=1e-3)


def _diagonal_joints():
    """17 joints at (100 + 5j, 120 + 5j)."""
    return np.array([[100 + 5 * j, 120 + 5 * j] for j in range(17)], np.float32)


def test_half_body_needs_more_than_num_joints_half_body_visible_joints():
    """Exactly num_joints_half_body (8) visible joints: no half-body box (the
    rule is > 8); the crop is the person's own, joint 0 at its hand-computed place."""
    aug = samples.Augmentation((192, 256), COCO_FLIP_PAIRS, half_body_prob=1.0,
                               num_joints_half_body=8, upper_body_ids=tuple(range(11)))
    joints = _diagonal_joints()
    vis = np.zeros(17, np.float32)
    vis[:8] = 1
    image = np.zeros((300, 300, 3), np.uint8)
    draws = lambda: ScriptedRng([0.0] * 3, [0.9] * 3)  # noqa: E731
    _, crop_joints, _ = samples.augment_sample(image, joints, vis, [150, 150], [1, 1],
                                               draws(), aug)
    # Box 200 px onto 192 px (k = 0.96) centred at (150, 150):
    # (96 + 0.96 * (100 - 150), 128 + 0.96 * (120 - 150)) = (48, 99.2).
    np.testing.assert_allclose(crop_joints[0], [48.0, 99.2], atol=1e-3)
    vis[8] = 1  # 9 visible: the half-body box replaces the person's
    _, crop_joints, _ = samples.augment_sample(image, joints, vis, [150, 150], [1, 1],
                                               draws(), aug)
    assert not np.allclose(crop_joints[0], [48.0, 99.2], atol=1)


def test_half_body_takes_the_upper_body_when_the_lower_has_two_joints_or_fewer():
    """HRNet: a draw >= 0.5 asks for the lower body, but with <= 2 visible lower
    joints the upper body (here joints 0..10, mean j = 5) is taken."""
    vis = np.zeros(17, np.float32)
    vis[:13] = 1  # upper: 0..10 (11 joints); lower: 11, 12 (2 joints)
    center, _ = samples.half_body_center_scale(_diagonal_joints(), vis, tuple(range(11)),
                                               0.75, ScriptedRng([0.9], []))
    np.testing.assert_allclose(center, [125.0, 145.0])  # (100 + 5 * 5, 120 + 5 * 5)


def test_half_body_does_not_take_an_upper_body_of_two_joints():
    """HRNet: a draw < 0.5 takes the upper body only with > 2 visible upper
    joints; with 2 the lower body (joints 11..16, mean j = 13.5) is taken."""
    vis = np.zeros(17, np.float32)
    vis[[0, 1]] = 1
    vis[11:] = 1
    center, _ = samples.half_body_center_scale(_diagonal_joints(), vis, tuple(range(11)),
                                               0.75, ScriptedRng([0.1], []))
    np.testing.assert_allclose(center, [167.5, 187.5])  # (100 + 5 * 13.5, 120 + 5 * 13.5)
