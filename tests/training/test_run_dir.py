"""Run directories: optimizer state by name, atomic checkpoints, best/, lock."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_pose.checkpoint import CheckpointError, latest_epoch_checkpoint
from keras_pose.training import run_dir
from keras_pose.training.trainer import make_optimizer


def _model_and_optimizer(config, reverse=False):
    """A small named network (the run directory does not care which) and
    the recipe's optimizer built on it."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.Conv2DTranspose(3, 3, name="head_deconv1")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="head_final_conv")(x))
    optimizer = make_optimizer(config)
    variables = list(model.trainable_variables)
    optimizer.build(variables[::-1] if reverse else variables)
    return model, optimizer


def _state(epoch):
    return run_dir.TrainState(epoch=epoch, step=epoch * 5, steps_per_epoch=5, global_batch=8)


def test_adam_slots_are_restored_by_variable_name(tmp_path, fast_config):
    model, optimizer = _model_and_optimizer(fast_config)
    for i, variable in enumerate(optimizer.variables):  # a distinct value per slot
        variable.assign(np.full(variable.shape, i + 1.5, variable.dtype.name
                                if hasattr(variable.dtype, "name") else variable.dtype))
    saved = {v.path.split("/", 1)[1]: v.numpy().copy() for v in optimizer.variables}
    path = run_dir.save_epoch_checkpoint(str(tmp_path), model, optimizer, fast_config, _state(1))
    # The same variables in the opposite order: positions differ, names do not.
    model2, optimizer2 = _model_and_optimizer(fast_config, reverse=True)
    assert [v.path.split("/")[1] for v in optimizer2.variables] != list(saved)
    state = run_dir.restore_epoch_checkpoint(path, model2, optimizer2)
    assert state == _state(1)
    for variable in optimizer2.variables:
        name = variable.path.split("/", 1)[1]
        np.testing.assert_array_equal(variable.numpy(), saved[name], err_msg=name)
    for a, b in zip(model.weights, model2.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_checkpoint_records_how_many_workers_wrote_it(tmp_path, fast_config):
    """The workers resuming a run tell a worker killed during its save from
    a run continued as one process by it; a state.json of an earlier
    version, without it, reads as 0 (unknown)."""
    model, optimizer = _model_and_optimizer(fast_config)
    state = run_dir.TrainState(epoch=1, step=5, steps_per_epoch=5, global_batch=8, workers=2)
    path = run_dir.save_epoch_checkpoint(str(tmp_path), model, optimizer, fast_config, state)
    assert json.load(open(os.path.join(path, "state.json")))["workers"] == 2
    assert run_dir.restore_epoch_checkpoint(path, model, optimizer).workers == 2
    with open(os.path.join(path, "state.json"), "w") as f:  # as an earlier keras-pose wrote it
        json.dump({"epoch": 1, "step": 5, "steps_per_epoch": 5, "global_batch": 8}, f)
    assert run_dir.read_state(path).workers == 0
    assert run_dir.restore_epoch_checkpoint(path, model, optimizer) == _state(1)


def test_a_damaged_epoch_checkpoint_is_found_without_a_model(tmp_path, fast_config):
    """The workers of a run check their own copies before building the model
    together: one refusing in the middle of it left the others in training,
    told to resume from a checkpoint that failed again."""
    model, optimizer = _model_and_optimizer(fast_config)
    path = run_dir.save_epoch_checkpoint(str(tmp_path), model, optimizer, fast_config, _state(1))
    run_dir.check_epoch_files(path)  # Intact.
    for name, expected in (("optimizer_state.npz", "optimizer_state.npz cannot be read"),
                           ("model.weights.h5", "model.weights.h5 is damaged")):
        file = os.path.join(path, name)
        intact = open(file, "rb").read()
        with open(file, "r+b") as f:
            f.truncate(len(intact) // 2)
        with pytest.raises(CheckpointError, match=expected):
            run_dir.check_epoch_files(path)
        with open(file, "wb") as f:
            f.write(intact)
    run_dir.check_epoch_files(path)


def test_optimizer_state_that_does_not_fit_is_an_error(tmp_path, fast_config):
    model, optimizer = _model_and_optimizer(fast_config)
    path = run_dir.save_epoch_checkpoint(str(tmp_path), model, optimizer, fast_config, _state(1))
    state_file = os.path.join(path, run_dir.OPTIMIZER_FILE)
    with np.load(state_file) as data:
        arrays = {k: data[k] for k in data.files}
    name = next(k for k in arrays if k.endswith("_momentum"))
    np.savez(state_file, **{k: v for k, v in arrays.items() if k != name}, surplus=np.ones(2))
    with pytest.raises(CheckpointError, match=f"missing {name}.*unexpected surplus"):
        run_dir.restore_epoch_checkpoint(path, *_model_and_optimizer(fast_config))
    with open(state_file, "r+b") as f:  # truncated by a crash of an older writer
        f.truncate(100)
    with pytest.raises(CheckpointError, match="optimizer_state.npz cannot be read"):
        run_dir.restore_epoch_checkpoint(path, *_model_and_optimizer(fast_config))
    os.rename(state_file, os.path.join(path, run_dir.LEGACY_OPTIMIZER_FILE))
    with pytest.raises(CheckpointError, match="by position"):
        run_dir.restore_epoch_checkpoint(path, *_model_and_optimizer(fast_config))


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, fast_config, monkeypatch):
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    good = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(1))

    def no_space(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save_weights", no_space)
    with pytest.raises(run_dir.CheckpointWriteError, match="disk is full.*epoch_0001 is intact"):
        run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(2))
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0001"]
    assert latest_epoch_checkpoint(model_dir) == good


def _dead_pid():
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_checkpoints_without_their_marker_stop_the_run_and_are_never_deleted(tmp_path,
                                                                                fast_config):
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    good = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(1))
    copied = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(2))
    os.remove(os.path.join(copied, "COMPLETE"))  # restored from a backup without it
    ours = f"{copied}.tmp-{socket.gethostname()}-{_dead_pid()}"  # a dead run's write
    theirs = f"{copied}.tmp-otherhost-{os.getpid()}"
    for path in (ours, theirs):
        os.makedirs(path)
    run_dir.prune(model_dir, keep=1)
    assert os.path.isfile(os.path.join(copied, "model.weights.h5"))  # never deleted
    assert not os.path.exists(ours) and os.path.isdir(theirs)
    assert latest_epoch_checkpoint(model_dir) == good  # never used
    with pytest.raises(CheckpointError, match=r"epoch_0002 is incomplete \(no COMPLETE marker; "
                                              r"it has model.weights.h5\).*touch <dir>/COMPLETE"
                                              r".*move it out"):
        run_dir.check_checkpoints(model_dir)
    open(os.path.join(copied, "COMPLETE"), "w").close()  # the user trusts it
    run_dir.check_checkpoints(model_dir)
    assert latest_epoch_checkpoint(model_dir) == copied


def test_a_pruned_epoch_made_again_by_an_export_into_it_is_removed(tmp_path, fast_config,
                                                                     caplog):
    """A --runtime export into an epoch checkpoint that training pruned
    meanwhile made its folder again (exports/ only): the next train.py
    refused it as copied by hand, with "touch COMPLETE" for advice, and
    evaluate.py / predict.py on the model directory too."""
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    good = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(2))
    pruned = tmp_path / "checkpoints" / "epoch_0001"
    (pruned / "exports" / "onnxruntime-fp32.tmp-h-1").mkdir(parents=True)
    (tmp_path / "checkpoints" / "epoch_0000").mkdir()  # Emptied, not removed.
    from keras_pose.checkpoint import resolve_checkpoint
    assert resolve_checkpoint(model_dir).path == good
    for leftover in (pruned, tmp_path / "checkpoints" / "epoch_0000"):  # Given by name.
        with pytest.raises(CheckpointError, match=f"{leftover}/ is an epoch checkpoint that "
                           f"training removed.*one of its checkpoints: {good}$"):
            resolve_checkpoint(str(leftover) + "/")
    run_dir.check_checkpoints(model_dir)
    assert os.listdir(tmp_path / "checkpoints") == ["epoch_0002"]
    assert "Removed " + str(pruned) + ": an epoch checkpoint that training pruned" in caplog.text
    hand = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(3))
    os.remove(os.path.join(hand, "COMPLETE"))  # Anything else without the marker: still refused.
    with pytest.raises(CheckpointError, match="epoch_0003 is incomplete"):
        run_dir.check_checkpoints(model_dir)


def _validated(model_dir, model, optimizer, config, values):
    paths = []
    for epoch, value in enumerate(values, 1):
        path = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, config, _state(epoch))
        run_dir.record_validation(path, "AP", value)
        paths.append(path)
    return paths


def test_a_full_disk_at_best_says_the_epoch_is_saved_and_what_to_run(tmp_path, fast_config,
                                                                     monkeypatch):
    import errno
    model, optimizer = _model_and_optimizer(fast_config)
    paths = _validated(str(tmp_path), model, optimizer, fast_config, [0.3])

    def full(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    monkeypatch.setattr(run_dir, "write_checkpoint_dir", full)
    with pytest.raises(OSError, match=r"cannot write .*/best: .*No space left on device.*; "
                                      r"epoch 1 is saved in .*epoch_0001: once the disk has "
                                      r"room, run the same command again"):
        run_dir.save_best(str(tmp_path), paths[0], 1, "AP", 0.3)


def test_best_is_repaired_only_from_epochs_validated_as_it_was(tmp_path, fast_config):
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    paths = _validated(model_dir, model, optimizer, fast_config, [0.3, 0.9])
    run_dir.record_validation(paths[0], "AP", 0.3, "val | flip test")
    run_dir.record_validation(paths[1], "AP", 0.9, "val | no flip test")
    run_dir.save_best(model_dir, paths[0], 1, "AP", 0.3, "val | flip test")
    assert run_dir.pending_best(model_dir) is None  # 0.9 without flip: not comparable
    run_dir.record_validation(paths[1], "AP", 0.9, "val | flip test")
    assert run_dir.pending_best(model_dir)[:1] == (2,)


def test_an_epoch_validated_before_how_was_recorded_can_still_become_best(tmp_path,
                                                                          fast_config):
    """An epoch whose validation.json (an earlier version) says nothing of how
    it was validated, and beats best/, is copied to best/ on repair."""
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    paths = _validated(model_dir, model, optimizer, fast_config, [0.3, 0.9])
    run_dir.record_validation(paths[0], "AP", 0.3, "val | flip test")
    run_dir.save_best(model_dir, paths[0], 1, "AP", 0.3, "val | flip test")
    with open(os.path.join(paths[1], run_dir.VALIDATION_FILE), "w") as f:
        json.dump({"metric": "AP", "value": 0.9}, f)  # No "how": written before it was.
    assert run_dir.pending_best(model_dir) == (2, paths[1], 0.9)


def test_best_is_repaired_and_its_epoch_never_pruned_before(tmp_path, fast_config):
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    paths = _validated(model_dir, model, optimizer, fast_config, [0.3, 0.5, 0.4, 0.2])
    run_dir.save_best(model_dir, paths[0], 1, "AP", 0.3)
    # A crash after epoch 2's validation, before its copy to best/: pruning
    # to one checkpoint keeps epoch 2 (pending) besides the newest.
    run_dir.prune(model_dir, keep=1)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0002", "epoch_0004"]
    run_dir.repair_best(model_dir, "AP")
    assert run_dir.best_record(model_dir) == {"epoch": 2, "metric": "AP", "value": 0.5, "how": ""}
    run_dir.prune(model_dir, keep=1)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0004"]
    # An interrupted best/ write counts as no best/: repaired from the epochs.
    os.remove(tmp_path / "best" / "COMPLETE")
    assert run_dir.best_record(model_dir) is None
    paths = _validated(model_dir, model, optimizer, fast_config, [0.1, 0.2, 0.3, 0.25])
    run_dir.repair_best(model_dir, "AP")
    assert run_dir.best_record(model_dir)["epoch"] == 3


LOCK_HOLDER = r"""
import sys, time
from keras_pose.training.run_dir import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow  # kill -9 of a subprocess
def test_a_second_run_is_refused_and_a_killed_run_releases_the_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(run_dir.RunDirError, match=rf"in use by the training run "
                                                      rf"\(pid {holder.pid} on host"):
            with run_dir.RunLock(str(tmp_path)):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    time.sleep(0.1)
    with run_dir.RunLock(str(tmp_path)):  # released by the kernel
        content = open(tmp_path / ".lock").read()
    assert f"pid {os.getpid()}" in content and json  # the holder is recorded


def test_a_lock_that_is_a_link_is_refused_and_its_target_untouched(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("precious\n")
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    for target in (outside, tmp_path / "nothing_there"):  # a file, a dangling link
        os.symlink(target, model_dir / ".lock")
        with pytest.raises(run_dir.RunDirError, match=rf"{model_dir}/.lock is a symbolic link "
                                                      rf"\(to {target}\).*rm "):
            with run_dir.RunLock(str(model_dir)):
                pass
        os.remove(model_dir / ".lock")
    assert outside.read_text() == "precious\n" and not (tmp_path / "nothing_there").exists()
    os.mkfifo(model_dir / ".lock")  # would block a plain open
    with pytest.raises(run_dir.RunDirError, match="not a regular file"):
        with run_dir.RunLock(str(model_dir)):
            pass


def test_an_export_cut_short_by_a_dead_run_is_removed_and_others_kept(tmp_path):
    # kill -9 during train.py's final export left saved_model.tmp-<host>-<pid>/ for good.
    dead = f"{socket.gethostname()}-{_dead_pid()}"
    ours = [tmp_path / f"saved_model.tmp-{dead}", tmp_path / f"saved_model.old-{dead}"]
    theirs = tmp_path / f"saved_model.tmp-otherhost-{os.getpid()}"
    for path in (*ours, theirs, tmp_path / "saved_model"):
        os.makedirs(path)
    run_dir.finish_interrupted_writes(str(tmp_path))
    assert not any(os.path.exists(p) for p in ours)
    assert os.path.isdir(theirs) and os.path.isdir(tmp_path / "saved_model")


def test_epochs_past_9999_are_newer_than_9999(tmp_path, fast_config):
    """epoch_10000 has five digits: it is still an epoch, the newest one,
    and pruning removes epoch_9998 and keeps it (before, it was invisible:
    a resume restarted from epoch 9999 and pruning never removed 9998)."""
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    paths = [run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(e))
             for e in (9998, 9999, 10000)]
    assert os.path.basename(paths[-1]) == "epoch_10000"
    assert latest_epoch_checkpoint(model_dir) == paths[-1]
    run_dir.prune(model_dir, keep=2)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_10000", "epoch_9999"]
    os.remove(os.path.join(paths[-1], "COMPLETE"))
    with pytest.raises(CheckpointError, match="epoch_10000 is incomplete"):
        run_dir.check_checkpoints(model_dir)


def test_a_disk_without_room_for_the_checkpoint_is_refused_before_writing(
        tmp_path, fast_config, monkeypatch):
    """HDF5 failing mid-write on a full disk left h5py objects whose clean-up
    crashed train.py (segmentation fault, exit 139) after its one-line error
    (seen on a 64 KB tmpfs); the message also began with '[Errno 28]'."""
    import collections
    model, optimizer = _model_and_optimizer(fast_config)
    model_dir = str(tmp_path)
    good = run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(1))
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(run_dir.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 4096))
    with pytest.raises(run_dir.CheckpointWriteError) as info:
        run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config, _state(2))
    assert str(info.value).startswith(f"cannot write checkpoint {tmp_path}/checkpoints/"
                                      "epoch_0002: the disk is full (0.0 MB free, about ")
    assert str(info.value).endswith(f"the previous checkpoint {good} is intact")
    assert info.value.errno == errno.ENOSPC
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0001"]


def test_an_unfinished_run_is_told_from_a_finished_one(tmp_path, fast_config):
    import dataclasses
    model, optimizer = _model_and_optimizer(fast_config)
    assert run_dir.unfinished(str(tmp_path)) is None  # No checkpoint.
    planned = dataclasses.replace(fast_config, train=dataclasses.replace(fast_config.train,
                                                                         epochs=3))
    run_dir.save_epoch_checkpoint(str(tmp_path), model, optimizer, planned, _state(1))
    assert run_dir.unfinished(str(tmp_path)) == (1, 3)
    run_dir.save_epoch_checkpoint(str(tmp_path), model, optimizer, planned, _state(3))
    assert run_dir.unfinished(str(tmp_path)) is None


def test_a_run_of_several_workers_keeps_one_more_epoch(tmp_path, fast_config):
    """keep_checkpoints=1 with two workers: a worker killed before its last
    save resumes from the epoch before, which the chief had pruned: "worker
    0 has no complete copy of it" (the advice retrained an epoch)."""
    from keras_pose.training.callbacks import Prune
    model, optimizer = _model_and_optimizer(fast_config)
    for workers, kept in ((1, ["epoch_0003"]), (2, ["epoch_0002", "epoch_0003"])):
        model_dir = str(tmp_path / f"workers{workers}")
        for epoch in (1, 2, 3):
            run_dir.save_epoch_checkpoint(model_dir, model, optimizer, fast_config,
                                          _state(epoch))
        Prune(model_dir, keep=1, workers=workers).on_epoch_end(2)
        assert sorted(os.listdir(os.path.join(model_dir, "checkpoints"))) == kept
