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


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_low_precision_activations_enter_the_fused_op_as_they_are(policy):
    """Under a mixed policy the fused op takes the bf16/fp16 activations and
    computes its statistics in float32 inside: casting them to float32 and
    back around it cost 15% of the bf16 training step and kept the ReLU
    unfused. Same results as Keras' layer, at the activations' precision."""
    from keras_pose.export.precision import dtype_policy_scope
    with dtype_policy_scope(policy):
        ours, theirs = _pair(momentum=0.9, epsilon=1e-5)
    dtype = ours.compute_dtype
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, (4, 5, 6, 7)), dtype)
    upstream = tf.constant(np.random.default_rng(2).normal(size=(4, 5, 6, 7)), tf.float32)
    results, graphs = [], []
    for layer in (ours, theirs):
        @tf.function
        def step(x, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
            return y, tape.gradient(loss, [x, layer.gamma, layer.beta])
        y, grads = step(x)
        assert y.dtype == dtype and grads[0].dtype == dtype
        results.append([tf.cast(t, tf.float32).numpy() for t in (y, *grads)]
                       + [v.numpy() for v in layer.non_trainable_weights])
        graphs.append(step.get_concrete_function(x).graph)
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=2e-2, atol=2e-2 * np.abs(expected).max())
    fused = [op for op in graphs[0].get_operations() if op.type == "FusedBatchNormV3"]
    assert [op.inputs[0].dtype for op in fused] == [dtype]


def test_a_frozen_batch_norm_in_training_uses_and_keeps_its_moving_statistics():
    """A trainable=False BatchNorm called with training=True runs in inference
    mode, as Keras documents for frozen BNs (fine-tuning): otherwise a frozen
    backbone would normalise with batch statistics and overwrite its ImageNet ones."""
    ours, theirs = _pair(momentum=0.9, epsilon=1e-5)
    ours.trainable = theirs.trainable = False
    before = [v.numpy().copy() for v in ours.non_trainable_weights]
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, (4, 5, 6, 7)).astype(np.float32))
    got = tf.function(lambda x: ours(x, training=True))(x).numpy()
    expected = tf.function(lambda x: theirs(x, training=True))(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # By hand: the moving statistics (not the batch's, mean ~2 and variance ~9) normalise.
    gamma, beta, mean, var = _pair()[0].get_weights()
    np.testing.assert_allclose(got, (x.numpy() - mean) / np.sqrt(var + 1e-5) * gamma + beta,
                               rtol=1e-5, atol=1e-5)
    for after, start in zip(ours.non_trainable_weights, before):
        np.testing.assert_array_equal(after.numpy(), start)
