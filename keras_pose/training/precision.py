"""A run's numbers and devices: the Keras dtype policy it trains under and
the float32 one of what follows its training (the export and the final
evaluation of ``best/``), the XLA compilation its replicas cannot take, and
what a resume on other replicas gives to keep the checkpoint's schedule.
"""

from __future__ import annotations

import contextlib
import os

import tensorflow as tf

from keras_pose.configs import ExperimentConfig
from keras_pose.models.dtypes import dtype_scope, float32_scope
from keras_pose.training.callbacks import TrainingError

# The policy of everything after training that loads ``best/`` for
# inference (the export, the final evaluation): the one checkpoints load
# under. Was set by the export alone: with --noexport the final evaluation
# of a mixed-precision run ran in bf16 / fp16 (AP 0.656 against fp32's
# 0.658) while its table and metrics.json said fp32.
float32_inference = float32_scope


def dtype_policy(precision: str) -> contextlib.AbstractContextManager:
    """Keras's global dtype policy for ``precision`` (``train.precision``:
    "fp32", "mixed_bfloat16", "mixed_float16") inside the block, with
    floatx float32 (the variables' type: under the caller's
    ``set_floatx("float64")`` training crashed in its first step, after
    writing config.json and logs/); the caller's policy and floatx are
    restored after it, whatever happens there."""
    return dtype_scope("float32" if precision == "fp32" else precision)


def check_jit_compile(config: ExperimentConfig, strategy: tf.distribute.Strategy) -> None:
    """Refuses ``train.jit_compile`` with several replicas on CPU devices
    (logical CPUs, or CPU-only workers), before anything is written: XLA
    has no collectives for CPUs, and the run died in its first step
    ("Collectives are not yet implemented for CPU devices when compiling
    with XLA", then "double free or corruption", exit 134), leaving
    config.json and logs/. One CPU device compiles fine."""
    replicas = strategy.num_replicas_in_sync
    if not config.train.jit_compile or replicas < 2:
        return
    devices = strategy.extended.worker_devices
    if not all((tf.DeviceSpec.from_string(d).device_type or "CPU").upper() == "CPU"
               for d in devices):
        return
    raise TrainingError(
        f"--jit_compile (train.jit_compile=true) with {replicas} replicas on CPU devices: XLA "
        "cannot compile the collectives that keep CPU replicas in step (the run would abort "
        "in its first step); drop --jit_compile (or --set train.jit_compile=false) to train "
        "on several CPU replicas: XLA with several replicas needs GPUs")


def schedule_change(latest: str, saved_steps: int, saved_batch: int, steps: int, batch: int,
                    batch_per_replica: int) -> TrainingError:
    """The refusal to resume ``latest`` (written with ``saved_steps`` steps
    per epoch of global batch ``saved_batch``) as a run of ``steps`` steps
    of global batch ``batch`` (``batch_per_replica`` per replica). Was
    "use the same data and batch" alone: a 2-replica run resumed on one
    device with the same batch_size_per_replica did not say that the
    replicas differ nor which batch_size_per_replica keeps the batch."""
    replicas = batch // batch_per_replica
    saved_per_replica = _saved_batch_per_replica(latest)
    was = (f" ({_replicas(saved_batch // saved_per_replica)} x {saved_per_replica})"
           if saved_per_replica and saved_batch % saved_per_replica == 0 else "")
    if saved_batch == batch:
        way = "give the same data (and train.steps_per_epoch)"
    elif saved_batch % replicas == 0:
        way = (f"give --set train.batch_size_per_replica={saved_batch // replicas} (global batch "
               f"{saved_batch} on this run's {_replicas(replicas)}) with the same data")
    else:
        way = (f"resume on a number of replicas that divides the global batch "
               f"{saved_batch} (this run's {replicas} cannot share it)")
    return TrainingError(
        f"{latest} was written with {saved_steps} steps per epoch and global batch "
        f"{saved_batch}{was}, this run has {steps} and {batch} ({_replicas(replicas)} x "
        f"{batch_per_replica}): the schedule would change; {way}, or use a new --model_dir")


def _replicas(count: int) -> str:
    return f"{count} replica{'s' if count != 1 else ''}"


def _saved_batch_per_replica(latest: str) -> int:
    """The batch_size_per_replica in ``latest``'s config.json (0: unread)."""
    from keras_pose.configs import load_config
    try:
        return load_config(os.path.join(latest, "config.json")).train.batch_size_per_replica
    except (OSError, ValueError):
        return 0
