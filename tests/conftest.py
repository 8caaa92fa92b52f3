"""Shared pytest settings and fixtures."""

import atexit
import importlib
import os
import shutil
import tempfile

# Quiet TensorFlow's C++ start-up logs; tests run on the CPU.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# TensorFlow's oneDNN kernels, as keras_pose turns them on when imported
# first (a test module may import TensorFlow before keras_pose).
importlib.import_module("keras_pose")
# Nothing downloads during the tests: an official model built with its
# ImageNet weights by accident fails at once instead.
os.environ.setdefault("KERAS_POSE_OFFLINE", "1")
# Nor does a test read or write the user's cache (~/.keras/keras_pose):
# an export left there by another run of the same tiny checkpoint was
# reused, and a test counting exports passed or failed by what was there.
# One private folder per process (subprocesses inherit it); tests of the
# cache's own places set their own.
_CACHE = tempfile.mkdtemp(prefix="keras_pose_test_cache_")
atexit.register(shutil.rmtree, _CACHE, True)
os.environ["KERAS_POSE_CACHE"] = _CACHE

import pytest  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(TESTS_DIR, "data")


@pytest.fixture(autouse=True)
def absl_info():
    """Every test starts with absl at INFO: absl drops records below its
    verbosity, which an absl app run earlier in the same worker (another
    test file's train.py or predict.py) may have raised, so a test reading
    the log would pass or fail by the order of files on its worker."""
    from absl import logging as absl_logging
    old = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    yield
    absl_logging.set_verbosity(old)


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt during the test, as in a
    terminal, whatever the test run inherited (xdist workers, or a run under
    nohup, ignore it: a Ctrl-C sent to the test would be ignored)."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def coco_dir() -> str:
    """The real COCO sample: 4 val2017 images, test_coco.json, detections."""
    return os.path.join(DATA_DIR, "coco")


@pytest.fixture(scope="session")
def mpii_dir() -> str:
    """The real MPII sample: 5 images and test_mpii.json."""
    return os.path.join(DATA_DIR, "mpii")


@pytest.fixture(scope="module")
def mpii_root(tmp_path_factory, mpii_dir):
    """The real MPII sample in the reference layout (train and valid = its 5
    people), with a gt_valid.mat made from its joints (head boxes around
    the upper neck and head top)."""
    import json
    import numpy as np
    from tests.reference_impl import write_official_gt_mat
    root = tmp_path_factory.mktemp("mpii")
    os.makedirs(root / "annot")
    os.makedirs(root / "images")
    with open(os.path.join(mpii_dir, "test_mpii.json")) as f:
        people = json.load(f)
    for split in ("train", "valid"):
        shutil.copy(os.path.join(mpii_dir, "test_mpii.json"), root / "annot" / f"{split}.json")
    for name in os.listdir(mpii_dir):
        if name.endswith(".jpg"):
            shutil.copy(os.path.join(mpii_dir, name), root / "images" / name)
    joints = np.array([p["joints"] for p in people], float)  # 1-based, as the .mat.
    visible = np.array([p["joints_vis"] for p in people], float)
    center = (joints[:, 8] + joints[:, 9]) / 2
    half = np.abs(joints[:, 9] - joints[:, 8]).max(axis=1, keepdims=True) * 0.6 + 5
    write_official_gt_mat(str(root / "annot" / "gt_valid.mat"), joints, visible,
                          np.stack([center - half, center + half], axis=1))
    return root


def shared_dir(tmp_path_factory, name: str):
    """A directory all pytest-xdist workers of this run share (each worker's
    base temp is a child of the run's), for fixtures built once per run."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if base.name.startswith("popen-gw") else base) / name


def _build_tiny_exported(root) -> None:
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
    save_model_checkpoint(model, config, str(root / "ckpt"))
    export_saved_model(model, config, str(root / "saved_model"))


@pytest.fixture(scope="session")
def tiny_exported(tmp_path_factory):
    """A tiny random pose model with distinct heatmap peaks, saved as a
    checkpoint and exported once per run (the workers share the files):
    (model, config, checkpoint dir, SavedModel dir)."""
    from filelock import FileLock

    from keras_pose.checkpoint import load_model
    root = shared_dir(tmp_path_factory, "tiny_exported")
    with FileLock(f"{root}.lock"):
        if not (root / "saved_model").is_dir():
            root.mkdir(parents=True, exist_ok=True)
            _build_tiny_exported(root)
    model, config = load_model(str(root / "ckpt"))
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


@pytest.fixture
def run_script(script_module, capsys):
    """A command-line script's ``work`` in this process, as its ``main``
    runs it (no second TensorFlow start-up): ``run_script("predict.py")``
    -> a function of the arguments giving (exit code, stdout, stderr)."""
    from keras_pose import cli

    def runner(script: str):
        module = script_module(os.path.join(os.path.dirname(TESTS_DIR), script),
                               script.replace(".py", "_script"))

        def run(args):
            module.FLAGS.unparse_flags()
            module.FLAGS([script, *args])
            code = cli.run(script, module.work)
            out = capsys.readouterr()
            return code, out.out, out.err
        return run
    return runner


@pytest.fixture(scope="session")
def tiny_onnx(tiny_exported, tmp_path_factory):
    """``tiny_exported``'s network as an fp32 ONNX export: the .onnx file,
    beside its sidecar, alone in its directory (once per run, shared)."""
    from filelock import FileLock

    from keras_pose.export import runtimes
    from tests.export.runtime_checks import skip_unless_installed
    skip_unless_installed("onnx")
    model, config = tiny_exported[:2]
    root = shared_dir(tmp_path_factory, "tiny_onnx")
    path = root / "tiny.onnx"
    with FileLock(f"{root}.lock"):
        if not path.is_file():
            root.mkdir(parents=True, exist_ok=True)
            runtimes.export_network(model, config, str(path), "onnx")
    return str(path)


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


TINY_PRESET = "test_tiny_preset"


@pytest.fixture
def tiny_preset(tiny_exported, tmp_path, monkeypatch):
    """A preset table entry, ``test_tiny_preset``, whose file:// URL serves a
    locally written tiny model (its name carries the file's SHA-256 prefix,
    as mmpose's do), in an empty download cache with downloads allowed.

    Its config is the tiny model's; "converting" copies the weights into the
    checkpoint directory (``keras_pose.convert.mmpose`` is replaced: the
    conversion of real mmpose files is tested in tests/presets). Returns a
    namespace: name, url, served (the file), cache, conversions (the
    converter's calls), config."""
    import dataclasses
    import hashlib
    import shutil
    import sys
    import types

    from keras_pose.checkpoint import CONFIG_FILE, WEIGHTS_FILE, write_checkpoint_dir
    from keras_pose.configs import save_config
    from keras_pose.convert import download
    from keras_pose.presets import loader, table

    _, config, checkpoint, _ = tiny_exported
    weights = open(os.path.join(checkpoint, WEIGHTS_FILE), "rb").read()
    served = tmp_path / "served" / f"tiny-{hashlib.sha256(weights).hexdigest()[:8]}_20260101.pth"
    served.parent.mkdir()
    served.write_bytes(weights)
    entry = dataclasses.replace(table.PRESETS[loader.DEFAULT_PRESET], name=TINY_PRESET,
                                url=served.as_uri(), file_name=served.name)
    monkeypatch.setitem(table.PRESETS, TINY_PRESET, entry)
    preset_config = config.replace(name=TINY_PRESET)
    real_config = loader.preset_config
    monkeypatch.setattr(loader, "preset_config", lambda name: preset_config if getattr(
        name, "name", name) == TINY_PRESET else real_config(name))
    conversions = []

    def convert_mmpose_checkpoint(input_path, output_dir, config):
        conversions.append((input_path, output_dir, config.name))

        def write(tmp):
            shutil.copy(input_path, os.path.join(tmp, WEIGHTS_FILE))
            save_config(config, os.path.join(tmp, CONFIG_FILE))
        write_checkpoint_dir(output_dir, write)
        return config

    fake = types.ModuleType("keras_pose.convert.mmpose")
    fake.convert_mmpose_checkpoint = convert_mmpose_checkpoint
    monkeypatch.setitem(sys.modules, "keras_pose.convert.mmpose", fake)
    cache = tmp_path / "cache"
    monkeypatch.setenv(download.CACHE_ENV, str(cache))
    monkeypatch.delenv(download.OFFLINE_ENV, raising=False)
    return types.SimpleNamespace(name=TINY_PRESET, url=served.as_uri(), served=served,
                                 cache=cache, conversions=conversions, config=preset_config)


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """tempfile's folder for this test, empty: where tf_paths' links go."""
    folder = tmp_path / "tempdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
