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
