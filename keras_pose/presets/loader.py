"""Presets by name: their config, their file, their converted checkpoint.

:func:`preset_checkpoint` is what every entry point reaches through
``keras_pose.checkpoint.resolve_checkpoint`` when given a preset name
(``predict.py``, ``evaluate.py``, the exporter, ``Predictor.from_checkpoint``,
``load_pose_model``, ``train.py --init_checkpoint``).

Cache layout (``$KERAS_POSE_CACHE``, else ``~/.keras/keras_pose``;
:func:`keras_pose.convert.download.cache_dir`)::

    <cache>/<weights file>             the download, kept under its own name
                                       (td-hm_res50_...-04af38ce_20220923.pth)
    <cache>/presets/<preset name>/     the converted model checkpoint
                                       (config.json, model.weights.h5, COMPLETE)

First use: download (mmpose presets; hash-checked against the prefix in the
file name, a bad download is not kept) or find the file the user placed
(official presets), convert it without torch into a checkpoint directory
written atomically (an interrupted conversion leaves nothing under the
preset's name), and reuse that directory afterwards: a second use neither
downloads nor converts. Offline, the error names the URL and where to put
the file.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import difflib
import errno
import os
import re
import shutil
import tempfile
from typing import Iterator, Optional, Union

from keras_pose import log as logging
from keras_pose.configs import (ConfigError, ExperimentConfig, get_experiment, load_config,
                                save_config)
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from keras_pose.configs.dataset_info import DATASETS
from keras_pose.configs.sigma_presets import DEFAULT_OKS_SIGMA
from keras_pose.errors import NotWritableError, UserError
from keras_pose.files import remove_dead_leftovers_in, temporary_sibling
from keras_pose.presets.table import OFFICIAL_DIRS, OFFICIAL_LINKS, PRESETS, Preset

# The preset predict.py uses when no --checkpoint is given (as mmpose's
# inferencer picks one for 'human'). ResNet-50 at 256x192 is the cheapest
# COCO model (8.9 GFLOPs per person, about 0.34 s per person with the flip
# test on this project's 2 CPU cores; ResNet-101/152 cost 12.4/15.7 GFLOPs,
# 384x288 inputs 2.2x more) and DARK decoding adds 0.6 AP (72.4 against 71.8)
# for post-processing that costs next to nothing: the best accuracy for
# that cost. Its input is plain RGB (the official files expect BGR).
DEFAULT_PRESET = "simplebaseline_resnet50_coco_256x192_dark"
PRESETS_DIR = "presets"
LIST_COMMAND = "python -m keras_pose.presets"


class PresetError(UserError, ValueError):
    """A preset that cannot be found or used; the message says why."""


def is_preset(name: str) -> bool:
    """Whether ``name`` is a preset name."""
    return isinstance(name, str) and name in PRESETS


def close_presets(name: str, limit: int = 5) -> list[str]:
    """Preset names close to ``name`` (typos, a missing part), best first."""
    text = os.path.basename(os.path.normpath(str(name))).lower()
    close = difflib.get_close_matches(text, PRESETS, n=limit, cutoff=0.6)
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w]
    containing = [p for p in PRESETS if words and all(w in p for w in words)]
    return list(dict.fromkeys(close + containing))[:limit]


def missing_message(name: str) -> str:
    """The error for a ``--checkpoint`` that is neither a path nor a preset."""
    close = close_presets(name)
    hint = (f"; close preset names: {', '.join(close)}" if close else
            "; it is not a preset name either")
    return f"checkpoint {name} does not exist{hint} (all presets: {LIST_COMMAND})"


def get_preset(name: Union[str, Preset]) -> Preset:
    """The preset called ``name``.

    Raises:
      PresetError: for an unknown name, listing close names.
    """
    if isinstance(name, Preset):
        return name
    if not is_preset(name):
        close = close_presets(name)
        raise PresetError(f"unknown preset {name!r}" + (
            f"; close names: {', '.join(close)}" if close else "") +
            f" (all presets: {LIST_COMMAND})")
    return PRESETS[name]


def official_experiment(preset: Preset) -> str:
    """The named experiment of an official checkpoint."""
    width, height = preset.input_size
    return f"{preset.dataset}_resnet{preset.depth}_{height}x{width}"


def preset_config(name: Union[str, Preset]) -> ExperimentConfig:
    """The experiment config a preset's converted checkpoint carries.

    mmpose presets: the network (depth, K, input and heatmap size, sigma,
    codec) with mmpose's input normalisation, which is this project's RGB
    ImageNet default (mean 123.675/116.28/103.53, std 58.395/57.12/57.375 on
    0-255); the data set's keypoint metadata; the box padding and the
    ground-truth box rule of the release; the evaluation split and boxes;
    the flip test with the heatmap shift and the release's DARK kernel.
    Official presets: the official experiment with the BGR quirk
    (``keras_pose.convert.official.official_config``).
    """
    preset = get_preset(name)
    width, height = preset.input_size
    if preset.is_official:
        base = get_experiment(official_experiment(preset))
        model = dataclasses.replace(base.model, pretrained="", color_order="BGR",
                                    mean=IMAGENET_MEAN, std=IMAGENET_STD)
        return base.replace(name=preset.name, model=model)
    info = DATASETS[preset.dataset]
    evaluation = preset.evaluation
    base = get_experiment("mpii_resnet50_256x256" if preset.dataset == "mpii"
                          else "coco_resnet50_256x192")
    model = ModelConfig(depth=preset.depth, num_keypoints=info.num_keypoints,
                        image_size=preset.input_size, heatmap_size=preset.heatmap_size,
                        sigma=preset.sigma, codec=preset.codec, pretrained="")
    data = dataclasses.replace(
        base.data, keypoint_names=info.names, flip_pairs=info.flip_pairs,
        skeleton=info.skeleton,
        # No published sigmas (PCK sets): the default, for OKS NMS only.
        oks_sigmas=info.sigmas or (DEFAULT_OKS_SIGMA,) * info.num_keypoints,
        upper_body_ids=info.upper_body_ids, box_padding=preset.box_padding,
        gt_box_rule=preset.gt_box_rule)
    if preset.dataset not in ("coco", "mpii"):
        data = dataclasses.replace(data, dataset="custom", root=evaluation.root,
                                   train_set="train", test_set=evaluation.split)
    elif evaluation.root != data.root:  # COCO-WholeBody's hands / faces live in data/coco.
        data = dataclasses.replace(data, root=evaluation.root)
    test = dataclasses.replace(
        base.test, flip_test=True, shift_heatmap=preset.shift_heatmap, decoding="",
        blur_kernel=preset.blur_kernel,
        use_gt_boxes=None if evaluation.detections else True,
        detection_file=evaluation.detections or base.test.detection_file)
    return base.replace(name=preset.name, model=model, data=data, test=test)


def preset_dir(name: str) -> str:
    """Where the converted checkpoint of preset ``name`` is cached."""
    from keras_pose.convert.download import cache_dir
    return os.path.join(cache_dir(), PRESETS_DIR, name)


def official_candidates(preset: Preset) -> list[str]:
    """Where an official checkpoint file is looked for: the cache folder, then
    the official layout (``models/pytorch/pose_coco/``, relative to the
    working directory); ``.pth.tar`` or the HRNet repository's ``.pth``."""
    from keras_pose.convert.download import cache_dir
    stem = preset.file_name[:-len(".pth.tar")]
    folders = (cache_dir(), OFFICIAL_DIRS[preset.dataset])
    return [os.path.join(folder, stem + suffix) for folder in folders
            for suffix in (".pth.tar", ".pth")]


def _official_file(preset: Preset) -> str:
    candidates = official_candidates(preset)
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise PresetError(
        f"preset {preset.name}: the official checkpoint {preset.file_name} is not on this "
        f"machine. Download it from the official README's {OFFICIAL_LINKS} "
        f"({os.path.basename(OFFICIAL_DIRS[preset.dataset])}/{preset.file_name}) and put it "
        f"at {candidates[0]} or {candidates[2]} (relative to the working directory)")


def weights_file(preset: Preset) -> str:
    """The preset's weights file on this machine: downloaded into the cache
    (mmpose, hash-checked) or found where the user put it (official).

    Raises:
      DownloadError: offline or unreachable, naming the URL and where to put
        the file; HashMismatchError: a download that is not the published
        file (not kept); PresetError: an official file not found.
    """
    if preset.is_official:
        return _official_file(preset)
    from keras_pose.convert.download import fetch
    return fetch(preset.url, alternatives="or give a checkpoint directory in place of the "
                 "preset name")


# What a cache folder the user cannot write raises (read-only, another
# user's, KERAS_POSE_CACHE naming a file).
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR)


@contextlib.contextmanager
def _writing_cache(what: str, weights: Optional[str] = None) -> Iterator[None]:
    """A write into the cache that the user cannot do is one line naming
    the cache and ``KERAS_POSE_CACHE`` (it named a temporary folder).

    ``weights``: the file being converted; when it is in the cache, the
    line also says to copy it into the other folder (the next run, offline,
    asked for it there: it is looked for in the cache only)."""
    try:
        yield
    except OSError as e:
        from keras_pose.convert.download import CACHE_ENV, cache_dir
        cache = cache_dir()
        copy = ""
        if weights and os.path.dirname(os.path.abspath(weights)) == os.path.abspath(cache):
            copy = f", and copy {weights} into that folder (the conversion looks for it there)"
        if e.errno == errno.ENOSPC:
            raise NotWritableError(
                f"cannot write {what} into the cache {cache}: the disk is full; nothing "
                f"was kept: free space there or set {CACHE_ENV} to a folder on another disk"
                f"{copy}") from None
        if e.errno not in _UNWRITABLE:
            raise
        raise NotWritableError(
            f"cannot write {what} into the cache {cache} ({e.strerror}): set "
            f"{CACHE_ENV} to a folder you can write{copy}") from None


def convert_preset(preset: Preset, weights: str, target: str) -> ExperimentConfig:
    """Converts ``weights`` into the checkpoint directory ``target``, with
    the preset's config; atomic (nothing at ``target`` until it is whole).

    Raises:
      PresetError: when the file's tensors are another model than the
        preset's (the converter checks them against the preset's config).
    """
    from keras_pose.checkpoint import CONFIG_FILE, WEIGHTS_FILE, write_checkpoint_dir
    config = preset_config(preset)
    logging.info("Preset %s: converting %s into %s (%s)", preset.name, weights, target,
                 "again" if os.path.isdir(target) else "first use")
    with _writing_cache(f"the converted preset {preset.name}", weights):
        # Killed conversions' (of any preset): frees the disk before this one.
        remove_dead_leftovers_in(os.path.dirname(os.path.abspath(target)))
        # Converted outside the checkpoint write, whose Ctrl-C waits for its
        # end: a Ctrl-C one second into a ResNet-152's conversion waited 9.5 s,
        # unsaid. Only the move of the converted weights is deferred.
        staged = temporary_sibling(os.path.abspath(target) + ".converted")
        try:
            _convert(preset, weights, staged, config)

            def write(tmp: str) -> None:
                os.replace(os.path.join(staged, WEIGHTS_FILE), os.path.join(tmp, WEIGHTS_FILE))
                save_config(config, os.path.join(tmp, CONFIG_FILE))

            write_checkpoint_dir(target, write)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    return config


def _convert(preset: Preset, weights: str, staged: str, config: ExperimentConfig) -> None:
    """The preset's file converted into the checkpoint folder ``staged``,
    checked to be the preset's model."""
    from keras_pose.convert.state_dict import ConversionError
    try:
        if preset.is_official:
            from keras_pose.convert.official import convert_pose_checkpoint
            written = convert_pose_checkpoint(weights, staged,
                                              experiment=official_experiment(preset))
        else:
            from keras_pose.convert.mmpose import convert_mmpose_checkpoint
            written = convert_mmpose_checkpoint(weights, staged, config)
    except ConversionError as e:  # Named neither the file nor the preset.
        raise PresetError(
            f"preset {preset.name}: {weights} is not this preset's file ({e}); replace it "
            "with the published file (an official file is named after its model: "
            f"{os.path.basename(weights)} must hold that model)") from None
    if written.model != config.model:
        raise PresetError(
            f"preset {preset.name}: {weights} converts to another model than the preset "
            f"describes ({written.model} vs {config.model})")


def _unreadable_weights(target: str) -> Optional[str]:
    """Why the cached weights of checkpoint ``target`` cannot be read (a
    file cut short, not HDF5, or damaged inside: an object header or a
    dataset's description HDF5 cannot decode); None when they can.

    Every object is visited and every dataset opened (shape, type and
    layout decoded), its values not read. Only opening the file let a copy
    overwritten past its header through: "does not fit the model", on every
    use. Measured on a ResNet-152 (270 MB, 1852 objects): 56 ms warm, 104 ms
    cold, against a 5.5 s load; reading the values too cost 120-400 ms and
    found nothing more (300 overwrites of 2400 bytes of a ResNet-50 file:
    the same 31 found). Values overwritten in place are found by neither:
    HDF5 keeps no checksum of them.
    """
    import h5py
    from keras_pose.checkpoint import WEIGHTS_FILE
    try:
        with h5py.File(os.path.join(target, WEIGHTS_FILE), "r") as weights:
            def open_dataset(name: bytes, info) -> None:
                if info.type == h5py.h5o.TYPE_DATASET:
                    h5py.h5d.open(weights.id, name)

            h5py.h5o.visit(weights.id, open_dataset, info=True)
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        text = str(e.args[0] if isinstance(e, KeyError) and e.args else e)
        return " ".join(text.split())[:300] or type(e).__name__
    return None


def _with_table_config(preset: Preset, config: ExperimentConfig, target: str) -> str:
    """The cached checkpoint ``target`` with the table's config written into
    it. A cache the user cannot write (a shared, read-only one, after an
    upgrade corrected the table) gives this process a private checkpoint
    instead: the cached weights linked, the table's config (it stopped with
    "set KERAS_POSE_CACHE", which meant converting again: offline, from a
    file that may be gone)."""
    from keras_pose.checkpoint import COMPLETE_FILE, CONFIG_FILE, WEIGHTS_FILE
    try:
        with _writing_cache(f"preset {preset.name}'s updated config"):
            save_config(config, os.path.join(target, CONFIG_FILE))
    except NotWritableError as e:
        private = tempfile.mkdtemp(prefix=f"keras_pose_{preset.name}_")
        atexit.register(shutil.rmtree, private, True)
        os.symlink(os.path.join(target, WEIGHTS_FILE), os.path.join(private, WEIGHTS_FILE))
        save_config(config, os.path.join(private, CONFIG_FILE))
        open(os.path.join(private, COMPLETE_FILE), "w").close()
        logging.warning("Preset %s: %s; this run takes the cached weights with the preset "
                        "table's config (%s)", preset.name, e, private)
        return private
    logging.info("Preset %s: %s (its config updated from the preset table)", preset.name,
                 target)
    return target


def preset_checkpoint(name: str) -> str:
    """The converted checkpoint directory of preset ``name``: from the cache,
    else downloaded (or found), converted and cached first.

    A cached checkpoint whose config no longer is the table's (a corrected
    entry) or cannot be read gets the table's config when its model is the
    same, and is converted again otherwise, or when its weights cannot be
    read (a damaged copy, cut short or overwritten inside, was called "does
    not fit the model" by the load; :func:`_unreadable_weights`), from the
    kept file (logged).

    Raises:
      PresetError, DownloadError, HashMismatchError, ConversionError: each
      naming the preset and what to do.
    """
    from keras_pose.checkpoint import CONFIG_FILE, is_complete, is_model_checkpoint
    preset = get_preset(name)
    config = preset_config(preset)
    target = preset_dir(preset.name)
    damage = _unreadable_weights(target) if is_model_checkpoint(target) else None
    if damage:
        logging.warning("Preset %s: the cached copy %s is damaged (%s); converting again",
                        preset.name, target, damage)
    elif is_model_checkpoint(target) and is_complete(target):
        try:
            cached = load_config(os.path.join(target, CONFIG_FILE))
        except ConfigError:  # Damaged: the table's is written again.
            cached = None
        if cached == config:
            logging.info("Preset %s: %s", preset.name, target)
            return target
        if cached is None or cached.model == config.model:
            return _with_table_config(preset, config, target)
        logging.warning("Preset %s: %s holds another model than the table describes; "
                        "converting again", preset.name, target)
    convert_preset(preset, weights_file(preset), target)
    return target


def source_config(source: str) -> Optional[ExperimentConfig]:
    """The config of a checkpoint path or preset name without loading weights
    (and without downloading: a preset's is the table's); None for a path
    that is not a checkpoint.

    Raises:
      CheckpointError: for a name that is neither a path nor a preset.
    """
    from keras_pose.checkpoint import CONFIG_FILE, CheckpointError, resolve_checkpoint
    if not os.path.exists(source):
        if is_preset(source):
            return preset_config(source)
        raise CheckpointError(missing_message(source))
    resolved = resolve_checkpoint(source)
    path = os.path.join(resolved.path, CONFIG_FILE if resolved.kind == "keras"
                        else os.path.join("assets", "config.json"))
    return load_config(path) if os.path.isfile(path) else None


def is_cached(name: str) -> bool:
    """Whether preset ``name`` was converted on this machine already."""
    from keras_pose.convert.download import cache_dir
    target = os.path.join(cache_dir(), PRESETS_DIR, name)
    return (os.path.isfile(os.path.join(target, "COMPLETE"))
            and os.path.isfile(os.path.join(target, "config.json")))
