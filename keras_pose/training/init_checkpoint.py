"""``train.py --init_checkpoint``: a run that starts from another model's
weights (fine-tuning), a checkpoint directory or a preset name.

The architecture must be the checkpoint's; the final layer's filters are
matched to this run's keypoints by name, so another keypoint set (or the
same one in another order) starts each channel from the right filter or
afresh, never from another keypoint's.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Optional, Sequence

import keras

from keras_pose import log as logging
from keras_pose.checkpoint import (PYTORCH_FILES, CheckpointError, latest_epoch_checkpoint,
                                   load_weights_strict, resolve_checkpoint)
from keras_pose.configs import ConfigError, ExperimentConfig, load_config
from keras_pose.configs.cli import RUN_PARTS, is_path_source
from keras_pose.models import build_model_from_config
from keras_pose.training.callbacks import TrainingError

# What the weights of an --init_checkpoint must share with this run's model
# (the input size, K and the codec may differ).
INIT_ARCHITECTURE = ("depth", "blocks_per_stage", "style", "deconv_filters", "deconv_kernels",
                     "final_kernel")
FINAL_LAYER = "head_final_conv"


def source_error(path: str, error: CheckpointError) -> CheckpointError:
    """The resolver's error for ``--init_checkpoint path``, naming the flag;
    a file is told what the flag takes (the resolver lists exports, which
    the flag refuses)."""
    takes = ("a Keras checkpoint directory (config.json and model.weights.h5), a model "
             "directory or a preset name")
    if os.path.isfile(path) and not path.lower().endswith(PYTORCH_FILES):
        return CheckpointError(f"--init_checkpoint {path} is a file; give {takes}")
    if os.path.isdir(path):  # The resolver's list named SavedModels and exports too.
        epochs = sorted(glob.glob(os.path.join(glob.escape(path), "epoch_*", "config.json")))
        hint = "" if not epochs else (
            f" (it holds epoch checkpoints: give one, e.g. {os.path.dirname(epochs[-1])}, or "
            f"the model directory {os.path.dirname(os.path.normpath(path))})")
        return CheckpointError(f"--init_checkpoint {path} is not a checkpoint: give {takes}"
                               f"{hint}")
    return CheckpointError(f"--init_checkpoint: {error}")


def check_source(path: str):
    """The checkpoint ``path`` (a directory or a preset name) resolves to,
    refused when it is not one whose weights a run can start from (train.py
    checks it before making the model directory).

    Raises:
      TrainingError: for a SavedModel or an exported network.
    """
    try:
        resolved = resolve_checkpoint(path)
    except CheckpointError as e:
        raise source_error(path, e) from None
    if resolved.kind != "keras":
        what = "an exported network" if resolved.kind == "export" else "a SavedModel"
        raise TrainingError(f"--init_checkpoint {path} is {what}; give a Keras "
                            "checkpoint directory (e.g. a converted official checkpoint) "
                            "or a preset name")
    return resolved


def init_from_checkpoint(network: keras.Model, path: str, config: ExperimentConfig) -> None:
    """``--init_checkpoint``: the weights of a Keras checkpoint or a preset.

    The backbone and the deconvolutions always come from the checkpoint.
    The final layer (``head_final_conv``, one filter per keypoint) takes the
    checkpoint's filter of each keypoint it also predicts, matched by name
    in any naming style (``left_eye`` = ``L_Eye``) and in any order; the
    filters of the others keep their fresh initialisation, and the log says
    which. (By position alone, a 17-keypoint animal set started every
    channel from another COCO keypoint, in silence.) Without names on
    either side, the same K takes every filter. Warns when the checkpoint's
    input convention differs from this run's.

    Raises:
      TrainingError: for a SavedModel or an export, or a checkpoint of another
        architecture (depth, head), naming the differences.
    """
    resolved = check_source(path)
    source = load_config(os.path.join(resolved.path, "config.json"))
    ours, theirs = config.model, source.model
    diffs = [f"model.{f}: checkpoint {getattr(theirs, f)} vs this run {getattr(ours, f)}"
             for f in INIT_ARCHITECTURE if getattr(theirs, f) != getattr(ours, f)]
    if diffs:
        raise TrainingError(f"--init_checkpoint {path} is another architecture ("
                            f"{'; '.join(diffs)}); train the same architecture or start "
                            "from another checkpoint")
    donor = build_model_from_config(dataclasses.replace(theirs, sync_bn=False))
    load_weights_strict(donor, os.path.join(resolved.path, "model.weights.h5"), source)
    for layer in network.layers:
        if layer.weights and layer.name != FINAL_LAYER:
            layer.set_weights(donor.get_layer(layer.name).get_weights())
    pairs = final_layer_channels(config.data.keypoint_names, source.data.keypoint_names,
                                 ours.num_keypoints, theirs.num_keypoints)
    final, given = network.get_layer(FINAL_LAYER), donor.get_layer(FINAL_LAYER)
    kernel, bias = [w.copy() for w in final.get_weights()]
    their_kernel, their_bias = given.get_weights()
    for mine, its in pairs:
        kernel[..., mine], bias[mine] = their_kernel[..., its], their_bias[its]
    final.set_weights([kernel, bias])
    _log_final_layer(resolved.path, pairs, config.data.keypoint_names, ours.num_keypoints,
                     theirs.num_keypoints)
    if (ours.color_order, ours.mean, ours.std) != (theirs.color_order, theirs.mean, theirs.std):
        logging.warning(
            "%s was trained on %s input (mean %s, std %s) but this run feeds %s (mean %s, std "
            "%s); pass --set model.color_order=%s (and mean/std) to keep its convention",
            resolved.path, theirs.color_order, theirs.mean, theirs.std, ours.color_order,
            ours.mean, ours.std, theirs.color_order)


def final_layer_channels(ours: Sequence[str], theirs: Sequence[str], k_ours: int,
                         k_theirs: int) -> list[tuple[int, int]]:
    """(our channel, its channel) for each keypoint both predict: by name
    (``keras_pose.configs.keypoints.keypoint_keys``, any naming style);
    without K names on either side, channel i for i when K is the same."""
    from keras_pose.configs.keypoints import key_positions, keypoint_keys
    if len(ours) != k_ours or len(theirs) != k_theirs:  # Names missing (or not K of them).
        return [(i, i) for i in range(k_ours)] if k_ours == k_theirs else []
    # Every position of a key: two spellings of one key ('nose', 'Nose')
    # kept the last, so channel 0 took the checkpoint's channel 1.
    where = key_positions(theirs)
    return [(i, i if i in where[key] else where[key][0])
            for i, key in enumerate(keypoint_keys(ours)) if key in where]


def _log_final_layer(path: str, pairs, names: Sequence[str], k_ours: int, k_theirs: int):
    if len(pairs) == k_ours and all(i == j for i, j in pairs) and k_ours == k_theirs:
        logging.info("Initialised every weight from %s", path)
        return
    fresh = sorted(set(range(k_ours)) - {i for i, _ in pairs})
    logging.info(
        "Initialised from %s: the backbone and the deconvolutions kept; the final layer %s "
        "takes the checkpoint's filters of %d of this run's %d keypoints by name%s (the "
        "checkpoint predicts K=%d)%s", path, FINAL_LAYER, len(pairs), k_ours,
        "" if all(i == j for i, j in pairs) else ", in another order", k_theirs,
        f"; re-initialised: {[names[i] if len(names) == k_ours else i for i in fresh]}"
        if fresh else "")


# --------------------------------------------------------------------------- which run it began


def recorded_source(value: Optional[str]) -> str:
    """``train.init_checkpoint`` as a run records it: "" for none, a
    checkpoint's absolute path (the same directory given from another
    working directory is the same source; also once it is gone: a resume
    names it as the run began), a preset name (no "/") as given."""
    if not value:
        return ""
    return os.path.abspath(os.path.expanduser(value)) if is_path_source(value) else value


def _checkpoint_of(path: str) -> str:
    """The checkpoint directory a path on disk means (a run's ``best/``);
    the path itself when it means none now, or names no path (a preset)."""
    if not os.path.isdir(path):
        return path
    try:
        return resolve_checkpoint(path).path
    except CheckpointError:
        return path


def _run_of(path: str) -> str:
    """A gone checkpoint path without its run parts (``run/best`` -> ``run``):
    what it was cannot be read any more, only its name."""
    path = os.path.abspath(os.path.expanduser(path))
    while RUN_PARTS.fullmatch(os.path.basename(path)):
        path = os.path.dirname(path)
    return path


def _same_source(a: str, b: str) -> bool:
    if a == b or (b and a == os.path.abspath(os.path.expanduser(b))):  # b gone: "a", "../a".
        return True
    if a and b and not os.path.exists(a) and not os.path.exists(b) and os.sep in a:
        return _run_of(a) == _run_of(b)  # Both gone: "run" and "run/best" were one source.
    try:  # A path given through a link, moved with the run, or a run and its best/.
        return bool(a and b) and os.path.samefile(_checkpoint_of(a), _checkpoint_of(b))
    except OSError:
        return False


def resumed_source_config(source: str, model_dir: str) -> Optional[ExperimentConfig]:
    """When ``source`` (``--init_checkpoint``) is gone, the config of the
    run in ``model_dir`` that began from it: a resume needs only the run's
    checkpoint (the model settings came from the source and are in it).
    None when there is no such run (a new run needs its source)."""
    latest = latest_epoch_checkpoint(model_dir)
    if latest is None:
        return None
    saved = load_config(os.path.join(latest, "config.json"))
    # A name such as "a" was a path when the run began (no preset is named so).
    if not _same_source(saved.train.init_checkpoint, source):
        return None
    logging.warning("--init_checkpoint %s is gone; resuming %s, which began from it, with the "
                    "model settings of %s", source, model_dir, latest)
    return saved


def check_resumed_source(saved: ExperimentConfig, config: ExperimentConfig, model_dir: str,
                         latest: str) -> ExperimentConfig:
    """The config a resume continues with: refused when the command names
    another ``--init_checkpoint`` than the run began from (a run trained from
    scratch, then fine-tuned "from a preset" into the same model directory,
    resumed the old run in silence: the preset's weights are never loaded
    into a resume); the run's own source when the command gives none.

    Raises:
      TrainingError: naming the run's source, the command's, and both ways out.
    """
    began, now = saved.train.init_checkpoint, config.train.init_checkpoint or ""
    if began is None:  # An earlier version's run: its source is not recorded.
        if now:  # Was recorded as its source, listed as a change made, never loaded.
            logging.warning("%s holds a run of an earlier keras-pose that did not record "
                            "where it began; it resumes from %s, and --init_checkpoint %s is "
                            "neither loaded nor recorded as its source", model_dir, latest, now)
        return config.replace(train=dataclasses.replace(config.train, init_checkpoint=None))
    if not now or _same_source(began, now):  # The run keeps what it began from, as written
        return config.replace(train=dataclasses.replace(config.train, init_checkpoint=began))
    origin = f"fine-tuned from {began}" if began else "not started from an --init_checkpoint"
    resume = f"--init_checkpoint {began}" if began else "no --init_checkpoint"
    raise TrainingError(
        f"{model_dir} holds a run {origin} (last checkpoint {latest}); a resume never loads "
        f"--init_checkpoint {now}: give another --model_dir to start from it, or resume "
        f"that run with {resume}")


def check_restarted_source(config: ExperimentConfig, model_dir: str) -> None:
    """Before a run without epoch checkpoints in ``model_dir`` writes its
    config.json there: a config.json that is no keras-pose config (the
    user's own, of a project folder given as --model_dir) is refused, not
    overwritten in silence. A fine-tune stopped before its first checkpoint
    (its config.json records the source), run again without
    ``--init_checkpoint``: it trained from scratch in silence, where a run
    stopped after an epoch resumes the fine-tune.

    Raises:
      TrainingError: naming the file or the run's source, and the way out.
    """
    path = os.path.join(model_dir, "config.json")
    if latest_epoch_checkpoint(model_dir) is not None or not os.path.isfile(path):
        return
    try:
        began = load_config(path).train.init_checkpoint
    except ConfigError as e:  # Was skipped, and the file replaced by this run's.
        raise TrainingError(
            f"{path} is not a config this keras-pose reads ({getattr(e, 'reason', e)}): the "
            "run would replace it with its own; give another --model_dir, or move that file "
            "away") from e
    if began and not config.train.init_checkpoint:
        raise TrainingError(
            f"{model_dir} holds a run fine-tuned from {began} that stopped before its first "
            f"checkpoint ({path}); without --init_checkpoint this run would train from "
            f"scratch: give --init_checkpoint {began} to start it again, or another --model_dir")
