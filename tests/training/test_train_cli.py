"""train.py as users run it: a second run, Ctrl-C, kill -9, resume, clear errors."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from keras_pose.checkpoint import write_checkpoint_dir
from tests.training.conftest import REPO, fast_flags


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _wait_for(path, proc, seconds=240):
    deadline = time.time() + seconds
    while not os.path.exists(path) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(path), f"{path} never appeared"


@pytest.mark.slow  # train.py subprocesses, Ctrl-C and kill -9
def test_second_run_ctrl_c_kill_9_and_resume(tmp_path, synthetic_root):
    model_dir = str(tmp_path / "run")
    # Epochs of 100 steps: with 25 (1.5 s on a 2-core Zen 5) the third run
    # could end before its kill -9.
    cmd = [sys.executable, "train.py", *fast_flags(synthetic_root), "--model_dir", model_dir,
           "--set", "train.epochs=4", "--set", "train.batch_size_per_replica=4",
           "--set", "train.steps_per_epoch=100", "--set", "train.lr_steps=[3]", "--noexport"]
    epoch = lambda n: os.path.join(model_dir, "checkpoints", f"epoch_{n:04d}")  # noqa: E731
    # Ctrl-C reaches train.py even when the test runs in a background job,
    # whose children inherit SIGINT ignored (the shell's rule).
    first = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for(os.path.join(model_dir, "config.json"), first)
    # A second run on the same directory is refused at once, naming the holder.
    second = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                            timeout=120)
    assert second.returncode == 1, second.stderr[-2000:]
    assert f"in use by the training run (pid {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    # Ctrl-C: a clean stop that says where to resume from.
    _wait_for(os.path.join(epoch(1), "COMPLETE"), first)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "run the same command again to resume" in err
    named = err.split("the last complete checkpoint is ")[1].split(":")[0]
    assert os.path.isfile(os.path.join(named, "COMPLETE"))
    # kill -9 in the middle of an epoch, then the same command resumes.
    third = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    done = max(int(n[-4:]) for n in os.listdir(os.path.join(model_dir, "checkpoints"))
               if n.startswith("epoch_") and os.path.isfile(os.path.join(epoch(int(n[-4:])),
                                                                         "COMPLETE")))
    _wait_for(os.path.join(epoch(done + 1), "COMPLETE"), third)
    third.send_signal(signal.SIGKILL)
    third.wait()
    last = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert last.returncode == 0, last.stderr[-3000:]
    assert "Resuming from" in last.stderr
    state = json.load(open(os.path.join(epoch(4), "state.json")))
    assert state["epoch"] == 4 and state["step"] == 4 * 100
    # The schedule continued where it was: epoch 4 ran at the decayed rate.
    assert "learning rate 0.0001" in last.stderr.split("Epoch 4:")[-1].splitlines()[0]


@pytest.mark.slow  # train.py in a subprocess
def test_sigterm_stops_training_as_ctrl_c_does(tmp_path, synthetic_root):
    """``kill <pid>`` (a scheduler's stop): a clean stop naming the checkpoint
    to resume from, exit code 143."""
    model_dir = str(tmp_path / "run")
    cmd = [sys.executable, "train.py", *fast_flags(synthetic_root), "--model_dir", model_dir,
           "--set", "train.epochs=50", "--set", "train.batch_size_per_replica=4",
           "--set", "train.steps_per_epoch=20", "--noexport"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(os.path.join(model_dir, "checkpoints", "epoch_0001", "COMPLETE"), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "train.py: stopped: interrupted (SIGTERM); the last complete checkpoint is " in err
    assert "Traceback" not in err


def test_ctrl_c_at_the_start_of_a_write_finishes_the_write_first(tmp_path, ctrl_c_raises):
    def write(tmp):
        os.kill(os.getpid(), signal.SIGINT)  # arrives as the write begins
        with open(os.path.join(tmp, "model.weights.h5"), "w") as f:
            f.write("weights")

    with pytest.raises(KeyboardInterrupt):
        write_checkpoint_dir(str(tmp_path / "ckpt"), write)
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["COMPLETE", "model.weights.h5"]
    assert os.listdir(tmp_path) == ["ckpt"]  # no temporary left


@pytest.fixture
def run_train(run_script):
    return run_script("train.py")


def test_missing_data_directory_is_one_clear_line(run_train, tmp_path):
    code, _, err = run_train(["--dataset", "coco", "--data_dir", str(tmp_path / "nowhere"),
                           "--model_dir", str(tmp_path / "run")])
    assert code == 1
    assert "train.py: error: data directory" in err and "nowhere" in err
    assert "Traceback" not in err


def test_main_returns_its_code_in_process_and_the_command_exits_with_it(
        script_module, capsys, tmp_path):
    """A notebook's ``train.main`` after a failed run gets the exit code
    back (was: ``os._exit``, the kernel lost); the command still leaves
    with it."""
    module = script_module(os.path.join(REPO, "train.py"), "train_script")
    args = ["--dataset", "coco", "--data_dir", str(tmp_path / "nowhere"),
            "--model_dir", str(tmp_path / "run")]
    module.FLAGS.unparse_flags()
    module.FLAGS(["train.py", *args])
    assert module.main(["train.py"]) == 1
    assert "data directory" in capsys.readouterr().err
    command = subprocess.run([sys.executable, "train.py", *args], cwd=REPO, env=_env(),
                             capture_output=True, text=True, timeout=240)
    assert command.returncode == 1 and "data directory" in command.stderr


def test_bad_settings_and_unwritable_model_dirs_are_one_clear_line(run_train, tmp_path):
    for flags, message in (
            (["--set", "train.epochz=3"], "train.epochz"),
            (["--set", "train.batch_size_per_replica=0"], "batch_size_per_replica must be >= 1"),
            (["--set", "train.epochs=-1"], "train.epochs must be >= 0")):
        code, _, err = run_train([*flags, "--model_dir", str(tmp_path / "run")])
        assert code == 1 and message in err, err[-2000:]
        assert "Traceback" not in err
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    code, _, err = run_train(["--model_dir", str(blocked / "run")])
    assert code == 1 and f"--model_dir {blocked}/run cannot be made: {blocked} is a file" in err
    assert "[Errno" not in err  # the message alone
    code, _, err = run_train(["--model_dir", str(blocked)])  # was "... not writable (File exists)"
    assert code == 1 and f"--model_dir {blocked} is a file, not a directory: give a folder" in err


def test_a_stopped_or_failed_run_leaves_no_autograph_files(script_module, monkeypatch,
                                                           tmp_path):
    """os._exit skips TF's atexit removal of the .py files autograph writes
    in $TMPDIR: each stopped or failed run left one, never removed."""
    import tensorflow as tf
    module = script_module(os.path.join(REPO, "train.py"), "train_script")

    @tf.function
    def converted(x):
        if x > 0:  # Control flow: autograph writes the function's file.
            return x + 1
        return x

    converted(tf.constant(1))
    files = [getattr(m, "__file__", None) for n, m in list(sys.modules.items())
             if n.startswith("__autograph_generated_file")]
    assert files and all(os.path.isfile(f) for f in files)
    left = []
    monkeypatch.setattr(module, "main", lambda argv: 1)
    monkeypatch.setattr(module.os, "_exit", lambda code: left.extend(
        f for f in files if os.path.exists(f)))
    module._main_leaving(["train.py"])
    assert left == []
