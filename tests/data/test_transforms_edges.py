"""Edge cases of the crop geometry: the legacy centre marker."""

import numpy as np

from keras_pose.data import transforms


def test_a_box_centred_at_x_minus_one_is_not_padded_in_tf_either():
    """The reference's _xywh2cs skips the x1.25 padding when the centre x is
    -1; the TF form (the inference graph) does the same."""
    # [-3, 0, 4, 8]: centre (-3 + 2, 0 + 4) = (-1, 4); w = 4 < 0.75 * 8 = 6,
    # so w = 8 * 0.75 = 6: scale (6/200, 8/200) = (0.03, 0.04), unpadded.
    # [-2, 0, 4, 8]: centre (0, 4), same box: padded, (0.0375, 0.05).
    boxes = np.array([[-3.0, 0.0, 4.0, 8.0], [-2.0, 0.0, 4.0, 8.0]])
    center, scale = transforms.box_to_center_scale_tf(boxes, 0.75)
    np.testing.assert_allclose(center.numpy(), [[-1.0, 4.0], [0.0, 4.0]])
    np.testing.assert_allclose(scale.numpy(), [[0.03, 0.04], [0.0375, 0.05]], rtol=1e-6)
    center, scale = transforms.box_to_center_scale(boxes, 0.75)  # NumPy: the same
    np.testing.assert_allclose(center, [[-1.0, 4.0], [0.0, 4.0]])
    np.testing.assert_allclose(scale, [[0.03, 0.04], [0.0375, 0.05]], rtol=1e-6)


def test_box_to_center_scale_is_the_numpy_result_in_any_graph():
    """Center and scale in a graph equal the NumPy version's bit for bit,
    in a graph of fixed shapes too. In float32 such a graph had the division
    by 200 rewritten as a product by 0.005 (375 / 200 gave 1.8749999, not
    1.875): the Predictor's keypoints then depended on the box count of its
    first call (23 px on a near-tied heatmap peak)."""
    import tensorflow as tf
    from keras_pose.data.transforms import box_to_center_scale, box_to_center_scale_tf
    rng = np.random.default_rng(0)
    boxes = np.concatenate([[[120, 40, 180, 400], [0.5, 3, 375, 100]],
                            rng.uniform(1, 900, (200, 4)).round(rng.integers(0, 4))])
    boxes = boxes.astype(np.float32)
    center, scale = box_to_center_scale(boxes, 0.75)
    fixed = tf.function(lambda b: box_to_center_scale_tf(b, 0.75),
                        input_signature=[tf.TensorSpec(boxes.shape, tf.float32)])
    for got_center, got_scale in (box_to_center_scale_tf(boxes, 0.75), fixed(boxes)):
        np.testing.assert_array_equal(got_center.numpy(), center)
        np.testing.assert_array_equal(got_scale.numpy(), scale)
    assert scale[0, 1] == np.float32(400 / 200 * 1.25)
