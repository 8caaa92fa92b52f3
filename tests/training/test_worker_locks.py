"""The locks of a multi-worker run that stops before writing anything: the
chief locks ``--model_dir``, worker 1 ``--model_dir/worker_1``, either may
make ``--model_dir`` and either may end first. A new ``--model_dir`` went
with neither (its ``.lock`` stayed: the chief found ``worker_1/`` still there,
worker 1 did not know the folder was the run's); a folder the user made
stays. The two processes are two locks here: ``flock`` locks of two opens of
one file exclude each other in one process as in two."""

import os

import pytest

from keras_pose.training.run_dir import RunLock


def _model_dir_and_worker(tmp_path):
    """A new --model_dir in the user's folder runs/, and worker 1's folder."""
    model_dir = tmp_path / "runs" / "new"
    model_dir.parent.mkdir()
    return model_dir, model_dir / "worker_1"


@pytest.mark.parametrize("makes", ["chief", "worker"])
@pytest.mark.parametrize("ends_first", ["chief", "worker"])
def test_a_new_model_dir_of_workers_that_wrote_nothing_goes(tmp_path, makes, ends_first):
    model_dir, worker = _model_dir_and_worker(tmp_path)
    locks = {"chief": RunLock(str(model_dir)), "worker": RunLock(str(worker))}
    other = {"chief": "worker", "worker": "chief"}
    locks[makes].__enter__()
    locks[other[makes]].__enter__()
    assert sorted(os.listdir(model_dir)) == [".lock", "worker_1"]
    locks[ends_first].__exit__(None, None, None)
    locks[other[ends_first]].__exit__(None, None, None)
    assert os.listdir(tmp_path / "runs") == []  # Nothing left of the run; runs/ stays.


@pytest.mark.parametrize("ends_first", ["chief", "worker"])
def test_a_model_dir_the_user_made_stays(tmp_path, ends_first):
    """The workers made worker_1/ (it goes), not the folder given."""
    model_dir, worker = _model_dir_and_worker(tmp_path)
    model_dir.mkdir()
    locks = {"chief": RunLock(str(model_dir)), "worker": RunLock(str(worker))}
    locks["chief"].__enter__()
    locks["worker"].__enter__()
    locks[ends_first].__exit__(None, None, None)
    locks["worker" if ends_first == "chief" else "chief"].__exit__(None, None, None)
    assert os.listdir(model_dir) == [".lock"]  # As a run of one process leaves it.


@pytest.mark.parametrize("ends_first", ["chief", "worker"])
def test_a_new_model_dir_holding_a_file_stays_with_the_file(tmp_path, ends_first):
    """A file in the folder (written by the chief, or the user): the folder
    and the file stay; the worker's empty folder goes."""
    model_dir, worker = _model_dir_and_worker(tmp_path)
    locks = {"chief": RunLock(str(model_dir)), "worker": RunLock(str(worker))}
    locks["chief"].__enter__()
    locks["worker"].__enter__()
    (model_dir / "config.json").write_text("{}")
    locks[ends_first].__exit__(None, None, None)
    locks["worker" if ends_first == "chief" else "chief"].__exit__(None, None, None)
    assert sorted(os.listdir(model_dir)) == [".lock", "config.json"]
    assert (model_dir / "config.json").read_text() == "{}"


def test_a_worker_folder_holding_a_file_keeps_the_model_dir(tmp_path):
    """A checkpoint in worker_1/ (the run trained): nothing goes."""
    model_dir, worker = _model_dir_and_worker(tmp_path)
    with RunLock(str(model_dir)):
        with RunLock(str(worker)):
            (worker / "checkpoints").mkdir()
    assert sorted(os.listdir(model_dir)) == [".lock", "worker_1"]
    assert sorted(os.listdir(worker)) == [".lock", "checkpoints"]


def test_the_holder_named_to_a_second_run_is_the_holders_line_alone(tmp_path):
    """The record of the folders made (the lock file's next line) is not part
    of the holder a second run is told of."""
    from keras_pose.locks import live_holder
    from keras_pose.training.run_dir import RunDirError
    model_dir, _ = _model_dir_and_worker(tmp_path)
    with RunLock(str(model_dir)):
        with pytest.raises(RunDirError) as raised:
            with RunLock(str(model_dir)):
                pass
        holder = live_holder(str(model_dir))
    assert str(raised.value).endswith(f"is in use by {holder}; wait for it to end or use "
                                      "another --model_dir")
    assert holder.startswith("the training run (pid ") and holder.endswith(")")


@pytest.mark.parametrize("new", [True, False])
def test_the_empty_folder_of_a_killed_worker_goes_with_the_chief(tmp_path, new):
    """kill -9 of worker 1 during its set-up: its lock is released by the
    kernel, never removed; the chief's end takes worker_1/ away (and the new
    --model_dir; one the user made stays, as a run of one process leaves it)."""
    model_dir, worker = _model_dir_and_worker(tmp_path)
    if not new:
        model_dir.mkdir()
    chief = RunLock(str(model_dir))
    chief.__enter__()
    killed = RunLock(str(worker))
    killed.__enter__()
    os.close(killed._fd)  # What the kernel does for a killed process.
    killed._fd = None
    chief.__exit__(None, None, None)
    assert os.listdir(tmp_path / "runs") == ([] if new else ["new"])
    if not new:
        assert os.listdir(model_dir) == [".lock"]
