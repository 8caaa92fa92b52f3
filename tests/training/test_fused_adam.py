"""FusedAdam: Keras' Adam, one TF op per weight's update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.training.fused_adam import FusedAdam
from keras_pose.training.run_dir import optimizer_state


def _train(optimizer_class, steps=20, policy="float32", strategy=None, **kwargs):
    """Weights, optimizer state and the update's op types after ``steps``
    (under ``strategy``: its replica step, as Keras' fit runs it)."""
    from keras_pose.export.precision import dtype_policy_scope
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    with dtype_policy_scope(policy), strategy.scope():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="a"),
                                  keras.layers.Dense(3, name="b")], name="net")
        optimizer = optimizer_class(learning_rate=1e-2, epsilon=1e-8, **kwargs)
        optimizer.build(model.trainable_variables)
    x = tf.constant(np.random.default_rng(0).normal(size=(16, 6)), tf.float32)

    def replica_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.cast(model(x), tf.float32) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    @tf.function
    def step():
        strategy.run(replica_step)
    for _ in range(steps):
        step()
    graph = step.get_concrete_function().graph
    ops = {op.type for op in graph.get_operations()}
    for function in graph._functions.values():  # strategy.run's replica function
        ops |= {node.op for node in function.cached_definition.node_def}
    return [v.numpy() for v in model.weights], optimizer_state(optimizer), ops


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_updates_equal_keras_adam_in_one_op_per_weight(policy):
    # bf16 activations turn rounding differences of the weights into
    # different bf16 roundings of the next step: fewer steps, more room.
    steps, rtol = (20, 1e-5) if policy == "float32" else (3, 1e-4)
    ours, our_state, our_ops = _train(FusedAdam, steps, policy)
    keras_weights, keras_state, keras_ops = _train(keras.optimizers.Adam, steps, policy)
    for got, expected in zip(ours, keras_weights):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=10 * rtol * np.abs(expected).max())
    # The same slot names: Adam state saved by earlier releases restores.
    assert sorted(our_state) == sorted(keras_state)
    for name in keras_state:
        np.testing.assert_allclose(our_state[name], keras_state[name], rtol=1e-4, atol=1e-6)
    assert "ResourceApplyAdam" in our_ops and "ResourceApplyAdam" not in keras_ops
    assert "Sqrt" not in our_ops and "Sqrt" in keras_ops


@pytest.mark.parametrize("merge_call", [True, False])
def test_fused_under_a_mirrored_strategy(merge_call):
    # Keras updates each replica's copy inside the strategy's update: in
    # cross-replica context (merge_call), or in the replica's own context
    # (MirroredStrategy on GPUs that need no merge_call). Two replicas
    # keeping equal copies: tests/training/test_distributed.py.
    def mirrored():
        strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        strategy.extended._use_merge_call = lambda: merge_call
        return strategy
    ours, our_state, our_ops = _train(FusedAdam, 10, strategy=mirrored())
    keras_weights, keras_state, keras_ops = _train(keras.optimizers.Adam, 10, strategy=mirrored())
    assert "ResourceApplyAdam" in our_ops and "ResourceApplyAdam" not in keras_ops
    for got, expected in zip(ours, keras_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    for name in keras_state:
        np.testing.assert_allclose(our_state[name], keras_state[name], rtol=1e-4, atol=1e-6)


def test_amsgrad_keeps_keras_update():
    ours, _, our_ops = _train(FusedAdam, steps=5, amsgrad=True)
    theirs, _, _ = _train(keras.optimizers.Adam, steps=5, amsgrad=True)
    assert "ResourceApplyAdam" not in our_ops
    for got, expected in zip(ours, theirs):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
