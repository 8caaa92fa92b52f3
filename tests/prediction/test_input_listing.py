"""What predict.py's --input search says of what it does not read: folders
that cannot be listed, files of every other extension, a pattern that
matches folders only. Nothing is passed over in silence."""

import errno
import os

import pytest

from keras_pose.prediction.inputs import InputError, find_inputs


def _touch(root, *names):
    for name in names:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()


@pytest.fixture
def unlistable(monkeypatch):
    """``unlistable(folder)``: listing ``folder`` fails as without read
    permission (chmod 000; the tests run as root, whom permissions do not
    stop). os.walk, glob and the search list folders with os.scandir."""
    denied, scandir = set(), os.scandir

    def refusing(path="."):
        if os.path.abspath(path) in denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return scandir(path)
    monkeypatch.setattr(os, "scandir", refusing)
    return lambda folder: denied.add(os.path.abspath(folder))


def test_folders_that_cannot_be_listed_are_named(tmp_path, unlistable):
    """trip/day2 without read permission: its photos were dropped without a
    word ("1 input(s) processed")."""
    _touch(tmp_path, "trip/a.jpg", "trip/day2/b.jpg", "trip/day3/c.jpg")
    unlistable(tmp_path / "trip" / "day2")
    items, note = find_inputs(str(tmp_path / "trip"))
    assert [item.key for item in items] == ["a.jpg", "day3/c.jpg"]
    assert note == (f"1 folder(s) cannot be listed, their files not searched "
                    f"({tmp_path / 'trip' / 'day2'}: Permission denied): check their permissions")
    # A glob loses them too: one that lists trip/*, and one that lists all below trip.
    for pattern in ("trip/*/*.jpg", "trip/**/*.jpg", "trip/**"):
        items, note = find_inputs(str(tmp_path / pattern))
        assert f"{tmp_path / 'trip' / 'day2'}: Permission denied" in note, pattern
    # A glob that lists no such folder says nothing of it.
    assert find_inputs(str(tmp_path / "trip" / "*.jpg"))[1] == ""


def test_an_input_folder_that_cannot_be_listed_is_an_error_naming_why(tmp_path, unlistable):
    """Was "no image or video found"."""
    _touch(tmp_path, "day2/b.jpg")
    unlistable(tmp_path / "day2")
    for recursive in (True, False):
        with pytest.raises(InputError, match=r"day2: the folder cannot be listed \(Permission "
                                             r"denied\): check its permissions$"):
            find_inputs(str(tmp_path / "day2"), recursive)


def test_files_of_every_extension_not_read_are_counted(tmp_path):
    """A camera's .pef and a browser's .pjpeg were passed over in silence
    (the note named only the extensions of its lists)."""
    _touch(tmp_path, "a.jpg", "b.pef", "c.pjpeg", "d.qt", "notes.txt", "more.txt", "README")
    note = find_inputs(str(tmp_path))[1]
    assert note.startswith("1 .pef file(s) not read (the image formats read are JPEG")
    assert "; 1 .pjpeg file(s) not read (JPEGs and PNGs named as browsers save them): rename " \
        "them .jpg or .png, or name one on its own; " in note
    assert "; 1 .qt file(s) not read (the videos read are .mp4" in note
    assert note.endswith("; 3 other file(s) not read, not images or videos by their extension "
                         "(.txt 2, (no extension) 1)")
    # A file named on its own is read, whatever its name: nothing to note.
    assert find_inputs(str(tmp_path / "notes.txt"))[1] == ""


def test_an_earlier_runs_json_files_are_not_counted(tmp_path):
    """``--input .`` run again with the default --output_dir predictions:
    its own predictions.json is no file of the user's left unread."""
    _touch(tmp_path, "a.jpg", "predictions/predictions.json", "predictions/a.pose.jpg",
           "predictions/clip.mp4.frames.json", "predictions/notes.txt", "b.json")
    assert find_inputs(str(tmp_path))[1].endswith(
        "2 other file(s) not read, not images or videos by their extension (.json 1, .txt 1)")


def test_a_pattern_that_matches_folders_only_says_so(tmp_path):
    """``--input 'photos/dir*'``: "no image or video found"."""
    _touch(tmp_path, "dir1/x.jpg", "dir2/x.jpg", "dir.txt")
    pattern = str(tmp_path / "dir*")
    with pytest.raises(InputError) as error:
        find_inputs(pattern)
    assert str(error.value) == (
        f"--input {pattern}: no image or video found; the pattern matches 2 folder(s) "
        f"({tmp_path / 'dir1'}, {tmp_path / 'dir2'}), whose files it does not search: give "
        f"'{pattern}{os.sep}**' to search them, or one folder; 1 other file(s) not read, not "
        "images or videos by their extension (.txt 1)")
    assert [item.key for item in find_inputs(f"{pattern}{os.sep}**")[0]] == ["dir1/x.jpg",
                                                                            "dir2/x.jpg"]
