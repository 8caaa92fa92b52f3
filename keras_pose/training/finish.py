"""The run's end, after its last epoch: the SavedModel of ``best/`` into
``<model_dir>/saved_model`` (its place checked before training) and the
final evaluation; a stop there loses no training.
"""

from __future__ import annotations

import errno
import os
from typing import Optional

from keras_pose import log as logging
from keras_pose import signals
from keras_pose.checkpoint import latest_epoch_checkpoint
from keras_pose.configs import ExperimentConfig
from keras_pose.training.callbacks import TrainingError, TrainingInterrupted
from keras_pose.training.precision import float32_inference


def check_export_place(saved_model: str) -> None:
    """Refuses, before training, a run whose export at the end would have to
    replace files that are not its SavedModel (it stopped there, after the
    training, naming a Python argument as the way out)."""
    from keras_pose.export.destination import output_problem
    problem = output_problem(saved_model, "saved_model")
    if problem:
        raise TrainingError(f"{saved_model} {problem}: the export at the end of this run would "
                            "replace it; move what is yours out of it, or train with --noexport")


def after_training(network, config: ExperimentConfig, model_dir: str, directory: str,
                    export: bool, progress: bool, table: str) -> tuple[Optional[str], str]:
    """The chief's export and ``--final_eval`` once every epoch is trained:
    (the SavedModel's path or None, the table with the final evaluation's).
    A Ctrl-C or SIGTERM here loses no training: the message names the last
    checkpoint and what the same command does again (export, evaluate)."""
    saved_model, step = None, "the export"
    left = step + (" and the final evaluation" if config.train.final_evaluation else "")
    _warn_stale(model_dir, directory, export, config.train.final_evaluation)
    try:
        # best/ loaded in float32 for the final evaluation too: under the
        # training's mixed policy, with --noexport (the export set float32
        # for both), it ran in bf16 / fp16 and was recorded as fp32.
        with float32_inference():
            if export:
                saved_model = export_at_end(network, config, model_dir, directory)
            if config.train.final_evaluation:
                from keras_pose.evaluation.runner import run_evaluation
                step = left = "the final evaluation"
                # The run's data and test settings: best/ keeps those it was
                # written with (a resume's --data_dir or test.* were passed over).
                table += run_evaluation(checkpoint=model_dir, progress=progress,
                                        settings=config, output_dir=os.path.join(
                                            model_dir, "eval", "final")).table
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (keras_pose.signals).
        raise TrainingInterrupted(
            f"interrupted ({signals.stop_name(e)}) during {step}, after the last epoch: "
            f"training is complete in {latest_epoch_checkpoint(directory)}; run the same "
            f"command again to finish {left} (nothing is trained again)",
            exit_code=signals.stop_exit_code(e)) from None
    except OSError as e:  # A full disk: the way on, as for a stop (was the bare error).
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise TrainingError(
            f"{step} failed after the last epoch ({e.strerror}: {e.filename or model_dir}): "
            f"training is complete in {latest_epoch_checkpoint(directory)}; once the disk has "
            f"room, run the same command again to finish {left} (nothing is trained "
            "again)") from e
    return saved_model, table


def _warn_stale(model_dir: str, directory: str, export: bool, final_evaluation: bool) -> None:
    """Names the SavedModel and final evaluation that this run leaves older
    than what they are of, its ``best/`` (else its last epoch): a run
    extended with --noexport, or without --final_eval, kept the earlier
    epoch's in silence."""
    best = os.path.join(model_dir, "best")
    if not os.path.isdir(best):
        best = latest_epoch_checkpoint(directory)  # Without validation: the last epoch's.
    if not best:
        return
    for skipped, path, flag in ((not export, os.path.join(model_dir, "saved_model"),
                                 "without --noexport"),
                                (not final_evaluation, os.path.join(model_dir, "eval", "final"),
                                 "with --final_eval")):
        if skipped and os.path.exists(path) and os.path.getmtime(path) < os.path.getmtime(best):
            logging.warning("%s is of an earlier epoch than this run's %s: run the same "
                            "command %s to bring it up to date", path,
                            os.path.relpath(best, model_dir), flag)


def export_at_end(network, config: ExperimentConfig, model_dir: str, directory: str) -> str:
    """``<model_dir>/saved_model``: of ``best/`` with its own config when
    validation kept one (what ``--checkpoint <model_dir>`` serves; it was
    the last epoch's weights, then best/'s weights with the run's config: a
    resume that changed ``model.codec`` exported a model decoding otherwise
    than best/), else of ``network`` with ``config``; under the lock of
    ``scripts/export_saved_model.py`` (the script's export into it at the
    same time and this one both said they succeeded, the last one winning).
    """
    from keras_pose.checkpoint import is_complete, is_model_checkpoint, load_model
    from keras_pose.export import export_saved_model
    from keras_pose.export.destination import ExportOutputError, output_lock
    best, source = os.path.join(directory, "best"), "the last epoch"
    target = os.path.join(model_dir, "saved_model")
    # The export is fp32 (issue: precision); the policy is put back after
    # (was left float32 for the rest of the process).
    with float32_inference():
        if is_complete(best) and is_model_checkpoint(best):
            (network, config), source = load_model(best), best
        try:
            with output_lock(target, flag="the SavedModel", run="train.py export", way_out=(
                    "run the same train.py command again when it has ended, to export "
                    "(nothing is trained again)")):
                saved_model = export_saved_model(network, config, target)
        except ExportOutputError as e:
            raise TrainingError(f"training is complete in {directory}, but {e}") from None
    logging.info("Exported the SavedModel of %s to %s", source, saved_model)
    return saved_model
