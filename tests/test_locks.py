"""The directory lock: the holder named in its own words, a full disk."""

import errno
import os

import pytest

from keras_pose import locks
from keras_pose.locks import DirectoryInUseError, DirectoryLock


def test_a_refusal_names_the_holder_not_the_tool_asking(tmp_path):
    # A train.py run holding a folder was "another evaluate.py run".
    with DirectoryLock(str(tmp_path), run="training run", flag="--model_dir"):
        with pytest.raises(DirectoryInUseError) as info:
            with DirectoryLock(str(tmp_path), run="evaluate.py run", flag="--output_dir"):
                pass
    message = str(info.value)
    assert message.startswith(f"{tmp_path} is in use by the training run (pid {os.getpid()} "
                              "on host ")
    assert message.endswith("; wait for it to end or use another --output_dir")


def test_a_full_disk_at_the_lock_is_an_error_naming_it(tmp_path, monkeypatch):
    # The lock's os.write raised ENOSPC naming no file: a traceback in every tool.
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(locks.os, "write", full)
    with pytest.raises(OSError) as info:
        with DirectoryLock(str(tmp_path)):
            pass
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(tmp_path / ".lock"))
    monkeypatch.undo()
    with DirectoryLock(str(tmp_path)):  # the lock was released
        pass


def test_a_folder_made_for_a_run_that_wrote_nothing_goes_again(tmp_path):
    # A run stopped by a user error left output/<name>/ holding only .lock.
    made, kept = tmp_path / "made", tmp_path / "kept"
    kept.mkdir()
    for folder in (made, kept):
        with DirectoryLock(str(folder)):
            pass
    assert not made.exists() and os.listdir(kept) == [".lock"]
    with DirectoryLock(str(tmp_path / "used")):
        (tmp_path / "used" / "out.json").write_text("{}")
    assert sorted(os.listdir(tmp_path / "used")) == [".lock", "out.json"]


def test_a_lock_taken_on_a_file_its_holder_just_removed_is_taken_again(tmp_path):
    """A holder ending removes a lock folder of its own making (the export's
    .<name>.lock/): a run that opened the old file just before took a lock
    no later run sees, and a third run locked the new file too: two
    holders. The lock is taken on the file the path names."""
    lock = DirectoryLock(str(tmp_path / "out"))
    real, calls = lock._locked, []

    def locked_then_replaced():
        fd = real()
        if not calls:  # The holder's removal, between our open and our check.
            os.remove(lock.path)
            open(lock.path, "w").close()
        calls.append(fd)
        return fd
    lock._locked = locked_then_replaced
    with lock:
        assert len(calls) == 2
        with pytest.raises(DirectoryInUseError, match="is in use by the run"):
            DirectoryLock(str(tmp_path / "out")).__enter__()


def test_an_output_folder_checked_then_locked_goes_again_when_the_run_writes_nothing(tmp_path):
    """evaluate.py / predict.py / evaluate_posetrack.py check the folder is
    writable (which makes it) before the lock: after a user error the new
    folder stayed, holding only .lock. A folder that was there stays."""
    from keras_pose import cli
    made, kept = tmp_path / "made", tmp_path / "kept"
    kept.mkdir()
    for folder in (made, kept):
        with pytest.raises(ValueError):
            with cli.locked_output_dir(str(folder), run="test run"):
                raise ValueError("a user error")
    assert not made.exists() and kept.is_dir()
    # Folders made on the way to it go too (only those, and only while empty).
    with pytest.raises(ValueError):
        with cli.locked_output_dir(str(kept / "deep" / "a" / "b"), run="test run"):
            raise ValueError("a user error")
    assert "deep" not in os.listdir(kept)
    with cli.locked_output_dir(str(made), run="test run"):
        (made / "out.json").write_text("{}")
    assert (made / "out.json").read_text() == "{}"


def test_a_folder_checked_by_two_workers_at_once_is_left_to_the_one_writing(tmp_path,
                                                                            monkeypatch):
    """train.py checks --model_dir is writable, then removes the folder it
    made (the run's lock makes it again). The workers of a multi-worker job
    share --model_dir and start together: one removed the folder while the
    other was writing there ("Directory not empty", or the other's test
    file gone with the folder), and a worker stopped. The check leaves a
    folder in use, and makes again one removed under it."""
    import tempfile
    from keras_pose import cli
    model_dir = tmp_path / "runs" / "run"
    real = tempfile.NamedTemporaryFile

    def other_worker_writes(*args, **kwargs):  # The other worker, between our steps.
        (model_dir / "other_worker.json").write_text("{}")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", other_worker_writes)
    cli.check_writable_leaving_no_folder(str(model_dir), "--model_dir")
    assert os.listdir(model_dir) == ["other_worker.json"]
    calls = []

    def removed_by_the_other_check(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # The other worker's check took the new folder away.
            os.rmdir(model_dir)
        return real(*args, **kwargs)

    (model_dir / "other_worker.json").unlink()
    os.rmdir(model_dir)
    os.rmdir(model_dir.parent)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", removed_by_the_other_check)
    cli.check_writable_leaving_no_folder(str(model_dir), "--model_dir")
    assert not (tmp_path / "runs").exists()  # Made here, left empty: gone, parents too.


def test_an_empty_output_folder_is_named_as_empty():
    """``--output_dir ""`` (an unset shell variable) was "--output_dir  is
    not writable (No such file or directory)"."""
    from keras_pose import cli
    with pytest.raises(cli.OutputDirectoryError, match="^--output_dir is empty: give a folder$"):
        cli.check_writable("", "--output_dir")


def test_a_long_earlier_lock_line_is_replaced_by_the_new_holders_line_alone(tmp_path):
    """The holder line replaces a longer earlier one whole (the rest of the old
    holder's words trailing on would name a mixed-up holder)."""
    import re
    import socket
    (tmp_path / ".lock").write_text(
        "the training run (pid 999999 on host a-very-long-host-name-of-an-earlier-run."
        + "x" * 300 + ", started 2020-01-01 00:00:00)\n")
    with DirectoryLock(str(tmp_path), run="test run"):
        text = (tmp_path / ".lock").read_text()
    assert re.fullmatch(
        re.escape(f"the test run (pid {os.getpid()} on host {socket.gethostname()}, started ")
        + r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)\n", text), text


def test_without_proc_locks_a_lock_naming_another_host_is_not_live(tmp_path, monkeypatch):
    """A pid from another host's lock line is not looked up here (any process of
    that number on this host would make a dead run's folder look in use)."""
    import socket
    monkeypatch.setattr(locks, "_flocked", lambda path: None)  # No /proc/locks.
    line = "the training run (pid {} on host {}, started 2026-01-01 00:00:00)"
    here = line.format(os.getpid(), socket.gethostname())
    (tmp_path / ".lock").write_text(here + "\n")
    assert locks.live_holder(str(tmp_path)) == here  # This process: alive.
    (tmp_path / ".lock").write_text(line.format(os.getpid(), "x" + socket.gethostname()) + "\n")
    assert locks.live_holder(str(tmp_path)) is None
