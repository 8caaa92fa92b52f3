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
