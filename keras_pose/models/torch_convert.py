"""PyTorch state_dicts (official Simple Baselines, torchvision) -> our layers.

Two kinds of files are converted:

- the official pose checkpoints of microsoft/human-pose-estimation.pytorch
  (``pose_resnet_{50,101,152}_{256x192,384x288}.pth.tar`` for COCO,
  ``pose_resnet_{50,101,152}_{256x256,384x384}.pth.tar`` for MPII), into a
  model checkpoint directory (:mod:`keras_pose.checkpoint`);
- torchvision's ImageNet ResNets (``resnet50-19c8e357.pth`` ...), into
  backbone weights (``.npz``, :func:`keras_pose.models.save_named_weights`)
  for ``model.pretrained=PATH`` with the pytorch style.

Name mapping (``L`` = 1..4, ``b`` = 0-based block; our stage is ``L + 1`` and
our block ``b + 1``)::

    conv1 / bn1                       stem_conv / stem_bn
    layerL.b.conv{i} / .bn{i}         stage{L+1}_block{b+1}_conv{i} / _bn{i}
    layerL.b.downsample.0 / .1        stage{L+1}_block{b+1}_downsample_conv / _bn
    deconv_layers.{3j} / .{3j+1}      head_deconv{j+1} / head_deconv{j+1}_bn
    final_layer                       head_final_conv
    fc                                (torchvision's classifier; dropped)

Variables: ``weight`` -> ``kernel`` (convolutions) or ``gamma`` (BN),
``bias`` -> ``bias`` / ``beta``, ``running_mean`` / ``running_var`` ->
``moving_mean`` / ``moving_variance``; ``num_batches_tracked`` is ignored.
Conv2d kernels (out, in, kh, kw) and ConvTranspose2d kernels (in, out, kh, kw)
both become Keras kernels by the same permutation (2, 3, 1, 0): Conv2D wants
(kh, kw, in, out), Conv2DTranspose (kh, kw, out, in).

Conversion is all or nothing: every tensor must find a layer with the same
shape and every layer must receive all its variables, else
:class:`ConversionError` lists each problem by tensor name and nothing is
loaded.

The official checkpoints were trained on BGR images (OpenCV reads BGR and
the code never converts) normalised with the RGB ImageNet statistics applied
channel by channel. :func:`official_config` records exactly that quirk:
``color_order="BGR"`` with mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225) in the fed (BGR) order, so every path that normalises
through the model config feeds them what they were trained on (with RGB
input they lose about 7 AP).

This module needs only NumPy; torch is imported by
:func:`read_torch_state_dict` alone, to unpickle ``.pth`` files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
from absl import logging

from keras_pose.configs import (ExperimentConfig, apply_overrides,
                                default_experiment, get_experiment)
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD
from keras_pose.models.pretrained import BACKBONE_PREFIXES, WeightsMismatchError
from keras_pose.models.resnet import BLOCKS_PER_STAGE

TORCH_INSTALL_HINT = (
    "reading PyTorch checkpoints needs torch, an optional dependency: install "
    "it with `pip install -e .[torch]` (or `pip install torch==2.13.0`)")

# Official checkpoint file names: pose_resnet_50_256x192.pth.tar (height x width).
_FILE_NAME = re.compile(r"pose_resnet_(\d+)_(\d+)x(\d+)")

_BN_VARIABLES = {"weight": "gamma", "bias": "beta",
                 "running_mean": "moving_mean", "running_var": "moving_variance"}
_CONV_VARIABLES = {"weight": "kernel", "bias": "bias"}
_IGNORED_SUFFIXES = ("num_batches_tracked",)


class ConversionError(WeightsMismatchError):
    """A PyTorch file that cannot be converted; the message says why."""


class TorchNotInstalledError(ImportError):
    """torch is needed to read a ``.pth`` file and is not installed."""


@dataclasses.dataclass(frozen=True)
class TorchArchitecture:
    """What a state_dict describes, inferred from its tensors.

    Attributes:
      depth: ResNet depth (18, 34, 50, 101, 152).
      num_keypoints: K (``final_layer`` outputs), None without a pose head.
      deconv_filters: filters of each ConvTranspose2d of the head.
      deconv_kernels: kernel size of each ConvTranspose2d.
      final_kernel: kernel of ``final_layer``, None without a pose head.
      has_classifier: torchvision's ``fc`` layer is present.
    """

    depth: int
    num_keypoints: Optional[int]
    deconv_filters: tuple[int, ...]
    deconv_kernels: tuple[int, ...]
    final_kernel: Optional[int]
    has_classifier: bool

    @property
    def has_head(self) -> bool:
        """True when the file holds the pose head (deconvs + final layer)."""
        return self.num_keypoints is not None


# ---------------------------------------------------------------------------
# Reading.


def _to_numpy(value: Any, name: str, source: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch.Tensor
        return value.detach().cpu().numpy()
    raise ConversionError(
        f"{source}: entry {name!r} is a {type(value).__name__}, not a tensor; "
        "expected a state_dict of tensors")


def unwrap_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, np.ndarray]:
    """Returns the plain state_dict of a loaded checkpoint object.

    Accepts a bare state_dict or ``{"state_dict": ...}`` (the official
    training checkpoints, which also hold the epoch and optimizer), with or
    without DataParallel's ``module.`` prefix on every name.

    Args:
      obj: what ``torch.load`` returned (tensors or NumPy arrays as values).
      source: the file name, for error messages.

    Returns:
      Tensor name -> NumPy array, prefixes removed.

    Raises:
      ConversionError: if ``obj`` is not a mapping of tensors.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(
            f"{source}: no state_dict found (expected a mapping of tensor names "
            f"to tensors, or {{'state_dict': ...}}; got {type(obj).__name__})")
    names = [str(k) for k in obj]
    strip = all(n.startswith("module.") for n in names)
    state = {}
    for key, value in obj.items():
        name = str(key)[len("module."):] if strip else str(key)
        state[name] = _to_numpy(value, str(key), source)
    return state


def read_torch_state_dict(path: str) -> dict[str, np.ndarray]:
    """Reads a ``.pth`` / ``.pth.tar`` file into NumPy arrays.

    Raises:
      FileNotFoundError: for a missing file.
      TorchNotInstalledError: when torch is not importable (the message says
        how to install it).
      ConversionError: for a file torch cannot read or without a state_dict.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PyTorch checkpoint {path} does not exist")
    try:
        import torch  # Optional dependency, only for unpickling.
    except ImportError as e:
        raise TorchNotInstalledError(f"cannot read {path}: {TORCH_INSTALL_HINT}") from e
    try:
        # weights_only: the official files hold only tensors, numbers and
        # strings; nothing in them needs arbitrary unpickling.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad files.
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()  # torch's ANSI bold
        first_line = text.splitlines()[0] if text else repr(e)
        hint = ""
        if "weights_only" in str(e) or "Weights only" in str(e):
            hint = ("; it pickles Python objects other than tensors (a whole model?): "
                    "load it in PyTorch and save model.state_dict() instead")
        raise ConversionError(
            f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
            f"{first_line}){hint}") from e
    return unwrap_state_dict(obj, source=path)


# ---------------------------------------------------------------------------
# Architecture inference.


def infer_architecture(state_dict: Mapping[str, np.ndarray],
                       source: str = "checkpoint") -> TorchArchitecture:
    """Infers depth, K and the head layout from tensor names and shapes.

    The depth comes from the number of blocks in ``layer1..4`` and whether
    the blocks have a ``conv3`` (bottleneck); K from ``final_layer.weight``.

    Raises:
      ConversionError: naming what is missing or not a standard ResNet.
    """
    if "conv1.weight" not in state_dict:
        sample = ", ".join(sorted(state_dict)[:5])
        raise ConversionError(
            f"{source}: no 'conv1.weight' tensor; this is not a torchvision-style "
            f"ResNet or official pose_resnet state_dict (first names: {sample})")
    blocks = []
    for layer in range(1, 5):
        indices = {int(m.group(1)) for n in state_dict
                   if (m := re.match(rf"layer{layer}\.(\d+)\.", n))}
        if not indices:
            raise ConversionError(f"{source}: no tensors for layer{layer}")
        blocks.append(max(indices) + 1)
    bottleneck = "layer1.0.conv3.weight" in state_dict
    depth = None
    for candidate, counts in BLOCKS_PER_STAGE.items():
        if tuple(blocks) == counts and (candidate >= 50) == bottleneck:
            depth = candidate
    if depth is None:
        raise ConversionError(
            f"{source}: blocks per stage {tuple(blocks)} with "
            f"{'bottleneck' if bottleneck else 'basic'} blocks is not a standard "
            f"ResNet-18/34/50/101/152")

    deconv = {}
    for name, value in state_dict.items():
        m = re.fullmatch(r"deconv_layers\.(\d+)\.weight", name)
        if m and np.ndim(value) == 4:
            deconv[int(m.group(1))] = value
    filters, kernels = [], []
    for j in range(len(deconv)):
        weight = deconv.get(3 * j)
        if weight is None:
            raise ConversionError(
                f"{source}: ConvTranspose2d weights at deconv_layers indices "
                f"{sorted(deconv)}; expected 0, 3, 6, ... (ConvTranspose2d, "
                "BatchNorm2d, ReLU per deconvolution)")
        if weight.shape[2] != weight.shape[3]:
            raise ConversionError(
                f"{source}: deconv_layers.{3 * j}.weight has a non-square kernel "
                f"{tuple(weight.shape[2:])}")
        filters.append(int(weight.shape[1]))
        kernels.append(int(weight.shape[2]))

    num_keypoints = final_kernel = None
    final = state_dict.get("final_layer.weight")
    if final is not None:
        if np.ndim(final) != 4 or final.shape[2] != final.shape[3]:
            raise ConversionError(
                f"{source}: final_layer.weight has shape {tuple(np.shape(final))}; "
                "expected (K, C, k, k)")
        num_keypoints, final_kernel = int(final.shape[0]), int(final.shape[2])
        if not filters:
            raise ConversionError(f"{source}: final_layer without deconv_layers")
    elif filters:
        raise ConversionError(f"{source}: deconv_layers without final_layer")
    return TorchArchitecture(
        depth=depth, num_keypoints=num_keypoints,
        deconv_filters=tuple(filters), deconv_kernels=tuple(kernels),
        final_kernel=final_kernel,
        has_classifier=any(n.startswith("fc.") for n in state_dict))


# ---------------------------------------------------------------------------
# Name and array mapping.


def keras_name(torch_name: str) -> Optional[tuple[str, str]]:
    """Maps a state_dict name to ``(layer name, variable name)``.

    Returns None for names without a counterpart (``fc.*``, unknown names);
    :func:`convert_state_dict` reports those.
    """
    parts = torch_name.rsplit(".", 1)
    if len(parts) != 2:
        return None
    module, variable = parts
    layer: Optional[str] = None
    is_bn = False
    if module in ("conv1", "bn1"):
        layer, is_bn = ("stem_conv", False) if module == "conv1" else ("stem_bn", True)
    elif m := re.fullmatch(r"layer([1-4])\.(\d+)\.(conv|bn)([1-3])", module):
        stage, block, kind, index = int(m[1]) + 1, int(m[2]) + 1, m[3], m[4]
        layer, is_bn = f"stage{stage}_block{block}_{kind}{index}", kind == "bn"
    elif m := re.fullmatch(r"layer([1-4])\.(\d+)\.downsample\.([01])", module):
        stage, block = int(m[1]) + 1, int(m[2]) + 1
        is_bn = m[3] == "1"
        layer = f"stage{stage}_block{block}_downsample_{'bn' if is_bn else 'conv'}"
    elif m := re.fullmatch(r"deconv_layers\.(\d+)", module):
        index = int(m[1])
        if index % 3 == 2:  # ReLU: no parameters.
            return None
        is_bn = index % 3 == 1
        layer = f"head_deconv{index // 3 + 1}" + ("_bn" if is_bn else "")
    elif module == "final_layer":
        layer = "head_final_conv"
    if layer is None:
        return None
    table = _BN_VARIABLES if is_bn else _CONV_VARIABLES
    if variable not in table:
        return None
    return layer, table[variable]


def torch_name(layer: str, variable: str) -> Optional[str]:
    """The inverse of :func:`keras_name`: our (layer, variable) -> the
    state_dict name, or None for layers without a PyTorch counterpart."""
    is_bn = False
    module: Optional[str] = None
    if layer in ("stem_conv", "stem_bn"):
        module, is_bn = ("conv1", False) if layer == "stem_conv" else ("bn1", True)
    elif m := re.fullmatch(r"stage([2-5])_block(\d+)_(conv|bn)([1-3])", layer):
        module = f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.{m[3]}{m[4]}"
        is_bn = m[3] == "bn"
    elif m := re.fullmatch(r"stage([2-5])_block(\d+)_downsample_(conv|bn)", layer):
        is_bn = m[3] == "bn"
        module = f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.downsample.{int(is_bn)}"
    elif m := re.fullmatch(r"head_deconv(\d+)(_bn)?", layer):
        is_bn = bool(m[2])
        module = f"deconv_layers.{3 * (int(m[1]) - 1) + int(is_bn)}"
    elif layer == "head_final_conv":
        module = "final_layer"
    if module is None:
        return None
    table = _BN_VARIABLES if is_bn else _CONV_VARIABLES
    inverse = {v: k for k, v in table.items()}
    return f"{module}.{inverse[variable]}" if variable in inverse else None


def to_keras_array(array: np.ndarray) -> np.ndarray:
    """Converts one tensor to the Keras layout.

    4-D kernels are permuted (2, 3, 1, 0): Conv2d (out, in, kh, kw) ->
    (kh, kw, in, out) and ConvTranspose2d (in, out, kh, kw) -> (kh, kw, out,
    in), which is what Conv2D / Conv2DTranspose store. Vectors are unchanged.
    """
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 4:
        return np.ascontiguousarray(array.transpose(2, 3, 1, 0))
    return array


@dataclasses.dataclass
class ConvertedWeights:
    """A state_dict mapped to our names.

    Attributes:
      arrays: (layer, variable) -> (torch name, array in the Keras layout).
      unmatched: tensor names with no counterpart (reported as errors).
      dropped: tensor names deliberately left out (``fc.*``, head tensors of a
        backbone-only conversion).
    """

    arrays: dict[tuple[str, str], tuple[str, np.ndarray]]
    unmatched: list[str]
    dropped: list[str]


def convert_state_dict(state_dict: Mapping[str, np.ndarray],
                       backbone_only: bool = False) -> ConvertedWeights:
    """Maps every tensor of a state_dict to a (layer, variable) of ours.

    Args:
      state_dict: tensor name -> array (see :func:`unwrap_state_dict`).
      backbone_only: drop torchvision's ``fc`` classifier and any pose head
        (``deconv_layers``, ``final_layer``) instead of converting them.

    Returns:
      The converted arrays plus unmatched and dropped names.
    """
    arrays: dict[tuple[str, str], tuple[str, np.ndarray]] = {}
    unmatched, dropped = [], []
    for name, value in state_dict.items():
        if name.endswith(_IGNORED_SUFFIXES):
            continue
        if backbone_only and name.startswith(("fc.", "deconv_layers.", "final_layer.")):
            dropped.append(name)
            continue
        target = keras_name(name)
        if target is None:
            unmatched.append(name)
            continue
        arrays[target] = (name, to_keras_array(value))
    return ConvertedWeights(arrays, unmatched, dropped)


def assign_weights(model, converted: ConvertedWeights,
                   prefixes: Optional[Sequence[str]] = None,
                   source: str = "checkpoint") -> int:
    """Sets converted weights into ``model``'s layers, all or nothing.

    Every layer with weights (restricted to names starting with ``prefixes``
    when given) must receive each of its variables with the right shape, and
    every converted tensor must be used; otherwise nothing is set.

    Args:
      model: a Keras model built by this package.
      converted: the output of :func:`convert_state_dict`.
      prefixes: only fill layers whose names start with one of these.
      source: the file name, for the error message.

    Returns:
      The number of layers set.

    Raises:
      ConversionError: listing each unmatched, missing or mis-shaped tensor
        by its PyTorch name (and the Keras layer it was meant for).
    """
    problems = [f"unmatched tensor {n} (no layer of ours corresponds)"
                for n in converted.unmatched]
    used = set()
    updates = []
    for layer in model.layers:
        if not layer.weights or (prefixes and not layer.name.startswith(tuple(prefixes))):
            continue
        values = []
        for variable in layer.weights:
            key = (layer.name, variable.name)
            entry = converted.arrays.get(key)
            if entry is None:
                problems.append(
                    f"missing tensor {torch_name(layer.name, variable.name) or '?'} "
                    f"for {layer.name}/{variable.name} (shape {tuple(variable.shape)})")
                continue
            used.add(key)
            source_name, array = entry
            if tuple(array.shape) != tuple(variable.shape):
                problems.append(
                    f"shape mismatch: {source_name} gives {tuple(array.shape)} in Keras "
                    f"layout but {layer.name}/{variable.name} is {tuple(variable.shape)}")
                continue
            values.append(array)
        if len(values) == len(layer.weights):
            updates.append((layer, values))
    for key in sorted(set(converted.arrays) - used):
        source_name, array = converted.arrays[key]
        problems.append(f"unmatched tensor {source_name} {tuple(array.shape)} "
                        f"(the model has no {key[0]}/{key[1]})")
    if problems:
        shown = problems[:40]
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise ConversionError(
            f"{source} does not fit the model {model.name} ({len(problems)} "
            "problems; nothing was loaded):\n  " + "\n  ".join(shown) + more)
    for layer, values in updates:
        layer.set_weights(values)
    return len(updates)


# ---------------------------------------------------------------------------
# Configs for converted official checkpoints.


def size_from_file_name(path: str) -> Optional[tuple[int, int, int]]:
    """(depth, width, height) from an official file name, or None.

    ``pose_resnet_50_384x288.pth.tar`` -> (50, 288, 384): the official names
    give height x width.
    """
    m = _FILE_NAME.search(os.path.basename(path))
    if not m:
        return None
    depth, height, width = (int(g) for g in m.groups())
    return depth, width, height


def official_config(arch: TorchArchitecture, experiment: Optional[str] = None,
                    file_name: str = "",
                    overrides: Iterable[str] = ()) -> ExperimentConfig:
    """The experiment config of a converted official checkpoint.

    The base experiment is ``experiment`` when given; otherwise chosen by K
    (17: COCO, 16: MPII, other: a custom COCO-format data set) with the
    input size of the file name (``pose_resnet_50_384x288`` -> 288x384) or
    the data set's default 256x192 / 256x256. Depth, K and the head layout
    always come from the tensors. The input normalisation is the official
    quirk: BGR order with the RGB ImageNet mean/std (module docstring).

    Args:
      arch: from :func:`infer_architecture` (with a pose head).
      experiment: a named experiment (``keras_pose.configs.list_experiments``).
      file_name: the checkpoint's file name, for the input size.
      overrides: ``section.field=value`` strings applied last.

    Raises:
      ConversionError: when ``experiment`` contradicts the tensors (K,
        depth) or uses the caffe style.
      ValueError / ConfigError: for an unknown experiment or bad override.
    """
    if not arch.has_head:
        raise ConversionError("official_config needs a pose head (final_layer)")
    from_name = size_from_file_name(file_name) if file_name else None
    if from_name and from_name[0] != arch.depth:
        logging.warning("%s names depth %d but its tensors are a ResNet-%d; using %d",
                        file_name, from_name[0], arch.depth, arch.depth)
    size = from_name[1:] if from_name else None
    if experiment:
        base = get_experiment(experiment)
        if base.model.num_keypoints != arch.num_keypoints:
            raise ConversionError(
                f"experiment {experiment} has {base.model.num_keypoints} keypoints "
                f"but the checkpoint predicts {arch.num_keypoints}")
        if base.model.depth != arch.depth:
            raise ConversionError(
                f"experiment {experiment} is a ResNet-{base.model.depth} but the "
                f"checkpoint is a ResNet-{arch.depth}")
        if size and tuple(size) != tuple(base.model.image_size):
            logging.warning("%s suggests input %dx%d (w x h); experiment %s uses %s",
                            file_name, size[0], size[1], experiment,
                            base.model.image_size)
        size = None  # An explicit experiment decides the input size.
    else:
        if arch.num_keypoints == 17:
            width, height = size or (192, 256)
            named = f"coco_resnet{arch.depth}_{height}x{width}"
            fallback = "coco_resnet50_256x192"
            try:
                base = get_experiment(named)
                size = None
            except ValueError:
                base = get_experiment(fallback)
        elif arch.num_keypoints == 16:
            width, height = size or (256, 256)
            named = f"mpii_resnet{arch.depth}_{height}x{width}"
            try:
                base = get_experiment(named)
                size = None
            except ValueError:
                base = get_experiment("mpii_resnet50_256x256")
        else:
            base = default_experiment("custom")
            logging.warning(
                "K=%d is neither COCO (17) nor MPII (16): the config describes a "
                "custom COCO-format data set at %s; set data.root and the keypoint "
                "metadata with --set or pass --experiment",
                arch.num_keypoints, base.data.root)
    if base.model.style != "pytorch":
        raise ConversionError(
            f"experiment {base.name} uses the {base.model.style} style; converted "
            "official checkpoints need a pytorch-style experiment")
    model = base.model
    if size:
        width, height = size
        model = dataclasses.replace(
            model, image_size=(width, height),
            heatmap_size=(width // 4, height // 4),
            sigma=2.0 if height <= 256 else 3.0)
    upsample = 2 ** (len(arch.deconv_filters) - 3)
    model = dataclasses.replace(
        model, depth=arch.depth, num_keypoints=arch.num_keypoints,
        deconv_filters=arch.deconv_filters, deconv_kernels=arch.deconv_kernels,
        final_kernel=arch.final_kernel, pretrained="",
        heatmap_size=(model.image_size[0] // 4 * upsample,
                      model.image_size[1] // 4 * upsample),
        # The official quirk: BGR pixels, RGB statistics in fed order.
        color_order="BGR", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    name = (f"{base.name}_official" if base.model.depth == arch.depth
            and tuple(base.model.image_size) == tuple(model.image_size)
            else f"{base.data.dataset}_resnet{arch.depth}_"
                 f"{model.image_size[1]}x{model.image_size[0]}_official")
    config = base.replace(name=name, model=model)
    overrides = list(overrides)
    return apply_overrides(config, overrides) if overrides else config


# ---------------------------------------------------------------------------
# Whole conversions.


def convert_pose_checkpoint(input_path: str, output_dir: str,
                            experiment: Optional[str] = None,
                            overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Converts an official pose checkpoint into a model checkpoint directory.

    The directory (``config.json`` + ``model.weights.h5``) works with
    evaluate.py, predict.py, the exporter and ``train.py --init_checkpoint``.

    Args:
      input_path: ``pose_resnet_*.pth.tar`` (bare or ``{'state_dict'}``,
        with or without ``module.``).
      output_dir: the checkpoint directory to write (replaced atomically).
      experiment: the named experiment to base the config on (see
        :func:`official_config`).
      overrides: ``section.field=value`` config overrides.

    Returns:
      The config written with the weights.

    Raises:
      ConversionError: for a file that is not a pose checkpoint, or tensors
        that do not fit (each named); TorchNotInstalledError without torch.
    """
    from keras_pose.checkpoint import is_model_checkpoint, save_model_checkpoint
    from keras_pose.models.pose_resnet import build_model_from_config

    # The checkpoint replaces output_dir wholesale: never a directory that
    # holds anything else.
    if os.path.exists(output_dir) and not (
            os.path.isdir(output_dir) and (not os.listdir(output_dir)
                                           or is_model_checkpoint(output_dir))):
        raise ConversionError(
            f"output {output_dir} exists and is not a model checkpoint directory; "
            "choose a new directory (an existing checkpoint is replaced)")
    state = read_torch_state_dict(input_path)
    arch = infer_architecture(state, source=input_path)
    if not arch.has_head:
        raise ConversionError(
            f"{input_path} has no pose head (deconv_layers / final_layer): it looks "
            "like an ImageNet backbone; convert it with --backbone_only")
    config = official_config(arch, experiment=experiment, file_name=input_path,
                             overrides=overrides)
    model = build_model_from_config(config.model, pretrained="")
    converted = convert_state_dict(state)
    count = assign_weights(model, converted, source=input_path)
    save_model_checkpoint(model, config, output_dir)
    logging.info("converted %s (ResNet-%d, K=%d, %d layers) -> %s as %s; input %s "
                 "normalised with mean %s std %s", input_path, arch.depth,
                 arch.num_keypoints, count, output_dir, config.name,
                 config.model.color_order, config.model.mean, config.model.std)
    return config


def convert_backbone(input_path: str, output_path: str) -> TorchArchitecture:
    """Converts a torchvision ImageNet ResNet into backbone weights (.npz).

    torchvision's ``fc`` classifier (and the head of a pose checkpoint) is
    dropped and logged. The file loads with ``model.pretrained=PATH`` on a
    pytorch-style model of the same depth.

    Returns:
      The inferred architecture.

    Raises:
      ConversionError: naming each tensor that does not fit;
      TorchNotInstalledError without torch.
    """
    import keras  # Keras-heavy imports only when converting.

    from keras_pose.models.pretrained import save_named_weights
    from keras_pose.models.resnet import resnet_backbone

    if os.path.isdir(output_path):
        raise ConversionError(f"output {output_path} is a directory; give a .npz file path")
    state = read_torch_state_dict(input_path)
    arch = infer_architecture(state, source=input_path)
    converted = convert_state_dict(state, backbone_only=True)
    inputs = keras.Input((64, 64, 3))
    backbone = keras.Model(inputs, resnet_backbone(inputs, arch.depth, style="pytorch"),
                           name=f"resnet{arch.depth}")
    count = assign_weights(backbone, converted, prefixes=BACKBONE_PREFIXES,
                           source=input_path)
    if converted.dropped:
        logging.info("dropped %d tensors that are not backbone weights (%s ...)",
                     len(converted.dropped), ", ".join(converted.dropped[:4]))
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    save_named_weights([layer for layer in backbone.layers if layer.weights],
                       output_path)
    logging.info("converted %s (ResNet-%d backbone, %d layers) -> %s",
                 input_path, arch.depth, count, output_path)
    return arch
