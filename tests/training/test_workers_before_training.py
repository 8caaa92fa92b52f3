"""Two train.py workers on 127.0.0.1 that stop before training: a worker
lost during the set-up is named in one line, a refused run on a new
--model_dir leaves nothing behind, and a checkpoint whose schedule this run
cannot resume is said before any advice to copy it between machines."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.training.conftest import REPO, fast_flags, free_ports
from tests.training.test_distributed import _env, _one_process, _start_workers

# Worker 1: train.py whose process signals itself (argv[2], e.g. SIGKILL)
# as it enters argv[1] ("module:function"), before the function runs.
_STOPPED_AT = r"""
import importlib, os, runpy, signal, sys, time
module, name = sys.argv[1].split(":")
number = getattr(signal, sys.argv[2])
target = importlib.import_module(module)

def stop(*args, **kwargs):
    os.kill(os.getpid(), number)
    time.sleep(60)  # SIGTERM: train.py's stop (KeyboardInterrupt) comes here.

setattr(target, name, stop)
sys.argv = ["train.py", *sys.argv[3:]]
runpy.run_path("train.py", run_name="__main__")
"""

_LOST = re.compile(r"train\.py: error: lost worker 1 of the cluster before training \((its "
                   r"heartbeats stopped|its connection closed); its output says why\); nothing "
                   r"was trained: fix that, then start every worker again with the same command")


def _workers_one_stopped_at(model_dir, root, where, signal_name, extra):
    """Worker 0's train.py, and worker 1's stopped by ``signal_name`` as it
    enters ``where``: their (return codes, outputs)."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for index in range(2):
        env = _env()
        env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                       "task": {"type": "worker", "index": index}})
        flags = [*fast_flags(root), "--model_dir", model_dir, "--noexport"] + [
            a for item in extra for a in ("--set", item)]
        cmd = ([sys.executable, "train.py"] if index == 0 else
               [sys.executable, "-c", _STOPPED_AT, where, signal_name])
        procs.append(subprocess.Popen(cmd + flags, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    return [proc.returncode for proc in procs], outputs


@pytest.mark.slow  # two workers, a heartbeat timeout each
@pytest.mark.parametrize("where, signal_name", [
    ("keras_pose.training.trainer:_setup", "SIGTERM"),  # worker 0 in stop_together
    ("keras_pose.training.resume:_gathered", "SIGKILL"),  # in agreed_checkpoint
    ("keras_pose.training.trainer:check_same_weights", "SIGKILL")])
def test_a_worker_stopped_during_set_up_is_named_in_one_line(tmp_path, synthetic_root, where,
                                                             signal_name):
    """Worker 1 stopped before training (SIGTERM, kill -9): worker 0 ended
    in a 100-line UnavailableError from the next collective; now it names
    the worker in one line. (Whether the new --model_dir goes with the run
    depends on which worker made it first: a worker killed by -9 after
    making it can leave it holding .lock and worker_1/, a known limit; the
    refused run below leaves nothing.)"""
    model_dir = str(tmp_path / "run")
    extra = ["train.epochs=3", "train.steps_per_epoch=40", "train.batch_size_per_replica=4"]
    codes, outputs = _workers_one_stopped_at(model_dir, synthetic_root, where, signal_name,
                                             extra)
    assert codes[1] == (143 if signal_name == "SIGTERM" else -9), outputs[1][-2000:]
    assert codes[0] == 1 and "Traceback" not in outputs[0], outputs[0][-3000:]
    last = outputs[0].strip().splitlines()[-1]
    assert _LOST.fullmatch(last), last


@pytest.mark.slow  # two workers
def test_a_refused_run_on_a_new_model_dir_leaves_nothing(tmp_path, synthetic_root):
    """Both workers refuse (their settings differ): the new --model_dir kept
    a stale .lock (the chief found worker_1/ still there; worker 1 then took
    worker_1/ away, not knowing the folder above was the run's)."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    model_dir = str(tmp_path / "run")
    extra = ["train.steps_per_epoch=2", "train.batch_size_per_replica=4"]
    procs = _start_workers(cluster, model_dir, synthetic_root, extra,
                           own=(("train.epochs=1",), ("train.epochs=2",)))
    outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 1, output[-3000:]
        assert "the workers were started with different settings: train.epochs" in output
    assert os.listdir(tmp_path) == []  # (as the hunt saw: run/ holding .lock)


@pytest.mark.slow  # one process, then two workers twice
def test_a_checkpoint_of_another_schedule_is_refused_before_any_copy_advice(tmp_path,
                                                                            synthetic_root):
    """A run of one process (global batch 4) resumed by two workers of 4
    (global batch 8): the first error said to copy its epoch into
    worker_1/checkpoints, the second, once copied, that the schedule would
    change. Now the schedule comes first; with the batch it names, the
    copy advice."""
    model_dir = str(tmp_path / "run")
    _one_process(synthetic_root, model_dir, "train.epochs=1", "train.batch_size_per_replica=4")
    epoch = os.path.join(model_dir, "checkpoints", "epoch_0001")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    extra = ["train.epochs=2", "train.steps_per_epoch=2"]
    procs = _start_workers(cluster, model_dir, synthetic_root,
                           extra + ["train.batch_size_per_replica=4"])
    lasts = []
    for proc in procs:
        output = proc.communicate(timeout=400)[0]
        assert proc.returncode == 1 and "Traceback" not in output, output[-3000:]
        lasts.append(output.strip().splitlines()[-1])
    assert lasts[0] == (
        f"train.py: error: {epoch} was written with 2 steps per epoch and global batch 4 "
        "(1 replica x 4), this run has 2 and 8 (2 replicas x 4): the schedule would change; "
        "give --set train.batch_size_per_replica=2 (global batch 4 on this run's 2 replicas) "
        "with the same data, or use a new --model_dir"), lasts[0]
    assert lasts[1].startswith("train.py: error: worker 0 refused the run before training")
    procs = _start_workers(cluster, model_dir, synthetic_root,
                           extra + ["train.batch_size_per_replica=2"])
    for proc in procs:
        output = proc.communicate(timeout=400)[0]
        assert proc.returncode == 1 and "Traceback" not in output, output[-3000:]
        last = output.strip().splitlines()[-1]
        assert (f"copy {epoch} into {os.path.join(model_dir, 'worker_1', 'checkpoints')}"
                f"{os.sep} (worker 1's machine)") in last, last
