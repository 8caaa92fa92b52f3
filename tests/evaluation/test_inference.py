"""The flip-test network call and the prediction loop."""

import numpy as np
import pytest

from keras_pose.configs import keypoints as kp
from keras_pose.evaluation import flip as flip_lib
from keras_pose.evaluation import inference


@pytest.fixture(scope="module")
def tiny_model():
    from keras_pose.models import build_pose_resnet
    return build_pose_resnet(18, 17, input_shape=(64, 32, 3), deconv_filters=(8, 8, 8),
                             blocks_per_stage=(1, 1, 1, 1))


@pytest.mark.parametrize("shift", [True, False])
def test_flip_test_matches_two_separate_calls(tiny_model, shift):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, 64, 32, 3)).astype(np.float32)
    keras_fn = inference.keras_model_fn(tiny_model)

    def model_fn(x):  # The fresh head outputs ~1e-6: scale up for the comparisons.
        return keras_fn(x) * 1e4

    fn = inference.make_heatmap_fn(model_fn, flip=True, flip_pairs=kp.COCO_FLIP_PAIRS,
                                   shift_heatmap=shift)
    plain = model_fn(images).numpy()
    mirrored = model_fn(images[:, :, ::-1].copy()).numpy()
    expected = flip_lib.fuse_flip(plain, mirrored, kp.COCO_FLIP_PAIRS, shift=shift)
    got = fn(images).numpy()
    assert got.shape == (3, 16, 8, 17)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # The flip changes the result (the model is not mirror-symmetric).
    assert np.abs(got - plain).max() > 0.01 * np.abs(plain).max()
    no_flip = inference.make_heatmap_fn(model_fn, flip=False)
    np.testing.assert_allclose(no_flip(images).numpy(), plain, rtol=1e-4,
                               atol=1e-4 * np.abs(plain).max())


def _heatmap_dataset(heatmaps, center, scale, order, batch):
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices({
        "image": heatmaps[order], "center": center[order], "scale": scale[order],
        "index": order.astype(np.int64)}).batch(batch)


def test_predict_dataset_decodes_into_record_order():
    from keras_pose.codec import HeatmapCodec
    rng = np.random.default_rng(0)
    n, k = 7, 5
    heatmaps = rng.normal(size=(n, 16, 8, k)).astype(np.float32)
    center = rng.uniform(50, 300, (n, 2)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, (n, 2)).astype(np.float32)
    codec = HeatmapCodec(input_size=(32, 64), heatmap_size=(8, 16), sigma=1.0)
    order = rng.permutation(n)  # the dataset yields rows out of order

    def identity(images):  # the "network" returns its input as heatmaps
        return images

    preds = inference.predict_dataset(identity, _heatmap_dataset(heatmaps, center, scale, order, 3),
                                      n, codec, refine=True, batch_size=3, expected_keypoints=k)
    coords, scores = codec.decode(heatmaps, center, scale, refine=True)
    assert len(preds) == n
    np.testing.assert_array_equal(preds.coords, coords)
    np.testing.assert_array_equal(preds.scores, scores)
    with pytest.raises(ValueError, match="6 of 7 records"):
        inference.predict_dataset(identity, _heatmap_dataset(heatmaps, center, scale, order[:6], 3),
                                  n, codec)
    with pytest.raises(ValueError, match="predicts 5 keypoints but the data set has 17"):
        inference.predict_dataset(identity, _heatmap_dataset(heatmaps, center, scale, order, 3),
                                  n, codec, expected_keypoints=17)
