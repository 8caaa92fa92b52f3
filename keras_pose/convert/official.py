"""Converting official Simple Baselines and torchvision weights (no torch).

Two kinds of files are converted:

- the official pose checkpoints of microsoft/human-pose-estimation.pytorch
  (``pose_resnet_{50,101,152}_{256x192,384x288}.pth.tar`` for COCO,
  ``pose_resnet_{50,101,152}_{256x256,384x384}.pth.tar`` for MPII), into a
  model checkpoint directory (:mod:`keras_pose.checkpoint`);
- torchvision's ImageNet ResNets (``resnet50-19c8e357.pth`` ...), into
  backbone weights (``.npz``, :func:`keras_pose.convert.pretrained.save_named_weights`).
  ``model.pretrained`` also reads those files directly; the ``.npz`` is for
  machines that should not hold the PyTorch file.

Files are read by :mod:`keras_pose.convert.torch_reader` (no torch, nothing
but tensors unpickled) and mapped by :mod:`keras_pose.convert.state_dict`.

The official checkpoints were trained on BGR images (OpenCV reads BGR and
the code never converts) normalised with the RGB ImageNet statistics applied
channel by channel. :func:`official_config` records exactly that quirk:
``color_order="BGR"`` with mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225) in the fed (BGR) order, so every path that normalises
through the model config feeds them what they were trained on (with RGB
input they lose about 7 AP).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Iterable, Optional

from keras_pose import log as logging
from keras_pose.configs import (ExperimentConfig, apply_overrides,
                                default_experiment, get_experiment)
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD
from keras_pose.convert.state_dict import (BACKBONE_PREFIXES, ConversionError,
                                          TorchArchitecture, assign_weights,
                                          convert_state_dict, infer_architecture,
                                          read_state_dict)

# Official checkpoint file names: pose_resnet_50_256x192.pth.tar (height x width).
_FILE_NAME = re.compile(r"pose_resnet_(\d+)_(\d+)x(\d+)")


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
        base = _named_base(arch, experiment, size, file_name)
        size = None  # An explicit experiment decides the input size.
    else:
        base, size = _base_for_keypoints(arch, size)
        if file_name and not from_name:  # Was taken in silence (a 384x288 model_best.pth.tar).
            logging.warning(
                "%s names no input size (as pose_resnet_50_384x288.pth.tar does): converted at "
                "%s's %dx%d (height x width); give --experiment NAME for a model of another "
                "size", file_name, base.name, *(size or base.model.image_size)[::-1])
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
    # Stride 32, then x2 per deconvolution (was image / 4 * 2 ** (n - 3):
    # a float, refused, for a file of one or two deconvolutions).
    upsample = 2 ** len(arch.deconv_filters)
    model = dataclasses.replace(
        model, depth=arch.depth, num_keypoints=arch.num_keypoints,
        deconv_filters=arch.deconv_filters, deconv_kernels=arch.deconv_kernels,
        final_kernel=arch.final_kernel, pretrained="",
        heatmap_size=(model.image_size[0] // 32 * upsample,
                      model.image_size[1] // 32 * upsample),
        # The official quirk: BGR pixels, RGB statistics in fed order.
        color_order="BGR", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    name = (f"{base.name}_official" if base.model.depth == arch.depth
            and tuple(base.model.image_size) == tuple(model.image_size)
            else f"{base.data.dataset}_resnet{arch.depth}_"
                 f"{model.image_size[1]}x{model.image_size[0]}_official")
    config = base.replace(name=name, model=model)
    # One string is one override (apply_overrides); list() made it its characters.
    return apply_overrides(config, overrides) if overrides else config


def _named_base(arch: TorchArchitecture, experiment: str, size, file_name: str
                ) -> ExperimentConfig:
    """The named experiment, checked against the tensors."""
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
                        file_name, size[0], size[1], experiment, base.model.image_size)
    return base


def _base_for_keypoints(arch: TorchArchitecture, size):
    """(base experiment, input size still to apply or None) chosen by K:
    the named COCO / MPII experiment of that depth and size when there is
    one, else the data set's ResNet-50 recipe resized."""
    if arch.num_keypoints in (16, 17):
        coco = arch.num_keypoints == 17
        width, height = size or ((192, 256) if coco else (256, 256))
        named = f"{'coco' if coco else 'mpii'}_resnet{arch.depth}_{height}x{width}"
        try:
            return get_experiment(named), None
        except ValueError:
            return get_experiment("coco_resnet50_256x192" if coco
                                  else "mpii_resnet50_256x256"), size
    base = default_experiment("custom")
    logging.warning(
        "K=%d is neither COCO (17) nor MPII (16): the config describes a custom "
        "COCO-format data set at %s; set data.root and the keypoint metadata with "
        "--set or pass --experiment", arch.num_keypoints, base.data.root)
    return base, size


# ---------------------------------------------------------------------------
# Whole conversions.


def check_output_dir(output_dir: str) -> None:
    """Refuses an output that a checkpoint may not replace: the checkpoint
    replaces ``output_dir`` wholesale, so it must be absent, empty or a
    model checkpoint directory.

    Raises:
      ConversionError: naming ``output_dir``.
    """
    from keras_pose.checkpoint import (COMPLETE_FILE, CONFIG_FILE, WEIGHTS_FILE,
                                       is_model_checkpoint)

    if os.path.exists(output_dir) and not (
            os.path.isdir(output_dir) and (not os.listdir(output_dir)
                                           or is_model_checkpoint(output_dir))):
        raise ConversionError(
            f"output {output_dir} exists and is not a model checkpoint directory; "
            "choose a new directory (an existing checkpoint is replaced)")
    # A training run's epoch or best/ (optimizer state, best.json): replaced
    # whole, the run could no longer resume.
    more = sorted(set(os.listdir(output_dir)) - {CONFIG_FILE, WEIGHTS_FILE, COMPLETE_FILE}
                  ) if os.path.isdir(output_dir) else []
    if more:
        raise ConversionError(
            f"output {output_dir} is a checkpoint of a training run (it holds "
            f"{', '.join(more[:4])}), which the conversion would replace whole; choose a "
            "new directory (a converted checkpoint, config.json and model.weights.h5 only, "
            "is replaced)")


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
        that do not fit (each named).
    """
    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.models.pose_resnet import build_model_from_config

    check_output_dir(output_dir)
    state = read_state_dict(input_path)
    arch = infer_architecture(state, source=input_path)
    if not arch.has_head:
        raise ConversionError(
            f"{input_path} has no pose head (deconv_layers / final_layer): it looks "
            "like an ImageNet backbone; convert it with --backbone_only")
    config = official_config(arch, experiment=experiment, file_name=input_path,
                             overrides=overrides)
    model = build_model_from_config(config.model)
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
      ConversionError: naming each tensor that does not fit.
    """
    import keras  # Keras-heavy imports only when converting.

    from keras_pose.convert.pretrained import save_named_weights
    from keras_pose.models.resnet import resnet_backbone

    if os.path.isdir(output_path) or not output_path.endswith(".npz"):
        # model.pretrained reads a backbone file by its suffix: without .npz
        # the suggested training command failed.
        raise ConversionError(f"output {output_path} is not a .npz file path; give one "
                              f"(e.g. {output_path.rstrip('/')}.npz)")
    if os.path.lexists(output_path) and not _is_backbone_npz(output_path):
        # Was replaced in silence: a user's own .npz data, lost.
        raise ConversionError(f"output {output_path} exists and is not backbone weights of an "
                              "earlier conversion (arrays named stem_.../..., stage.../...): "
                              "give a new .npz name, or move that file away")
    state = read_state_dict(input_path)
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


def _is_backbone_npz(path: str) -> bool:
    """Whether ``path`` is a .npz of backbone weights as
    :func:`convert_backbone` writes them (``save_named_weights``: every array
    named ``<layer>/<variable>``, each layer a backbone one, ``stem_conv``
    among them)."""
    import numpy as np
    try:
        data = np.load(path)  # No pickles: a foreign file is not run.
    except (OSError, ValueError, EOFError):
        return False
    if not isinstance(data, np.lib.npyio.NpzFile):  # A .npy: one array.
        return False
    with data:
        names = list(data.files)
    return "stem_conv/kernel" in names and all(
        re.fullmatch(r"\w+/\w+", name) and name.startswith(BACKBONE_PREFIXES) for name in names)
