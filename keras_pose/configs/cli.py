"""The one way the command lines build an experiment config.

``train.py``, ``evaluate.py`` and ``predict.py`` all go through
:func:`build_config`: a start (a named experiment, a checkpoint's config, or
the data set's default experiment), then the data set and its location, then
``--set`` overrides. Evaluation and prediction then give the checkpoint the
last word on what the weights define (:func:`checkpoint_config`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from typing import Optional, Sequence

from keras_pose import log as logging
from keras_pose.configs.base import COCO_FORMAT_DATASETS, ConfigError, ExperimentConfig
from keras_pose.configs.conversion import apply_overrides, override_items
from keras_pose.configs.keypoints import describe_moves, moved_keypoints
from keras_pose.configs.experiments import default_experiment, get_experiment

# The data set's metadata: fixed when training starts, stored with every
# checkpoint and reused by evaluation, prediction and export.
METADATA_FIELDS = ("keypoint_names", "flip_pairs", "skeleton", "oks_sigmas",
                   "upper_body_ids")


def same_dataset(config: ExperimentConfig, dataset: str) -> bool:
    """Whether ``--dataset`` names the data set ``config`` is about."""
    if dataset in ("coco", "mpii", "synthetic"):
        return config.data.dataset == dataset
    return (config.data.dataset == "custom"
            and os.path.basename(os.path.normpath(config.data.root)) == dataset)


def build_config(*, dataset: Optional[str] = None, data_dir: Optional[str] = None,
                 experiment: Optional[str] = None, start: Optional[ExperimentConfig] = None,
                 overrides: Sequence[str] = ()) -> ExperimentConfig:
    """The config of a command-line run.

    Start: ``experiment`` if named, else ``start`` (a checkpoint's config),
    else the default experiment of ``dataset`` (``synthetic`` when none).
    A ``dataset`` other than the start's brings that data set's default
    ``data`` and ``test`` sections and its K (a named recipe trained on
    another data set); a start's ``data.root`` that does not exist here
    gives way to the data set's default folder (:func:`recorded_root_here`);
    ``data_dir`` sets ``data.root``; the overrides come last.

    Raises:
      ConfigError, ValueError: for an unknown experiment, key or value.
    """
    _check_dataset_name(dataset, data_dir)
    _refuse_empty(dataset=dataset, data_dir=data_dir, experiment=experiment)
    if experiment:
        config = get_experiment(experiment)
    elif start is not None:
        config = start
    else:
        config = default_experiment(dataset or "synthetic")
    overrides = override_items(overrides)
    if dataset and (not same_dataset(config, dataset) or dataset == "custom"):
        other = default_experiment(dataset)
        config = config.replace(data=other.data, test=other.test, model=dataclasses.replace(
            config.model, num_keypoints=other.model.num_keypoints))
    elif start is not None and not experiment and not data_dir:
        config = recorded_root_here(config, overrides)
    if data_dir:
        config = config.replace(data=dataclasses.replace(config.data, root=data_dir))
    final = apply_overrides(config, overrides)  # Sigma presets too, as at inference.
    if data_dir and not same_root(final.data.root, data_dir):
        # The --set won in silence: the run read another data set than asked.
        raise ConfigError(f"--data_dir {data_dir} and --set data.root={final.data.root} name "
                          "two data sets: give one of them")
    if final.data.root.startswith("~"):  # --data_dir=~/x: no shell expands it (a folder "~").
        final = final.replace(data=dataclasses.replace(
            final.data, root=os.path.expanduser(final.data.root)))
    warn_unused_blur_kernel(final, overrides)
    warn_keypoint_count_from_file(final, overrides)
    return final


def recorded_root_here(config: ExperimentConfig, overrides: Sequence[str]) -> ExperimentConfig:
    """A checkpoint's ``config``, whose recorded ``data.root`` does not exist
    on this machine (a model copied from another), with the data set's
    default folder instead, ``data/<name>``: what ``--dataset``'s help
    says and ``train.py --init_checkpoint`` reads. Was the recorded path:
    "Permission denied: /old/root/data" with no word of --data_dir, or (as
    root) the synthetic set generated there. Logged, naming both; a ``--set
    data.root`` in ``overrides`` decides instead."""
    root, dataset = config.data.root, config.data.dataset
    name = os.path.basename(os.path.normpath(root)) if dataset == "custom" else dataset
    if (not root or not name or os.path.exists(os.path.expanduser(root))
            or any(item.split("=", 1)[0].strip() == "data.root" for item in overrides)):
        return config
    default = default_experiment(name).data.root
    if same_root(default, root):
        return config
    logging.warning("data.root %s, the checkpoint's, does not exist on this machine: the %s data "
                    "set is read from its default folder, %s (--data_dir names another)", root,
                    name, default)
    return config.replace(data=dataclasses.replace(config.data, root=default))


def warn_keypoint_count_from_file(config: ExperimentConfig, overrides: Sequence[str]) -> None:
    """A --set model.num_keypoints on a COCO-format data set without
    data.keypoint_names: K is its annotation file's keypoint count, and the
    setting was replaced by it without a word. (This said to give
    data.keypoint_names for some of the file's keypoints: they name all of
    them, in order, and fewer stopped the run; nothing trains on a subset.)"""
    given = any(item.split("=", 1)[0].strip() == "model.num_keypoints" for item in overrides)
    if given and config.data.dataset in COCO_FORMAT_DATASETS and not (
            config.data.keypoint_names):
        logging.warning(
            "model.num_keypoints=%d is replaced by the keypoint count of %s's annotation "
            "file (its category's keypoint names): a model learns every keypoint of the "
            "file; drop the --set model.num_keypoints (for fewer keypoints, write an "
            "annotation file of those only)", config.model.num_keypoints, config.data.root)


def warn_unused_blur_kernel(config: ExperimentConfig, overrides: Sequence[str]) -> None:
    """A --set test.blur_kernel on a model decoded without DARK was ignored in
    silence. Said of the user's setting only: a preset's table keeps mmpose's
    kernel on its msra models too, for a switch to test.decoding=dark."""
    decoding = config.test.decoding or config.model.codec
    given = any(item.split("=", 1)[0].strip() == "test.blur_kernel" for item in overrides)
    if given and config.test.blur_kernel and decoding != "dark":
        logging.warning("test.blur_kernel=%d is DARK's modulation: it has no effect with the "
                        "%s decoding (test.decoding=dark uses it)", config.test.blur_kernel,
                        decoding)


# Read by training alone (its augmentation; the whole train section): at
# evaluation, prediction or export a --set of one was taken and did nothing.
TRAINING_ONLY_DATA_FIELDS = ("flip", "flip_prob", "scale_factor", "rotation_factor",
                             "rotation_prob", "half_body_prob", "num_joints_half_body")


def warn_training_only(overrides: Sequence[str], where: str) -> None:
    """Says which ``overrides`` set training-only fields, which ``where``
    (e.g. "evaluation") does not read."""
    keys = [item.split("=", 1)[0].strip() for item in overrides]
    unused = [k for k in keys if k.startswith("train.") or k in {
        f"data.{f}" for f in TRAINING_ONLY_DATA_FIELDS}]
    if unused:
        logging.warning("--set %s: training settings, with no effect on %s", ", ".join(unused),
                        where)


# The keypoint metadata of a model (K: model.num_keypoints), checked where a
# checkpoint's config is loaded for evaluation or inference and where a
# --set changes it: a limb [0, 20] of a 17-keypoint model stopped a tracked
# video mid-way; [0, -1] drew the nose to the last keypoint; 16 names for 17
# channels wrote 17 keypoints under 16 names, or blamed the data set.
INDEX_FIELDS = {"skeleton": "limb", "flip_pairs": "flip pair", "upper_body_ids": "id"}
COUNT_FIELDS = {"keypoint_names": "names", "oks_sigmas": "values"}


def check_keypoint_metadata(config: ExperimentConfig, overrides: Optional[Sequence[str]] = None,
                            source: str = "") -> None:
    """Refuses ``data.keypoint_names`` or ``data.oks_sigmas`` (when given)
    that are not K entries, a ``data.skeleton``, ``data.flip_pairs`` or
    ``data.upper_body_ids`` index outside 0..K-1 (K: ``model.num_keypoints``),
    and null ``data.flip_pairs`` (a model's pairs are given; ``[]``: none).

    Args:
      config: the config to check.
      overrides: the ``--set`` items: only the fields they set are checked,
        named as ``--set data.<field>``; None: every field, of ``source``.
      source: the file the config was read from (None overrides).

    Raises:
      ConfigError: naming the entry (and the file) and the fix.
    """
    explicit = None if overrides is None else {item.split("=", 1)[0].strip()
                                               for item in overrides}
    for field in (*COUNT_FIELDS, *INDEX_FIELDS):
        if explicit is not None and f"data.{field}" not in explicit:
            continue
        problem = _metadata_problem(config, field)
        if problem and explicit is not None:
            raise ConfigError(f"--set {problem}")
        if problem:
            raise ConfigError(f"{source}: {problem}; correct that entry in the file" if source
                              else f"the checkpoint's config: {problem}")


def _metadata_problem(config: ExperimentConfig, field: str) -> str:
    """What is wrong with ``data.<field>`` for the model's K, and the fix ("": nothing)."""
    values, k = getattr(config.data, field) or (), config.model.num_keypoints
    if field == "flip_pairs" and config.data.flip_pairs is None:
        # A model's pairs are the ones it was trained with (null is a data set's
        # "not given": the flip test and the export read it as a list).
        return ("data.flip_pairs is null (not given), but a model's flip pairs are given: "
                "its [[a, b], ...] (0-based), or data.flip_pairs=[] for none")
    if field in COUNT_FIELDS:
        if not values or len(values) == k:  # Empty: taken from the data or the names.
            return ""
        fix = (f"{k} names, one per heatmap channel in the model's order" if field ==
               "keypoint_names" else f"{k} numbers, or [] for sigmas by keypoint name")
        return (f"data.{field} has {len(values)} {COUNT_FIELDS[field]} for the model's {k} "
                f"keypoints: give {fix}")
    for entry in values:
        indices = entry if isinstance(entry, (tuple, list)) else (entry,)
        if not all(0 <= i < k for i in indices):
            shown = list(entry) if isinstance(entry, (tuple, list)) else entry
            return (f"data.{field}: {INDEX_FIELDS[field]} {shown} is out of range for the "
                    f"model's {k} keypoints (0-based: 0..{k - 1}); give data.{field}=[] for "
                    "none")
    return ""


def _refuse_empty(**flags: Optional[str]) -> None:
    """``--data_dir "$DATA"`` with DATA unset gave an empty value, which read
    as no flag: another data set or experiment, the default's, in silence."""
    for name, value in flags.items():
        if value is not None and not value.strip():
            raise ConfigError(f"--{name} is empty: give a value, or leave the flag out for "
                              "the default")


def _check_dataset_name(dataset: Optional[str], data_dir: Optional[str]) -> None:
    """``--dataset data/mine`` looked for data/data/mine/annotations/...: a
    path given as the name is refused with the flags that say it."""
    if dataset and ("/" in dataset or os.sep in dataset):
        folder = os.path.normpath(dataset)
        raise ConfigError(f"--dataset {dataset}: a data set's name, not a folder: give "
                          f"--dataset {os.path.basename(folder)} --data_dir {data_dir or folder}")


def refuse_model_overrides(overrides: Sequence[str], where: str) -> None:
    """Refuses a ``model.*`` override of a checkpoint's config, ``where``
    ("at evaluation", "at inference"), by its key: before the value is
    applied, whose own check asked for another model.* key (model.image_size
    without model.heatmap_size), then refused that one.

    Raises:
      ConfigError: naming the keys given.
    """
    keys = [item.split("=", 1)[0].strip() for item in override_items(overrides)]
    model_keys = [key for key in keys if key.startswith("model.")]
    if model_keys:
        decoding = (" (the decoding is chosen by test.decoding=msra|dark)"
                    if "model.codec" in model_keys else "")
        raise ConfigError(f"model.* cannot be overridden {where} (--set {', '.join(model_keys)})"
                          f": the checkpoint's weights define the model{decoding}")


def checkpoint_config(config: ExperimentConfig, trained: ExperimentConfig,
                      overrides: Sequence[str] = ()) -> ExperimentConfig:
    """``config`` with what a checkpoint owns put back: the whole ``model``
    section (the weights define it) and the data set's metadata (keypoint
    names, flip pairs, skeleton, OKS sigmas, upper-body ids; on the data set
    it was trained on, the categories too), unless an override in
    ``overrides`` sets a metadata field explicitly (applied and logged).

    Raises:
      ConfigError: for an override of ``model.*``.
    """
    overrides = override_items(overrides)
    refuse_model_overrides(overrides, "at evaluation")
    explicit = {item.split("=", 1)[0].strip() for item in overrides}
    if "data.keypoint_names" in explicit:
        check_keypoint_renaming(trained.data.keypoint_names, config.data.keypoint_names)
    warn_training_only(overrides, "an evaluation")
    check_keypoint_metadata(config.replace(model=trained.model), overrides)
    kept = {}
    for field in METADATA_FIELDS:
        if f"data.{field}" in explicit:
            logging.info("data.%s overridden: %s (the checkpoint has %s)", field,
                         getattr(config.data, field), getattr(trained.data, field))
        else:
            kept[field] = getattr(trained.data, field)
    if "data.category_ids" not in explicit and same_root(config.data.root, trained.data.root):
        # Its own data set: the categories it was trained on (--dataset rebuilt
        # the data section, and the file's default rule scored other people).
        kept["category_ids"] = trained.data.category_ids
    return config.replace(model=trained.model, data=dataclasses.replace(config.data, **kept))


def same_root(root: str, other: str) -> bool:
    """Whether two data roots are one folder (a link, ``~`` or a trailing
    slash aside)."""
    def real(path: str) -> str:
        return os.path.realpath(os.path.expanduser(path)) if path else ""
    return bool(root) and real(root) == real(other)


def check_keypoint_renaming(trained: Sequence[str], names: Sequence[str]) -> None:
    """Refuses ``data.keypoint_names`` that name a checkpoint's keypoints in
    another order: they rename its heatmap channels (AP 0, flip pairs and
    sigmas on the wrong keypoints, in silence), they cannot reorder data.

    Raises:
      ConfigError: naming the keypoints moved and the checkpoint's order.
    """
    moved = moved_keypoints(trained, names)
    if moved:
        raise ConfigError(
            f"data.keypoint_names {list(names)} names the checkpoint's keypoints in another "
            f"order ({describe_moves(moved, 'it', 'the checkpoint')}): it would rename the "
            "model's heatmap channels, not reorder the data; drop it and write the data's "
            f"keypoints in the checkpoint's order {list(trained)}")


# What --init_checkpoint brings into a run's model section: everything its
# weights were trained with, K excepted (the run's data set decides it).
INIT_MODEL_FIELDS = ("depth", "blocks_per_stage", "style", "image_size", "heatmap_size",
                     "sigma", "deconv_filters", "deconv_kernels", "final_kernel",
                     "color_order", "mean", "std", "codec")


def init_checkpoint_config(config: ExperimentConfig, source: ExperimentConfig,
                           overrides: Sequence[str] = ()) -> ExperimentConfig:
    """The config of a run that starts from another checkpoint's weights
    (``train.py --init_checkpoint``, a path or a preset name).

    The model section takes the checkpoint's architecture, input and heatmap
    size, sigma, codec and, above all, its input normalisation and colour
    order (the weights only work on the input they were trained on: an
    official checkpoint's BGR, an mmpose preset's RGB ImageNet statistics);
    K stays the run's (another K re-initialises the final layer), ImageNet
    initialisation is off. The data, train and test sections stay the run's
    (its data set's conventions: box padding, ground-truth box rule, DARK
    kernel from sigma). Explicit ``--set model.*`` overrides are applied
    again last; a changed normalisation is then warned about by the trainer.
    The log names the checkpoint as given (``config.train.init_checkpoint``).

    Raises:
      ConfigError: for a ``--set model.pretrained`` of weights (the
        checkpoint's replace them: recorded, they were never used).
    """
    given = config.train.init_checkpoint or source.name
    explicit = [item for item in override_items(overrides)
                if item.split("=", 1)[0].strip().startswith("model.")]
    _refuse_pretrained(explicit, given)
    fields = {f: getattr(source.model, f) for f in INIT_MODEL_FIELDS}
    changed = {f: v for f, v in fields.items() if getattr(config.model, f) != v}
    model = dataclasses.replace(config.model, pretrained="", **fields)
    adopted = config.replace(model=model)
    if explicit:
        adopted = apply_overrides(adopted, explicit)
    # A field the command sets is the command's, not the checkpoint's: the
    # log names only what was really taken.
    named = {item.split("=", 1)[0].strip()[len("model."):] for item in explicit}
    taken = {f: v for f, v in changed.items() if f not in named}
    if taken:
        logging.info("--init_checkpoint %s: model.%s taken from it (what its weights were "
                     "trained with)", given, ", model.".join(
                         f"{f}={v}" for f, v in taken.items()))
    kept = sorted(named & set(INIT_MODEL_FIELDS))
    if kept:
        logging.info("--init_checkpoint %s: model.%s as --set gives (the checkpoint has %s)",
                     given, ", model.".join(f"{f}={getattr(adopted.model, f)}"
                                                  for f in kept),
                     ", ".join(f"{getattr(source.model, f)}" for f in kept))
    return adopted


def _refuse_pretrained(overrides: Sequence[str], source: str) -> None:
    """Refuses ``--set model.pretrained=<weights>`` beside --init_checkpoint
    ``source``: the run's backbone is the checkpoint's, and the setting was
    dropped unsaid (an invalid one too) yet recorded in config.json. A value
    of no weights ("" or none) says what the run does and passes."""
    for item in overrides:
        key, _, value = item.partition("=")
        if key.strip() == "model.pretrained" and value.strip().strip("'\"").lower() not in (
                "", "none", "null"):
            raise ConfigError(f"--set {item.strip()} with --init_checkpoint {source}: the "
                              "init checkpoint's weights replace the backbone's, these would "
                              "never be loaded; drop the --set")


# Directory names that say where in a run a checkpoint sits, not which run.
RUN_PARTS = re.compile(r"best|saved_model|checkpoints|epoch_\d+")


def is_path_source(source: str) -> bool:
    """Whether an ``--init_checkpoint`` value names a path, there or not any
    more (a resume of a run whose source was removed); a preset name has no
    "/"."""
    return os.sep in source or os.path.exists(os.path.expanduser(source))


def default_model_dir(config: ExperimentConfig) -> str:
    """train.py's ``--model_dir`` when none is given: ``output/<experiment>``;
    a fine-tuning run's ``output/<experiment>_from_<source>`` (a preset's
    name; a checkpoint's run directory, then the part of the run:
    ``tiny_best``), so that fine-tuning after training from scratch does not
    land in, and resume, the first run."""
    source = config.train.init_checkpoint
    if not source:
        return os.path.join("output", config.name)
    parts = os.path.normpath(os.path.abspath(os.path.expanduser(source))).split(os.sep)
    if is_path_source(source):  # Gone too: its resume goes on in the same folder.
        named = [p for p in parts if p]
        tail = []
        while len(named) > 1 and RUN_PARTS.fullmatch(named[-1]):
            tail.insert(0, named.pop())
        label = "_".join(named[-1:] + [p for p in tail if p != "checkpoints"])
    else:
        label = source
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "checkpoint"
    return os.path.join("output", f"{config.name}_from_{_short_label(label)}")


# Longest source label in a default --model_dir name: a folder name is at
# most 255 bytes (NAME_MAX), and a 250-character source's was "not writable
# (File name too long)" for a --model_dir the user never gave.
MAX_LABEL = 80


def _short_label(label: str) -> str:
    """``label`` cut to ``MAX_LABEL`` characters, ending in a digest of the
    whole (the same source always gives the same folder, so it resumes)."""
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256(label.encode()).hexdigest()[:8]
    return f"{label[:MAX_LABEL - 9]}-{digest}"

