"""A stdout or stderr that cannot be written (a closed pipe, a full disk,
closed): the output is lost, not the work (keras_pose.output_streams, as
cli.run enters it)."""

import logging
import os
import subprocess
import sys

import pytest

from keras_pose import cli
from tests.test_environment import IMAGE, REPO, tool_env

GONE = "stdout cannot be written"


class _Broken:
    """A stream whose reader is gone: every write and flush fails."""

    def __init__(self):
        self.writes = 0

    def write(self, text):
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self):
        return False


def _closed_pipe():
    """A pipe's writing end whose reading end is closed (``| head -1`` once
    head has left): every write to it fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


# 1. stdout, in process.

def test_a_broken_stdout_is_dropped_and_the_work_goes_on(monkeypatch, capsys):
    capsys.readouterr()
    broken = _Broken()
    monkeypatch.setattr(sys, "stdout", broken)
    done = []

    def work():
        print("the report")
        sys.stdout.write("more\n")  # As Keras' progress bar writes.
        sys.stdout.flush()
        done.append(True)
        return 0

    assert cli.run("tool.py", work) == 0
    assert done and broken.writes == 1  # Not tried again.
    assert sys.stdout is broken  # Given back after the run.
    err = capsys.readouterr().err
    assert err.count(GONE) == 1 and "Broken pipe" in err, err


def test_a_closed_stdout_is_os_devnull(monkeypatch, capsys):
    """``>&-``: sys.stdout is None; was AttributeError 'NoneType' object has
    no attribute 'write' (in Keras' progress bar)."""
    monkeypatch.setattr(sys, "stdout", None)

    def work():
        sys.stdout.write("Epoch 1/2\n")
        sys.stdout.flush()
        return 0

    assert cli.run("tool.py", work) == 0
    assert sys.stdout is not None and not sys.stdout.isatty()
    assert GONE not in capsys.readouterr().err


# 2. stderr, in process.

def test_a_broken_stderr_is_dropped_in_silence_and_the_work_goes_on(monkeypatch):
    """``2>&1 | head -3``, ``2>/dev/full``: was BrokenPipeError (ENOSPC) in
    tqdm's progress bar, evaluate.py's exit code 1 and its output removed."""
    from absl import logging as absl_logging
    broken = _Broken()
    monkeypatch.setattr(sys, "stderr", broken)
    # Handlers made now hold this stderr, as absl's holds the one of its import.
    plain, absl_handler = logging.StreamHandler(), absl_logging.ABSLHandler(None)
    logger = logging.getLogger("keras_pose.test_output_streams")
    for handler in (plain, absl_handler):
        monkeypatch.setattr(logger, "handlers", logger.handlers + [handler])
    monkeypatch.setattr(logger, "propagate", False)
    done = []

    def work():
        sys.stderr.write("\revaluating:  50%|#####     | 1/2\n")  # As tqdm writes.
        sys.stderr.flush()
        print("a warning", file=sys.stderr)
        assert plain.stream is sys.stderr and absl_handler.python_handler.stream is sys.stderr
        logger.warning("a log line")  # Was a 'Logging error' with a traceback, each line.
        done.append(True)
        return 0

    assert cli.run("tool.py", work) == 0
    assert done and broken.writes == 1  # Not tried again.
    assert sys.stderr is broken and plain.stream is broken  # Given back after the run.
    assert absl_handler.python_handler.stream is broken


def test_a_broken_stderr_and_stdout_keep_the_exit_code_of_an_error(monkeypatch):
    """A user error with nowhere to say it: its exit code all the same."""
    from keras_pose.errors import UserError
    monkeypatch.setattr(sys, "stdout", _Broken())
    monkeypatch.setattr(sys, "stderr", _Broken())

    def work():
        print("the report")
        raise UserError("no such data set")

    assert cli.run("tool.py", work) == 1


def test_a_closed_stderr_is_os_devnull_and_keeps_descriptor_2(monkeypatch):
    """``2>&-``: sys.stderr is None (was AttributeError 'NoneType' object has
    no attribute 'write'), and descriptor 2 free: the next file opened took
    it (the output folder's .lock, which collected TF's C++ log lines)."""
    saved = os.dup(2)
    monkeypatch.setattr(sys, "stderr", None)
    opened = []

    def work():
        sys.stderr.write("evaluating: 1/2\n")
        sys.stderr.flush()
        with open(os.devnull) as f:
            opened.append(f.fileno())
        return 0

    try:
        os.close(2)
        assert cli.run("tool.py", work) == 0
        assert os.path.samestat(os.fstat(2), os.stat(os.devnull))
        assert sys.stderr is not None and not sys.stderr.isatty()
    finally:
        if sys.stderr is not None:  # Its descriptor is 2: closed before pytest's comes back.
            sys.stderr.close()
        os.dup2(saved, 2)
        os.close(saved)
    assert opened and opened[0] != 2


# 3. The tools, in a subprocess.

def test_evaluate_finishes_with_a_broken_pipe_as_stderr(tiny_exported, tmp_path):
    """``evaluate.py ... 2>&1 | head -3``: was BrokenPipeError in tqdm's
    progress bar, exit code 1 and no output folder."""
    from keras_pose.data import synthetic
    root = str(tmp_path / "data")
    synthetic.ensure_dataset(root, num_train=1, num_val=3)
    stderr = _closed_pipe()
    try:
        proc = subprocess.run([sys.executable, "evaluate.py", "--checkpoint", tiny_exported[2],
                               "--dataset", "synthetic", "--data_dir", root, "--output_dir",
                               str(tmp_path / "ev"), "--set", "data.synthetic_train_images=1",
                               "--set", "data.synthetic_val_images=3"],  # The set made here.
                              cwd=REPO, env=tool_env(), stderr=stderr,
                              stdout=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(stderr)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "| AP |" in proc.stdout, proc.stdout[-3000:]  # The table, on stdout.
    assert sorted(os.listdir(tmp_path / "ev")) == [".lock", "metrics.json", "results",
                                                  "table.md"]


@pytest.mark.slow  # train.py in a subprocess (the in-process tests above cover cli.run)
def test_train_finishes_with_a_broken_pipe_as_stdout(tmp_path):
    """Was BrokenPipeError in Keras' progress bar: the training lost."""
    from keras_pose.data import synthetic
    from tests.training.conftest import FAST
    root = str(tmp_path / "data")
    synthetic.ensure_dataset(root, num_train=12, num_val=3)
    flags = ["--dataset", "synthetic", "--data_dir", root, "--model_dir", str(tmp_path / "m")]
    for item in FAST + ["train.epochs=2"]:
        flags += ["--set", item]
    stdout = _closed_pipe()
    try:
        proc = subprocess.run([sys.executable, "train.py", *flags], cwd=REPO, env=tool_env(),
                              stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(stdout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count(GONE) == 1 and "Traceback" not in proc.stderr
    assert os.path.isdir(tmp_path / "m" / "checkpoints" / "epoch_0002")  # Trained to the end.
    assert os.path.isfile(tmp_path / "m" / "saved_model" / "COMPLETE")


def test_predict_with_stdout_on_a_full_disk(tiny_exported, tmp_path):
    """``> /dev/full``: the report was written, then OSError ENOSPC at exit (code 120)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", tiny_exported[2],
                               "--input", IMAGE, "--detector", "none", "--output_dir",
                               str(tmp_path / "out")], cwd=REPO, env=tool_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count(GONE) == 1 and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert (tmp_path / "out" / "predictions.json").is_file()


def test_export_with_stdout_closed_and_a_broken_pipe(tiny_exported, tmp_path):
    """Was AttributeError (closed) and BrokenPipeError (pipe) after the export was written."""
    script = os.path.join(REPO, "scripts", "export_saved_model.py")
    for name, closed in (("closed", True), ("pipe", False)):
        stdout = None if closed else _closed_pipe()
        try:
            proc = subprocess.run(
                [sys.executable, script, "--checkpoint", tiny_exported[2], "--output",
                 str(tmp_path / name), "--noguard"], cwd=REPO, env=tool_env(), stdout=stdout,
                stderr=subprocess.PIPE, text=True, timeout=120,
                preexec_fn=(lambda: os.close(1)) if closed else None)
        finally:
            if stdout is not None:
                os.close(stdout)
        assert proc.returncode == 0, (name, proc.stderr[-3000:])
        assert proc.stderr.count(GONE) == (0 if closed else 1), proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        assert os.path.isfile(tmp_path / name / "saved_model.pb"), os.listdir(tmp_path)
