"""Callbacks of a training run: checkpoint, validate, keep best/, stop on NaN.

Their order in the list is the order Keras calls them at an epoch's end, and
it matters: the epoch checkpoint is written first (a validation failure never
costs the epoch), then validated, then ``best/`` updated, then old
checkpoints pruned.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

from keras_pose import log as logging
from keras_pose.checkpoint import latest_epoch_checkpoint
from keras_pose.errors import UserError
from keras_pose.signals import raise_lost_stop
from keras_pose.training import run_dir


class TrainingError(UserError, RuntimeError):
    """Training cannot go on; the message says why and what was kept."""


class TrainingInterrupted(TrainingError):
    """Ctrl-C or SIGTERM: training stopped; the message says where it can
    resume. ``exit_code``: 130 (Ctrl-C), 143 (SIGTERM) or 129 (SIGHUP)."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes ``checkpoints/epoch_NNNN`` at the end of every epoch.

    Args:
      directory: where this process writes (the model directory).
      network: the functional network whose weights are saved.
      config: saved with every checkpoint.
      state: the run's :class:`run_dir.TrainState` (updated here).
    """

    def __init__(self, directory: str, network: keras.Model, config: Any,
                 state: run_dir.TrainState):
        super().__init__()
        self.directory, self.network, self.config, self.state = directory, network, config, state
        self.last_path: Optional[str] = None

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.state.epoch = epoch + 1
        self.state.step = int(self.model.optimizer.iterations.numpy())
        self.last_path = run_dir.save_epoch_checkpoint(
            self.directory, self.network, self.model.optimizer, self.config, self.state)


class Validation(keras.callbacks.Callback):
    """Validates after the checkpoint, records the result and keeps ``best/``.

    Args:
      directory: the model directory.
      checkpoint: the :class:`EpochCheckpoint` (the epoch's checkpoint path).
      estimator: the inference path on the training network (validation
        flip test and config).
      records, metric: the validation people and their metric, loaded once.
      every, epochs: validate every ``every`` epochs and after the last.
      strict: a validation error stops training (the checkpoint is kept).
      batch_size: people per validation batch.
      writer: a TensorBoard writer, or None.
      how: the validation's data, boxes and flip test, recorded with each
        value (values measured otherwise are not compared).
    """

    def __init__(self, directory: str, checkpoint: EpochCheckpoint, estimator: Any,
                 records: Any, metric: Any, *, every: int, epochs: int, strict: bool,
                 batch_size: int, writer: Any = None, how: str = ""):
        super().__init__()
        self.how = how
        self.directory, self.checkpoint, self.estimator = directory, checkpoint, estimator
        self.records, self.metric, self.every, self.epochs = records, metric, every, epochs
        self.strict, self.batch_size, self.writer = strict, batch_size, writer
        self.last_metrics: dict[str, float] = {}
        self.failures: list[str] = []  # Each failed validation's message (non-strict).

    def _due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is validated."""
        return self.every > 0 and ((epoch + 1) % self.every == 0 or epoch + 1 == self.epochs)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if not self._due(epoch):
            return
        from keras_pose.evaluation.runner import evaluate
        metrics = self._validate(epoch + 1, self.checkpoint.last_path, lambda: evaluate(
            self.estimator, self.records, self.metric, batch_size=self.batch_size))
        if metrics is None:
            return
        self.last_metrics = metrics
        if logs is not None:
            logs[f"val_{self.metric.primary}"] = float(metrics[self.metric.primary])
        self._summaries(metrics)

    def _validate(self, epoch: int, checkpoint: str, run: Any) -> Optional[dict]:
        """Validates epoch ``epoch``'s (1-based) ``checkpoint`` with
        ``run()`` (its metrics), records the value beside it and updates
        ``best/``; None when the validation failed (said; raised when
        ``strict``)."""
        primary = self.metric.primary
        try:
            metrics = run()
        except Exception as e:  # noqa: BLE001 - reported; the epoch is saved already.
            message = (f"validation after epoch {epoch} failed ({type(e).__name__}: {e}); "
                       f"the epoch's checkpoint {checkpoint} is kept")
            if self.strict:
                raise TrainingError(message) from e
            logging.error("%s; training goes on (train.strict_validation=false)", message)
            self.failures.append(message)
            return None
        value = float(metrics[primary])
        run_dir.record_validation(checkpoint, primary, value, self.how)
        logging.info("Validation after epoch %d: %s = %.4f", epoch, primary, value)
        best = self._comparable_best()
        if best is None or value > float(best["value"]):
            run_dir.save_best(self.directory, checkpoint, epoch, primary, value, self.how)
        return metrics

    def _evaluate_saved(self, path: str) -> dict:
        """The validation metrics of the network saved at ``path``, decoded
        with the run's settings: every checkpoint of a run has them
        (``resume.check_resume`` refuses a resume that changes the codec,
        sigma or decoding), as evaluate.py decodes it from its own config."""
        from keras_pose.checkpoint import load_model
        from keras_pose.evaluation.runner import evaluate
        from keras_pose.inference import TopDownEstimator
        network, _ = load_model(path)
        estimator = TopDownEstimator(lambda x: network(x, training=False), self.estimator.config,
                                     flip=self.estimator.flip)
        return evaluate(estimator, self.records, self.metric, batch_size=self.batch_size)

    def _comparable_best(self) -> Optional[dict]:
        """``best/``'s record, validated again as this run validates when it
        was validated otherwise (a resume with another flip test compared
        0.377 without it to 0.411 with it, and kept the worse epoch)."""
        best = run_dir.best_record(self.directory)
        # A record without "how" (an earlier version's) is not known to be
        # comparable: taken as it was, epoch 9's AP of other OKS sigmas (0.924)
        # replaced a best/ that scored 0.944 under them.
        if best is None or best.get("how") == self.how:
            return best
        logging.warning("best/ (epoch %s) was validated otherwise (%s; now %s): validating it "
                        "again", best.get("epoch"), best.get("how") or "how unrecorded",
                        self.how)
        path = os.path.join(self.directory, "best")
        value = float(self._evaluate_saved(path)[self.metric.primary])
        run_dir.rewrite_best_record(self.directory, value, self.how)
        return dict(best, value=value, how=self.how)

    def catch_up(self, checkpoint: str, epoch: int) -> None:
        """Validates the resumed ``checkpoint`` (its weights are the
        network's) when its epoch was due and has no record: a run stopped
        during that validation (Ctrl-C, ``kill -9``) was never validated
        again, so ``best/`` and the final table could be missing for good.
        Kept checkpoints of earlier due epochs without a record (validations
        that failed: a damaged image, since replaced) are validated first,
        oldest first, from their saved weights: ``best/`` was chosen among
        the last epoch alone."""
        for earlier, path in run_dir.unvalidated_epochs(self.directory, before=epoch):
            if self._due(earlier - 1):
                logging.info("Validating %s, left unvalidated by the run that wrote it", path)
                self._validate(earlier, path, lambda: self._evaluate_saved(path))
        # Was said of epochs not due too, with no validation after it.
        if epoch > 0 and self._due(epoch - 1) and run_dir.validation_of(checkpoint) is None:
            logging.info("Validating %s, left unvalidated by the run that wrote it", checkpoint)
            self.checkpoint.last_path = checkpoint
            self.on_epoch_end(epoch - 1, None)

    def _summaries(self, metrics: dict) -> None:
        if self.writer is None:
            return
        # Was: written under the TensorBoard callback's record_if(step %
        # log_every == 0), still active at an epoch's end: most validations
        # were dropped. Every validation is written.
        with self.writer.as_default(step=int(self.model.optimizer.iterations.numpy())), \
                tf.summary.record_if(True):
            for key, value in metrics.items():
                tf.summary.scalar(f"val/{key}", value)
        self.writer.flush()


class Prune(keras.callbacks.Callback):
    """Keeps the newest checkpoints (and any epoch pending for best/); one
    more in a run of several ``workers``: a worker killed before its last
    save resumes with the others from the epoch before, which the chief
    had pruned at ``train.keep_checkpoints=1`` (the run could not resume)."""

    def __init__(self, directory: str, keep: int, workers: int = 1):
        super().__init__()
        self.directory, self.keep = directory, keep + (1 if workers > 1 else 0)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        run_dir.prune(self.directory, self.keep)


class StopOnNaN(keras.callbacks.Callback):
    """Stops with a TrainingError naming the last good checkpoint when the
    loss stops being finite."""

    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if math.isfinite(loss):
            return
        last = latest_epoch_checkpoint(self.directory)
        raise TrainingError(
            f"the loss became {loss} at epoch {self._epoch + 1}, step {batch + 1}; training "
            "stopped without saving. " + (f"The last good checkpoint is {last}." if last else
                                          "No checkpoint was written.")
            + " Lower train.learning_rate or check the data.")


class RaiseLostStop(keras.callbacks.Callback):
    """Raises, at the end of a step, a Ctrl-C or SIGTERM swallowed during it
    (``signals.raise_lost_stop``): the run stops as on any other stop."""

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        raise_lost_stop()


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch (loss, accuracy, learning rate, speed, skipped
    samples) and the history of the run."""

    def __init__(self, global_batch: int, steps_per_epoch: int, skipped: Any):
        super().__init__()
        self.global_batch, self.steps, self.skipped = global_batch, steps_per_epoch, skipped
        self.history: list[dict[str, float]] = []
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._started = time.time()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        seconds = time.time() - self._started
        entry = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                 "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
                 "seconds": seconds, "samples_per_second": self.global_batch * self.steps / seconds,
                 "skipped_samples": self.skipped.count, "skipped_images": self.skipped.images}
        self.history.append(entry)
        logging.info("Epoch %d: loss %.6f, accuracy %.4f, learning rate %g, %.1f s (%.1f "
                     "samples/s); %d samples of %d unreadable images skipped so far%s",
                     epoch + 1, entry.get("loss", np.nan), entry.get("acc", np.nan),
                     entry["learning_rate"], seconds, entry["samples_per_second"],
                     self.skipped.count, self.skipped.images,
                     f" ({', '.join(self.skipped.names[:3])}"
                     f"{', ...' if self.skipped.images > 3 else ''})" if self.skipped.images
                     else "")


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback whose per-batch scalars go on from the
    optimizer's step in a resumed run: Keras counts batches from 0 at every
    ``fit``, so a resume wrote ``batch_loss`` over steps 1..N again.
    (Keras' private ``_global_train_batch``: keras is held below 3.16 in
    setup.py; tests/training/test_train.py reads the event files.)

    Keras enters ``tf.summary.record_if(step % update_freq == 0)`` at each
    batch's start and leaves it active until the next one, so every summary
    written between batches (the epoch's scalars here, the validation's and
    the debug images in the callbacks after it) is dropped unless the last
    step is a multiple of ``train.log_every``; those are written under
    ``record_if(True)`` (tests/training/test_tensorboard.py)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._global_train_batch = int(self.model.optimizer.iterations.numpy())

    def on_epoch_end(self, epoch, logs=None):
        # Was: epoch_* written only when the epoch's last step was a multiple
        # of log_every (none at all for log_every > the steps of the run).
        with tf.summary.record_if(True):
            super().on_epoch_end(epoch, logs)


class DebugImages(keras.callbacks.Callback):
    """Every ``every`` optimizer steps, writes crops with ground-truth and
    predicted joints and heatmaps of a fixed batch to TensorBoard."""

    def __init__(self, writer: Any, network: keras.Model, batch: dict, config: Any, every: int):
        super().__init__()
        self.writer, self.network, self.batch = writer, network, batch
        self.config, self.every = config, every
        self._written = -1

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        # A resumed run has written the image of its last step's block: was
        # one more image at its first step (step 5 of blocks of 3, after 4).
        done = int(self.model.optimizer.iterations.numpy())
        if self.every > 0 and done > 0:
            self._written = done // self.every

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if self.every <= 0 or step // self.every == self._written:
            return
        self._written = step // self.every
        from keras_pose.training.summaries import write_debug_images
        # Was: dropped under TensorBoard's record_if(step % log_every == 0)
        # (the first image at step 1, and all when the two did not divide).
        with tf.summary.record_if(True):
            write_debug_images(self.writer, self.model, self.batch, self.config, step)
