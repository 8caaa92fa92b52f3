"""Writing model checkpoints (keras_pose.checkpoint): a disk too full for
the weights."""

import errno
import os
import shutil
import subprocess
import sys

import pytest

from tests.training.conftest import REPO

_WRITE_PAST_A_LIMIT = r"""
import resource, signal, sys
import keras
from keras_pose import checkpoint
from keras_pose.configs import get_experiment
network = keras.Sequential([keras.Input((64,)), keras.layers.Dense(2048), keras.layers.Dense(512)])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG, as a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    checkpoint.save_model_checkpoint(network, get_experiment("tiny"), sys.argv[1])
except OSError as e:
    print("refused:", e.errno)
"""


def test_weights_that_fail_mid_write_leave_a_clean_exit(tmp_path):
    """HDF5 failing mid-write (the disk filled while the weights were written)
    left h5py objects whose clean-up crashed the process as it ended: a
    segmentation fault after the one-line error (a preset converted into a
    full cache)."""
    run = subprocess.run([sys.executable, "-c", _WRITE_PAST_A_LIMIT, str(tmp_path / "ckpt")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert f"refused: {errno.EFBIG}" in run.stdout
    assert os.listdir(tmp_path) == []  # Nothing half-written kept.


def test_a_disk_too_full_for_the_weights_is_refused_before_writing(tmp_path, monkeypatch):
    import keras
    from keras_pose import checkpoint
    from keras_pose.configs import get_experiment
    network = keras.Sequential([keras.Input((64,)), keras.layers.Dense(2048)])
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=300_000))
    with pytest.raises(OSError, match=r"cannot write model.weights.h5: the disk is full \(0.3 MB "
                                      r"free, about 1.6 MB needed\)") as raised:
        checkpoint.save_model_checkpoint(network, get_experiment("tiny"), str(tmp_path / "c"))
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(tmp_path / "c" / "model.weights.h5")
    assert os.listdir(tmp_path) == []


def test_weights_damaged_in_the_middle_are_named_damaged(tiny_exported, tmp_path):
    """HDF5 structures overwritten mid-file (not cut short) were a traceback
    from inside Keras (RuntimeError: ... bad symbol table node signature);
    cut short, "does not fit the model (depth ...)". One line each: the
    file is damaged, and what to do."""
    from keras_pose.checkpoint import CheckpointError, load_model
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_exported[2], checkpoint)
    weights = checkpoint / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    good = bytes(data)
    for start in range(4096, len(data), 4096):  # The superblock kept, structures zeroed.
        data[start:start + 512] = bytes(len(data[start:start + 512]))
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model.weights.h5 is damaged \(HDF5 cannot read "
                                              r"it: .*\): copy or write that checkpoint again"):
        load_model(str(checkpoint))
    weights.write_bytes(good[:len(good) // 2])
    with pytest.raises(CheckpointError, match=r"model.weights.h5 is damaged"):
        load_model(str(checkpoint))


def test_a_damaged_object_header_is_named_damaged(tiny_exported, tmp_path):
    """h5py raises a damaged object header as a KeyError ("Unable to
    synchronously open object (bad object header version number)"), which
    was called "does not fit the model (depth ...)": the wrong cause, and
    no way out."""
    import h5py

    from keras_pose.checkpoint import CheckpointError, load_model
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_exported[2], checkpoint)
    weights = checkpoint / "model.weights.h5"
    with h5py.File(weights, "r") as f:
        headers = []
        f.visititems(lambda _, item: headers.append(h5py.h5o.get_info(item.id).addr)
                     if isinstance(item, h5py.Dataset) else None)
    with open(weights, "r+b") as f:  # The first dataset's object header: 0xff bytes.
        f.seek(headers[0])
        f.write(b"\xff" * 64)
    with pytest.raises(CheckpointError) as raised:
        load_model(str(checkpoint))
    message = str(raised.value)
    assert message.startswith(f"{weights} is damaged (HDF5 cannot read it: Unable to "
                              "synchronously open object (bad object header"), message
    assert message.endswith("copy or write that checkpoint again (a converted preset: delete "
                            "its folder in the cache and it is converted again)")


def test_weights_removed_while_read_are_named_removed(tiny_exported, tmp_path, monkeypatch):
    """A training run pruned the epoch while predict.py read it: "is damaged
    (... No such file or directory): copy or write that checkpoint again"."""
    import keras

    from keras_pose.checkpoint import CheckpointError, load_model
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_exported[2], checkpoint)
    read = keras.Model.load_weights

    def pruned_first(model, path, *args, **kwargs):
        shutil.rmtree(checkpoint)
        return read(model, path, *args, **kwargs)
    monkeypatch.setattr(keras.Model, "load_weights", pruned_first)
    with pytest.raises(CheckpointError, match=r"ckpt/model.weights.h5 was removed while it was "
                       r"read \(a training run keeps only its last train.keep_checkpoints "
                       r"epochs, and replaces best/\): give a newer checkpoint"):
        load_model(str(checkpoint))


def test_a_run_in_its_first_epoch_is_told_from_one_that_stopped(tiny_exported, tmp_path):
    """During a run's first epoch, predict.py --checkpoint <its model_dir>
    said it had stopped or been copied, and that train.py would resume it."""
    from keras_pose.checkpoint import CheckpointError, resolve_checkpoint
    from keras_pose.locks import DirectoryLock
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)
    shutil.copy(os.path.join(tiny_exported[2], "config.json"), run)
    with DirectoryLock(str(run), run="training run"):
        with pytest.raises(CheckpointError, match=r"run has no checkpoint yet: the training run "
                           rf"\(pid {os.getpid()} on host .*\) is training it and has not "
                           r"finished its first epoch; wait for it"):
            resolve_checkpoint(str(run))
    with pytest.raises(CheckpointError, match=r"without a checkpoint yet .*stopped, or copied, "
                       r"before its first epoch ended.*resumes it"):
        resolve_checkpoint(str(run))  # Its lock file stays, written by a process that ended.
    (run / ".lock").write_text("the training run (pid 1 on host elsewhere, started x)\n")
    with pytest.raises(CheckpointError, match=r"stopped, or copied"):
        resolve_checkpoint(str(run))  # Another host's: not known to be alive.


def test_a_pytorch_file_as_checkpoint_is_told_to_convert(tmp_path):
    # Was "is a file; expected ... an .onnx / .xml / .tflite export".
    from keras_pose.checkpoint import CheckpointError, resolve_checkpoint
    for name in ("pose_resnet_50_250x190.pth.tar", "td-hm_res50.pth", "model.safetensors"):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(CheckpointError) as raised:
            resolve_checkpoint(str(tmp_path / name))
        assert str(raised.value) == (
            f"checkpoint {tmp_path / name} is a PyTorch weights file: convert it first, python "
            f"scripts/convert_pytorch_checkpoint.py --input {tmp_path / name} --output <a new "
            "folder>, then give that folder (an mmpose file needs --experiment too, e.g. "
            "coco_resnet50_256x192, unless it is a preset's published file, which is "
            "recognised by its contents under any name); a published model is also taken by "
            "its preset name (predict.py --list_presets)")


def test_a_presets_published_file_as_checkpoint_is_told_where_it_goes(tmp_path, monkeypatch):
    """A published mmpose file given as --checkpoint was told "an mmpose file
    also needs --experiment", which the converter does not ask of it; the
    preset's name takes it without a conversion command."""
    from keras_pose.checkpoint import CheckpointError, resolve_checkpoint
    cache = tmp_path / "cache"
    monkeypatch.setenv("KERAS_POSE_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)

    def refusal(path) -> str:
        with pytest.raises(CheckpointError) as raised:
            resolve_checkpoint(str(path))
        return str(raised.value)

    mmpose = "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth"
    (tmp_path / mmpose).write_bytes(b"x")
    assert refusal(mmpose) == (
        f"checkpoint {mmpose} is named as preset simplebaseline_resnet50_coco_256x192's "
        f"published PyTorch weights file: put it at {cache / mmpose}, then give the preset "
        "name, simplebaseline_resnet50_coco_256x192, in place of the file (converted on "
        "first use, then reused)")
    cache.mkdir()
    (cache / mmpose).write_bytes(b"x")
    assert refusal(cache / mmpose) == (
        f"checkpoint {cache / mmpose} is preset simplebaseline_resnet50_coco_256x192's "
        "PyTorch weights file, where the preset looks for it: give the preset name, "
        "simplebaseline_resnet50_coco_256x192, in place of the file (converted on first use, "
        "then reused)")
    official = "pose_resnet_50_256x192.pth"  # The HRNet copies' name of the official file.
    (tmp_path / official).write_bytes(b"x")
    assert refusal(official) == (
        f"checkpoint {official} is named as preset pose_resnet_50_256x192's published PyTorch "
        f"weights file: put it at {cache / 'pose_resnet_50_256x192.pth.tar'} or "
        "models/pytorch/pose_coco/pose_resnet_50_256x192.pth.tar, then give the preset name, "
        "pose_resnet_50_256x192, in place of the file (converted on first use, then reused)")


def test_a_model_dir_named_with_glob_characters_is_taken_literally(tiny_exported, tmp_path):
    """runs/exp[1] was the glob pattern of runs/exp1: a run there resumed
    from runs/exp1's latest epoch, pruned runs/exp1's epochs, and
    evaluate.py scored runs/exp1's model."""
    from keras_pose import checkpoint
    from keras_pose.training import resume, run_dir
    ckpt = tiny_exported[2]
    theirs, ours = tmp_path / "runs" / "exp1", tmp_path / "runs" / "exp[1]"
    for run, epochs in ((theirs, (1, 2, 3)), (ours, (1,))):
        for epoch in epochs:
            shutil.copytree(ckpt, run / "checkpoints" / f"epoch_{epoch:04d}")
            (run / "checkpoints" / f"epoch_{epoch:04d}" / "COMPLETE").write_text("")
    leftover = theirs / "checkpoints" / "epoch_0004.tmp-host-1"
    leftover.mkdir()
    (theirs / "best.tmp-host-1").mkdir()
    assert [e for e, _ in checkpoint.epoch_directories(str(ours))] == [1]
    assert checkpoint.latest_epoch_checkpoint(str(ours)) == str(
        ours / "checkpoints" / "epoch_0001")
    assert checkpoint.resolve_checkpoint(str(ours)).path == str(
        ours / "checkpoints" / "epoch_0001")
    assert checkpoint.interrupted_best(str(ours)) is None
    assert run_dir.leftovers(str(ours)) == ([], [])
    (theirs / "checkpoints" / "epoch_0003" / run_dir.LEGACY_OPTIMIZER_FILE).write_text("")
    resume.refuse_legacy(str(ours))  # runs/exp1's legacy epoch is not ours.


def test_weights_of_another_head_are_one_line_naming_the_layer_and_shapes(tiny_exported):
    # Was Keras's message with every value of the variable: 230 lines.
    import dataclasses

    from keras_pose.checkpoint import CheckpointError, load_weights_strict
    from keras_pose.models import build_model_from_config
    _, config, ckpt, _ = tiny_exported
    narrow = dataclasses.replace(config.model, deconv_filters=(8,) * len(
        config.model.deconv_filters))
    with pytest.raises(CheckpointError) as raised:
        load_weights_strict(build_model_from_config(narrow),
                            os.path.join(ckpt, "model.weights.h5"), config)
    message = str(raised.value)
    assert "\n" not in message and len(message) < 900, message
    assert "does not fit the model (depth" in message and "deconvolution filters" in message
    assert "head_deconv1" in message and "Received: value.shape=" in message


def test_a_best_replaced_while_it_is_read_is_found_again(tiny_exported, tmp_path, monkeypatch):
    """Between best/'s two renames a reader found the complete new copy
    (best.tmp-*), which the run renamed to best/ while it was read: an
    error about the moved copy. The model dir is resolved again, once."""
    import json

    import keras

    from keras_pose.inference import load_pose_model
    run = tmp_path / "run"
    moving = run / "best.tmp-host-999999"
    shutil.copytree(tiny_exported[2], moving)
    (moving / "COMPLETE").write_text("")
    (moving / "best.json").write_text(json.dumps({"value": 0.5, "epoch": 1}))
    read, calls = keras.Model.load_weights, []

    def renamed_first(model, path, *args, **kwargs):
        if not calls:
            os.rename(moving, run / "best")  # The run's second rename, mid-read.
        calls.append(path)
        return read(model, path, *args, **kwargs)
    monkeypatch.setattr(keras.Model, "load_weights", renamed_first)
    loaded = load_pose_model(str(run))
    assert loaded.path == str(run / "best") and len(calls) == 2


def _fake_checkpoint(path, *files, best=None):
    """A directory holding the named files (contents do not matter here)."""
    path.mkdir(parents=True)
    for name in ("config.json", "model.weights.h5") + files:
        (path / name).write_text("{}")
    if best is not None:
        (path / "best.json").write_text(f'{{"value": {best}}}')
    return path


def test_a_training_checkpoint_without_its_marker_is_refused_as_incomplete(tmp_path):
    """An epoch copied without COMPLETE (state.json there: train.py wrote it)
    is not a checkpoint; a hand-made one without training files is."""
    from keras_pose import checkpoint
    cut = _fake_checkpoint(tmp_path / "epoch_0003", "state.json")
    assert not checkpoint.is_model_checkpoint(str(cut))
    with pytest.raises(checkpoint.CheckpointError,
                       match=rf"^{cut} is an incomplete checkpoint .*touch {cut}/COMPLETE"):
        checkpoint.resolve_checkpoint(str(cut))
    (cut / "COMPLETE").write_text("")
    assert checkpoint.is_model_checkpoint(str(cut))
    hand_made = _fake_checkpoint(tmp_path / "converted")
    assert checkpoint.is_model_checkpoint(str(hand_made))


def test_of_two_interrupted_best_copies_the_higher_value_is_served(tmp_path):
    """best/ only ever gets better: of the copies crashed replacements left
    (dead processes), the one recording 0.7 is best/, not the 0.6 one."""
    import socket

    from keras_pose import checkpoint
    host = socket.gethostname()
    higher = _fake_checkpoint(tmp_path / f"best.old-{host}-999998", "COMPLETE", best=0.7)
    _fake_checkpoint(tmp_path / f"best.tmp-{host}-999999", "COMPLETE", best=0.6)
    assert checkpoint.interrupted_best(str(tmp_path)) == str(higher)
    assert checkpoint.resolve_checkpoint(str(tmp_path)) == checkpoint.ResolvedCheckpoint(
        "keras", str(higher))
