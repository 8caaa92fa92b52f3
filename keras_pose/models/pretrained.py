"""Backbone initialisation: Keras' ImageNet ResNets and named weight files.

Two sources:

- ``"imagenet"`` with the caffe style: the ResNet-50/101/152 weights that
  ``keras.applications`` publishes (downloaded by Keras on first use), copied
  layer by layer into our names. Their input convention is Keras' "caffe"
  preprocessing, recorded in :data:`KERAS_CAFFE_PREPROCESSING`.
- a ``.npz`` file of named arrays ``"<layer name>/<variable name>"`` (what
  :func:`save_named_weights` writes, e.g. torchvision backbones converted by
  ``scripts/convert_pytorch_checkpoint.py --backbone_only``), or, for the caffe
  style, a keras.applications ``.h5`` weights file.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Optional

import keras
import numpy as np

from keras_pose.configs import experiments

# keras.applications.resnet.preprocess_input ("caffe" mode): RGB -> BGR, then
# subtract the BGR ImageNet mean in 0-255 units; the caffe experiments record it.
KERAS_CAFFE_PREPROCESSING = dict(experiments._KERAS_CAFFE)

_APPLICATIONS = {
    50: "ResNet50",
    101: "ResNet101",
    152: "ResNet152",
}

BACKBONE_PREFIXES = ("stem_", "stage")


class WeightsMismatchError(ValueError):
    """Weights that do not fit the model; the message names every problem."""


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
    problems, copied = [], 0
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
        layer.set_weights(weights)
        copied += 1
    if problems:
        raise WeightsMismatchError(
            "cannot copy keras.applications weights (is the model caffe style "
            "with the same depth?):\n  " + "\n  ".join(problems))
    return copied


def save_named_weights(layers: Iterable[keras.layers.Layer], path: str) -> None:
    """Writes layers' weights to ``path`` (.npz) as ``layer/variable`` arrays."""
    arrays = {}
    for layer in layers:
        for variable in layer.weights:
            arrays[f"{layer.name}/{variable.name}"] = np.asarray(variable.numpy())
    tmp = f"{path}.tmp{os.getpid()}.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_named_weights(model: keras.Model, path: str,
                       prefixes: tuple[str, ...] = BACKBONE_PREFIXES) -> int:
    """Loads a :func:`save_named_weights` file into the layers of ``model``
    whose names start with ``prefixes``; every such layer must be present
    with the right shapes, and every array must be used.

    Returns:
      The number of layers loaded.

    Raises:
      WeightsMismatchError: naming each missing, unused or mis-shaped array.
    """
    try:
        data = dict(np.load(path))
    except (OSError, ValueError) as e:
        raise WeightsMismatchError(f"{path}: not a readable .npz weights file ({e})") from e
    problems, used, loaded = [], set(), 0
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
            layer.set_weights(values)
            loaded += 1
    unused = sorted(set(data) - used)
    relevant_unused = [k for k in unused if k.startswith(prefixes)]
    problems += [f"unused array {k} (no such layer in the model)" for k in relevant_unused]
    if problems:
        raise WeightsMismatchError(
            f"{path} does not fit the model {model.name}:\n  " + "\n  ".join(problems[:50])
            + (f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""))
    return loaded


def load_pretrained_backbone(model: keras.Model, pretrained: str, depth: int,
                             style: str) -> None:
    """Initialises the backbone of ``model`` from ``pretrained``.

    Args:
      model: a pose model built by this package.
      pretrained: "imagenet" or a path (``.npz`` named weights, or for the
        caffe style a keras.applications ``.h5`` file).
      depth: the model's ResNet depth.
      style: the model's style.

    Raises:
      ValueError: for "imagenet" with the pytorch style or a depth Keras does
        not publish; FileNotFoundError for a missing path;
        WeightsMismatchError for weights that do not fit.
    """
    if pretrained == "imagenet" or (
            style == "caffe" and pretrained.endswith(".h5")):
        if style != "caffe" or depth not in _APPLICATIONS:
            raise ValueError(
                "pretrained='imagenet' uses keras.applications' ResNet-50/101/152 "
                "and needs style='caffe'; for the pytorch style convert torchvision "
                "weights with scripts/convert_pytorch_checkpoint.py --backbone_only "
                f"(got depth={depth}, style={style!r})")
        weights = pretrained
        if weights != "imagenet" and not os.path.exists(weights):
            raise FileNotFoundError(f"pretrained weights file {weights} does not exist")
        application = getattr(keras.applications, _APPLICATIONS[depth])
        source = application(include_top=False, weights=weights,
                             input_shape=(None, None, 3))
        copy_keras_applications_weights(model, source)
        return
    if not os.path.exists(pretrained):
        raise FileNotFoundError(f"pretrained weights file {pretrained} does not exist")
    load_named_weights(model, pretrained)
