"""The training run: resumable checkpoints, ``fit``; the export and final
evaluation after the last epoch are ``finish.py``'s.

Behaves as the official ``train.py``: Adam (PyTorch's epsilon 1e-8, no
weight decay), the learning rate set per epoch by the MultiStepLR rule,
JointsMSELoss with target weights, the heatmap PCK as train-time accuracy,
validation as the official yaml files set it (ground-truth boxes, no flip
test) — and, unlike the official code, resumes from its latest checkpoint
automatically, with the same data order and optimizer state as an
uninterrupted run.

Distribution (``distribution.py``): ``MirroredStrategy`` over the visible GPUs (the default
strategy on a CPU-only machine); ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` names several workers. BatchNorm is synchronized whenever
there is more than one replica, unless ``model.sync_bn`` is false.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from typing import Iterator, Optional

import keras
import tensorflow as tf

from keras_pose import log as logging
from keras_pose import signals
from keras_pose.checkpoint import CheckpointError, latest_epoch_checkpoint
from keras_pose.codec import build_codec
from keras_pose.configs import ExperimentConfig, config_to_dict, load_config, save_config
from keras_pose.convert.pretrained import initialize_backbone
from keras_pose.data import datasets, pipeline, samples
from keras_pose.errors import UserError
from keras_pose.models import build_model_from_config
from keras_pose.training import callbacks as cb
from keras_pose.training import run_dir
from keras_pose.training.callbacks import TrainingError, TrainingInterrupted
from keras_pose.training.cluster import (check_same_weights, check_workers_agree,
                                         cluster_workers, end_together, lost_before_training,
                                         lost_worker_error, stop_together)
from keras_pose.training.distribution import (is_chief, resolve_precision, select_strategy,
                                              worker_dir)
from keras_pose.training.finish import after_training, check_export_place
from keras_pose.training.fused_adam import FusedAdam
from keras_pose.training.init_checkpoint import (check_restarted_source, check_resumed_source,
                                                 init_from_checkpoint,
                                                 recorded_source)
from keras_pose.training.model import PoseTrainingModel
from keras_pose.training.precision import check_jit_compile, dtype_policy, schedule_change
from keras_pose.training.process_state import caller_state_kept
from keras_pose.training.resume import (agreed_checkpoint, check_resume, log_changed_settings,
                                       refuse_checkpoint_as_model_dir, refuse_legacy,
                                       refuse_other_schedule)
from keras_pose.training.schedule import base_learning_rate, learning_rate_for_epoch
from keras_pose.training.validation_data import validation_setup


# ---------------------------------------------------------------------------
# Pieces of a run


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` did."""

    model_dir: str
    epochs_run: int
    state: run_dir.TrainState
    history: list[dict[str, float]]
    final_metrics: dict[str, float]
    saved_model: Optional[str]
    final_table: str = ""
    validation_failures: tuple[str, ...] = ()  # non-strict validations that failed


def make_optimizer(config: ExperimentConfig) -> keras.optimizers.Optimizer:
    """Adam with PyTorch's epsilon (its update fused: :class:`FusedAdam`); AdamW only
    if ``train.weight_decay`` > 0.
    (With the mixed_float16 policy, ``compile`` adds loss scaling.)"""
    t = config.train
    if t.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=t.learning_rate,
                                      weight_decay=t.weight_decay, epsilon=t.adam_epsilon)
    return FusedAdam(learning_rate=t.learning_rate, epsilon=t.adam_epsilon)


# ---------------------------------------------------------------------------
# The run


@dataclasses.dataclass
class _Plan:
    """How a run is laid out on its devices and in time."""

    global_batch: int
    steps_per_epoch: int
    steps_per_execution: int
    base_lr: float
    chief: bool
    directory: str


def _plan(config: ExperimentConfig, strategy: tf.distribute.Strategy, num_people: int,
          model_dir: str) -> _Plan:
    t = config.train
    global_batch = t.batch_size_per_replica * strategy.num_replicas_in_sync
    steps = num_people // global_batch
    if steps == 0:
        raise TrainingError(f"the training set has {num_people} people, fewer than one global "
                            f"batch of {global_batch}; lower train.batch_size_per_replica")
    if t.steps_per_epoch > 0:  # Any length: epochs continue into the next passes.
        steps = t.steps_per_epoch
    per_execution = math.gcd(steps, t.steps_per_execution)
    if per_execution != t.steps_per_execution:  # Was lowered unsaid (to 1, often).
        logging.warning("train.steps_per_execution=%d runs as %d: it must divide the %d steps "
                        "of an epoch (train.steps_per_epoch)", t.steps_per_execution,
                        per_execution, steps)
    return _Plan(global_batch, steps, per_execution,
                 base_learning_rate(t.learning_rate, global_batch, t.reference_global_batch,
                                    t.scale_lr_with_batch),
                 is_chief(strategy), worker_dir(model_dir, strategy))


def _build(config: ExperimentConfig, strategy: tf.distribute.Strategy, plan: _Plan,
           latest: Optional[str], init_checkpoint: Optional[str]):
    """The network, the training model (compiled) and the resumed state."""
    keras.utils.set_random_seed(config.train.seed)
    with strategy.scope():
        network = build_model_from_config(config.model)
        if not (latest or init_checkpoint):  # Else the checkpoint overwrites them.
            initialize_backbone(network, config.model)
        model = PoseTrainingModel(network, config, plan.global_batch,
                                  multi_worker=cluster_workers() > 1)
        model.compile(optimizer=make_optimizer(config), jit_compile=config.train.jit_compile,
                      steps_per_execution=plan.steps_per_execution)
    state = run_dir.TrainState(steps_per_epoch=plan.steps_per_epoch,
                               global_batch=plan.global_batch, workers=cluster_workers())
    if latest:
        try:
            state = run_dir.restore_epoch_checkpoint(latest, network, model.optimizer)
        except (CheckpointError, ValueError) as e:
            raise TrainingError(f"cannot resume from {latest}: {e}") from e
        state.workers = cluster_workers()  # This run's checkpoints are written by this cluster.
        if (state.steps_per_epoch, state.global_batch) != (plan.steps_per_epoch,
                                                           plan.global_batch):
            raise schedule_change(latest, state.steps_per_epoch, state.global_batch,
                                  plan.steps_per_epoch, plan.global_batch,
                                  config.train.batch_size_per_replica)
        logging.info("Resuming from %s: %d of %d epochs done", latest, state.epoch,
                     config.train.epochs)
    elif init_checkpoint:
        init_from_checkpoint(network, init_checkpoint, config)
    return network, model, state


def _dataset(strategy, config: ExperimentConfig, records, plan: _Plan, start_epoch: int,
             augment: bool, skipped: samples.SkipCounter):
    aug = samples.Augmentation.from_config(config, augment)
    codec = build_codec(config.model)
    seed = config.data.seed if config.data.seed is not None else config.train.seed

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return pipeline.build_train_dataset(
            records, aug, codec, batch_size=config.train.batch_size_per_replica,
            steps_per_epoch=plan.steps_per_epoch, start_epoch=start_epoch, seed=seed,
            num_parallel_calls=config.data.num_parallel_calls, input_context=context,
            skipped_counter=skipped)

    return strategy.distribute_datasets_from_function(dataset_fn)


def _callbacks(config, plan: _Plan, network, state, validation, records, skipped):
    t = config.train
    saver = cb.EpochCheckpoint(plan.directory, network, config, state)
    lr = keras.callbacks.LearningRateScheduler(
        lambda epoch, _: learning_rate_for_epoch(plan.base_lr, epoch, t.lr_steps, t.lr_factor))
    log = cb.EpochLog(plan.global_batch, plan.steps_per_epoch, skipped)
    callbacks = [cb.RaiseLostStop(), lr, cb.StopOnNaN(plan.directory), saver]
    writer = None
    if plan.chief:
        logs = os.path.join(plan.directory, "logs")
        writer = tf.summary.create_file_writer(os.path.join(logs, "validation"))
        callbacks.append(cb.TensorBoard(logs, update_freq=max(1, t.log_every),
                                        write_graph=False))
        if t.image_summary_every > 0:
            # The first people of readable images: an unreadable image must
            # not leave this fixed sample empty (its data would never end).
            sample = next(iter(pipeline.build_train_dataset(
                records.select(pipeline.readable_rows(records.image_path, 4)),
                samples.Augmentation.from_config(config),
                build_codec(config.model), batch_size=1,
                steps_per_epoch=1).unbatch().batch(4).take(1)))
            callbacks.append(cb.DebugImages(writer, network, sample, config,
                                            t.image_summary_every))
    if validation is not None:
        from keras_pose.inference import TopDownEstimator
        estimator = TopDownEstimator(lambda x: network(x, training=False), validation.config,
                                     flip=t.val_flip_test)
        callbacks.append(cb.Validation(
            plan.directory, saver, estimator, validation.records, validation.metric,
            every=t.validate_every,
            epochs=t.epochs, strict=t.strict_validation, batch_size=config.test.batch_size,
            writer=writer, how=validation.how()))
    callbacks += [cb.Prune(plan.directory, t.keep_checkpoints, cluster_workers()), log]
    return callbacks, log


def _log_sync_bn(setting: Optional[bool], replicas: int) -> None:
    """Says which BatchNorm the run uses. The config keeps the setting (None:
    auto); the network is built under the strategy, which resolves auto
    (``build_model_from_config``)."""
    if replicas == 1:
        logging.info("BatchNorm: one replica, nothing to synchronize")
        return
    synchronized = setting is None or setting
    logging.info("BatchNorm: %s across the %d replicas (model.sync_bn=%s)",
                 "synchronized" if synchronized else "NOT synchronized, each replica's own "
                 "batch statistics", replicas, "auto" if setting is None else
                 str(setting).lower())


def _prepare(config: ExperimentConfig, strategy: tf.distribute.Strategy,
             init_checkpoint: Optional[str]) -> ExperimentConfig:
    config = datasets.resolve_dataset_config(config)
    precision = resolve_precision(config.train.precision)
    if precision != config.train.precision:
        logging.info("train.precision=auto: %s on this machine", precision)
    if precision == "mixed_float16" and not tf.config.list_logical_devices("GPU"):
        # Was unsaid: a synthetic epoch took over 200 s, against 12 s at fp32
        # (Intel Xeon with AMX, TF 2.21).
        logging.warning("train.precision=mixed_float16 is for GPUs: this machine has none, "
                        "and TF computes float16 on CPUs many times slower than fp32; "
                        "--precision auto picks this machine's fastest")
    # What the run began from, as its checkpoints record it (the argument
    # wins over the config's).
    source = recorded_source(init_checkpoint or config.train.init_checkpoint)
    config = config.replace(train=dataclasses.replace(config.train, precision=precision,
                                                      init_checkpoint=source))
    _log_sync_bn(config.model.sync_bn, strategy.num_replicas_in_sync)
    d = config.data
    logging.info("Keypoints %s; flip pairs %s; OKS sigmas %s", list(d.keypoint_names),
                 [list(p) for p in d.flip_pairs], list(d.oks_sigmas) or "none")
    return config


def _fit(model, dataset, config, plan: _Plan, state, callbacks, progress: bool,
         skipped: samples.SkipCounter) -> None:
    from keras_pose.training.fit_progress import fit_verbosity  # Here: the module is at 500 lines.
    try:
        model.fit(dataset, epochs=config.train.epochs, initial_epoch=state.epoch,
                  steps_per_epoch=plan.steps_per_epoch, callbacks=callbacks, shuffle=False,
                  verbose=fit_verbosity(progress and plan.chief))
    except tf.errors.UnavailableError as e:
        if cluster_workers() < 2:
            raise
        last = latest_epoch_checkpoint(plan.directory) if plan.chief else None
        raise lost_worker_error(str(e.message), plan.chief, last) from e
    except tf.errors.OpError as e:
        if skipped.error is None:
            raise
        last = latest_epoch_checkpoint(plan.directory)
        where = f"the last complete checkpoint is {last}" if last else "no checkpoint was written"
        raise TrainingError(f"{skipped.error}; {where}") from e
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (keras_pose.signals).
        raise _interrupted(e, plan.directory) from None
    finally:
        try:  # Freeing the input pipeline takes a moment: a Ctrl-C came there too.
            model.release_iterator()
        except KeyboardInterrupt as e:
            raise _interrupted(e, plan.directory) from None


def _interrupted(stop: KeyboardInterrupt, directory: str) -> TrainingInterrupted:
    """The stop of a run during training, naming what the same command resumes."""
    last = latest_epoch_checkpoint(directory)
    return TrainingInterrupted(
        f"interrupted ({signals.stop_name(stop)}); " + (
            f"the last complete checkpoint is {last}: run the same command again to "
            "resume from it" if last else "no checkpoint was written yet"),
        exit_code=signals.stop_exit_code(stop))


def _run(config: ExperimentConfig, model_dir: str, strategy, *, augment, export,
         progress) -> TrainResult:
    with _refusals_shared(strategy):  # Every worker stops alike, one line each.
        records, plan, validation = _setup(config, strategy, model_dir, export)
    latest = latest_epoch_checkpoint(plan.directory)
    if cluster_workers() > 1:
        check_workers_agree(strategy, config_to_dict(config),
                            {"steps per epoch": plan.steps_per_epoch,
                             "global batch": plan.global_batch})
        latest = agreed_checkpoint(strategy, model_dir, plan.directory, latest)
    # Whatever can still refuse the run (the checkpoint's settings, weights,
    # optimizer state and schedule) before the first write: a refused run
    # leaves the model directory as it was.
    if not latest:
        with _refusals_shared(strategy):
            check_restarted_source(config, model_dir)
    if latest:
        with _refusals_shared(strategy):  # No collective in it: no worker waits in one.
            saved = load_config(os.path.join(latest, "config.json"))
            given = bool(config.train.init_checkpoint)  # The command's, not yet the run's.
            config = check_resume(saved, check_resumed_source(saved, config, model_dir, latest),
                                  latest, source_given=given)
            try:
                run_dir.check_epoch_files(latest)
            except CheckpointError as e:
                raise TrainingError(f"cannot resume from {latest}: {e}") from e
    with lost_before_training():  # Another worker stopped there (its own error).
        network, model, state = _build(config, strategy, plan, latest,
                                       config.train.init_checkpoint or None)
    if cluster_workers() > 1:
        check_same_weights(strategy, network)
    if state.epoch > config.train.epochs:  # Its config.json said the fewer, in silence.
        raise TrainingError(
            f"{latest} has {state.epoch} epochs done, more than train.epochs="
            f"{config.train.epochs}: nothing to train, nothing was written. Give "
            f"train.epochs={state.epoch} or more (the same command exports and evaluates a "
            "finished run again), or a new --model_dir")
    if latest:  # Sure to resume now: a refusal above logged it first.
        log_changed_settings(saved, config, latest)
    skipped = samples.SkipCounter()
    start = state.epoch
    dataset = _dataset(strategy, config, records, plan, start, augment, skipped)
    if plan.chief:
        save_config(config, os.path.join(model_dir, "config.json"))
    run_dir.finish_interrupted_writes(plan.directory)  # also when nothing is left to train
    if validation is not None:
        run_dir.repair_best(plan.directory, validation.metric.primary)
    callbacks, log = _callbacks(config, plan, network, state, validation, records, skipped)
    for callback in (c for c in callbacks if latest and isinstance(c, cb.Validation)):
        callback.set_model(model)  # Its summaries read the optimizer's step.
        callback.catch_up(latest, state.epoch)
    _fit(model, dataset, config, plan, state, callbacks, progress, skipped)
    validator = next((c for c in callbacks if isinstance(c, cb.Validation)), None)
    final = validator.last_metrics if validator is not None else {}
    table = validation.table(final) if validation is not None else ""
    saved_model = None
    try:
        if plan.chief:
            saved_model, table = after_training(network, config, model_dir, plan.directory,
                                                 export, progress, table)
    finally:
        # One leaving while the chief validated and exported made the chief
        # log "the tasks have crashed" after a good run.
        if cluster_workers() > 1:
            end_together(strategy)
    return TrainResult(model_dir, state.epoch - start, state, log.history, final, saved_model,
                       table, tuple(validator.failures if validator is not None else ()))


@contextlib.contextmanager
def _refusals_shared(strategy) -> Iterator[None]:
    """One worker's refusal of the run (a user error in the block, which
    holds no collective) stops every worker of a multi-worker run with one
    line, before any write: the others went on into a collective and a TF
    traceback, or into training and a false "lost worker". Each worker ends
    the block, then they agree (:func:`keras_pose.training.cluster.
    stop_together`)."""
    refusal = None
    try:
        yield
    except UserError as e:
        if cluster_workers() < 2:
            raise
        refusal = e
    if cluster_workers() > 1:
        stop_together(strategy, refusal)


def _setup(config: ExperimentConfig, strategy, model_dir: str, export: bool):
    """This worker's training people, plan and checks before anything is
    written (a user error refuses the run): (records, plan, the validation
    setup or None)."""
    records = datasets.load_records(config, "train")
    datasets.check_order(config, records)
    plan = _plan(config, strategy, len(records), model_dir)
    logging.info("%s: %d training people (%d annotations skipped: %s); %d replica(s), global "
                 "batch %d, %d steps per epoch, base learning rate %g", config.data.root,
                 len(records), records.num_skipped, records.skipped_reasons or "none",
                 strategy.num_replicas_in_sync, plan.global_batch, plan.steps_per_epoch,
                 plan.base_lr)
    return records, plan, _checks(config, plan, records, model_dir, export)


def _checks(config: ExperimentConfig, plan: _Plan, records, model_dir: str, export: bool):
    """This worker's checks before anything is written (a user error
    refuses the run); returns the validation setup (None: no validation)."""
    # Data that would never yield a sample.
    pipeline.check_readable(list(dict.fromkeys(records.image_path)), source=records.source)
    validation = validation_setup(config, plan.chief, records)
    if export and plan.chief:
        check_export_place(os.path.join(model_dir, "saved_model"))
    refuse_legacy(plan.directory)
    run_dir.check_checkpoints(plan.directory)
    refuse_other_schedule(plan.directory, plan.steps_per_epoch, plan.global_batch,
                          config.train.batch_size_per_replica)
    return validation


def train(config: ExperimentConfig, model_dir: str, *, init_checkpoint: Optional[str] = None,
          augment: bool = True, export: bool = True, progress: bool = True,
          strategy: Optional[tf.distribute.Strategy] = None) -> TrainResult:
    """Trains (or resumes training of) ``config`` in ``model_dir``;
    ``init_checkpoint`` (a checkpoint or a preset name; default
    ``config.train.init_checkpoint``) gives a new run its first weights.

    Raises:
      TrainingError (TrainingInterrupted on Ctrl-C), run_dir.RunDirError
      (another run holds the directory), datasets.DatasetError,
      samples.UnreadableImagesError (no training image can be read),
      CheckpointError, run_dir.CheckpointWriteError: each with a message
      naming the file or setting at fault.
    """
    refuse_checkpoint_as_model_dir(model_dir)
    if not augment:  # In the config saved: it was in none, and a resume switching it unsaid.
        config = config.replace(data=dataclasses.replace(
            config.data, flip=False, scale_factor=0.0, rotation_factor=0.0, rotation_prob=0.0,
            half_body_prob=0.0))
    strategy = strategy or select_strategy()
    config = _prepare(config, strategy, init_checkpoint)
    check_jit_compile(config, strategy)  # Before the lock: nothing written.
    directory = worker_dir(model_dir, strategy)
    # The caller's random generators (_build seeds them) and OpenCV's threads.
    with caller_state_kept(), dtype_policy(config.train.precision), run_dir.RunLock(directory):
        try:
            return _run(config, model_dir, strategy, augment=augment, export=export,
                        progress=progress)
        except KeyboardInterrupt as e:  # Before training (set-up, a resume's checks
            # and catch-up validation): said without where to resume from.
            raise _interrupted(e, directory) from None
