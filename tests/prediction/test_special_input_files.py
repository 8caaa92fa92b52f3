"""Special files (named pipes, devices, sockets) among predict.py's inputs:
said with their kind, never passed over in silence nor taken for missing.
A named pipe or a device named x.jpg in an --input folder was dropped
without a word; --input given one (<(cat x.jpg), /dev/null) said "no image
or video found"; a frame that became one said "file does not exist"."""

import os
import socket

import pytest

from keras_pose.data.images import ImageReadError, read_image
from keras_pose.prediction.inputs import InputError, find_inputs

SAVE = "not a file: save what it gives into a file first"


def test_special_files_in_a_folder_are_named_with_their_kind(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    os.mkfifo(tmp_path / "b.jpg")
    os.symlink(os.devnull, tmp_path / "c.png")
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(tmp_path / "d.mp4"))
        items, note = find_inputs(str(tmp_path))
    finally:
        listener.close()
    assert [item.key for item in items] == ["a.jpg"]
    assert note == (
        f"3 special file(s) left out, not files ({tmp_path / 'b.jpg'}: a named pipe (FIFO), "
        f"{tmp_path / 'c.png'}: a character device, {tmp_path / 'd.mp4'}: a socket): save "
        "what they give into files first")


def test_a_glob_names_the_special_files_it_matches(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    os.mkfifo(tmp_path / "b.jpg")
    items, note = find_inputs(str(tmp_path / "*.jpg"))
    assert [item.key for item in items] == ["a.jpg"]
    assert note == (f"1 special file(s) left out, not files ({tmp_path / 'b.jpg'}: a named pipe "
                    "(FIFO)): save what they give into files first")


@pytest.mark.parametrize("kind", ["named pipe", "device", "process substitution"])
def test_input_given_a_special_file_names_its_kind(tmp_path, kind):
    if kind == "named pipe":
        spec, said = str(tmp_path / "x.jpg"), "a named pipe (FIFO)"
        os.mkfifo(spec)
    elif kind == "device":
        spec, said = os.devnull, "a character device"
    else:  # What <(cat x.jpg) gives: /dev/fd/N, a pipe.
        read, write = os.pipe()
        spec, said = f"/dev/fd/{read}", "a named pipe (FIFO)"
    try:
        with pytest.raises(InputError) as raised:
            find_inputs(spec)
    finally:
        if kind == "process substitution":
            os.close(read)
            os.close(write)
    assert str(raised.value) == f"--input {spec} is {said}, {SAVE}"


def test_an_image_that_is_a_named_pipe_is_refused_with_its_kind(tmp_path):
    """A frame replaced by a pipe after the listing: not "does not exist"."""
    os.mkfifo(tmp_path / "frame.jpg")
    with pytest.raises(ImageReadError) as raised:
        read_image(str(tmp_path / "frame.jpg"))
    assert raised.value.reason == f"is a named pipe (FIFO), {SAVE}"
