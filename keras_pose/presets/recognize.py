"""Which preset an mmpose weights file is, and the config its conversion
gets.

A published mmpose file carries the first 8 hex digits of its SHA-256 in its
name, so its contents say which preset it is even when it was renamed. The
converter script (``scripts/convert_pytorch_checkpoint.py``) uses that: a
recognised file converts with its preset's config (the settings mmpose's
evaluation used: ground-truth box rule, DARK kernel, padding, keypoint set),
without ``--experiment``. Was: every mmpose file needed ``--experiment``,
whose config kept the official box rule and the experiment's DARK kernel, so
a converted file did not evaluate as its preset did unless the user also
added the ``--set`` lines the docs named.

:func:`pytorch_file_advice`: what a PyTorch file given as a checkpoint is
told to do (a preset's file, by its name, goes where the preset looks for it).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Optional, Sequence

from keras_pose import log as logging
from keras_pose.configs import ExperimentConfig, apply_overrides, get_experiment
from keras_pose.digests import sha256_of
from keras_pose.errors import FlagError
from keras_pose.presets.loader import official_candidates, preset_config
from keras_pose.presets.table import PRESETS, Preset

# data.gt_box_rule of each mmpose generation (mmpose keeps COCO's boxes whole).
RELEASE_BOX_RULES = {"1.x": "mmpose", "0.x": "mmpose_0x"}


def preset_of_file(path: str,
                   presets: Optional[Mapping[str, Preset]] = None) -> Optional[Preset]:
    """The mmpose preset whose published file ``path`` is (by the SHA-256
    of its contents, so under any name), else None. Official presets carry
    no hash and are never returned (their files are recognised by name by
    the official converter)."""
    table = PRESETS if presets is None else presets
    prefixes = {p.sha256_prefix: p for p in table.values()
                if not p.is_official and p.sha256_prefix}
    if not prefixes:
        return None
    digest = sha256_of(path)
    found = next((p for prefix, p in prefixes.items() if digest.startswith(prefix)), None)
    named = next((p for p in prefixes.values() if p.file_name == os.path.basename(path)),
                 None)
    if named is not None and found is None:
        logging.warning("%s is named as preset %s's file but is not its published contents "
                        "(SHA-256 %s..., published %s...): converted as an unknown mmpose "
                        "file", path, named.name, digest[:8], named.sha256_prefix)
    return found


def mmpose_file_config(path: str, release: Optional[str], experiment: Optional[str],
                       overrides: Sequence[str] = (),
                       presets: Optional[Mapping[str, Preset]] = None) -> ExperimentConfig:
    """The config an mmpose file converts with, ``overrides`` applied last.

    A published file without ``experiment``: its preset's config. With
    ``experiment``: that experiment renamed ``<experiment>_mmpose``, with the
    ground-truth box rule of the file's mmpose generation (``release``,
    ``"1.x"`` or ``"0.x"`` from its tensor names); DARK's kernel stays the
    experiment's (from its sigma as mmpose relates them: 11 at sigma 2).

    Raises:
      FlagError: an unknown file and no experiment.
    """
    preset = preset_of_file(path, presets)
    if preset is not None and not experiment:
        logging.info("%s is the published file of preset %s: converted with its config "
                     "(box rule %s, codec %s, blur kernel %d)", path, preset.name,
                     preset.gt_box_rule, preset.codec, preset.blur_kernel)
        config = preset_config(preset)
    elif experiment:
        if preset is not None:
            logging.warning("%s is the published file of preset %s; --experiment %s replaces "
                            "its recorded settings (drop --experiment to keep them)", path,
                            preset.name, experiment)
        config = get_experiment(experiment)
        config = config.replace(name=f"{config.name}_mmpose")
        if release in RELEASE_BOX_RULES:
            config = config.replace(data=dataclasses.replace(
                config.data, gt_box_rule=RELEASE_BOX_RULES[release]))
    else:
        raise FlagError(
            f"{path} needs --experiment (and --set for what differs): it is not the "
            "published file of a preset (python -m keras_pose.presets lists them), and its "
            "tensors do not say the input size, data set or codec")
    return apply_overrides(config, overrides) if overrides else config


def _named_preset(path: str) -> Optional[Preset]:
    """The preset whose published file is named as ``path`` (an official
    file also under the HRNet copies' ``.pth`` name), else None."""
    name = os.path.basename(path)
    for preset in PRESETS.values():
        names = {preset.file_name}
        if preset.is_official:
            names.add(preset.file_name[:-len(".pth.tar")] + ".pth")
        if name in names:
            return preset
    return None


def pytorch_file_advice(path: str) -> str:
    """The error for a PyTorch file given where a converted checkpoint is
    expected. A preset's published file (by its name): where the preset
    looks for it, and to give the preset's name. Another: the converter's
    command, and when it needs ``--experiment`` (an mmpose file that is no
    preset's published one; was said of every mmpose file)."""
    preset = _named_preset(path)
    if preset is None:
        return (f"checkpoint {path} is a PyTorch weights file: convert it first, python "
                f"scripts/convert_pytorch_checkpoint.py --input {path} --output <a new "
                "folder>, then give that folder (an mmpose file needs --experiment too, e.g. "
                "coco_resnet50_256x192, unless it is a preset's published file, which is "
                "recognised by its contents under any name); a published model is also taken "
                "by its preset name (predict.py --list_presets)")
    from keras_pose.convert.download import cache_dir
    places = (official_candidates(preset) if preset.is_official
              else [os.path.join(cache_dir(), preset.file_name)])
    use = (f"give the preset name, {preset.name}, in place of the file (converted on first "
           "use, then reused)")
    if os.path.realpath(path) in map(os.path.realpath, places):
        return (f"checkpoint {path} is preset {preset.name}'s PyTorch weights file, where the "
                f"preset looks for it: {use}")
    where = places[0] + (f" or {places[2]}" if preset.is_official else "")
    return (f"checkpoint {path} is named as preset {preset.name}'s published PyTorch weights "
            f"file: put it at {where}, then {use}")
