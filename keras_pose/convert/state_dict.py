"""PyTorch state_dicts (official Simple Baselines, torchvision, timm) -> our layers.

Pure NumPy: name mapping, architecture inference and all-or-nothing
assignment. Files are read by :mod:`keras_pose.convert.torch_reader` (no
torch); :func:`read_state_dict` does both.

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
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from keras_pose.convert import torch_reader
from keras_pose.convert.torch_objects import describe, pickled_object_hint
from keras_pose.errors import UserError
from keras_pose.models.resnet import BLOCKS_PER_STAGE

# Our backbone layers' name prefixes (everything else is the pose head).
BACKBONE_PREFIXES = ("stem_", "stage")

_BN_VARIABLES = {"weight": "gamma", "bias": "beta",
                 "running_mean": "moving_mean", "running_var": "moving_variance"}
_CONV_VARIABLES = {"weight": "kernel", "bias": "bias"}
_IGNORED_SUFFIXES = ("num_batches_tracked",)


class WeightsMismatchError(UserError, ValueError):
    """Weights that do not fit the model; the message names every problem."""


class ConversionError(WeightsMismatchError):
    """A PyTorch file that cannot be converted; the message says why."""


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
# State dicts.


def _to_numpy(value: Any, name: str, source: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if torch_reader.placeholder_global(value) is None and (
            hasattr(value, "detach") and hasattr(value, "numpy")):  # torch.Tensor
        return value.detach().cpu().numpy()
    raise ConversionError(
        f"{source}: entry {name!r} is {describe(value)}, not a tensor; "
        "expected a state_dict of tensors")


def unwrap_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, np.ndarray]:
    """Returns the plain state_dict of a loaded checkpoint object.

    Accepts a bare state_dict or ``{"state_dict": ...}`` (the official
    training checkpoints, which also hold the epoch and optimizer; mmpose's,
    which hold ``meta``), with or without DataParallel's ``module.`` prefix
    on every name. Every value must be an array: an entry the reader left as
    a placeholder (:mod:`keras_pose.convert.torch_pickle`) is an error naming
    the entry and the global it referenced.

    Args:
      obj: what ``torch.load`` returned (tensors or NumPy arrays as values).
      source: the file name, for error messages.

    Returns:
      Tensor name -> NumPy array, prefixes removed.

    Raises:
      ConversionError: if ``obj`` is not a mapping of tensors.
    """
    if isinstance(obj, Mapping) and "state_dict" in obj:
        if not isinstance(obj["state_dict"], Mapping):
            raise ConversionError(
                f"{source}: its 'state_dict' entry is {describe(obj['state_dict'])}, not "
                "a mapping of tensor names to tensors"
                f"{_hint(obj['state_dict'])}")
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(
            f"{source}: no state_dict found (expected a mapping of tensor names "
            f"to tensors, or {{'state_dict': ...}}; got {describe(obj)}).{_hint(obj)}")
    names = [str(k) for k in obj]
    strip = all(n.startswith("module.") for n in names)
    state = {}
    for key, value in obj.items():
        name = str(key)[len("module."):] if strip else str(key)
        state[name] = _to_numpy(value, str(key), source)
    return state


def _hint(value: Any) -> str:
    name = torch_reader.placeholder_global(value)
    return pickled_object_hint(name, value) if name else ""


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """Reads a ``.pth`` / ``.pth.tar`` / ``.safetensors`` file's state_dict.

    No torch: :func:`keras_pose.convert.torch_reader.load_weights_file` reads
    the file, :func:`unwrap_state_dict` finds the state_dict in it.

    Raises:
      FileNotFoundError: for a missing file.
      ConversionError: for a file that is not a readable PyTorch /
        safetensors file or holds no state_dict of tensors (an entry that
        another global would have built is named with that global).
    """
    try:
        obj = torch_reader.load_weights_file(path)
    except torch_reader.TorchReadError as e:
        raise ConversionError(f"{path}: not a readable PyTorch checkpoint: {e}") from e
    state = unwrap_state_dict(obj, source=path)
    _check_weight_values(state, path)
    return state


# What a convolution's, a linear layer's or a BatchNorm's tensors are named.
_PARAMETER_SUFFIXES = (".weight", ".bias", ".running_mean", ".running_var")


def _check_weight_values(state: Mapping[str, np.ndarray], source: str) -> None:
    """Refuses an integer / bool / complex tensor where a float weight
    belongs (the Keras cast would load wrong weights silently) and NaN / inf
    values (a diverged run); counters such as ``num_batches_tracked`` are
    integers by design, and entries that are no layer's parameter (another
    tool's extras) are not this check's: only names of weights are read."""
    for name, array in state.items():
        if name.endswith(_IGNORED_SUFFIXES) or not name.endswith(_PARAMETER_SUFFIXES):
            continue
        dtype = np.asarray(array).dtype
        if dtype.kind != "f" and dtype.name != "bfloat16":  # ml_dtypes' kind is "V".
            raise ConversionError(
                f"{source}: entry {name!r} is a {dtype.name} tensor, not floating point; "
                "expected float weights (was the model quantized or the file edited?): "
                "save the float model's state_dict")
        if not np.all(np.isfinite(array)):
            raise ConversionError(
                f"{source}: entry {name!r} holds NaN or infinite values (a diverged "
                "training run?): use a checkpoint from before it diverged")


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
    depth = _infer_depth(state_dict, source)
    filters, kernels = _infer_deconvolutions(state_dict, source)
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


def _infer_depth(state_dict: Mapping[str, np.ndarray], source: str) -> int:
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
    for candidate, counts in BLOCKS_PER_STAGE.items():
        if tuple(blocks) == counts and (candidate >= 50) == bottleneck:
            return candidate
    raise ConversionError(
        f"{source}: blocks per stage {tuple(blocks)} with "
        f"{'bottleneck' if bottleneck else 'basic'} blocks is not a standard "
        f"ResNet-18/34/50/101/152")


def _infer_deconvolutions(state_dict: Mapping[str, np.ndarray],
                          source: str) -> tuple[list[int], list[int]]:
    """Filters and kernel sizes of the ConvTranspose2d layers of the head."""
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
    return filters, kernels


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


