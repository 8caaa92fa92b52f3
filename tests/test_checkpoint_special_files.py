"""--checkpoint given a special file (a named pipe, a device), or a folder
whose model file is one: named with its kind. They were "cannot be read
(Permission denied) ... chmod u+r", "incomplete ... touch COMPLETE" and
"not a checkpoint"."""

import os

import pytest

from keras_pose.checkpoint import CheckpointError, resolve_checkpoint

FIFO = "is a named pipe (FIFO), not a file: save what it gives into a file first"


def _error(path):
    with pytest.raises(CheckpointError) as raised:
        resolve_checkpoint(str(path))
    return str(raised.value)


def test_a_named_pipe_or_a_device_given_as_the_checkpoint(tmp_path):
    os.mkfifo(tmp_path / "model")
    assert _error(tmp_path / "model") == f"checkpoint {tmp_path / 'model'} {FIFO}"
    assert _error(os.devnull) == (f"checkpoint {os.devnull} is a character device, not a file: "
                                  "save what it gives into a file first")


@pytest.mark.parametrize("pipe, others", [
    ("model.weights.h5", ("config.json", "COMPLETE")),
    ("config.json", ("model.weights.h5", "COMPLETE")),
    ("heatmaps.onnx", ("heatmaps.json",)),
    ("heatmaps.xml", ("heatmaps.bin", "heatmaps.json")),
])
def test_a_checkpoint_folder_whose_model_file_is_a_named_pipe(tmp_path, pipe, others):
    for name in others:
        (tmp_path / name).write_text("{}")
    os.mkfifo(tmp_path / pipe)
    assert _error(tmp_path) == f"checkpoint {tmp_path}: {tmp_path / pipe} {FIFO}"
    assert _error(tmp_path / pipe) == f"checkpoint {tmp_path / pipe} {FIFO}"


def test_a_model_directory_whose_best_weights_are_a_named_pipe(tmp_path):
    (tmp_path / "best").mkdir()
    for name in ("config.json", "COMPLETE"):
        (tmp_path / "best" / name).write_text("{}")
    os.mkfifo(tmp_path / "best" / "model.weights.h5")
    assert _error(tmp_path) == (
        f"checkpoint {tmp_path}: {tmp_path / 'best' / 'model.weights.h5'} {FIFO}")
