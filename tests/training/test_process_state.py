"""train() from a notebook: the caller's random generators and Keras floatx
are as they were afterwards, and training itself ignores them."""

import os
import random

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.configs import apply_overrides
from keras_pose.training import train
from keras_pose.training import model as model_module
from keras_pose.training import trainer as trainer_module


def _one_step(config):
    return apply_overrides(config, ["train.epochs=1", "train.steps_per_epoch=1"])


def _weights(model_dir):
    arrays = {}
    path = os.path.join(model_dir, "checkpoints", "epoch_0001", "model.weights.h5")
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


def _tf_seed():
    from tensorflow.python.eager import context
    return context.global_seed()


def _draws(tf_seeded):
    """A random search's draws (TF's only when seeded: unseeded is not repeatable)."""
    return (random.random(), float(np.random.rand()), float(keras.random.uniform([])),
            float(tf.random.uniform([])) if tf_seeded else None)


@pytest.fixture
def caller_random_state():
    """The test process's generators and TF seed, put back after the test."""
    from keras.src.backend.common import global_state
    keys = ("global_random_seed", "global_seed_generator")  # keras.random's
    saved = random.getstate(), np.random.get_state(), _tf_seed()
    saved_keras = [global_state.get_global_attribute(k, None) for k in keys]
    yield
    random.setstate(saved[0])
    np.random.set_state(saved[1])
    tf.random.set_seed(saved[2])
    for key, value in zip(keys, saved_keras):
        global_state.set_global_attribute(key, value)


@pytest.mark.parametrize("tf_seed", [None, 7])
def test_train_leaves_the_callers_random_generators_as_they_were(
        tmp_path, fast_config, caller_random_state, tf_seed):
    """A random search drew the same "random" values in every trial after
    the first: train() reseeded python, NumPy and TF for good."""
    def seeded_draws():
        keras.utils.set_random_seed(99)  # keras.random's generator
        random.seed(123)
        np.random.seed(456)
        tf.random.set_seed(tf_seed)
        return _draws(tf_seed is not None)

    seeded_draws()
    expected = _draws(tf_seed is not None)
    seeded_draws()
    import cv2
    threads = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        train(_one_step(fast_config), str(tmp_path / "run"), export=False, progress=False)
        assert cv2.getNumThreads() == 3  # Was left at the pipeline's 1.
    finally:
        cv2.setNumThreads(threads)
    assert _tf_seed() == tf_seed  # unset stays unset
    assert _draws(tf_seed is not None) == expected


def test_train_that_raises_leaves_the_callers_random_generators(
        tmp_path, fast_config, caller_random_state, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("stopped in fit")

    monkeypatch.setattr(trainer_module, "_fit", fail)
    tf.random.set_seed(None)
    random.seed(5)
    np.random.seed(6)
    expected = random.getstate(), np.random.get_state()
    with pytest.raises(RuntimeError, match="stopped in fit"):
        train(_one_step(fast_config), str(tmp_path / "run"), export=False, progress=False)
    assert random.getstate() == expected[0]
    state = np.random.get_state()
    assert state[0] == expected[1][0] and np.array_equal(state[1], expected[1][1])
    assert state[2:] == expected[1][2:]
    assert _tf_seed() is None


@pytest.fixture
def caller_floatx():
    saved = keras.config.floatx()
    yield
    keras.config.set_floatx(saved)


def test_training_ignores_the_callers_floatx_and_random_state(
        tmp_path, fast_config, caller_random_state, caller_floatx, monkeypatch):
    """floatx float64: the metrics were float64 (an earlier HeatmapAccuracy
    crashed in the first step, float64 != float32, after config.json and
    logs/ were written). The run is the float32 one, and as reproducible
    whatever the caller drew."""
    built = []

    class Recorded(model_module.PoseTrainingModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(trainer_module, "PoseTrainingModel", Recorded)
    config = _one_step(fast_config)
    first = train(config, str(tmp_path / "a"), export=False, progress=False)
    random.seed(1)
    np.random.seed(2)
    tf.random.set_seed(3)
    keras.config.set_floatx("float64")
    result = train(config, str(tmp_path / "b"), export=False, progress=False)
    assert keras.config.floatx() == "float64"
    model = built[-1]
    assert {v.dtype for m in model.metrics for v in m.variables} == {"float32"}
    assert {v.dtype for v in model.network.weights} == {"float32"}
    for key in ("loss", "acc"):
        assert result.history[0][key] == first.history[0][key], key
    a, b = _weights(str(tmp_path / "a")), _weights(str(tmp_path / "b"))
    assert a.keys() == b.keys() and len(a) > 30
    for name in a:
        assert b[name].dtype == np.float32, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
