"""train.py as users run it: kill -9 and resume, clear errors."""

import json
import os
import signal
import subprocess
import sys
import time

from tests.training.conftest import REPO, fast_flags


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_kill_9_then_the_same_command_resumes(tmp_path, synthetic_root):
    model_dir = str(tmp_path / "run")
    cmd = [sys.executable, "train.py", *fast_flags(synthetic_root), "--model_dir", model_dir,
           "--set", "train.epochs=3", "--set", "train.batch_size_per_replica=4",
           "--set", "train.lr_steps=[2]", "--noexport"]
    first = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    marker = os.path.join(model_dir, "checkpoints", "epoch_0001", "state.json")
    deadline = time.time() + 240
    while not os.path.exists(marker) and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(marker), "the first epoch checkpoint never appeared"
    time.sleep(0.5)  # into the second epoch
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = json.load(open(marker))["epoch"]
    second = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from" in second.stderr
    state = json.load(open(os.path.join(model_dir, "checkpoints", "epoch_0003", "state.json")))
    assert state["epoch"] == 3 and state["step"] == 3 * state["steps_per_epoch"]
    assert done_before >= 1
    # The schedule continues where it was: epoch 3 runs at the decayed rate.
    assert "Epoch 3/3, learning rate 0.0001" in second.stderr


def test_missing_data_directory_is_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, "train.py", "--dataset", "coco", "--data_dir",
                           str(tmp_path / "nowhere"), "--model_dir", str(tmp_path / "run")],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "train.py: error: data directory" in proc.stderr and "nowhere" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_override_key_names_it(tmp_path):
    proc = subprocess.run([sys.executable, "train.py", "--set", "train.epochz=3",
                           "--model_dir", str(tmp_path / "run")],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "train.epochz" in proc.stderr
