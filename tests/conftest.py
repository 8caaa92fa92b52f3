"""Shared pytest settings and fixtures."""

import os

# Quiet TensorFlow's C++ start-up logs; tests run on the CPU.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# Nothing downloads during the tests: an official model built with its
# ImageNet weights by accident fails at once instead.
os.environ.setdefault("KERAS_POSE_OFFLINE", "1")

import pytest  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(TESTS_DIR, "data")


@pytest.fixture(scope="session")
def coco_dir() -> str:
    """The real COCO sample: 4 val2017 images, test_coco.json, detections."""
    return os.path.join(DATA_DIR, "coco")


@pytest.fixture(scope="session")
def mpii_dir() -> str:
    """The real MPII sample: 5 images and test_mpii.json."""
    return os.path.join(DATA_DIR, "mpii")


@pytest.fixture(scope="session")
def tiny_exported(tmp_path_factory):
    """A tiny random pose model with distinct heatmap peaks, saved as a
    checkpoint and exported: (model, config, checkpoint dir, SavedModel dir)."""
    import numpy as np
    import tensorflow as tf

    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.export import export_saved_model
    from keras_pose.models import build_model_from_config

    config = apply_overrides(get_experiment("tiny"), [
        "model.image_size=64,64", "model.heatmap_size=16,16", "model.deconv_filters=16,16,16"])
    tf.keras.utils.set_random_seed(0)
    model = build_model_from_config(config.model)
    # Larger head weights than the 0.001 init: distinct, non-degenerate peaks.
    final = model.get_layer("head_final_conv")
    final.kernel.assign(np.random.default_rng(0).normal(0, 0.3, final.kernel.shape)
                        .astype(np.float32))
    root = tmp_path_factory.mktemp("tiny_exported")
    save_model_checkpoint(model, config, str(root / "ckpt"))
    export_saved_model(model, config, str(root / "saved_model"))
    return model, config, str(root / "ckpt"), str(root / "saved_model")


@pytest.fixture
def script_module():
    """Loads a command-line script as a module for in-process runs (sparing
    a TensorFlow start-up per run); on teardown its absl flags are removed
    again, so that another script defining the same flag names can load."""
    import importlib.util

    from absl import flags
    loaded, modules = [], {}

    def load(path: str, name: str):
        if path in modules:
            return modules[path]
        before = set(flags.FLAGS)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(set(flags.FLAGS) - before)
        modules[path] = module
        return module

    yield load
    for names in loaded:
        flags.FLAGS.unparse_flags()
        for name in names:
            delattr(flags.FLAGS, name)


@pytest.fixture(scope="session")
def tiny_onnx(tiny_exported, tmp_path_factory):
    """``tiny_exported``'s network as an fp32 ONNX export: the .onnx file,
    beside its sidecar, alone in its directory."""
    from keras_pose.export import runtimes
    from tests.export.runtime_checks import skip_unless_installed
    skip_unless_installed("onnx")
    model, config = tiny_exported[:2]
    path = tmp_path_factory.mktemp("tiny_onnx") / "tiny.onnx"
    return runtimes.export_network(model, config, str(path), "onnx")


@pytest.fixture
def fake_onnx_export(monkeypatch, tiny_onnx):
    """``runtimes.export_network`` copying tiny_onnx (the same network) with
    the precision asked; returns the calls (format, precision, crops shape)."""
    import json
    import shutil

    from keras_pose.export import runtimes
    calls = []

    def export(model, config, path, fmt, precision="fp32", calibration=None):
        calls.append((fmt, precision, None if calibration is None else calibration.shape))
        shutil.copy(tiny_onnx, path)
        info = {**runtimes.read_sidecar(tiny_onnx), "format": fmt, "precision": precision}
        with open(runtimes.sidecar_path(path), "w") as f:
            json.dump(info, f)
        return path
    monkeypatch.setattr(runtimes, "export_network", export)
    return calls
