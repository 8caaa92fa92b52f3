"""The one loader of trained pose models: checkpoints, SavedModels, exports.

``evaluate.py``, ``predict.py``, the ``Predictor`` and the exporter all load
through :func:`load_pose_model`, which accepts a checkpoint directory, a
model directory (its ``best/`` checkpoint), a converted official checkpoint,
a SavedModel exported by ``keras_pose.export`` or an ONNX / OpenVINO /
LiteRT export (``keras_pose.export.runtimes.load_export``), and returns the
network with the config it was trained with. ``runtime`` / ``precision``
run a checkpoint in another runtime through an export made on first use
(``keras_pose.export.cache``). That config owns the data set's
metadata (keypoint names, flip pairs, skeleton, OKS sigmas, colour order):
whatever data set a run evaluates or predicts on, these come from here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional, Sequence

import tensorflow as tf

from keras_pose import log as logging
from keras_pose.checkpoint import CheckpointError, load_model, resolve_checkpoint
from keras_pose.configs import ExperimentConfig, apply_overrides, load_config
from keras_pose.configs.cli import (check_keypoint_metadata, check_keypoint_renaming,
                                    refuse_model_overrides, warn_training_only,
                                    warn_unused_blur_kernel)
from keras_pose.configs.conversion import override_items
from keras_pose.fork_safety import check_not_forked
from keras_pose.inference.estimator import Network, TopDownEstimator
from keras_pose.tf_paths import literal_path

SAVED_MODEL_CONFIG = os.path.join("assets", "config.json")


@dataclasses.dataclass
class PoseModel:
    """A trained network and the config it was trained with.

    Attributes:
      network: normalised crops (B, h, w, 3) float32 -> heatmaps (B, H, W, K).
      config: the checkpoint's config (with any inference overrides).
      kind: "keras", "saved_model", or the export's format ("onnx",
        "openvino", "litert").
      path: the resolved checkpoint or SavedModel directory, or export file.
      keras_model: the Keras model (None for a SavedModel or an export).
      saved_model: the loaded SavedModel object (keeps its variables alive).
      runtime: what runs the network: "tf", "onnxruntime", "openvino",
        "litert".
      precision: what it computes in: "fp32", "bf16", "fp16", "int8".
    """

    network: Network
    config: ExperimentConfig
    kind: str
    path: str
    keras_model: Any = None
    saved_model: Any = None
    runtime: str = "tf"
    precision: str = "fp32"

    def estimator(self, flip: Optional[bool] = None) -> TopDownEstimator:
        """The inference path of this model (``flip`` None: the config's)."""
        return TopDownEstimator(self.network, self.config, flip)


def with_overrides(config: ExperimentConfig, overrides: Sequence[str],
                   source: str = "") -> ExperimentConfig:
    """``section.field=value`` changes of a checkpoint's config at inference,
    applied as the command lines' are (``configs.conversion.apply_overrides``:
    one string is one override, OKS sigma presets become numbers);
    ``source``: the file ``config`` was read from, named when its keypoint
    metadata does not fit its model (``configs.cli.check_keypoint_metadata``).

    Raises:
      ConfigError: for ``model.*`` (the weights define the model; refused by
        key, before any value is applied), a bad override, or keypoint
        metadata (the file's or an override's) that does not fit the model's K.
    """
    overrides = override_items(overrides)
    refuse_model_overrides(overrides, "at inference")
    check_keypoint_metadata(config, source=source)
    changed = apply_overrides(config, overrides)
    # As evaluate.py's (configs.cli): predict.py, the Predictor, the exporter.
    check_keypoint_renaming(config.data.keypoint_names, changed.data.keypoint_names)
    warn_unused_blur_kernel(changed, overrides)
    warn_training_only(overrides, "inference")
    check_keypoint_metadata(changed, overrides)
    return changed


def load_saved_model(path: str, overrides: Sequence[str] = ()) -> PoseModel:
    """Loads a SavedModel exported by ``keras_pose.export``: the one loader
    of keras_pose SavedModels (``load_pose_model`` and
    ``keras_pose.export.runtimes.load_network`` use it).

    Args:
      path: the SavedModel directory.
      overrides: as for :func:`load_pose_model`.

    Returns:
      Its ``heatmaps`` signature as the network (normalised crops (B, h, w, 3)
      float32 -> heatmaps (B, H, W, K) float32 tensors) and the config of
      ``assets/config.json``.

    Raises:
      CheckpointError: no ``assets/config.json`` (not a keras_pose export),
        not a loadable SavedModel, or no ``heatmaps`` signature.
    """
    check_not_forked("load_saved_model")  # TF would hang in such a child.
    config_path = os.path.join(path, SAVED_MODEL_CONFIG)
    if not os.path.isfile(config_path):
        raise CheckpointError(f"SavedModel {path} has no {SAVED_MODEL_CONFIG}: it was not "
                              "exported by keras_pose (scripts/export_saved_model.py)")
    literal = path
    try:
        # Was "Failed to find any matching files" for a path holding '[' or
        # '\\' (TF globs the variables path): loaded through a plain link.
        with literal_path(path) as literal:
            loaded = tf.saved_model.load(literal)
    # TF's checkpoint reader raises IndexError ("Read less bytes than
    # requested") for a truncated variables file (a copy cut short).
    except (OSError, ValueError, IndexError, tf.errors.OpError) as e:
        # TF's message names the user's path, not the link (gone by now).
        raise CheckpointError(f"{path} is not a loadable SavedModel: "
                              f"{str(e).replace(literal, path)}") from e
    if "heatmaps" not in loaded.signatures:
        raise CheckpointError(f"SavedModel {path} has no 'heatmaps' signature (has "
                              f"{sorted(loaded.signatures)}); export it with keras_pose.export")
    signature = loaded.signatures["heatmaps"]
    from keras_pose.export.precision import read_export_info
    return PoseModel(lambda images: signature(images=images)["heatmaps"],
                     with_overrides(load_config(config_path), overrides, config_path),
                     "saved_model", path,
                     saved_model=loaded,
                     precision=read_export_info(os.path.dirname(config_path))["precision"])


def _load_resolved(resolved: Any, overrides: Sequence[str]) -> PoseModel:
    """The PoseModel of a resolved checkpoint, SavedModel or export."""
    if resolved.kind == "export":
        from keras_pose.export.runtimes import load_export, read_sidecar
        from keras_pose.export.staleness import outdated_in_checkpoint
        pose_model = load_export(resolved.path, overrides)
        outdated = outdated_in_checkpoint(resolved.path, read_sidecar(resolved.path))
        if outdated:
            logging.warning("%s", outdated)
        return pose_model
    if resolved.kind == "saved_model":
        return load_saved_model(resolved.path, overrides)
    model, config = load_model(resolved.path)
    config = with_overrides(config, overrides, os.path.join(resolved.path, "config.json"))
    return PoseModel(lambda images: model(images, training=False), config, "keras",
                     resolved.path, keras_model=model)


def _checked_path(path: Any) -> str:
    """``path`` as a string (was os.stat's TypeError for None).

    Raises:
      CheckpointError: ``path`` is not a string (or os.PathLike).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError("path: expected a checkpoint, SavedModel or export path or a "
                              f"preset name (a string), got {path!r}")
    return os.fspath(path)


def load_pose_model(path: str, overrides: Sequence[str] = (), *,
                    runtime: Optional[str] = None, precision: Optional[str] = None,
                    data_config: Any = None, samples: Any = None) -> PoseModel:
    """Loads a trained model and its config.

    Args:
      path: a checkpoint directory, a model directory, a converted official
        checkpoint, an exported SavedModel, an ONNX / OpenVINO / LiteRT
        export file or a directory holding exactly one.
      overrides: ``section.field=value`` changes of the stored config
        (``test.*``, ``data.*``; never ``model.*``).
      runtime, precision: run a checkpoint in ``onnxruntime`` / ``openvino``
        at ``fp32`` / ``bf16`` / ``int8`` (``keras_pose.export.cache``:
        exported, calibrated and guarded on first use, then reused); None:
        as ``path`` is (``tf`` ``fp32`` for a checkpoint). Refused for an
        export, which runs in its own runtime and precision.
      data_config, samples: the people that calibrate and guard an export
        (``keras_pose.export.cache.runtime_model``); only with ``runtime``
        or ``precision``.

    Raises:
      CheckpointError: naming the path and what is wrong with it.
      ConfigError: for a bad override.
      keras_pose.fork_safety.ForkedTensorFlowError: in a forked child of a
        process that had run TensorFlow (it would hang).
    """
    check_not_forked("load_pose_model")  # Before TF hangs in such a child.
    if runtime is None and precision is None and (data_config is not None
                                                  or samples is not None):
        # Were ignored in silence: no export is made, nothing is calibrated.
        raise ValueError("data_config and samples calibrate an export: give them with "
                         "runtime or precision (e.g. runtime='openvino', precision='int8')")
    path = _checked_path(path)
    resolved = resolve_checkpoint(path)
    try:
        pose_model = _load_resolved(resolved, overrides)
    except CheckpointError:
        # A training run replaced best/ (two renames) or pruned an epoch
        # between finding and reading it: the checkpoint found has moved.
        # Found again, once (was an error about the moved copy).
        again = resolve_checkpoint(path)
        if again == resolved and os.path.exists(resolved.path):
            raise
        pose_model = _load_resolved(again, overrides)
    if runtime is None and precision is None:
        return pose_model
    from keras_pose.export.cache import runtime_model
    return runtime_model(pose_model, runtime, precision, data_config=data_config,
                         samples=samples)
