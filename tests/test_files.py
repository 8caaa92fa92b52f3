"""Atomic writes: the old file or the new one, never a part, nothing left."""

import json
import os

import pytest

from keras_pose.files import write_atomically, write_json


def test_write_json_creates_directories_and_replaces(tmp_path):
    path = str(tmp_path / "a" / "b.json")
    write_json(path, {"x": 1}, indent=2)
    assert json.loads(open(path).read()) == {"x": 1} and open(path).read().endswith("\n")
    write_json(path, [1, 2], fsync=True)
    assert json.load(open(path)) == [1, 2]
    assert os.listdir(tmp_path / "a") == ["b.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = str(tmp_path / "f.txt")
    write_atomically(path, "old")

    def half_then_fail(f):
        f.write("new, but only ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomically(path, half_then_fail)
    assert open(path).read() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]
    with pytest.raises(TypeError):
        write_json(str(tmp_path / "g.json"), {"x": object()})
    assert os.listdir(tmp_path) == ["f.txt"]
