"""Epoch checkpoints that survive kill -9 and full disks.

``<model_dir>/checkpoints/epoch_NNNN/`` holds a model checkpoint
(``config.json`` + ``model.weights.h5``, loadable by evaluate.py and
predict.py) plus ``optimizer.npz`` and ``state.json`` (epoch, step, best
metric, steps per epoch). Each is written into a temporary directory that is
renamed into place only when complete, so a crash at any moment leaves the
previous checkpoints intact. ``<model_dir>/best/`` is the best epoch by the
validation metric.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import json
import os
import shutil
from typing import Any, Optional

import keras
import numpy as np
from absl import logging

from keras_pose.checkpoint import (CONFIG_FILE, WEIGHTS_FILE, load_weights_strict,
                                   replace_directory)
from keras_pose.configs import ExperimentConfig, save_config

STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer.npz"


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed; the previous checkpoints are intact."""


@dataclasses.dataclass
class TrainState:
    """What a resumed run needs besides the weights."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    best_metric: Optional[float] = None
    best_epoch: Optional[int] = None
    steps_per_epoch: int = 0
    global_batch: int = 0


def checkpoint_dir(model_dir: str, epoch: int) -> str:
    return os.path.join(model_dir, "checkpoints", f"epoch_{epoch:04d}")


def _optimizer_arrays(optimizer: keras.optimizers.Optimizer) -> dict[str, np.ndarray]:
    return {f"{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)}


def save_epoch_checkpoint(model_dir: str, model: keras.Model,
                          optimizer: keras.optimizers.Optimizer, config: ExperimentConfig,
                          state: TrainState, keep: int) -> str:
    """Writes ``checkpoints/epoch_NNNN`` atomically and prunes old ones.

    Raises:
      CheckpointWriteError: when the disk is full or unwritable; the
        partial files are removed and older checkpoints are untouched.
    """
    final = checkpoint_dir(model_dir, state.epoch)
    tmp = f"{final}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
        model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        np.savez(os.path.join(tmp, OPTIMIZER_FILE), **_optimizer_arrays(optimizer))
        save_config(config, os.path.join(tmp, CONFIG_FILE))
        with open(os.path.join(tmp, STATE_FILE), "w") as f:
            json.dump(dataclasses.asdict(state), f, indent=2)
        replace_directory(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        why = "the disk is full" if e.errno == errno.ENOSPC else str(e)
        previous = latest_checkpoint(model_dir)
        raise CheckpointWriteError(
            e.errno, f"cannot write checkpoint {final}: {why}; "
            + (f"the previous checkpoint {previous} is intact" if previous
               else "no earlier checkpoint exists")) from e
    prune_checkpoints(model_dir, keep)
    return final


def prune_checkpoints(model_dir: str, keep: int) -> None:
    """Keeps the ``keep`` newest epoch checkpoints (and removes stale temps)."""
    root = os.path.join(model_dir, "checkpoints")
    for stale in glob.glob(os.path.join(root, "epoch_*.tmp*")) + glob.glob(
            os.path.join(root, "epoch_*.old*")):
        shutil.rmtree(stale, ignore_errors=True)
    complete = sorted(p for p in glob.glob(os.path.join(root, "epoch_*"))
                      if os.path.isfile(os.path.join(p, STATE_FILE)))
    for old in complete[:-max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(model_dir: str) -> Optional[str]:
    """The newest complete epoch checkpoint, or None."""
    paths = sorted(glob.glob(os.path.join(model_dir, "checkpoints", "epoch_[0-9][0-9][0-9][0-9]")))
    for path in reversed(paths):
        if os.path.isfile(os.path.join(path, STATE_FILE)):
            return path
    return None


def save_best(model_dir: str, checkpoint: str) -> str:
    """Copies an epoch checkpoint to ``best/`` (atomically)."""
    best = os.path.join(model_dir, "best")
    tmp = f"{best}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(checkpoint, tmp)
        replace_directory(tmp, best)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointWriteError(e.errno, f"cannot write {best}: {e}") from e
    return best


def restore_checkpoint(path: str, model: keras.Model,
                       optimizer: keras.optimizers.Optimizer) -> TrainState:
    """Loads weights, optimizer state and the train state of ``path``.

    The optimizer must be built (``optimizer.build(model.trainable_variables)``).

    Raises:
      keras_pose.checkpoint.CheckpointError: weights of another architecture.
      ValueError: an optimizer state that does not fit.
    """
    load_weights_strict(model, os.path.join(path, WEIGHTS_FILE))
    with open(os.path.join(path, STATE_FILE)) as f:
        state = TrainState(**json.load(f))
    arrays = np.load(os.path.join(path, OPTIMIZER_FILE))
    variables = optimizer.variables
    if len(arrays.files) != len(variables):
        raise ValueError(f"{path}: optimizer state has {len(arrays.files)} variables, the "
                         f"optimizer has {len(variables)} (another architecture or optimizer?)")
    for i, variable in enumerate(variables):
        value = arrays[f"{i:05d}"]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{path}: optimizer variable {variable.path} has shape "
                             f"{value.shape} in the file, {tuple(variable.shape)} here")
        variable.assign(value)
    logging.info("Restored %s (epoch %d, step %d)", path, state.epoch, state.step)
    return state


def read_state(path: str) -> dict[str, Any]:
    with open(os.path.join(path, STATE_FILE)) as f:
        return json.load(f)
