"""Backbone initialisation: ``model.pretrained``.

Whoever builds a network for training calls :func:`initialize_backbone`
(the trainer does, once, unless a checkpoint will overwrite the weights);
``keras_pose.models`` builds architectures only. ``model.pretrained`` is one
of:

- ``""`` / ``"none"``: random initialisation, on purpose.
- ``"imagenet"``: the ImageNet weights of the model's style. Pytorch style:
  torchvision's ImageNet ResNet (``resnet50-19c8e357.pth``..., what the
  official yaml files start from), downloaded on first use into the cache of
  :mod:`keras_pose.convert.download` and read without torch. Caffe style: the
  ResNet-50/101/152 weights that ``keras.applications`` publishes (downloaded
  by Keras), whose input convention is :data:`KERAS_CAFFE_PREPROCESSING`.
- a local path: ``.pth`` / ``.pth.tar`` / ``.pt`` / ``.bin`` / ``.safetensors`` with
  torchvision's tensor names (torchvision, timm's ``resnet50.tv_in1k``, an
  official pose checkpoint, whose head is dropped; pytorch style), ``.npz``
  named weights ``"<layer name>/<variable name>"`` (what
  :func:`save_named_weights` writes), or ``.h5`` keras.applications weights
  (caffe style).
- an ``http(s)://`` or ``file://`` URL of such a file: downloaded into the
  cache first, checked against the SHA-256 prefix a torchvision-style name
  carries.

Every path is all or nothing: the weights load completely or an error names
each tensor that does not fit and the model is left as it was.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Optional

import keras
import numpy as np

from keras_pose import log as logging
from keras_pose.configs.base import ConfigError
from keras_pose.configs.experiments import KERAS_CAFFE_PREPROCESSING
from keras_pose.convert import download, imagenet
from keras_pose.errors import MissingFileError
from keras_pose.convert.state_dict import (BACKBONE_PREFIXES, ConversionError,
                                          WeightsMismatchError, assign_weights,
                                          convert_state_dict, infer_architecture,
                                          read_state_dict)
from keras_pose.files import write_atomically

__all__ = [
    "BACKBONE_PREFIXES", "KERAS_CAFFE_PREPROCESSING", "WeightsMismatchError",
    "copy_keras_applications_weights", "initialize_backbone", "keras_applications_layer_name",
    "load_named_weights", "load_pretrained_backbone", "load_torch_backbone",
    "pretrained_source", "save_named_weights",
]

# File endings of torch-named weights (torchvision, timm's model.safetensors and
# pytorch_model.bin, official checkpoints).
TORCH_SUFFIXES = (".pth", ".pth.tar", ".pt", ".bin", ".safetensors")

_APPLICATIONS = {
    50: "ResNet50",
    101: "ResNet101",
    152: "ResNet152",
}


def keras_applications_layer_name(name: str) -> Optional[str]:
    """Maps one of our backbone layer names to keras.applications' name.

    ``stem_conv`` -> ``conv1_conv``; ``stage3_block2_conv1`` ->
    ``conv3_block2_1_conv``; ``stage3_block1_downsample_bn`` ->
    ``conv3_block1_0_bn``. Returns None for layers without a counterpart.
    """
    if name in ("stem_conv", "stem_bn"):
        return "conv1_" + name[len("stem_"):]
    match = re.fullmatch(r"stage(\d)_block(\d+)_(conv|bn)(\d)", name)
    if match:
        stage, block, kind, index = match.groups()
        return f"conv{stage}_block{block}_{index}_{kind}"
    match = re.fullmatch(r"stage(\d)_block(\d+)_downsample_(conv|bn)", name)
    if match:
        stage, block, kind = match.groups()
        return f"conv{stage}_block{block}_0_{kind}"
    return None


def _backbone_layers(model: keras.Model):
    return [layer for layer in model.layers
            if layer.name.startswith(BACKBONE_PREFIXES) and layer.weights]


def copy_keras_applications_weights(model: keras.Model,
                                    source: keras.Model) -> int:
    """Copies a keras.applications ResNet's weights into our backbone.

    Args:
      model: a caffe-style pose model (or backbone) built by this package.
      source: ``keras.applications.ResNet{50,101,152}(include_top=False)``.

    Returns:
      The number of layers copied.

    Raises:
      WeightsMismatchError: listing every backbone layer without a source
        layer or with a different shape.
    """
    source_layers = {layer.name: layer for layer in source.layers}
    problems, updates = [], []
    for layer in _backbone_layers(model):
        source_name = keras_applications_layer_name(layer.name)
        source_layer = source_layers.get(source_name) if source_name else None
        if source_layer is None:
            problems.append(f"{layer.name}: no layer {source_name!r} in the source")
            continue
        weights = source_layer.get_weights()
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if [tuple(w.shape) for w in weights] != shapes:
            problems.append(f"{layer.name}: shapes {shapes} != source "
                            f"{[tuple(w.shape) for w in weights]}")
            continue
        updates.append((layer, weights))
    if problems:
        raise WeightsMismatchError(
            "cannot copy keras.applications weights (is the model caffe style "
            "with the same depth?); nothing was copied:\n  " + "\n  ".join(problems))
    for layer, weights in updates:
        layer.set_weights(weights)
    return len(updates)


def save_named_weights(layers: Iterable[keras.layers.Layer], path: str) -> None:
    """Writes layers' weights to ``path`` (.npz) as ``layer/variable`` arrays."""
    arrays = {}
    for layer in layers:
        for variable in layer.weights:
            arrays[f"{layer.name}/{variable.name}"] = np.asarray(variable.numpy())
    # np.savez given an open file writes it as is (a path would gain ".npz").
    write_atomically(path, lambda f: np.savez(f, **arrays), binary=True)


def load_named_weights(model: keras.Model, path: str,
                       prefixes: tuple[str, ...] = BACKBONE_PREFIXES) -> int:
    """Loads a :func:`save_named_weights` file into the layers of ``model``
    whose names start with ``prefixes``; every such layer must be present
    with the right shapes, and every array must be used, else nothing is
    loaded.

    Returns:
      The number of layers loaded.

    Raises:
      WeightsMismatchError: naming each missing, unused or mis-shaped array.
    """
    try:
        data = dict(np.load(path))
    except (OSError, ValueError) as e:
        raise WeightsMismatchError(f"{path}: not a readable .npz weights file ({e})") from e
    problems, used, updates = [], set(), []
    for layer in model.layers:
        if not layer.name.startswith(prefixes) or not layer.weights:
            continue
        values = []
        for variable in layer.weights:
            key = f"{layer.name}/{variable.name}"
            if key not in data:
                problems.append(f"missing {key}")
                continue
            if tuple(data[key].shape) != tuple(variable.shape):
                problems.append(f"{key}: file shape {tuple(data[key].shape)} != "
                                f"model shape {tuple(variable.shape)}")
                continue
            values.append(data[key])
            used.add(key)
        if len(values) == len(layer.weights):
            updates.append((layer, values))
    unused = sorted(set(data) - used)
    relevant_unused = [k for k in unused if k.startswith(prefixes)]
    problems += [f"unused array {k} (no such layer in the model)" for k in relevant_unused]
    if problems:
        raise WeightsMismatchError(
            f"{path} does not fit the model {model.name}:\n  " + "\n  ".join(problems[:50])
            + (f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else "")
            + "\n(nothing was loaded)")
    for layer, values in updates:  # Only once everything fits: all or nothing.
        layer.set_weights(values)
    return len(updates)


def load_torch_backbone(model: keras.Model, path: str, depth: int) -> int:
    """Loads a torch-named ResNet (torchvision, timm, an official pose
    checkpoint) into the backbone of a pytorch-style ``model``.

    The classifier (``fc``) and any pose head are dropped; every other
    tensor must fit a backbone layer and every backbone layer must be
    filled (all or nothing). Logs the file and the tensor counts.

    Args:
      model: a pytorch-style pose model (or backbone) built by this package.
      path: a ``.pth`` / ``.pth.tar`` / ``.pt`` / ``.bin`` / ``.safetensors`` file.
      depth: the model's ResNet depth.

    Returns:
      The number of tensors loaded.

    Raises:
      ConversionError: for an unreadable file, another depth, or tensors
        that do not fit (each named).
    """
    state = read_state_dict(path)
    arch = infer_architecture(state, source=path)
    if arch.depth != depth:
        raise ConversionError(f"{path} holds a ResNet-{arch.depth}; the model is a "
                              f"ResNet-{depth}")
    converted = convert_state_dict(state, backbone_only=True)
    assign_weights(model, converted, prefixes=BACKBONE_PREFIXES, source=path)
    dropped = (f"; dropped {len(converted.dropped)} tensors that are not backbone "
               f"weights ({', '.join(converted.dropped[:2])}...)" if converted.dropped else "")
    logging.info("Backbone initialised from %s: all %d backbone tensors matched%s",
                 path, len(converted.arrays), dropped)
    return len(converted.arrays)


def _load_keras_applications(model: keras.Model, weights: str, depth: int) -> None:
    """keras.applications' ResNet weights ("imagenet" or an .h5 file)."""
    if depth not in _APPLICATIONS:
        raise ConfigError(f"keras.applications has no ResNet-{depth} (50/101/152 only)")
    application = getattr(keras.applications, _APPLICATIONS[depth])
    source = application(include_top=False, weights=weights, input_shape=(None, None, 3))
    count = copy_keras_applications_weights(model, source)
    logging.info("Backbone initialised from keras.applications.%s (%s): %d layers",
                 _APPLICATIONS[depth], weights, count)


def pretrained_source(pretrained: Optional[str], depth: int, style: str) -> Optional[str]:
    """What ``model.pretrained`` loads, without loading (or downloading) it.

    Returns:
      None for a random initialisation ("" or "none");
      ``keras.applications.ResNet{50,101,152}`` for "imagenet" with the caffe
      style; torchvision's URL (``.../resnet50-19c8e357.pth``) for "imagenet"
      with the pytorch style; else the path or URL as given.

    Raises:
      ConfigError: for "imagenet" at a depth without ImageNet weights.
    """
    choice = (pretrained or "").strip()
    if choice.lower() in ("", "none"):
        return None
    if choice.lower() != "imagenet":
        return choice
    if style != "caffe":
        return imagenet.torchvision_url(depth)
    if depth not in _APPLICATIONS:
        raise ConfigError(
            f"keras.applications publishes ImageNet ResNet-50/101/152 only (caffe style, "
            f"depth {depth}); use style='pytorch' for torchvision's ResNet-18/34")
    return f"keras.applications.{_APPLICATIONS[depth]}"


def _local_file(pretrained: str) -> str:
    """A URL's cached copy (downloaded if needed), or an existing path;
    either checked against the SHA-256 prefix its name carries (a local
    ``resnet50-19c8e357.pth`` was used unchecked, a cached one checked)."""
    if re.match(r"(https?|file)://", pretrained, flags=re.IGNORECASE):
        return download.fetch(pretrained, alternatives=imagenet.PRETRAINED_ALTERNATIVES)
    if not os.path.isfile(pretrained):
        raise MissingFileError(f"pretrained weights file {pretrained} does not exist")
    download.check_hash(pretrained)
    return pretrained


def load_pretrained_backbone(model: keras.Model, pretrained: Optional[str], depth: int,
                             style: str) -> None:
    """Initialises the backbone of ``model`` as ``pretrained`` says (module
    docstring): "", "none", "imagenet", a path or a URL.

    Args:
      model: a pose model built by this package.
      pretrained: the ``model.pretrained`` value.
      depth: the model's ResNet depth.
      style: the model's style ("pytorch" or "caffe").

    Raises:
      ConfigError: for weights of the other style, a depth without ImageNet
        weights, or an unknown file type.
      FileNotFoundError: for a missing path.
      download.DownloadError / download.HashMismatchError: for a download
        that failed (naming where to put the file) or a bad file.
      WeightsMismatchError: for weights that do not fit (each named).
    """
    source = pretrained_source(pretrained, depth, style)
    if source is None:
        return
    if style == "caffe" and source.startswith("keras.applications."):  # "imagenet"
        _load_keras_applications(model, "imagenet", depth)
        return
    path = _local_file(source)
    lowered = path.lower()
    if lowered.endswith(".npz"):
        logging.info("Backbone initialised from %s: %d layers", path,
                     load_named_weights(model, path))
    elif lowered.endswith(".h5"):
        if style != "caffe":
            raise ConfigError(f"{path}: .h5 keras.applications weights are caffe style; "
                              f"the model is {style} style")
        _load_keras_applications(model, path, depth)
    elif lowered.endswith(TORCH_SUFFIXES):
        if style != "pytorch":
            raise ConfigError(f"{path}: torchvision-named weights are pytorch style (stride "
                              "on the 3x3 convolution); the model is caffe style")
        load_torch_backbone(model, path, depth)
    else:
        raise ConfigError(f"model.pretrained={pretrained!r}: unknown weights file type; "
                          f"expected {', '.join(TORCH_SUFFIXES + ('.npz', '.h5'))}, "
                          "'imagenet', 'none' or a URL")


def initialize_backbone(model: keras.Model, model_config) -> None:
    """Initialises the backbone of a network built from ``model_config`` (a
    ``keras_pose.configs.ModelConfig``) as its ``pretrained`` field says:
    nothing for "" / "none", the ImageNet weights of its style for
    "imagenet" (downloaded on first use), else the file or URL. Errors: see
    :func:`load_pretrained_backbone`."""
    load_pretrained_backbone(model, model_config.pretrained, depth=model_config.depth,
                             style=model_config.style)
