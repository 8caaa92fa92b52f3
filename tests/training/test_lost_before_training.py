"""A worker lost during the set-up of a multi-worker run (killed, stopped
by SIGTERM, its machine gone): every collective before training says so in
one line, naming it, instead of TF's 100-line traceback. Driven in one
process by a strategy whose collective fails as TF's does when a peer is
gone (the error and message of a worker killed during its set-up, TF 2.21).
"""

import types

import pytest
import tensorflow as tf

from keras_pose.configs import get_experiment
from keras_pose.configs.conversion import config_to_dict
from keras_pose.training import cluster, resume
from keras_pose.training.callbacks import TrainingError

# What worker 0 read when worker 1 was killed as its log showed
# "MultiWorkerMirroredStrategy with cluster_spec".
_HEARTBEATS = ("Collective ops is aborted by: Error reported from /job:worker/task:1: The "
               "following tasks are unhealthy (stopped sending heartbeats):\n"
               "/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task logs for "
               "an earlier error, or scheduler events (e.g. preemption, eviction) to debug "
               "further.\n\t [[{{node allgather/CollectiveGatherV2}}]] "
               "[Op:__inference_compute_gathered_values_107]")
_LOST = ("lost worker 1 of the cluster before training (its heartbeats stopped; its output "
         "says why); nothing was trained: fix that, then start every worker again with the "
         "same command")


class _PeerGone:
    """A strategy whose collective fails as TF's does once a peer is gone."""

    def __init__(self, error=tf.errors.UnavailableError):
        self.error = error

    def run(self, fn):
        return fn()

    def gather(self, value, axis):
        raise self.error(None, None, _HEARTBEATS)


@pytest.fixture()
def two_workers(monkeypatch):
    """This process is worker 0 of a cluster of two (nothing listens)."""
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
                                    '"task": {"type": "worker", "index": 0}}')
    monkeypatch.setattr(cluster, "settle_after_collective", lambda: None)
    monkeypatch.setattr(resume, "settle_after_collective", lambda: None)


def _collectives(tmp_path):
    """Every collective the workers meet before training, as (name, call)."""
    config = config_to_dict(get_experiment("tiny"))
    network = types.SimpleNamespace(weights=[tf.Variable([1.0, 2.0])])
    directory = str(tmp_path)
    return [
        ("stop_together", lambda s: cluster.stop_together(s, None)),
        ("check_workers_agree", lambda s: cluster.check_workers_agree(
            s, config, {"steps per epoch": 3, "global batch": 8})),
        ("agreed_checkpoint", lambda s: resume.agreed_checkpoint(s, directory, directory, None)),
        ("check_same_weights", lambda s: cluster.check_same_weights(s, network)),
    ]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("error", [tf.errors.UnavailableError, tf.errors.AbortedError])
def test_a_worker_lost_in_a_collective_before_training_is_named_in_one_line(
        two_workers, tmp_path, index, error):
    """Worker 1 killed during its set-up: worker 0 ended in TF's traceback
    (stop_together re-raised it; the other checks did not catch it)."""
    name, call = _collectives(tmp_path)[index]
    with pytest.raises(TrainingError) as raised:
        call(_PeerGone(error))
    assert str(raised.value) == _LOST, name


def test_the_models_variables_lost_to_a_worker_gone_are_named_in_one_line(two_workers):
    """The variables' first values, which the chief's broadcast (the build
    of the model), are a collective too."""
    with pytest.raises(TrainingError, match="^lost worker 1 of the cluster before training"):
        with cluster.lost_before_training():
            raise tf.errors.UnavailableError(None, None, _HEARTBEATS)


def test_a_worker_that_refused_says_its_own_refusal_not_the_lost_peer(two_workers):
    """A worker with a refusal of its own says it, though the others have
    gone already (they refused too, or were stopped)."""
    mine = TrainingError("the data of this worker")
    with pytest.raises(TrainingError) as raised:
        cluster.stop_together(_PeerGone(), mine)
    assert raised.value is mine


def test_one_process_keeps_tensorflows_error(monkeypatch):
    """Without a cluster there is no peer to lose: TF's error is a bug's."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(tf.errors.UnavailableError):
        with cluster.lost_before_training():
            raise tf.errors.UnavailableError(None, None, _HEARTBEATS)


def test_other_tensorflow_errors_are_not_taken_for_a_lost_worker(two_workers):
    """An error that is no peer's loss keeps its own traceback."""
    with pytest.raises(tf.errors.InvalidArgumentError):
        cluster.check_same_weights(_PeerGone(tf.errors.InvalidArgumentError),
                                   types.SimpleNamespace(weights=[]))
