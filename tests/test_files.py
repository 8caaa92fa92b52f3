"""Atomic writes of files and directories: the old copy or the new one,
never a part, nothing left."""

import json
import os
import socket

import pytest

from keras_pose.files import (write_atomically, write_directory_atomically,
                              write_files_atomically, write_json)


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


def test_binary_content_and_a_write_function_that_rejects_what_it_wrote(tmp_path):
    path = str(tmp_path / "w.bin")
    write_atomically(path, b"\x00old")

    def reject(f):
        f.write(b"new")
        f.flush()
        assert open(f.name, "rb").read() == b"new"  # f.name: the file being written
        raise ValueError("bad hash")

    with pytest.raises(ValueError, match="bad hash"):
        write_atomically(path, reject, binary=True)
    assert open(path, "rb").read() == b"\x00old" and os.listdir(tmp_path) == ["w.bin"]


def _fill(files):
    def write(tmp):
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
    return write


def test_a_directory_written_atomically_into_a_temporary_copy_is_filled_in_place(tmp_path):
    """A SavedModel (written atomically) into an export's temporary copy (too)
    was written in a temporary copy of that copy: a kill -9 there left
    out.tmp-<host>-<pid>.tmp-<host>-<pid>, which no clean-up recognized."""
    target, seen = tmp_path / "out", []

    def inner(tmp):
        seen.append(sorted(os.listdir(tmp_path)))
        _fill({"a.txt": "new"})(tmp)

    write_directory_atomically(str(target), lambda tmp: write_directory_atomically(
        tmp, inner, marker="COMPLETE"))
    suffix = f"{socket.gethostname()}-{os.getpid()}"
    assert seen == [[f"out.tmp-{suffix}"]]
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert sorted(os.listdir(target)) == ["COMPLETE", "a.txt"]


def test_directory_write_replaces_the_old_copy_only_once_the_new_is_in_place(
        tmp_path, monkeypatch):
    target = tmp_path / "out"
    write_directory_atomically(str(target), _fill({"a.txt": "old", "sub/b.txt": "old"}),
                               marker="COMPLETE")
    assert sorted(os.listdir(target)) == ["COMPLETE", "a.txt", "sub"]
    seen = []

    def fill_and_look(tmp):
        # The temporary sibling is named after this host and process.
        seen.append(os.path.basename(tmp))
        _fill({"a.txt": "new"})(tmp)

    real_replace, renames = os.replace, []

    def replace(src, dst):
        # When the new copy takes the name, the old one is still on disk.
        renames.append((os.path.basename(src), os.path.basename(dst),
                        sorted(n for n in os.listdir(tmp_path) if n.startswith("out.old-"))))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_directory_atomically(str(target), fill_and_look)
    suffix = f"{socket.gethostname()}-{os.getpid()}"
    assert seen == [f"out.tmp-{suffix}"]
    assert renames == [("out", f"out.old-{suffix}", []),
                       (f"out.tmp-{suffix}", "out", [f"out.old-{suffix}"])]
    assert sorted(os.listdir(target)) == ["a.txt"] and (target / "a.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["out"]  # neither the old copy nor a temporary


def test_failed_directory_write_keeps_the_old_copy_and_leaves_nothing(tmp_path):
    target = tmp_path / "out"
    write_directory_atomically(str(target), _fill({"a.txt": "old"}))

    def half_then_fail(tmp):
        _fill({"a.txt": "new, half"})(tmp)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_directory_atomically(str(target), half_then_fail)
    assert (target / "a.txt").read_text() == "old" and os.listdir(tmp_path) == ["out"]


def test_files_written_together_keep_their_suffixes_and_land_together(tmp_path):
    stem = tmp_path / "m"

    def save(tmps):  # As OpenVINO: given the .xml, it names the .bin itself.
        assert tmps[0].endswith(".xml") and tmps[1] == tmps[0][:-4] + ".bin"
        for tmp, text in zip(tmps, ("xml", "bin")):
            with open(tmp, "w") as f:
                f.write(text)

    write_files_atomically([f"{stem}.xml", f"{stem}.bin"], save)
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "m.xml"]
    with pytest.raises(RuntimeError):
        write_files_atomically([f"{stem}.xml", f"{stem}.bin"],
                               lambda tmps: (save(tmps), (_ for _ in ()).throw(RuntimeError())))
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "m.xml"]
    assert (tmp_path / "m.xml").read_text() == "xml"


def test_a_failed_swap_gives_the_old_directory_its_name_back(tmp_path, monkeypatch):
    target = tmp_path / "out"
    write_directory_atomically(str(target), _fill({"a.txt": "old"}))
    real_replace = os.replace

    def replace(src, dst):
        if ".tmp-" in os.path.basename(src):
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="Input/output"):
        write_directory_atomically(str(target), _fill({"a.txt": "new"}))
    assert (target / "a.txt").read_text() == "old" and os.listdir(tmp_path) == ["out"]


def test_error_messages_name_the_final_paths(tmp_path):
    from keras_pose.files import temporary_sibling, without_temporary_names
    tmp = temporary_sibling(str(tmp_path / "out"))
    message = f"cannot write {tmp}/variables or {temporary_sibling(tmp)}/x"
    assert without_temporary_names(message) == (
        f"cannot write {tmp_path / 'out'}/variables or {tmp_path / 'out'}/x")


def test_leftovers_of_dead_processes_of_this_host_are_removed_after_a_write(tmp_path):
    """kill -9 mid-write leaves <path>.tmp-<host>-<pid>/: the next complete
    write of the path removes it; another host's, a live process's, a file
    and an unrelated name stay."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = socket.gethostname()
    path = str(tmp_path / "out")
    dead = [f"{path}.tmp-{host}-{proc.pid}", f"{path}.old-{host}-{proc.pid}"]
    kept = [f"{path}.tmp-other-{proc.pid}", f"{path}.tmp-{host}-{os.getppid()}",
            f"{path}2.tmp-{host}-{proc.pid}"]
    for leftover in dead + kept:
        os.makedirs(leftover)
    open(f"{path}.tmp-{host}-{proc.pid}.txt", "w").close()
    write_directory_atomically(path, lambda tmp: open(os.path.join(tmp, "a"), "w").close())
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(p) for p in kept] + ["out", f"out.tmp-{host}-{proc.pid}.txt"])


def test_failed_writes_name_the_file_asked_for_never_a_temporary_one(tmp_path, monkeypatch):
    """A full disk's write error names no file (a traceback in the tools),
    a failed rename names the temporary file or folder."""
    import errno
    out = tmp_path / "out.json"
    out.mkdir()  # a folder where the file must go
    with pytest.raises(IsADirectoryError) as info:
        write_json(str(out), {"a": 1})
    assert info.value.filename == str(out)

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError) as info:
        write_atomically(str(tmp_path / "x.json"), full)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(tmp_path / "x.json"))

    def fill(tmp):
        raise OSError(errno.EROFS, "Read-only file system", os.path.join(tmp, "weights.h5"))
    with pytest.raises(OSError) as info:
        write_directory_atomically(str(tmp_path / "ckpt"), fill)
    assert info.value.filename == str(tmp_path / "ckpt" / "weights.h5")

    def fill_without_name(tmp):  # a library's full-disk error naming no file
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError) as info:
        write_directory_atomically(str(tmp_path / "ckpt"), fill_without_name)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(tmp_path / "ckpt"))
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_file_in_the_way_of_a_folder_is_named_as_such(tmp_path):
    """evaluate.py's `results` folder was a user's file: "File exists:
    out/results" (which file, and why is that wrong?)."""
    import pytest
    from keras_pose.files import write_atomically, write_directory_atomically
    (tmp_path / "results").write_text("mine")
    with pytest.raises(OSError) as error:
        write_atomically(str(tmp_path / "results" / "keypoints.json"), "[]")
    assert error.value.filename == str(tmp_path / "results")
    assert error.value.strerror == (f"{tmp_path}/results is a file where a folder is needed: "
                                    "move or rename it")
    with pytest.raises(OSError, match=f"{tmp_path}/results is a file where a folder is needed "
                                      rf"\(for {tmp_path}/results/a\): move or rename it"):
        write_directory_atomically(str(tmp_path / "results" / "a" / "model"), lambda d: None)
    assert (tmp_path / "results").read_text() == "mine"


def test_a_file_is_never_replaced_by_a_directory(tmp_path):
    """Renamed aside, it was then not removed (rmtree skips files) and left
    under a temporary name that a later clean-up deleted."""
    from keras_pose.files import replace_directory
    (tmp_path / "new").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(NotADirectoryError, match="notes.txt is a file, not a folder"):
        replace_directory(str(tmp_path / "new"), str(tmp_path / "notes.txt"))
    assert sorted(os.listdir(tmp_path)) == ["new", "notes.txt"]


# 250-byte names: ASCII, and UTF-8 ones whose 2- and 3-byte characters put
# the cut of a shortened name inside a character at some host name length.
_LONG_NAMES = ["x" * 246 + ".jpg", "é" * 123 + ".jpg", "水" * 82 + ".jpg",
               "aa" + "水" * 81 + "a.jpg"]


def _fits(name):
    """Within 255 bytes, and valid UTF-8 (not cut inside a character)."""
    return len(name.encode("utf-8")) <= 255


@pytest.mark.parametrize("name", _LONG_NAMES,
                         ids=["ascii", "utf8-2", "utf8-3", "utf8-3-offset"])
def test_a_long_name_that_fits_is_written_atomically(tmp_path, name):
    """predict.py's x...x.pose.jpg (249 bytes) and export_saved_model.py's
    --output <245 e's>: "File name too long", of their temporary names
    (<name>.tmp-<host>-<pid>), not of the names asked for."""
    assert len(name.encode("utf-8")) == 250
    path, seen = str(tmp_path / name), []

    def write(f):
        seen.append(f.name)
        f.write("new")

    write_atomically(path, "old")
    write_atomically(path, write)
    assert open(path).read() == "new" and os.listdir(tmp_path) == [name]
    assert _fits(os.path.basename(seen[0])) and os.path.dirname(seen[0]) == str(tmp_path)

    folder = str(tmp_path / "d" / name)
    for text in ("old", "new"):  # the second replaces the first: an .old- sibling too
        write_directory_atomically(folder, lambda tmp: (seen.append(tmp), _fill({"a.txt": text})(
            tmp)), marker="COMPLETE")
    assert os.listdir(tmp_path / "d") == [name]
    assert sorted(os.listdir(folder)) == ["COMPLETE", "a.txt"]
    assert open(os.path.join(folder, "a.txt")).read() == "new"
    assert all(_fits(os.path.basename(tmp)) for tmp in seen[1:])


@pytest.mark.parametrize("stem", ["m" * 246, "é" * 123], ids=["ascii", "utf8"])
def test_files_of_a_long_stem_written_together_keep_one_temporary_stem(tmp_path, stem):
    """OpenVINO names the .bin after the .xml it is given: both temporary
    names have one shortened stem."""
    paths = [str(tmp_path / f"{stem}.xml"), str(tmp_path / f"{stem}.bin"),
             str(tmp_path / f"{stem}.json")]
    seen = []

    def save(tmps):
        seen.extend(tmps)
        assert tmps[1] == tmps[0][:-4] + ".bin"
        for tmp in tmps:
            with open(tmp, "w") as f:
                f.write(os.path.splitext(tmp)[1])

    write_files_atomically(paths, save)
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths)
    assert open(paths[1]).read() == ".bin"
    assert all(_fits(os.path.basename(tmp)) for tmp in seen)


_KILLED_WRITE = r"""
import os, signal, sys
from keras_pose.files import write_atomically, write_directory_atomically
def die(_):
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 mid-write: the temporary copy stays
kind, path = sys.argv[1:]
write_directory_atomically(path, die) if kind == "dir" else write_atomically(path, die)
"""


def _killed_write(kind, path):
    """Runs a write of ``path`` that is killed mid-way; returns what it left."""
    import signal
    import subprocess
    import sys
    folder = os.path.dirname(path)
    before = set(os.listdir(folder))
    run = subprocess.run([sys.executable, "-c", _KILLED_WRITE, kind, path], timeout=120)
    assert run.returncode == -signal.SIGKILL
    (left,) = set(os.listdir(folder)) - before
    return os.path.join(folder, left)


@pytest.mark.parametrize("start", ["y" * 248, "é" * 124], ids=["ascii", "utf8"])
def test_a_killed_write_of_a_long_name_is_cleaned_up_for_that_path_only(tmp_path, start):
    """A long name's shortened leftover is found by the clean-up of its own
    path, never by that of another long path with the same first 249 bytes."""
    from keras_pose.files import (is_temporary_name, remove_dead_leftovers,
                                  remove_dead_leftovers_in, written_by_dead_process)
    ours, theirs = str(tmp_path / (start + "aa")), str(tmp_path / (start + "ab"))
    assert len(os.fsencode(os.path.basename(ours))) == 250
    killed = {path: [_killed_write("dir", path), _killed_write("file", path)]
              for path in (ours, theirs)}
    for left in killed[ours] + killed[theirs]:
        name = os.path.basename(left)
        assert _fits(name) and is_temporary_name(name) and written_by_dead_process(name)
    assert os.path.isdir(killed[ours][0]) and os.path.isfile(killed[ours][1])
    assert sorted(remove_dead_leftovers(ours)) == sorted(killed[ours])
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in killed[theirs])
    # A complete write of the other path removes its own leftovers.
    write_directory_atomically(theirs, _fill({"a.txt": "new"}))
    assert os.listdir(tmp_path) == [os.path.basename(theirs)]
    left = _killed_write("file", ours)
    assert remove_dead_leftovers_in(str(tmp_path)) == [left]
    assert os.listdir(tmp_path) == [os.path.basename(theirs)]


def test_killed_writes_are_removed_before_the_next_write_not_only_after_it(tmp_path):
    """Each killed export left its temporary copy (22 MB for the demo model,
    hundreds for a ResNet-152), removed only once an export finished: the
    next write starts by removing them, unless a killed replacement left
    the only copy aside (.old-, nothing at the path)."""
    path = str(tmp_path / "openvino-int8")
    first, second = _killed_write("dir", path), _killed_write("dir", path)
    seen = []

    def write(tmp):
        seen.append(sorted(os.listdir(tmp_path)))
        raise KeyboardInterrupt  # Stopped too, after the clean-up.

    with pytest.raises(KeyboardInterrupt):
        write_directory_atomically(path, write)
    assert os.path.basename(first) not in seen[0] and os.path.basename(second) not in seen[0]
    # A killed replacement: the old copy aside, nothing at the path: kept.
    left = _killed_write("dir", path)
    aside = left.replace(".tmp-", ".old-")
    os.makedirs(aside)
    with pytest.raises(KeyboardInterrupt):
        write_directory_atomically(path, write)
    assert {os.path.basename(left), os.path.basename(aside)} <= set(seen[1])


def test_a_name_that_fills_the_limit_exactly_is_kept_one_byte_more_is_shortened():
    """fitting_name: 245 bytes + 10 of room = 255, the limit, fits as it is."""
    import hashlib

    from keras_pose.files import fitting_name
    assert fitting_name("a" * 245, 10) == "a" * 245
    # 256 bytes: kept 255 - 10 - 1 ("~") - 12 (hash digits) = 232 bytes of it.
    long = "a" * 246
    assert fitting_name(long, 10) == "a" * 232 + "~" + hashlib.sha256(
        long.encode()).hexdigest()[:12]


def test_this_processs_own_temporary_names_are_dead_only_when_asked():
    """A write of this process in progress is not a dead process's leftover
    (its clean-up removed it mid-write), unless the caller says so."""
    from keras_pose.files import written_by_dead_process
    ours = f"/x/out.json.tmp-{socket.gethostname()}-{os.getpid()}"
    assert written_by_dead_process(ours) is False
    assert written_by_dead_process(ours, this_process=True) is True
