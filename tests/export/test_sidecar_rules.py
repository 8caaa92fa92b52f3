"""What an export's files say and what an export may replace: the sidecar
of a runtime export (written last, read strictly), the packages each
precision needs, the outputs an export refuses, and the checkpoint version
(digest) an export is made from and labelled with.

A damaged sidecar must be a ``DamagedExportError`` (the one class the
export cache makes again; keras_pose.export.cache._load_cached), never a
traceback.
"""

import errno
import json
import os
import shutil

import numpy as np
import pytest

from keras_pose import cli
from keras_pose.export import destination, runtimes
from tests.export.runtime_checks import skip_unless_installed
from tests.export.test_export_output import _tree


def _sidecar_beside(tmp_path, content):
    """An ``m.onnx`` (not read) beside a sidecar ``m.json`` of ``content``
    (bytes, or a dict written as JSON): the artifact's path."""
    path = tmp_path / "m.onnx"
    path.write_bytes(b"not read: the sidecar is read first")
    if isinstance(content, dict):
        content = json.dumps(content).encode()
    (tmp_path / "m.json").write_bytes(content)
    return str(path)


@pytest.mark.parametrize("content", [b"[1]", b"\xff\xfe"], ids=["a JSON list", "not UTF-8"])
def test_a_sidecar_that_is_not_a_json_object_is_a_damaged_export(tmp_path, content):
    """A sidecar holding a list, or bytes that are not text, is a damaged export (which the
    cache rebuilds), not a TypeError / UnicodeDecodeError traceback."""
    path = _sidecar_beside(tmp_path, content)
    with pytest.raises(runtimes.DamagedExportError) as raised:
        runtimes.load_export(path)
    assert str(tmp_path / "m.json") in str(raised.value)
    assert cli.is_user_error(raised.value) and "export the checkpoint again" in str(raised.value)


def test_a_sidecar_precision_its_runtime_lacks_is_a_damaged_export(tiny_synthetic, tmp_path):
    """ONNX exports are fp32 or int8 (keras_pose.export.precision): an "fp16" sidecar is a
    damaged export (rebuilt), not a bad --precision choice."""
    info = runtimes.sidecar_info(tiny_synthetic, "onnx", "fp32")
    path = _sidecar_beside(tmp_path, {**info, "precision": "fp16"})
    with pytest.raises(runtimes.DamagedExportError, match=r"m\.json: no onnx precision "
                       r"\('fp16'; fp32 / int8\)"):
        runtimes.load_export(path)


def test_a_loaded_export_reports_its_sidecars_precision(tiny_onnx, tmp_path):
    """evaluate.py's metrics.json and the Predictor name the precision an
    export says it has: an int8 one must not be reported as another."""
    for source in (tiny_onnx, runtimes.sidecar_path(tiny_onnx)):
        shutil.copy(source, tmp_path)
    path = str(tmp_path / os.path.basename(tiny_onnx))
    info = runtimes.read_sidecar(path)
    with open(runtimes.sidecar_path(path), "w") as f:
        json.dump({**info, "precision": "int8"}, f)  # int8: a precision ONNX exports have.
    pose_model = runtimes.load_export(path)
    assert (pose_model.runtime, pose_model.precision) == ("onnxruntime", "int8")


def test_bf16_openvino_needs_no_nncf_but_int8_does(monkeypatch):
    """bf16 is OpenVINO's compile-time hint on the fp32 IR; only int8 is quantized by NNCF,
    so only int8 asks for nncf."""
    import importlib.util
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "nncf" else object())
    assert runtimes.missing_packages("openvino", "bf16") == []
    assert runtimes.missing_packages("openvino", "fp32") == []
    assert runtimes.missing_packages("openvino", "int8") == ["nncf"]
    runtimes.check_format("openvino", "bf16")  # No MissingPackageError.


def test_a_failed_export_leaves_no_sidecar_and_the_next_one_succeeds(small_network, tmp_path,
                                                                      monkeypatch):
    """A failed converter leaves no sidecar (it is written after its artifact): the next
    export to that path is not refused as "not its sidecar"."""
    skip_unless_installed("onnx")
    model, config = small_network
    path = str(tmp_path / "m.onnx")

    def failing(*args):
        raise RuntimeError("converter failed")
    monkeypatch.setattr(runtimes, "_write_onnx", failing)
    with pytest.raises(RuntimeError, match="converter failed"):
        runtimes.export_network(model, config, path, "onnx")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert runtimes.export_network(model, config, path, "onnx") == path
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.onnx"]
    assert runtimes.read_sidecar(path)["format"] == "onnx"


# What an export may replace (keras_pose.export.destination).


def _never(tmp):
    raise AssertionError(f"the export was written ({tmp}) though its output is refused")


def test_a_saved_model_holding_a_users_notes_is_refused_not_replaced(tiny_exported, tmp_path):
    """A SavedModel folder holding a user's notes.txt is refused, not replaced with the notes."""
    output = tmp_path / "served"
    shutil.copytree(tiny_exported[3], output)
    (output / "notes.txt").write_text("mine")
    before = _tree(output)
    with pytest.raises(destination.ExportOutputError,
                       match=f"--output {output} is a SavedModel but also holds notes.txt; "):
        destination.write_export(str(output), "saved_model", _never)
    assert _tree(output) == before


def test_another_tools_heatmaps_onnx_and_json_are_refused_not_deleted(tmp_path):
    """A folder of another tool's heatmaps.onnx and heatmaps.json (not a keras_pose sidecar:
    no format, no experiment) is refused, not deleted by an export."""
    output = tmp_path / "theirs"
    output.mkdir()
    (output / "heatmaps.onnx").write_bytes(b"their model")
    (output / "heatmaps.json").write_text(json.dumps({"classes": 80, "input": "images"}))
    before = _tree(output)
    with pytest.raises(destination.ExportOutputError,
                       match=f"--output {output} holds heatmaps.json, heatmaps.onnx and is not "
                             "one keras_pose onnx export"):
        destination.write_export(str(output), "onnx", _never)
    assert _tree(output) == before


def test_an_output_whose_lock_is_not_permitted_is_named_by_its_flag(tmp_path, monkeypatch):
    """EACCES on the hidden lock beside --output is a user error naming the --output the user
    gave, not a traceback naming the lock folder."""
    from keras_pose.locks import DirectoryLock
    output = str(tmp_path / "shared" / "x")

    def enter(lock):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), lock.path)
    monkeypatch.setattr(DirectoryLock, "__enter__", enter)
    with pytest.raises(destination.ExportOutputError) as raised:
        with destination.output_lock(output):
            raise AssertionError("the export ran without its lock")
    assert str(raised.value) == (f"--output {output} cannot be written (Permission denied); "
                                 "give another --output")
    assert cli.is_user_error(raised.value)


# Which checkpoint version an export is of (keras_pose.export.checkpoint_version).

def _flip_test_off(checkpoint):
    """Rewrites the checkpoint's config.json with test.flip_test False."""
    config_file = os.path.join(checkpoint, "config.json")
    with open(config_file) as f:
        config = json.load(f)
    assert config["test"]["flip_test"] is True
    config["test"]["flip_test"] = False
    with open(config_file, "w") as f:
        json.dump(config, f)


def test_an_edited_checkpoint_config_is_another_digest(private_checkpoint):
    """The sidecar's digest is what tells a cached export stale: it covers config.json (the
    model's decoding, flip test), so an edited one is not served the old export."""
    from keras_pose.export.checkpoint_version import checkpoint_digest
    before = checkpoint_digest(private_checkpoint)
    _flip_test_off(private_checkpoint)
    assert checkpoint_digest(private_checkpoint) != before


def test_an_edited_checkpoint_config_is_exported_again(private_checkpoint, fake_onnx_export,
                                                       tmp_path, monkeypatch):
    """The cache makes one export per config.json too, not only one per weights file."""
    from keras_pose.inference import load_pose_model
    # Not the user's cache: an export of this same checkpoint there is reused.
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    path = load_pose_model(private_checkpoint, runtime="onnxruntime").path
    load_pose_model(private_checkpoint, runtime="onnxruntime")
    assert len(fake_onnx_export) == 1  # Reused while nothing changed.
    _flip_test_off(private_checkpoint)
    assert load_pose_model(private_checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 2


def test_a_checkpoint_replaced_while_read_gives_the_new_weights_and_their_digest(
        private_checkpoint, tiny_exported, monkeypatch):
    """best/ replaced by training between the digest and the load: the new weights come with
    their own digest (the old one does not label their export)."""
    import keras

    import keras_pose.checkpoint as checkpoint_module
    from keras_pose.checkpoint import WEIGHTS_FILE, save_model_checkpoint
    from keras_pose.export.checkpoint_version import checkpoint_digest, read_consistently
    from keras_pose.inference import load_pose_model
    from keras_pose.models import build_model_from_config

    pose_model = load_pose_model(private_checkpoint)
    config = tiny_exported[1]
    keras.utils.set_random_seed(11)
    newer = build_model_from_config(config.model)  # Other random weights.
    other = os.path.join(os.path.dirname(private_checkpoint), "other")
    save_model_checkpoint(newer, config, other)
    old_digest = checkpoint_digest(private_checkpoint)
    real_load, calls = checkpoint_module.load_model, []

    def load_after_a_replacement(path, *args, **kwargs):
        if not calls:  # The next best/ renamed into place just before the first load.
            staged = os.path.join(path, "staged.h5")
            shutil.copy(os.path.join(other, WEIGHTS_FILE), staged)
            os.replace(staged, os.path.join(path, WEIGHTS_FILE))
        calls.append(path)
        return real_load(path, *args, **kwargs)
    monkeypatch.setattr(checkpoint_module, "load_model", load_after_a_replacement)
    digest, read = read_consistently(pose_model)
    new_digest = checkpoint_digest(private_checkpoint)
    assert new_digest != old_digest and digest == new_digest
    for got, expected in zip(read.keras_model.get_weights(), newer.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
    crops = np.random.default_rng(2).normal(size=(1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(read.network(crops)),
                                  newer(crops, training=False).numpy())


def test_a_sidecar_that_is_a_named_pipe_is_named_as_one(tmp_path):
    """A FIFO where the sidecar belongs was "has no m.json: not written by
    export_network" (isfile is False for a pipe): it is named by its kind, as a
    damaged export, without being opened (which would wait for a writer)."""
    path = tmp_path / "m.onnx"
    path.write_bytes(b"not read")
    os.mkfifo(tmp_path / "m.json")
    with pytest.raises(runtimes.DamagedExportError,
                       match=r"m\.json, the sidecar of .*m\.onnx, is a named pipe \(FIFO\), "
                             r"not a file") as raised:
        runtimes.load_export(str(path))
    assert "export the checkpoint again" in str(raised.value)
