"""A checkpoint written with another schedule (steps per epoch, global
batch) is refused from its state.json before the workers compare epochs:
workers apart were told to copy it between machines, and only then, once
copied, that no run of this size can resume it."""

import json
import os

import pytest

from keras_pose.configs import apply_overrides, get_experiment, save_config
from keras_pose.training import resume
from keras_pose.training.callbacks import TrainingError


def _checkpoint(model_dir, state):
    """A complete epoch 3 of a run of one process, batch_size_per_replica 15."""
    path = model_dir / "checkpoints" / "epoch_0003"
    path.mkdir(parents=True)
    save_config(apply_overrides(get_experiment("tiny"), ["train.batch_size_per_replica=15"]),
                str(path / "config.json"))
    (path / "model.weights.h5").write_bytes(b"")
    (path / "state.json").write_text(json.dumps(state))
    (path / "COMPLETE").write_text("")
    return str(path)


def test_a_checkpoint_of_another_global_batch_is_refused_from_its_state(tmp_path):
    latest = _checkpoint(tmp_path, {"epoch": 3, "step": 12, "steps_per_epoch": 4,
                                    "global_batch": 15, "workers": 1})
    with pytest.raises(TrainingError) as raised:  # Two workers of 15: global batch 30.
        resume.refuse_other_schedule(str(tmp_path), 4, 30, 15)
    assert str(raised.value) == (
        f"{latest} was written with 4 steps per epoch and global batch 15 (1 replica x 15), "
        "this run has 4 and 30 (2 replicas x 15): the schedule would change; resume on a "
        "number of replicas that divides the global batch 15 (this run's 2 cannot share it), "
        "or use a new --model_dir")


def test_the_same_schedule_or_one_not_recorded_goes_on(tmp_path):
    _checkpoint(tmp_path / "same", {"epoch": 3, "step": 12, "steps_per_epoch": 4,
                                    "global_batch": 30, "workers": 2})
    resume.refuse_other_schedule(str(tmp_path / "same"), 4, 30, 15)
    _checkpoint(tmp_path / "earlier", {"epoch": 3, "step": 12})  # (checked when restored)
    resume.refuse_other_schedule(str(tmp_path / "earlier"), 4, 30, 15)
    resume.refuse_other_schedule(str(tmp_path / "none"), 4, 30, 15)
    assert not os.path.exists(tmp_path / "none")
