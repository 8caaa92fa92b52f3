"""Epoch checkpoints: atomic writes, pruning, restore, full disks."""

import errno
import os

import keras
import numpy as np
import pytest

from keras_pose.models import build_model_from_config
from keras_pose.training import checkpointing
from keras_pose.training.trainer import make_optimizer


def _model_and_optimizer(config):
    model = build_model_from_config(config.model)
    optimizer = make_optimizer(config, mixed_precision=False)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def test_save_restore_prune(tmp_path, fast_config):
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    for epoch in (1, 2, 3):
        state = checkpointing.TrainState(epoch=epoch, step=epoch * 5, best_metric=0.1 * epoch,
                                         steps_per_epoch=5, global_batch=8)
        path = checkpointing.save_epoch_checkpoint(model_dir, model, optimizer, fast_config,
                                                   state, keep=2)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0002", "epoch_0003"]
    assert checkpointing.latest_checkpoint(model_dir) == path
    best = checkpointing.save_best(model_dir, path)
    assert os.path.isfile(os.path.join(best, "model.weights.h5"))
    optimizer.variables[1].assign(np.ones(optimizer.variables[1].shape) * 7)
    expected = [v.numpy().copy() for v in optimizer.variables]
    checkpointing.save_epoch_checkpoint(
        model_dir, model, optimizer, fast_config,
        checkpointing.TrainState(epoch=4, step=20, steps_per_epoch=5, global_batch=8), keep=2)
    model2, optimizer2 = _model_and_optimizer(fast_config)
    state = checkpointing.restore_checkpoint(checkpointing.latest_checkpoint(model_dir),
                                             model2, optimizer2)
    assert state.epoch == 4 and state.step == 20
    for a, b in zip(expected, optimizer2.variables):
        np.testing.assert_array_equal(a, b.numpy())
    for a, b in zip(model.weights, model2.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, fast_config, monkeypatch):
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    good = checkpointing.save_epoch_checkpoint(
        model_dir, model, optimizer, fast_config,
        checkpointing.TrainState(epoch=1, step=5, steps_per_epoch=5, global_batch=8), keep=3)

    def no_space(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save_weights", no_space)
    with pytest.raises(checkpointing.CheckpointWriteError, match="disk is full.*epoch_0001 is intact"):
        checkpointing.save_epoch_checkpoint(
            model_dir, model, optimizer, fast_config,
            checkpointing.TrainState(epoch=2, step=10, steps_per_epoch=5, global_batch=8), keep=3)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0001"]
    assert checkpointing.latest_checkpoint(model_dir) == good
