"""A training run's directory: one run at a time, resumable, nothing lost.

Layout of ``--model_dir``::

    .lock                      held by the running train.py (pid, host, start)
    config.json                the final config
    checkpoints/epoch_NNNN/    a model checkpoint (config.json, model.weights.h5)
                               + optimizer_state.npz (Adam's slots, a loss
                               scale, by variable name) + state.json;
                               COMPLETE written last;
                               validation.json once the epoch is validated
    best/                      a copy of the best validated epoch + best.json
    logs/, eval/, saved_model/

Rules that keep a crash, a Ctrl-C, a full disk or a second run from losing
work: the whole run holds an OS file lock on the directory (released when
the process dies, even by kill -9), so a second run fails at once and names
the holder; every checkpoint is written by
``keras_pose.checkpoint.write_checkpoint_dir`` (complete only with its
marker); ``best/`` is replaced by an atomic rename and recorded (``best.json``
inside it) only by that rename; an epoch whose validation beat ``best/`` is
never pruned before ``best/`` holds it, and a resumed run repairs ``best/``
from the epochs' ``validation.json`` files. Nothing the run did not write is
deleted: a ``best/`` or ``epoch_NNNN/`` without its marker (copied or
restored by hand) stops the run, and only the temporary directories of this
host's dead processes are cleaned.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import json
import os
import shutil
import zipfile
from typing import Any, Optional

import keras
import numpy as np

from keras_pose import log as logging
from keras_pose.checkpoint import (CONFIG_FILE, WEIGHTS_FILE, CheckpointError,
                                   epoch_directories, interrupted_best, is_complete,
                                   latest_epoch_checkpoint, load_weights_strict,
                                   pruned_epoch_leftovers, save_weights, unmarked_checkpoints,
                                   unmarked_error, weights_bytes, write_checkpoint_dir)
from keras_pose.configs import ExperimentConfig, save_config
from keras_pose.errors import UserError
from keras_pose.files import check_disk_room, write_json, written_by_dead_process
from keras_pose.locks import DirectoryLock

STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer_state.npz"
LEGACY_OPTIMIZER_FILE = "optimizer.npz"  # By position: refused (see restore).
VALIDATION_FILE = "validation.json"
BEST_FILE = "best.json"


class RunDirError(UserError, RuntimeError):
    """The model directory cannot be used as asked; the message says why."""


class CheckpointWriteError(UserError, OSError):
    """Writing a checkpoint failed; the previous checkpoints are intact."""

    def __str__(self) -> str:  # The message alone, without OSError's "[Errno N]".
        return str(self.strerror)


class RunLock(DirectoryLock):
    """One training run at a time in a model directory (``keras_pose.locks``)."""

    error = RunDirError

    def __init__(self, directory: str):
        super().__init__(directory, run="training run", flag="--model_dir")


@dataclasses.dataclass
class TrainState:
    """What a resumed run needs besides the weights and the optimizer."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    steps_per_epoch: int = 0
    global_batch: int = 0
    # The cluster's size (processes) that wrote it: a worker killed during its
    # save is an epoch behind the others, a run continued as one process too.
    workers: int = 0  # 0: unknown (a checkpoint of an earlier keras-pose)


def checkpoint_dir(model_dir: str, epoch: int) -> str:
    return os.path.join(model_dir, "checkpoints", f"epoch_{epoch:04d}")


def _write_json(path: str, value: Any) -> None:
    write_json(path, value, indent=2, fsync=True)


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


# ---------------------------------------------------------------------------
# Optimizer state, by variable name.


def _slot_name(variable: Any) -> str:
    """An optimizer variable's name without the optimizer's own (``adam``,
    ``adam_2``... depending on how many optimizers the process made), e.g.
    ``stage2_block1_conv1_kernel_momentum``, ``iteration``."""
    return variable.path.split("/", 1)[-1]


def _named_variables(optimizer: keras.optimizers.Optimizer) -> dict[str, Any]:
    """Every variable of ``optimizer`` and of the optimizers it wraps, by a
    name that does not depend on how many optimizers the process made.

    The innermost optimizer's variables go by slot name (as checkpoints
    always stored them); a wrapper's, such as the LossScaleOptimizer that
    ``compile`` adds under mixed_float16 (which holds its own ``iteration``
    and ``learning_rate`` besides Adam's), by its class and slot name:
    ``LossScaleOptimizer/dynamic_scale``.

    Raises:
      CheckpointError: two variables would share a name (nothing is saved).
    """
    chain = [optimizer]
    while getattr(chain[-1], "inner_optimizer", None) is not None:
        chain.append(chain[-1].inner_optimizer)
    named: dict[str, Any] = {}
    seen: set[int] = set()
    for depth in reversed(range(len(chain))):  # a wrapper lists its inner ones' too
        prefix = "" if depth == len(chain) - 1 else f"{type(chain[depth]).__name__}/"
        for variable in chain[depth].variables:
            if id(variable) in seen:
                continue
            seen.add(id(variable))
            name = prefix + _slot_name(variable)
            if name in named:
                raise CheckpointError(f"optimizer variables {named[name].path} and "
                                      f"{variable.path} would both be saved as {name}")
            named[name] = variable
    return named


def optimizer_state(optimizer: keras.optimizers.Optimizer) -> dict[str, np.ndarray]:
    """Every optimizer variable (step count, learning rate, Adam's m and v
    of each weight, a wrapper's loss scale) by its unique name (see
    :func:`_named_variables`)."""
    return {name: np.asarray(v.numpy()) for name, v in _named_variables(optimizer).items()}


def restore_optimizer_state(optimizer: keras.optimizers.Optimizer, path: str) -> None:
    """Sets every optimizer variable from ``path`` by name, all or nothing.

    Raises:
      CheckpointError: naming the file and every missing, unexpected or
        mis-shaped variable, or a file that cannot be read.
    """
    try:
        with np.load(path) as data:
            saved = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} cannot be read ({type(e).__name__}: {e})") from e
    problems, updates = [], []
    for name, variable in _named_variables(optimizer).items():
        value = saved.pop(name, None)
        if value is None:
            problems.append(f"missing {name}")
        elif tuple(value.shape) != tuple(variable.shape):
            problems.append(f"{name}: saved {value.shape}, now {tuple(variable.shape)}")
        else:
            updates.append((variable, value))
    problems += [f"unexpected {name}" for name in sorted(saved)]
    if problems:
        raise CheckpointError(f"{path} does not fit the optimizer: " + "; ".join(problems[:10])
                              + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else "")
                              + "; resume with the model, train.precision and optimizer "
                              "settings the checkpoint was written with")
    for variable, value in updates:
        variable.assign(value)


# ---------------------------------------------------------------------------
# Epoch checkpoints.


def save_epoch_checkpoint(model_dir: str, network: keras.Model,
                          optimizer: keras.optimizers.Optimizer, config: ExperimentConfig,
                          state: TrainState) -> str:
    """Writes ``checkpoints/epoch_NNNN`` (complete, or not at all).

    Raises:
      CheckpointWriteError: when the disk is full or unwritable; the
        partial files are removed and older checkpoints are untouched.
    """
    final = checkpoint_dir(model_dir, state.epoch)
    _check_free_space(model_dir, final, network, optimizer)

    def write(tmp: str) -> None:
        save_weights(network, os.path.join(tmp, WEIGHTS_FILE))
        np.savez(os.path.join(tmp, OPTIMIZER_FILE), **optimizer_state(optimizer))
        save_config(config, os.path.join(tmp, CONFIG_FILE))
        _write_json(os.path.join(tmp, STATE_FILE), dataclasses.asdict(state))

    try:
        return write_checkpoint_dir(final, write)
    except OSError as e:
        why = "the disk is full" if e.errno == errno.ENOSPC else str(e)
        raise CheckpointWriteError(
            e.errno, f"cannot write checkpoint {final}: {why}; {_previous_intact(model_dir)}"
        ) from e


def _check_free_space(model_dir: str, final: str, network: keras.Model,
                      optimizer: keras.optimizers.Optimizer) -> None:
    """Refuses a checkpoint the disk cannot hold, before writing it: HDF5
    failing mid-write left h5py objects whose clean-up crashed the process
    (a segmentation fault after the one-line error)."""
    needed = weights_bytes(list(network.weights) + list(optimizer.variables))
    try:
        check_disk_room(model_dir, needed, f"checkpoint {final}")
    except OSError as e:
        raise CheckpointWriteError(e.errno, f"{e.strerror}; {_previous_intact(model_dir)}"
                                   ) from None


def _previous_intact(model_dir: str) -> str:
    """The end of a failed checkpoint write's message: what is still there."""
    previous = latest_epoch_checkpoint(model_dir)
    return (f"the previous checkpoint {previous} is intact" if previous
            else "no earlier checkpoint exists")


def check_epoch_files(path: str) -> None:
    """Reads an epoch checkpoint's weights and optimizer state through,
    without a model: the workers of a run check their own copies before
    they build the model together (one refusing in the middle of it left
    the others in a collective, or training into a false "lost worker").

    Raises:
      CheckpointError: naming the damaged file.
    """
    import h5py
    weights = os.path.join(path, WEIGHTS_FILE)
    try:
        with h5py.File(weights, "r") as f:
            f.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        raise CheckpointError(f"{weights} is damaged (HDF5 cannot read it: "
                              f"{str(e).split('(')[0].strip()}): copy or write that checkpoint "
                              "again") from e
    optimizer = os.path.join(path, OPTIMIZER_FILE)
    if os.path.isfile(optimizer):
        try:
            with np.load(optimizer) as data:
                for key in data.files:
                    data[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{optimizer} cannot be read ({type(e).__name__}: {e})") from e


def restore_epoch_checkpoint(path: str, network: keras.Model,
                             optimizer: keras.optimizers.Optimizer) -> TrainState:
    """Loads an epoch checkpoint into a built network and optimizer.

    Raises:
      CheckpointError: for weights or optimizer state that do not fit, an
        unreadable file, or a checkpoint of an earlier version that stored
        the optimizer state by position.
    """
    if not os.path.isfile(os.path.join(path, OPTIMIZER_FILE)):
        if os.path.isfile(os.path.join(path, LEGACY_OPTIMIZER_FILE)):
            raise CheckpointError(
                f"{path} was written by an earlier keras-pose that stored the optimizer state "
                "by position, which cannot be restored safely: start a new --model_dir with "
                f"--init_checkpoint {path} (its weights, a fresh optimizer)")
        raise CheckpointError(f"{path} has no {OPTIMIZER_FILE}")
    load_weights_strict(network, os.path.join(path, WEIGHTS_FILE))
    restore_optimizer_state(optimizer, os.path.join(path, OPTIMIZER_FILE))
    state = read_state(path)
    if state is None:
        raise CheckpointError(f"{os.path.join(path, STATE_FILE)} is missing, not JSON or not "
                              "numbers")
    return state


def read_state(path: str) -> Optional[TrainState]:
    """The :class:`TrainState` an epoch checkpoint recorded (a field its
    version did not record: 0); None for a state.json missing or unreadable."""
    values = _read_json(os.path.join(path, STATE_FILE))
    try:
        return TrainState(**{f.name: int(values.get(f.name, 0))
                             for f in dataclasses.fields(TrainState)})
    except (AttributeError, TypeError, ValueError):  # Not a dict, or not numbers.
        return None


def run_progress(model_dir: str) -> Optional[tuple[int, int, Optional[str]]]:
    """(epochs done, epochs planned, the recorded ``--init_checkpoint``:
    "" none, None not recorded by the version that made it) of the run in
    ``model_dir``, from its newest complete epoch checkpoint's state and
    config; None for no checkpoint or files that do not read."""
    from keras_pose.checkpoint import latest_epoch_checkpoint
    from keras_pose.configs import load_config
    latest = latest_epoch_checkpoint(model_dir)
    if latest is None:
        return None
    state = _read_json(os.path.join(latest, STATE_FILE))
    try:
        train = load_config(os.path.join(latest, CONFIG_FILE)).train
        done = int(state["epoch"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return done, train.epochs, train.init_checkpoint


def unfinished(model_dir: str) -> Optional[tuple[int, int]]:
    """(epochs done, epochs planned) of a run in ``model_dir`` stopped before
    its last epoch; None for no checkpoint, a finished run or files that do
    not read."""
    progress = run_progress(model_dir)
    return progress[:2] if progress and progress[0] < progress[1] else None


# ---------------------------------------------------------------------------
# Validation results and best/.


def record_validation(checkpoint: str, primary: str, value: float, how: str = "") -> None:
    """Writes ``validation.json`` into a (complete) epoch checkpoint; ``how``:
    the validation's data, boxes and flip test (values measured otherwise
    are not compared)."""
    _write_json(os.path.join(checkpoint, VALIDATION_FILE),
                {"metric": primary, "value": value, "how": how})


def validation_how(checkpoint: str) -> str:
    """How an epoch was validated ("" when not recorded)."""
    values = _read_json(os.path.join(checkpoint, VALIDATION_FILE))
    return str(values.get("how") or "") if isinstance(values, dict) else ""


def validation_of(checkpoint: str) -> Optional[float]:
    """The recorded validation value of an epoch checkpoint, or None."""
    values = _read_json(os.path.join(checkpoint, VALIDATION_FILE))
    return float(values["value"]) if isinstance(values, dict) and "value" in values else None


def best_record(model_dir: str) -> Optional[dict[str, Any]]:
    """``{"epoch", "metric", "value"}`` of a complete ``best/``, else None."""
    best = os.path.join(model_dir, "best")
    if not is_complete(best):
        return None
    record = _read_json(os.path.join(best, BEST_FILE))
    return record if isinstance(record, dict) and "value" in record else None


def rewrite_best_record(model_dir: str, value: float, how: str) -> None:
    """``best/``'s value as validated again (``how``), its epoch kept."""
    path = os.path.join(model_dir, "best", BEST_FILE)
    _write_json(path, dict(_read_json(path) or {}, value=value, how=how))


def save_best(model_dir: str, checkpoint: str, epoch: int, primary: str, value: float,
              how: str = "") -> str:
    """Replaces ``best/`` with a copy of an epoch checkpoint (atomically)."""
    def write(tmp: str) -> None:
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copy2(os.path.join(checkpoint, name), os.path.join(tmp, name))
        _write_json(os.path.join(tmp, BEST_FILE),
                    {"epoch": epoch, "metric": primary, "value": value, "how": how})

    try:
        return write_checkpoint_dir(os.path.join(model_dir, "best"), write)
    except OSError as e:
        raise CheckpointWriteError(
            e.errno, f"cannot write {model_dir}/best: {e}; epoch {epoch} is saved in "
            f"{checkpoint}: once the disk has room, run the same command again (it writes "
            "best/ from it)") from e


def _epochs(model_dir: str) -> list[tuple[int, str]]:
    return [(epoch, p) for epoch, p in epoch_directories(model_dir) if is_complete(p)]


def unvalidated_epochs(model_dir: str, before: int) -> list[tuple[int, str]]:
    """(epoch, path) of the complete epoch checkpoints of epochs (1-based)
    below ``before`` that have no validation record, oldest first."""
    return [(epoch, path) for epoch, path in _epochs(model_dir)
            if epoch < before and validation_of(path) is None]


def pending_best(model_dir: str) -> Optional[tuple[int, str, float]]:
    """The validated epoch checkpoint that beats ``best/`` (or any, when
    ``best/`` is missing or incomplete), validated as ``best/`` was (values
    of another flip test or data are not compared): (epoch, path, value),
    else None."""
    record = best_record(model_dir)
    threshold = -np.inf if record is None else float(record["value"])
    how = "" if record is None else str(record.get("how") or "")
    found = None
    for epoch, path in _epochs(model_dir):
        value = validation_of(path)
        if how and validation_how(path) not in ("", how):
            continue
        if value is not None and value > threshold and (found is None or value > found[2]):
            found = (epoch, path, value)
    return found


def repair_best(model_dir: str, primary: str) -> None:
    """Brings ``best/`` up to date with the validated epochs on disk (after a
    crash between a validation and its copy to ``best/``)."""
    found = pending_best(model_dir)
    if found is not None:
        logging.warning("best/ was missing or stale: restoring it from epoch %d (%s %.4f)",
                        found[0], primary, found[2])
        save_best(model_dir, found[1], found[0], primary, found[2], validation_how(found[1]))


def leftovers(model_dir: str) -> tuple[list[str], list[str]]:
    """Temporary and replaced checkpoint (and SavedModel export) directories:
    (those this host's dead processes wrote, which may be removed; the
    others, kept). A run killed during its final export left its
    ``saved_model.tmp-*`` for good before; the export is written again at
    the end of the next run."""
    # Escaped: runs/exp[1] globbed runs/exp1's leftovers (and removed them).
    root = glob.escape(model_dir)
    paths = sorted(glob.glob(os.path.join(root, "checkpoints", "epoch_*.tmp-*"))
                   + glob.glob(os.path.join(root, "checkpoints", "epoch_*.old-*"))
                   + [p for name in ("best", "saved_model") for kind in ("tmp", "old")
                      for p in glob.glob(os.path.join(root, f"{name}.{kind}-*"))])
    ours = [p for p in paths if written_by_dead_process(p, this_process=True)]
    return ours, [p for p in paths if p not in ours]


def check_checkpoints(model_dir: str) -> None:
    """Before a run uses a model directory: checkpoints without their
    marker stop it (nothing is used or deleted); leftovers of other hosts or
    live processes are reported and kept.

    Raises:
      CheckpointError: listing the unmarked directories and what to do.
    """
    for pruned in pruned_epoch_leftovers(model_dir):
        logging.warning("Removed %s: an epoch checkpoint that training pruned, made again by "
                        "an export into it (--runtime) running at the time", pruned)
        shutil.rmtree(pruned, ignore_errors=True)
    unmarked = unmarked_checkpoints(model_dir)
    if unmarked:
        raise unmarked_error(model_dir, unmarked)
    foreign = leftovers(model_dir)[1]
    if foreign:
        logging.warning("Kept %d temporary checkpoint director%s that another host or a running "
                        "process wrote: %s", len(foreign), "y" if len(foreign) == 1 else "ies",
                        ", ".join(foreign))


def finish_interrupted_writes(model_dir: str) -> None:
    """At the start of a run (it holds the lock): puts ``best/`` back when a
    crash stopped its replacement between the two renames, from the copy
    recorded as best (:func:`interrupted_best`), and removes the other
    leftovers of this host's dead processes. Those of other hosts or live
    processes stay (reported by :func:`check_checkpoints`)."""
    ours = leftovers(model_dir)[0]
    best = os.path.join(model_dir, "best")
    found = None if os.path.isdir(best) else interrupted_best(model_dir, among=ours)
    if found is not None:
        logging.warning("best/ was missing (a replacement was interrupted): put back from %s",
                        found)
        os.replace(found, best)
        ours.remove(found)
    for stale in ours:
        shutil.rmtree(stale, ignore_errors=True)


def prune(model_dir: str, keep: int) -> None:
    """Keeps the ``keep`` newest epoch checkpoints and any epoch pending for
    ``best/``; removes the interrupted writes of this host's dead processes.
    Directories without the marker are never touched (this run checked
    that there were none, so another hand put them there)."""
    for stale in leftovers(model_dir)[0]:
        shutil.rmtree(stale, ignore_errors=True)
    epochs = _epochs(model_dir)
    pending = pending_best(model_dir)
    protected = {p for _, p in epochs[-max(1, keep):]} | ({pending[1]} if pending else set())
    for _, path in epochs:
        if path not in protected:
            shutil.rmtree(path, ignore_errors=True)
