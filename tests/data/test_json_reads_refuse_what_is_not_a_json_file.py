"""The JSON readers (annotation files, the data set's detections) read a
file whole: a named pipe, a device, binary data and a file beyond the
memory are said, naming the file, before (or instead of) a read that hung,
filled the memory or ended in a MemoryError traceback."""

import json
import os

import pytest

from keras_pose.data import coco_files
from keras_pose.data.coco_files import AnnotationError, read_json
from keras_pose.data.detection_results import read_detections


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_named_by_its_kind_unopened(tmp_path):
    """Was "annotation file ... does not exist" (it does)."""
    fifo = str(tmp_path / "person_keypoints_train.json")
    os.mkfifo(fifo)
    with pytest.raises(AnnotationError, match=f"^{fifo} is a named pipe \\(FIFO\\), not a file: "
                                              "save what it gives into a file first$"):
        read_json(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_named_by_its_kind_for_the_detections_too():
    """/dev/zero given as detections filled the memory."""
    with pytest.raises(AnnotationError, match="^/dev/zero is a character device, not a file"):
        read_detections("/dev/zero")


def test_a_sparse_file_is_refused_by_its_first_byte_unread(tmp_path):
    """20 GB of a sparse file's zeros was a MemoryError traceback (64 MiB
    here: a read of it would say "Expecting value")."""
    path = str(tmp_path / "person_keypoints_val.json")
    with open(path, "wb") as f:
        f.truncate(64 * 2 ** 20)
    with pytest.raises(AnnotationError, match=f"^{path} is not text \\(it begins with byte 0x00: "
                                              "binary data, or a sparse file's zeros\\)$"):
        read_json(path)


def test_json_beyond_the_memory_is_an_error_naming_the_file(tmp_path, monkeypatch):
    path = str(tmp_path / "dets.json")
    with open(path, "w") as f:
        json.dump([], f)

    def out_of_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(coco_files.json, "load", out_of_memory)
    with pytest.raises(AnnotationError, match=f"^{path} \\(0.0 GiB\\) holds more JSON than this "
                                              "machine's memory can read: is it the right file"):
        read_json(path)


def test_text_files_read_as_before(tmp_path):
    """Whitespace first, a byte-order mark, and the missing file's words."""
    path = tmp_path / "a.json"
    path.write_bytes(b"\n\t [1, 2]")
    assert read_json(str(path)) == [1, 2]
    path.write_bytes(b"\xef\xbb\xbf{\"a\": 1}")
    assert read_json(str(path)) == {"a": 1}
    with pytest.raises(FileNotFoundError, match="annotation file .*nothing.json does not exist"):
        read_json(str(tmp_path / "nothing.json"))
