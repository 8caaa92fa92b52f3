"""mmpose's SimpleBaseline checkpoints (1.x and 0.x) -> model checkpoints (no torch).

mmpose publishes its top-down heatmap ResNets (``td-hm_res50_8xb64-210e_coco-
256x192-04af38ce_20220923.pth`` and the 0.x ``res50_coco_256x192-ec54d7f3_
20200709.pth``...) as ``torch.save`` files of a dict:

- ``state_dict``: the weights, the only entry read;
- ``meta``: config text, ``dataset_meta`` with NumPy arrays, versions, env
  info; and in some files ``message_hub`` (mmengine ``HistoryBuffer``
  objects), ``param_schedulers``, ``optimizer``. None of it is used: the
  reader (:mod:`keras_pose.convert.torch_reader`) imports and calls nothing
  named in the file, leaves what is not plain data as inert placeholders,
  and only ``state_dict``'s entries must be arrays (an entry that is not is
  an error naming the file, the entry and the global it referenced).

Both serialisations are read: the legacy (non-zip) one that mmpose's
``tools/misc/publish_model.py`` writes since 2023, and zip.

Names: mmpose's ResNet is torchvision's behind ``backbone.`` (stride on the
3x3 conv: the pytorch style); the head is the official one behind ``head.``
(1.x) or ``keypoint_head.`` (0.x)::

    backbone.conv1.weight, backbone.layer1.0.bn1.*  -> conv1.weight, layer1.0.bn1.*
    head.deconv_layers.{0,3,6}.weight (ConvTranspose2d), .{1,4,7}.* (BN)
    head.final_layer.{weight,bias}                   -> deconv_layers.*, final_layer.*
    keypoint_head.* (0.x)                            -> the same

The stripped names are the official Simple Baselines names that
:mod:`keras_pose.convert.state_dict` maps to our layers (the JHMDB models'
two deconvolutions included). Anything else (HRNet, a ResNetV1d stem, extra
head convolutions, a torchvision classifier) is refused with the keys named.

The tensors do not say the input size, the data set or the codec: the
caller's :class:`~keras_pose.configs.ExperimentConfig` does, and the
tensors are checked against its ``model`` (depth, K, deconvolutions).
mmpose's models take RGB pixels normalised with the ImageNet mean/std
(``data_preprocessor`` mean 123.675, 116.28, 103.53 and std 58.395, 57.12,
57.375 on 0-255 RGB), which is this project's default ``model`` config;
another convention in the config is logged as a warning.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Optional, Union

import numpy as np

from keras_pose import log as logging
from keras_pose.configs import ExperimentConfig
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD
from keras_pose.convert.official import check_output_dir
from keras_pose.convert.state_dict import (BACKBONE_PREFIXES, ConversionError,
                                          TorchArchitecture, assign_weights,
                                          convert_state_dict, infer_architecture,
                                          keras_name, read_state_dict)

BACKBONE_PREFIX = "backbone."
# Head prefix -> mmpose generation.
HEAD_PREFIXES = {"head.": "1.x", "keypoint_head.": "0.x"}
# mmengine's data_preprocessor mean/std are non-persistent buffers, so not in
# published files; mmpose drops them when present, and so do we.
IGNORED_PREFIXES = ("data_preprocessor.",)
_SHOWN = 8  # Unexpected keys listed in an error.


def mmpose_version(names: Iterable[str]) -> Optional[str]:
    """``"1.x"`` / ``"0.x"`` for state_dict names with mmpose's prefixes
    (``backbone.`` and ``head.`` / ``keypoint_head.``), else None."""
    names = list(names)
    if not any(n.startswith(BACKBONE_PREFIX) for n in names):
        return None
    found = {version for prefix, version in HEAD_PREFIXES.items()
             if any(n.startswith(prefix) for n in names)}
    return found.pop() if len(found) == 1 else None


def is_mmpose_checkpoint(path: str) -> bool:
    """True when ``path`` holds an mmpose-style state_dict (``backbone.*``
    names); reads the file (nothing in it is imported or called).

    Raises:
      FileNotFoundError / ConversionError: for a missing or unreadable file.
    """
    return any(n.startswith(BACKBONE_PREFIX) for n in read_state_dict(path))


def mmpose_file_version(path: str) -> Optional[str]:
    """``"1.x"`` / ``"0.x"``: the mmpose generation of the file at ``path``
    (by its head's key prefix), else None; reads the file."""
    return mmpose_version(read_state_dict(path))


def _maps_into(name: str, backbone: bool) -> bool:
    """Whether an official name is a tensor of our backbone (or head)."""
    if name.endswith(".num_batches_tracked"):  # BN counters: not loaded.
        name = name[:-len("num_batches_tracked")] + "running_mean"
    target = keras_name(name)
    return target is not None and target[0].startswith(BACKBONE_PREFIXES) == backbone


def to_official_names(state: Mapping[str, np.ndarray],
                      source: str = "checkpoint") -> dict[str, np.ndarray]:
    """mmpose 1.x / 0.x names -> the official Simple Baselines names.

    Args:
      state: an mmpose SimpleBaseline state_dict.
      source: the file name, for errors.

    Returns:
      Official name -> array, in the file's order.

    Raises:
      ConversionError: naming the file and the keys that are not a
        SimpleBaseline's (other backbones or heads, both head prefixes, no
        head at all).
    """
    heads = sorted({prefix for n in state for prefix in HEAD_PREFIXES if n.startswith(prefix)})
    if len(heads) > 1:
        raise ConversionError(
            f"{source}: mixes mmpose 1.x head.* and 0.x keypoint_head.* keys; not one "
            "mmpose checkpoint")
    official, unexpected, ignored = {}, [], []
    for name, value in state.items():
        if name.startswith(IGNORED_PREFIXES):
            ignored.append(name)
            continue
        if name.startswith(BACKBONE_PREFIX):
            short, backbone = name[len(BACKBONE_PREFIX):], True
        elif heads and name.startswith(heads[0]):
            short, backbone = name[len(heads[0]):], False
        else:
            unexpected.append(name)
            continue
        if _maps_into(short, backbone):
            official[short] = value
        else:
            unexpected.append(name)
    if unexpected:
        shown = ", ".join(unexpected[:_SHOWN])
        more = f" and {len(unexpected) - _SHOWN} more" if len(unexpected) > _SHOWN else ""
        raise ConversionError(
            f"{source}: not an mmpose SimpleBaseline checkpoint (ResNet backbone + "
            f"deconvolution heatmap head): {len(unexpected)} unexpected keys: "
            f"{shown}{more}. Expected backbone.<torchvision ResNet names> and "
            "head. (1.x) or keypoint_head. (0.x) deconv_layers.N / final_layer")
    if not heads:
        raise ConversionError(
            f"{source}: no pose head (head.* or keypoint_head.* keys); an mmpose "
            "SimpleBaseline checkpoint has a deconvolution head")
    if ignored:
        logging.info("%s: ignored %d tensors that are not weights (%s)", source,
                     len(ignored), ", ".join(ignored[:4]))
    return official


def read_mmpose_state_dict(path: str) -> dict[str, np.ndarray]:
    """Reads an mmpose SimpleBaseline checkpoint's weights, official names.

    Only ``state_dict`` is taken; ``meta`` and the rest are not used and
    whatever in them is not plain data stays an inert placeholder.

    Args:
      path: an mmpose ``.pth`` (legacy or zip serialisation), 1.x or 0.x.

    Returns:
      Official state_dict name (``conv1.weight``, ``deconv_layers.0.weight``,
      ``final_layer.bias``...) -> array.

    Raises:
      FileNotFoundError: for a missing file.
      ConversionError: naming the file, for an unreadable file, an entry of
        ``state_dict`` that is not a tensor (with the global it referenced),
        or keys that are not a SimpleBaseline's (each named).
    """
    state = read_state_dict(path)
    version = mmpose_version(state)
    official = to_official_names(state, source=path)
    logging.info("%s: mmpose %s SimpleBaseline checkpoint, %d tensors", path, version,
                 len(official))
    return official


def check_architecture(arch: TorchArchitecture, config: ExperimentConfig,
                       source: str = "checkpoint") -> None:
    """Refuses a config whose ``model`` contradicts the tensors.

    Raises:
      ConversionError: naming the file, the config and every difference
        (what the tensors say and what the config says).
    """
    model = config.model
    problems = []
    if model.style != "pytorch":
        problems.append(f"model.style is {model.style!r} but mmpose's ResNets are the "
                        "pytorch style (stride on the 3x3 convolution)")
    if model.blocks_per_stage:
        problems.append(f"model.blocks_per_stage is {tuple(model.blocks_per_stage)} but "
                        f"the checkpoint is a standard ResNet-{arch.depth}")
    for what, ours, theirs in (
            ("model.depth", model.depth, arch.depth),
            ("model.num_keypoints", model.num_keypoints, arch.num_keypoints),
            ("model.deconv_filters", tuple(model.deconv_filters), arch.deconv_filters),
            ("model.deconv_kernels", tuple(model.deconv_kernels), arch.deconv_kernels),
            ("model.final_kernel", model.final_kernel, arch.final_kernel)):
        if ours != theirs:
            problems.append(f"the checkpoint has {what}={theirs} but the config has {ours}")
    if problems:
        raise ConversionError(f"{source} does not match config {config.name}: "
                              + "; ".join(problems))


def convert_mmpose_checkpoint(input_path: str, output_dir: str,
                              config: Union[ExperimentConfig, str]) -> ExperimentConfig:
    """Converts an mmpose SimpleBaseline checkpoint into a model checkpoint.

    The tensors are checked against ``config.model``, loaded into the model
    it describes all or nothing, and written with the config as a model
    checkpoint directory (``config.json`` + ``model.weights.h5``, replaced
    atomically), which evaluate.py, predict.py, the exporter and
    ``train.py --init_checkpoint`` use.

    Args:
      input_path: the mmpose ``.pth`` (1.x or 0.x keys; legacy or zip).
      output_dir: the checkpoint directory to write: absent, empty or a
        model checkpoint (replaced).
      config: the experiment the checkpoint belongs to, its config or its
        name (``keras_pose.configs.list_experiments``): input and heatmap
        sizes, sigma, codec, normalisation (mmpose's: RGB, ImageNet mean/std)
        and keypoint metadata come from it.

    Returns:
      The config written: ``config`` with ``model.pretrained`` cleared (the
      weights are complete).

    Raises:
      FileNotFoundError: for a missing file.
      ConfigError: for an unknown experiment name; TypeError: ``config`` is
        neither a config nor a name.
      ConversionError: for a file that is not an mmpose SimpleBaseline
        checkpoint, tensors that contradict ``config.model`` or do not fit
        the model (each named), or an output that is not a checkpoint
        directory. Nothing is written then.
    """
    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.models.pose_resnet import build_model_from_config

    config = _experiment(config)
    check_output_dir(output_dir)
    state = read_mmpose_state_dict(input_path)
    arch = infer_architecture(state, source=input_path)
    check_architecture(arch, config, source=input_path)
    if config.model.pretrained:
        config = config.replace(model=dataclasses.replace(config.model, pretrained=""))
    _warn_other_normalisation(config)
    try:
        model = build_model_from_config(config.model)
    except ValueError as e:
        raise ConversionError(f"config {config.name}: {e}") from e
    count = assign_weights(model, convert_state_dict(state), source=input_path)
    save_model_checkpoint(model, config, output_dir)
    logging.info("converted %s (mmpose ResNet-%d, K=%d, %d layers) -> %s as %s", input_path,
                 arch.depth, arch.num_keypoints, count, output_dir, config.name)
    return config


def _warn_other_normalisation(config: ExperimentConfig) -> None:
    """Warns when ``config`` feeds the network other pixels than mmpose's."""
    model = config.model
    if (model.color_order != "RGB" or tuple(model.mean) != IMAGENET_MEAN
            or tuple(model.std) != IMAGENET_STD):
        logging.warning(
            "config %s feeds %s pixels normalised with mean %s std %s; mmpose's models "
            "were trained on RGB with the ImageNet mean %s std %s", config.name,
            model.color_order, model.mean, model.std, IMAGENET_MEAN, IMAGENET_STD)


def _experiment(config: Union[ExperimentConfig, str]) -> ExperimentConfig:
    """The config ``config`` is or names (a name was an AttributeError
    after the file was read: 'str' object has no attribute 'model')."""
    if isinstance(config, str):
        from keras_pose.configs import get_experiment
        return get_experiment(config)
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config: expected an ExperimentConfig or an experiment's name, got "
                        f"{type(config).__name__} {config!r:.80}")
    return config
