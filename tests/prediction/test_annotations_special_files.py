"""predict.py --annotations given a named pipe, a device, or a file too
large for memory: a pipe is read as before, said first (one without a
writer waited forever, unsaid); a device is refused with its kind; a
MemoryError names the flag and the file."""

import json
import os
import threading

import pytest

from keras_pose.errors import FlagError
from tests.detection.test_boxes_file_special_files import _write_when, said  # noqa: F401

ANNOTATIONS = {"images": [{"file_name": "a.jpg", "id": 7}]}


@pytest.fixture
def predict(script_module):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return script_module(os.path.join(repo, "predict.py"), "predict_script")


def test_a_named_pipe_is_said_before_its_writer_writes_then_read(tmp_path, said, predict):
    fifo = str(tmp_path / "ann.json")
    os.mkfifo(fifo)
    waiting = said(f"waiting for data on --annotations {fifo} (a named pipe)")
    seen = []
    writer = threading.Thread(target=_write_when, args=(fifo, waiting, seen, ANNOTATIONS),
                              daemon=True)
    writer.start()
    assert predict._image_ids(fifo) == {"a.jpg": 7}
    writer.join(10)
    assert seen == [True], "nothing said while waiting for the pipe's writer"


def test_a_device_is_refused_with_its_kind(predict):
    with pytest.raises(FlagError) as raised:
        predict._image_ids("/dev/zero")
    assert str(raised.value) == ("--annotations /dev/zero is a character device, not a file: "
                                 "save what it gives into a file first")


def test_running_out_of_memory_names_the_file(tmp_path, monkeypatch, predict):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(ANNOTATIONS))

    def out_of_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(json, "load", out_of_memory)
    with pytest.raises(FlagError) as raised:
        predict._image_ids(str(path))
    assert str(raised.value) == (
        f"--annotations {path}: too large to read (this machine's memory ran out); give an "
        "image-info file (its 'images' only)")
