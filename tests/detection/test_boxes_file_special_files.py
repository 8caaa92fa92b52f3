"""A boxes file that is a named pipe, a device, or too large for memory:
a pipe is read as before (``--boxes <(cmd)``), said first (one without a
writer waited forever, unsaid); a device is refused with its kind (/dev/zero
was read until memory ran out); a MemoryError names the file."""

import json
import logging
import os
import threading

import pytest

from keras_pose.detection.box_files import DetectionFileError, load_detection_file

BOXES = {"a.jpg": [[1, 2, 3, 4]]}


class _Said(logging.Handler):
    """Sets ``event`` when a log line holds ``words``."""

    def __init__(self, words):
        super().__init__()
        self.words, self.event = words, threading.Event()

    def emit(self, record):
        if self.words in record.getMessage():
            self.event.set()


@pytest.fixture
def said():
    handlers = []

    def watch(words):
        handlers.append(_Said(words))
        logging.getLogger("absl").addHandler(handlers[-1])
        return handlers[-1].event
    yield watch
    for handler in handlers:
        logging.getLogger("absl").removeHandler(handler)


def _write_when(fifo, event, seen, value):
    """Writes ``value`` into ``fifo`` once ``event`` is set (at most 10 s
    later: then the reader is freed all the same); ``seen``: whether it was."""
    seen.append(event.wait(10))
    with open(fifo, "w") as f:
        json.dump(value, f)


def test_a_named_pipe_is_said_before_its_writer_writes_then_read(tmp_path, said):
    fifo = str(tmp_path / "boxes.json")
    os.mkfifo(fifo)
    waiting = said(f"waiting for data on the boxes file {fifo} (a named pipe)")
    seen = []
    writer = threading.Thread(target=_write_when, args=(fifo, waiting, seen, BOXES), daemon=True)
    writer.start()
    table = load_detection_file(fifo)
    writer.join(10)
    assert seen == [True], "nothing said while waiting for the pipe's writer"
    assert list(table) == ["a.jpg"] and table["a.jpg"][0].tolist() == [[1, 2, 3, 4]]


def test_a_device_is_refused_with_its_kind():
    with pytest.raises(DetectionFileError) as raised:
        load_detection_file("/dev/zero")
    assert str(raised.value) == ("boxes file /dev/zero is a character device, not a file: save "
                                 "what it gives into a file first")


def test_running_out_of_memory_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(BOXES))

    def out_of_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(json, "load", out_of_memory)
    with pytest.raises(DetectionFileError) as raised:
        load_detection_file(str(path))
    assert str(raised.value) == (
        f"boxes file {path} is too large to read: this machine's memory ran out; split it, or "
        "give the inputs' boxes only")
