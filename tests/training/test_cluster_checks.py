"""The checks every worker of a cluster runs before training (settings and
starting weights agree), driven in one process by fake strategies: a
strategy's ``gather`` returns this worker's row stacked with rows another
worker would have sent (captured by running the same check on that worker's
inputs with a one-worker recording strategy)."""

import pytest

from keras_pose.configs import get_experiment
from keras_pose.configs.conversion import config_to_dict
from keras_pose.training import cluster
from keras_pose.training.callbacks import TrainingError


@pytest.fixture(autouse=True)
def _no_settling(monkeypatch):
    """A worker waits 2 s before raising an agreed error: not here."""
    monkeypatch.setattr(cluster, "settle_after_collective", lambda: None)


class _Recording:
    """A strategy of one worker that keeps the row it gathers."""

    def __init__(self):
        self.rows = []

    def run(self, fn):
        return fn()

    def gather(self, value, axis):
        assert axis == 0
        self.rows.append(value)
        return value


class _Cluster:
    """A strategy whose gather puts this worker's row first, then the rows
    given for the other workers (in worker order)."""

    def __init__(self, *others):
        self.others = others

    def run(self, fn):
        return fn()

    def gather(self, value, axis):
        import tensorflow as tf
        assert axis == 0
        return tf.concat([value, *self.others], axis=0)


def _row_of(check, *args):
    """The row a worker with these inputs sends (it alone agrees with itself)."""
    recording = _Recording()
    check(recording, *args)
    assert len(recording.rows) == 1
    return recording.rows[0]


# --- settings ---------------------------------------------------------------

def _derived(steps):
    return {"steps per epoch": steps, "global batch": 4}


def test_workers_whose_data_give_another_step_count_are_stopped():
    """A worker on 24 images and one on 12 (other steps per epoch) stop before training,
    not train apart until a collective hangs."""
    config = config_to_dict(get_experiment("tiny"))
    # Same command, other data: 12 images / global batch 4 = 3 steps here,
    # 24 images / 4 = 6 steps on the other worker (floor and ceil agree).
    other = _row_of(cluster.check_workers_agree, config, _derived(6))
    with pytest.raises(TrainingError) as raised:
        cluster.check_workers_agree(_Cluster(other), config, _derived(3))
    message = str(raised.value)
    assert "different settings" in message
    assert "steps per epoch (here 3)" in message
    assert "global batch" not in message  # The same on both: not named.


def test_workers_whose_data_give_the_same_step_count_go_on():
    """A false stop here would make every multi-worker run refuse to train."""
    config = config_to_dict(get_experiment("tiny"))
    other = _row_of(cluster.check_workers_agree, config, _derived(3))
    cluster.check_workers_agree(_Cluster(other), config, _derived(3))
    cluster.check_workers_agree(_Cluster(other, other), config, _derived(3))


def test_a_third_worker_with_another_global_batch_is_stopped_too():
    """A difference on any worker, not only the second, stops the run."""
    config = config_to_dict(get_experiment("tiny"))
    same = _row_of(cluster.check_workers_agree, config, _derived(3))
    other = _row_of(cluster.check_workers_agree, config,
                    {"steps per epoch": 3, "global batch": 8})
    with pytest.raises(TrainingError, match=r"global batch \(here 4\)"):
        cluster.check_workers_agree(_Cluster(same, other), config, _derived(3))


# --- starting weights -------------------------------------------------------

def _networks():
    """Two identical small networks with a BatchNormalization layer."""
    import keras
    import numpy as np

    def build():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                                 keras.layers.BatchNormalization()])

    first, second = build(), build()
    second.set_weights(first.get_weights())
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    return first, second


def _moving_mean_changed(network):
    import numpy as np
    batch_norm = network.layers[-1]
    batch_norm.moving_mean.assign(np.array([0.0, 0.5, 0.0], np.float32))


def test_workers_starting_from_other_batch_norm_statistics_are_stopped():
    """Files differing only in BatchNorm moving statistics stop the workers: not two models
    trained under one run."""
    import numpy as np
    first, second = _networks()
    _moving_mean_changed(second)
    # Only a non-trainable weight differs: a check of trainable weights alone passes.
    for a, b in zip(first.trainable_weights, second.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first.layers[-1].moving_mean.numpy(),
                              second.layers[-1].moving_mean.numpy())
    other = _row_of(cluster.check_same_weights, second)
    with pytest.raises(TrainingError) as raised:
        cluster.check_same_weights(_Cluster(other), first)
    assert "different weights (worker(s) [1] differ from worker 0)" in str(raised.value)


def test_the_worker_with_other_statistics_is_the_one_named():
    """The worker that differs is the one named (a user told the wrong one would replace
    the right file)."""
    first, second = _networks()
    _moving_mean_changed(second)
    same = _row_of(cluster.check_same_weights, first)
    other = _row_of(cluster.check_same_weights, second)
    with pytest.raises(TrainingError, match=r"worker\(s\) \[2\] differ from worker 0"):
        cluster.check_same_weights(_Cluster(same, other), first)


def test_workers_starting_from_the_same_weights_go_on():
    """A false stop here would make every multi-worker run refuse to train."""
    first, second = _networks()
    other = _row_of(cluster.check_same_weights, second)
    cluster.check_same_weights(_Cluster(other), first)
    cluster.check_same_weights(_Cluster(other, other), first)
