"""Fixtures of the export tests: a tiny synthetic data set for calibration
and the guard, a checkpoint, and the export script run in this process."""

import os

import pytest


TINY = ["model.image_size=64,64", "model.heatmap_size=16,16", "model.deconv_filters=16,16,16"]


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """The tiny test config (as ``tiny_exported``'s: 64x64 crops, 16x16x17
    heatmaps) on a generated synthetic data set of 8 training and 4
    validation images (resolved: data.root set)."""
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.data.datasets import resolve_dataset_config

    config = apply_overrides(get_experiment("tiny"), TINY)
    root = tmp_path_factory.mktemp("synthetic") / "data"
    config = apply_overrides(config, [f"data.root={root}", "data.synthetic_train_images=8",
                                      "data.synthetic_val_images=4"])
    return resolve_dataset_config(config)


@pytest.fixture(scope="session")
def calibration(tiny_synthetic):
    """Normalised crops of every training person of the tiny data set."""
    from keras_pose.export.calibration import calibration_crops
    return calibration_crops(tiny_synthetic, count=64, split="train")


@pytest.fixture(scope="session")
def small_network(tiny_synthetic):
    """A small Pose-ResNet (one block per stage) of the tiny config's sizes
    (64x64 crops, 16x16x17 heatmaps) whose BatchNorm statistics and
    deconvolutions are random (not identities), so that activations and
    heatmaps have a real range to quantize: (model, config)."""
    from tests.export.runtime_checks import small_model
    return small_model(tiny_synthetic)


SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts", "export_saved_model.py")


@pytest.fixture
def script(script_module):
    """The script's module, run in this process (its absl flags are parsed
    per call) to spare a TensorFlow start-up per export."""
    return script_module(SCRIPT, "export_saved_model_script")


@pytest.fixture(scope="module")
def checkpoint(tiny_synthetic, tmp_path_factory):
    """A checkpoint of the small network on the tiny synthetic data set."""
    from keras_pose.checkpoint import save_model_checkpoint
    from tests.export.runtime_checks import small_model
    model, config = small_model(tiny_synthetic, blocks_per_stage=None)
    path = str(tmp_path_factory.mktemp("cli") / "ckpt")
    save_model_checkpoint(model, config, path)
    return path


@pytest.fixture
def private_checkpoint(tiny_exported, tmp_path):
    """A private copy of tiny_exported's checkpoint; its data set is not on disk."""
    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.configs import apply_overrides
    model, config = tiny_exported[:2]
    path = str(tmp_path / "ckpt")
    save_model_checkpoint(model, apply_overrides(config, ["data.root=/nonexistent"]), path)
    return path
