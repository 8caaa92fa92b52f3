"""PoseTrainingModel details that fit's users never see."""

import threading
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.models import build_model_from_config
from keras_pose.training.model import PoseTrainingModel
from keras_pose.training.trainer import make_optimizer


def test_the_finished_iterator_is_deleted_in_the_background(fast_config, monkeypatch):
    errors = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    # Deleting a finished autotuned iterator waits for the autotuner's sleep
    # (up to a minute): fit must leave it to release_iterator, which drops
    # the last reference in another thread.
    config = fast_config
    network = build_model_from_config(config.model)
    model = PoseTrainingModel(network, config, global_batch=2)
    model.compile(optimizer=make_optimizer(config))
    k = config.model.num_keypoints
    data = tf.data.Dataset.from_tensors({
        "image": np.zeros((2, 64, 64, 3), np.uint8),
        "heatmaps": np.zeros((2, 16, 16, k), np.float32),
        "target_weight": np.ones((2, k), np.float32)}).repeat().map(
        lambda x: x, num_parallel_calls=tf.data.AUTOTUNE)
    model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    iterator = model.__dict__["_iterator"]  # kept alive past fit
    alive = weakref.ref(iterator)
    del iterator
    before = set(threading.enumerate())
    model.release_iterator()
    assert "_iterator" not in model.__dict__
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=120)
    assert alive() is None and not errors
    model.release_iterator()  # nothing left: a no-op
    keras.backend.clear_session()


def _one_batch(k: int, seed: int = 0) -> dict:
    """Two random 64x64 crops with a Gaussian target (sigma 1.5) per joint on a 16x16 map."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:16, 0:16]
    heatmaps = np.zeros((2, 16, 16, k), np.float32)
    for b in range(2):
        for j in range(k):
            cx, cy = rng.integers(2, 14, 2)
            heatmaps[b, :, :, j] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 1.5 ** 2))
    return {"image": tf.constant(rng.integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)),
            "heatmaps": tf.constant(heatmaps), "target_weight": tf.ones((2, k))}


def test_a_mixed_float16_step_moves_the_weights_as_much_as_float32(fast_config):
    """With loss scaling, a mixed_float16 step moves the weights as far as float32's (unscaled,
    fp16 gradients underflow)."""
    from keras_pose.models.dtypes import dtype_scope
    batch = _one_batch(fast_config.model.num_keypoints)
    initial, moved = None, {}
    for policy in ("float32", "mixed_float16"):
        with dtype_scope(policy):
            network = build_model_from_config(fast_config.model)
            if initial is None:
                initial = [w.numpy() for w in network.weights]
            network.set_weights(initial)  # the same start for both
            model = PoseTrainingModel(network, fast_config, global_batch=2)
            model.compile(optimizer=make_optimizer(fast_config))
            kernels = [v for v in network.trainable_variables
                       if v.path.endswith("kernel") and len(v.shape) == 4]
            before = [v.numpy() for v in kernels]
            model.train_step(batch)
            moved[policy] = float(np.median(np.concatenate(
                [np.abs(v.numpy() - b).ravel() for v, b in zip(kernels, before)])))
    keras.backend.clear_session()
    # Adam's first step is lr * g / (|g| + eps'): independent of the scale of
    # the loss, so a scaled fp16 step moves the weights as far as fp32's (an
    # unscaled one: 1e-8 against 2e-4).
    assert moved["float32"] > 1e-5
    assert moved["mixed_float16"] == pytest.approx(moved["float32"], rel=0.10)


class _FixedHeatmaps(keras.layers.Layer):
    """A network whose prediction is a fixed (H, W, K) heatmap for every crop."""

    def __init__(self, heatmaps, **kwargs):
        super().__init__(**kwargs)
        self.heatmaps = self.add_weight(shape=heatmaps.shape,
                                        initializer=keras.initializers.Constant(heatmaps))

    def call(self, images):
        return tf.broadcast_to(self.heatmaps, tf.concat([tf.shape(images)[:1],
                                                          tf.shape(self.heatmaps)], 0))


def test_the_training_accuracy_counts_only_joints_with_a_target_peak(fast_config):
    """The training accuracy counts the target's joints (predictions and targets not swapped)."""
    k = fast_config.model.num_keypoints
    a, b = 0, 1
    pred = np.zeros((16, 16, k), np.float32)
    pred[5, 5, a] = pred[5, 5, b] = 1.0  # both predicted at (x, y) = (5, 5)
    target = np.zeros((2, 16, 16, k), np.float32)
    target[:, 5, 5, a] = 1.0  # A's target at (5, 5): counted and correct
    target[:, 0, 0, b] = 1.0  # B's target at (0, 0): not x > 1 and y > 1, not counted
    inputs = keras.Input((64, 64, 3))
    network = keras.Model(inputs, _FixedHeatmaps(pred)(inputs))
    model = PoseTrainingModel(network, fast_config, global_batch=2)
    model.compile(optimizer=make_optimizer(fast_config))
    results = model.train_step({"image": tf.zeros((2, 64, 64, 3), tf.uint8),
                                "heatmaps": tf.constant(target),
                                "target_weight": tf.ones((2, k))})
    # REFERENCE: only target joints with a peak at x > 1 and y > 1 count: A
    # alone, at distance 0 < 0.5: 1/1. (Swapped: A and B count, B is 5 * sqrt(2)
    # / 1.6 away: 1/2.) The other joints' targets are empty: not counted.
    assert float(results["acc"]) == 1.0
    keras.backend.clear_session()
