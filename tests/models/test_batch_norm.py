"""The fused training BatchNormalization equals Keras' own."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.models.batch_norm import BatchNormalization


def _pair(**kwargs):
    rng = np.random.default_rng(0)
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    for layer in (ours, theirs):
        layer.build((None, 5, 6, 7))
    weights = [rng.uniform(0.5, 1.5, 7), rng.normal(0, 0.2, 7), rng.normal(0, 0.2, 7),
               rng.uniform(0.5, 2.0, 7)]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize("training", [True, False])
def test_outputs_gradients_and_moving_statistics_equal_keras(training):
    ours, theirs = _pair(momentum=0.9, epsilon=1e-5)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, (4, 5, 6, 7)).astype(np.float32))
    upstream = tf.constant(np.random.default_rng(2).normal(size=(4, 5, 6, 7)).astype(np.float32))
    results = []
    for layer in (ours, theirs):
        @tf.function  # as in the training step
        def step(x, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
                loss = tf.reduce_sum(y * upstream)
            return y, tape.gradient(loss, [x, layer.gamma, layer.beta])
        y, grads = step(x)
        results.append([y.numpy()] + [g.numpy() for g in grads]
                       + [v.numpy() for v in layer.non_trainable_weights])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_falls_back_to_keras_where_it_does_not_apply():
    ours, theirs = _pair(synchronized=True)
    x = np.random.default_rng(1).normal(size=(4, 5, 6, 7)).astype(np.float32)
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-5)
    assert type(keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(ours))) is BatchNormalization
