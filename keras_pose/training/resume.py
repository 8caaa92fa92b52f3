"""Whether, and from which checkpoint, a run resumes: a ``--model_dir``
that is itself a checkpoint or a SavedModel is refused, a checkpoint of
another model, input convention, codec, decoding or precision is refused
before anything is written (other changed settings are named), one of another schedule before
the workers compare their epochs, checkpoints of an earlier version whose
optimizer state was stored by position are refused, and the workers of a
multi-worker run agree on one epoch.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

from keras_pose import log as logging
from keras_pose.checkpoint import is_complete, is_model_checkpoint, latest_epoch_checkpoint
from keras_pose.configs import ExperimentConfig, config_differences
from keras_pose.training import run_dir
from keras_pose.training.callbacks import TrainingError
from keras_pose.training.cluster import (gather_before_training, settle_after_collective,
                                         task_names)
from keras_pose.training.distribution import resolve_precision
from keras_pose.training.precision import schedule_change


# What a resume refuses to change: the architecture and input convention
# (the weights are of them), and what turns a checkpoint's heatmaps into
# keypoints. The run validates every checkpoint (its epochs, best/ again
# when validated otherwise, epochs left unvalidated) with its own settings:
# resumed with model.codec dark -> msra, it scored the DARK epoch with msra
# decoding, and best.json kept the worse epoch with a value evaluate.py
# does not give best/ (which decodes with its own saved config).
RESUME_MODEL_FIELDS = ("depth", "blocks_per_stage", "num_keypoints", "style", "image_size",
                       "heatmap_size", "deconv_filters", "deconv_kernels", "final_kernel",
                       "color_order", "mean", "std", "codec", "sigma")
RESUME_TEST_FIELDS = ("decoding", "blur_kernel", "refine", "shift_heatmap")


def check_resume(saved: ExperimentConfig, config: ExperimentConfig, path: str,
                 source_given: bool = False) -> ExperimentConfig:
    """Refuses to resume a checkpoint of another architecture, input
    normalisation, codec, sigma or decoding (before anything is written to
    the model directory); :func:`log_changed_settings` names the other
    settings changed. ``source_given``: the command gave --init_checkpoint
    (the way out is then no "give it again").

    Returns:
      ``config`` with the run's own ``model.pretrained``: a resume loads
      ``path``'s weights, never the command's initialisation (a fine-tune
      resumed without --init_checkpoint recorded the experiment's
      "imagenet" in its checkpoints' configs: weights it never used).
    """
    changed = [(f"{section}.{f}", getattr(getattr(saved, section), f),
                getattr(getattr(config, section), f))
               for section, fields in (("model", RESUME_MODEL_FIELDS),
                                       ("test", RESUME_TEST_FIELDS))
               for f in fields if getattr(getattr(saved, section), f)
               != getattr(getattr(config, section), f)]
    diffs = [f"{key}: checkpoint {_shown(before)} vs now {_shown(now)}"
             for key, before, now in changed]
    diffs += [f"data.{f}: checkpoint {getattr(saved.data, f)} vs now {getattr(config.data, f)}"
              for f in ("keypoint_names", "flip_pairs") if getattr(saved.data, f)
              != getattr(config.data, f)]
    if saved.data.flip_pairs and config.data.flip_pairs == ():  # Its command, given again.
        diffs.append("--set data.flip_pairs=[] now means no pairs (before 2026-12-07 it meant "
                     "the file's or the names' pairs, which the run recorded): leave it out "
                     "to resume")
    # As resolved on each machine (auto: bf16 where the CPU has it): the
    # optimizer state and the rounding of every step are the precision's.
    before = resolve_precision(saved.train.precision)  # (a hand-written config may say auto)
    if before != config.train.precision:
        diffs.append(f"train.precision: checkpoint {before} vs now {config.train.precision} "
                     f"(--precision {before} resumes)")
    if diffs:
        raise TrainingError(f"{path} holds a checkpoint of another model, input convention, "
                            f"decoding or precision ({'; '.join(diffs)}); use another "
                            f"--model_dir or the same settings"
                            f"{_way_back(saved, changed, source_given)}")
    if config.model.pretrained != saved.model.pretrained:
        logging.info("model.pretrained=%s is not used by a resume (it continues from the "
                     "weights of %s); the run keeps %r, what it began from",
                     config.model.pretrained, path, saved.model.pretrained)
    return config.replace(model=dataclasses.replace(config.model,
                                                    pretrained=saved.model.pretrained))


def _way_back(saved: ExperimentConfig, changed: list, source_given: bool) -> str:
    """The settings that resume: ``--set`` of each changed model.* or test.*
    value as the checkpoint has it, and for a fine-tuned run resumed
    without its --init_checkpoint (whose model settings it took), that."""
    if not changed:
        return ""
    sets = " ".join(f"--set {key}={_set_value(before)}" for key, before, _ in changed)
    source = saved.train.init_checkpoint
    if source_given:  # The source's settings were taken: the command's --set changed them.
        return f" ({sets}: the values the run was trained with)"
    if not any(key.startswith("model.") for key, _, _ in changed):
        return f" ({sets})"
    if source:
        return (f" (a run fine-tuned from {source}: give --init_checkpoint {source} again, "
                f"or {sets})")
    # Was "a run started with --init_checkpoint" of a run from scratch too.
    return (f" ({sets}, the values it was trained with; or, for a run fine-tuned by an "
            "earlier keras-pose, give its --init_checkpoint again)")


def _shown(value) -> str:
    """A setting's value in a message ("" shown as such)."""
    return '""' if value == "" else str(value)


def _set_value(value) -> str:
    """``value`` as a ``--set`` item takes it: ``16,16``, ``dark``, ``[]``."""
    if isinstance(value, (tuple, list)):
        return (",".join(str(v) for v in value) if len(value) > 1
                else json.dumps(list(value)))
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return '""' if value == "" else str(value)


def log_changed_settings(saved: ExperimentConfig, config: ExperimentConfig, path: str) -> None:
    """Names the settings changed since ``path`` was written: often meant
    (more epochs), sometimes a command typed differently. Said once the
    resume is sure (a refused one logged "Resuming ..." before its error)."""
    changed = config_differences(saved, config)
    if changed:
        logging.warning("Resuming %s with settings changed since it was written (by this "
                        "command, or as new defaults of keras-pose since): %s (each checkpoint "
                        "keeps the config it was written with)", path, "; ".join(changed))


# A run's own folders: a run given one of them as --model_dir grew inside it.
_RUN_FOLDERS = ("best", "checkpoints", "logs", "saved_model", "eval", "exports")


def _is_run(path: str) -> bool:
    """A train.py model directory: its config and a checkpoint folder (a
    project's own config.json beside a logs/ folder is none)."""
    return os.path.isfile(os.path.join(path, "config.json")) and any(
        os.path.isdir(os.path.join(path, d)) for d in ("checkpoints", "best"))


def _inside_a_model(model_dir: str) -> Optional[tuple[str, str]]:
    """(what, where) when ``model_dir`` is, or lies inside, a checkpoint, a
    SavedModel or a run's own folders; else None."""
    path = os.path.realpath(model_dir)  # A link to a SavedModel's assets/ got past.
    while True:
        parent = os.path.dirname(path)
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "an exported SavedModel", path
        if is_model_checkpoint(path):
            return "a checkpoint", path
        if os.path.basename(path) in _RUN_FOLDERS and _is_run(parent):
            return f"the {os.path.basename(path)} folder of the training run {parent}", path
        if parent == path:
            return None
        path = parent


def refuse_checkpoint_as_model_dir(model_dir: str) -> None:
    """Raises when ``model_dir`` is, or lies inside, a checkpoint (a run's
    ``best/``, an epoch's folder, a converted one), a SavedModel or a run's
    own folders: a run there wrote its config over the checkpoint's (or the
    SavedModel's assets/config.json), and its own folders inside it, and the
    run that owned it could no longer be loaded, evaluated or resumed."""
    found = _inside_a_model(model_dir)
    if found is None:
        return
    what, where = found
    head = (f"--model_dir {model_dir} is {what}" if where == os.path.realpath(model_dir)
            else f"--model_dir {model_dir} is inside {where}, {what}")
    parent = os.path.dirname(where)
    run = os.path.dirname(parent) if os.path.basename(parent) == "checkpoints" else parent
    ways = []
    if "SavedModel" not in what and os.path.isfile(os.path.join(run, "config.json")):
        ways.append(f"to resume the run it belongs to, give --model_dir {run}")
    if "folder of the training run" not in what:
        ways.append(f"to start a new run from its weights, give a new --model_dir with "
                    f"--init_checkpoint {where}")
    else:
        ways.append("to start a new run, give a new --model_dir")
    raise TrainingError(f"{head}, not a run's folder: a run there would write over it; "
                        + "; ".join(ways))


def refuse_legacy(directory: str) -> None:
    import glob
    legacy = [p for p in glob.glob(os.path.join(glob.escape(directory), "checkpoints",
                                                 "epoch_*"))
              if os.path.isfile(os.path.join(p, run_dir.LEGACY_OPTIMIZER_FILE))]
    if legacy:
        raise TrainingError(
            f"{directory} holds checkpoints of an earlier keras-pose ({legacy[0]}) whose "
            "optimizer state cannot be restored safely: use another --model_dir, with "
            f"--init_checkpoint {sorted(legacy)[-1]} to start from its weights")


def refuse_other_schedule(directory: str, steps: int, batch: int, batch_per_replica: int) -> None:
    """Refuses to resume ``directory``'s newest complete checkpoint when its
    state.json says it was written with other steps per epoch or another
    global batch than this run's ``steps`` and ``batch`` (no copy makes that
    resumable: :func:`~keras_pose.training.precision.schedule_change` says
    what does). Each worker checks its own newest before the workers
    compare epochs: workers apart were told to copy the newest checkpoint
    between machines, then, once copied, that its schedule differs. A
    state.json that does not say is checked when restored.

    Raises:
      TrainingError: naming the checkpoint, both schedules and the way out.
    """
    latest = latest_epoch_checkpoint(directory)
    state = run_dir.read_state(latest) if latest else None
    if not (state and state.steps_per_epoch and state.global_batch):
        return
    if (state.steps_per_epoch, state.global_batch) != (steps, batch):
        raise schedule_change(latest, state.steps_per_epoch, state.global_batch, steps, batch,
                              batch_per_replica)


def agreed_checkpoint(strategy, model_dir: str, directory: str,
                      latest: Optional[str]) -> Optional[str]:
    """The epoch every worker resumes from: the oldest of the workers'
    newest checkpoints, when it is one epoch behind a newest written by a
    cluster of this size (a worker killed during its last save has an
    epoch fewer than the others; workers resuming from different epochs
    would run different steps and end in a collective the others never
    join); a newest whose state.json does not say (an earlier keras-pose)
    passes too. None: every worker starts from the initial weights. Each
    worker restores it from its own copy (``directory``: ``model_dir`` for
    the chief, ``model_dir/worker_<i>`` for the others).

    Raises:
      TrainingError: on every worker alike (one refusing alone left the
        others in a TF traceback): the workers are further apart, or the
        newer checkpoint was written by another number of workers (a run
        continued as one process; resuming would train the newer epochs
        again over their checkpoints), or one lacks the agreed epoch; the
        message names what to copy where.
    """
    epoch = int(os.path.basename(latest)[len("epoch_"):]) if latest else 0
    epochs = _gathered(strategy, epoch)
    agreed, newest = min(epochs), max(epochs)
    if agreed == newest:
        return latest
    tasks = task_names(len(epochs))
    if newest - agreed > 1:
        _refuse_apart(model_dir, tasks, epochs, f"the workers' newest checkpoints are epochs "
                      f"{_listing(tasks, epochs)}: more than the one epoch a stopped worker "
                      "can miss")
    _refuse_other_writers(strategy, model_dir, tasks, epochs, latest)
    path = run_dir.checkpoint_dir(directory, agreed) if agreed else None
    has = _gathered(strategy, int(path is None or is_complete(path)))
    lacking = [t for t, h in zip(tasks, has) if not h]
    if lacking:  # (The worker whose newest it is has it.)
        settle_after_collective()
        raise TrainingError(
            f"the workers resume from epoch {agreed}, the newest every worker has, but "
            f"{', '.join(lacking)} has no complete copy of it. Nothing was written: copy "
            f"{_copy_hint(model_dir, tasks, tasks[has.index(1)], agreed)}, or train anew "
            "with another --model_dir")
    _warn_trained_again(tasks, epochs)
    return path


def _refuse_other_writers(strategy, model_dir: str, tasks: list[str], epochs: list[int],
                          latest: Optional[str]) -> None:
    """Refuses workers one epoch apart whose newer checkpoint was not
    written by a cluster of this size (a run continued as one process: the
    same gap as a worker killed during its save). Each worker gathers its
    newest's writers (a collective): all of them decide alike."""
    state = run_dir.read_state(latest) if latest else None
    writers = _gathered(strategy, state.workers if state else 0)
    other = [(t, w) for t, w, e in zip(tasks, writers, epochs)
             if e == max(epochs) and w not in (0, len(epochs))]  # (0: not recorded)
    if other:
        task, count = other[0]
        _refuse_apart(model_dir, tasks, epochs, f"the workers' newest checkpoints are epochs "
                      f"{_listing(tasks, epochs)}, and {task}'s epoch {max(epochs)} was "
                      f"written by {count} worker{'s' * (count > 1)}, not by a cluster of "
                      f"{len(epochs)} (a run continued as one process?): not an epoch a "
                      "worker stopped during its save misses")


def _warn_trained_again(tasks: list[str], epochs: list[int]) -> None:
    """Says that the newer epoch of the workers ahead is trained again."""
    agreed, newest = min(epochs), max(epochs)
    start = (f"Resuming from epoch {agreed}, the newest every worker has" if agreed else
             "Training starts over from the initial weights: "
             + ", ".join(t for t, e in zip(tasks, epochs) if not e)
             + " has no checkpoint (stopped during its first save)")
    logging.warning("%s (%s); %s's epoch %d is trained again and its checkpoint replaced",
                    start, _listing(tasks, epochs), tasks[epochs.index(newest)], newest)


def _listing(tasks: list[str], epochs: list[int]) -> str:
    """``worker 0: 5, worker 1: 4``."""
    return ", ".join(f"{t}: {e}" for t, e in zip(tasks, epochs))


def _refuse_apart(model_dir: str, tasks: list[str], epochs: list[int], why: str) -> None:
    """Raises (on every worker alike: ``epochs`` were gathered) that the
    workers' checkpoints are not an epoch a stopped worker missed, naming
    what to copy for them all to resume from the newest."""
    agreed, newest = min(epochs), max(epochs)
    ahead = tasks[epochs.index(newest)]
    again = f"epoch {newest}" if newest - agreed == 1 else f"epochs {agreed + 1}-{newest}"
    start = f"resuming from epoch {agreed}" if agreed else "starting over from the initial weights"
    settle_after_collective()
    raise TrainingError(
        f"{why}, and {start} would train {again} again over {ahead}'s checkpoints. Nothing "
        f"was written: to resume from epoch {newest}, copy "
        f"{_copy_hint(model_dir, tasks, ahead, newest)}; or train anew with another --model_dir")


def _gathered(strategy, value: int) -> list[int]:
    """``value`` of every worker, in worker order (a collective; a worker
    gone: one line naming it)."""
    return [int(v) for v in gather_before_training(strategy, [value])[:, 0]]


def _task_dir(model_dir: str, tasks: list[str], task: str) -> str:
    """Where ``task`` keeps its checkpoints (``distribution.worker_dir``)."""
    if task == tasks[0]:
        return model_dir
    return os.path.join(model_dir, f"worker_{task.split()[-1]}")


def _copy_hint(model_dir: str, tasks: list[str], source: str, epoch: int) -> str:
    """What to copy for every worker to hold ``source``'s ``epoch``."""
    name = os.path.basename(run_dir.checkpoint_dir("", epoch))
    others = [t for t in tasks if t != source]
    return (f"{os.path.join(_task_dir(model_dir, tasks, source), 'checkpoints', name)} into "
            + ", ".join(f"{os.path.join(_task_dir(model_dir, tasks, t), 'checkpoints')}"
                        f"{os.sep} ({t}'s machine)" for t in others)
            + " (make the folder first where it is missing)")
