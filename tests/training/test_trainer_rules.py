"""The trainer's rules over a run: the learning-rate schedule, a resume's
global batch, validation's flip setting, best/ repaired, the export's other
errors, an infinite loss."""

import errno
import glob
import json
import os

import numpy as np
import pytest

import keras_pose.export as export_module
from keras_pose.configs import apply_overrides
from keras_pose.training import TrainingError, train
from keras_pose.training import model as model_module
from keras_pose.training import run_dir
from keras_pose.training.callbacks import TrainingInterrupted
from tests.training.test_train import _scripted_validation, _weights


def _epochs(model_dir):
    return sorted(os.path.basename(p)
                  for p in glob.glob(os.path.join(model_dir, "checkpoints", "epoch_*")))


def test_the_learning_rate_drops_at_the_start_of_its_step_epoch(tmp_path, fast_config):
    """The rate drops at the start of its step epoch, not one epoch early (90 epochs at 1e-3)."""
    config = apply_overrides(fast_config, ["train.epochs=2", "train.steps_per_epoch=1",
                                           "train.lr_steps=[1]", "train.lr_factor=0.1",
                                           "train.learning_rate=1e-3"])
    result = train(config, str(tmp_path / "run"), export=False, progress=False)
    # REFERENCE: x0.1 at epoch 90 means epochs [0, 90) at the base rate; with
    # lr_steps=[1]: epoch 1 (index 0) at 1e-3, epoch 2 (index 1) at 1e-3 * 0.1.
    assert [h["learning_rate"] for h in result.history] == pytest.approx([1e-3, 1e-4], rel=1e-6)


def test_a_resume_with_another_global_batch_but_the_same_steps_is_refused(tmp_path,
                                                                           fast_config, caplog):
    """A resume at another global batch (same steps per epoch) is refused, not a silent new
    schedule; and not logged first as "Resuming ... with settings changed"."""
    model_dir = str(tmp_path / "run")
    first = apply_overrides(fast_config, ["train.epochs=1", "train.steps_per_epoch=2",
                                          "train.batch_size_per_replica=8"])
    train(first, model_dir, export=False, progress=False)
    config_json = open(os.path.join(model_dir, "config.json")).read()
    resumed = apply_overrides(first, ["train.epochs=2", "train.batch_size_per_replica=4"])
    # One replica: global batch 8 then 4, 2 steps per epoch both times.
    with pytest.raises(TrainingError, match=r"epoch_0001 was written with 2 steps per epoch and "
                                            r"global batch 8 .*this run has 2 and 4 .*the "
                                            r"schedule would change"):
        train(resumed, model_dir, export=False, progress=False)
    assert _epochs(model_dir) == ["epoch_0001"]  # nothing trained
    assert open(os.path.join(model_dir, "config.json")).read() == config_json
    assert "Resuming" not in caplog.text


@pytest.mark.parametrize("val_flip, test_flip", [(False, True), (True, False)])
def test_validation_during_training_flips_as_train_val_flip_test_says(
        tmp_path, fast_config, monkeypatch, val_flip, test_flip):
    """Validation during training flips as train.val_flip_test says, not as test.flip_test."""
    import keras_pose.inference as inference
    flips = []
    real = inference.TopDownEstimator

    class Spy(real):
        def __init__(self, *args, flip=True, **kwargs):
            flips.append(flip)
            super().__init__(*args, flip=flip, **kwargs)
    monkeypatch.setattr(inference, "TopDownEstimator", Spy)
    _scripted_validation(monkeypatch, [0.5])
    config = apply_overrides(fast_config, [
        "train.epochs=1", "train.steps_per_epoch=1", "train.validate_every=1",
        f"train.val_flip_test={str(val_flip).lower()}", f"test.flip_test={str(test_flip).lower()}"])
    train(config, str(tmp_path / "run"), export=False, progress=False)
    assert flips == [val_flip]


def test_a_crash_before_best_took_the_better_epoch_is_repaired_by_the_same_command(
        tmp_path, fast_config, monkeypatch):
    """A crash between epoch 2's validation (0.5) and its copy into best/ is repaired by the
    same command: best/ becomes epoch 2."""
    calls = _scripted_validation(monkeypatch, [0.3, 0.5])
    real, crashed = run_dir.save_best, []

    def save_best(model_dir, checkpoint, epoch, *args, **kwargs):
        if epoch == 2 and not crashed:  # the process dies before best/ holds epoch 2
            crashed.append(epoch)
            raise KeyboardInterrupt
        return real(model_dir, checkpoint, epoch, *args, **kwargs)
    monkeypatch.setattr(run_dir, "save_best", save_best)
    config = apply_overrides(fast_config, ["train.epochs=2", "train.steps_per_epoch=1",
                                           "train.validate_every=1"])
    model_dir = str(tmp_path / "run")
    with pytest.raises(TrainingInterrupted):
        train(config, model_dir, export=False, progress=False)
    best = os.path.join(model_dir, "best")
    epoch2 = os.path.join(model_dir, "checkpoints", "epoch_0002")
    assert json.load(open(os.path.join(best, "best.json")))["epoch"] == 1  # as the crash left it
    assert json.load(open(os.path.join(epoch2, "validation.json")))["value"] == 0.5
    assert train(config, model_dir, export=False, progress=False).epochs_run == 0
    record = json.load(open(os.path.join(best, "best.json")))
    assert (record["epoch"], record["value"]) == (2, 0.5)  # 0.5 > 0.3
    expected = _weights(epoch2)
    for name, value in _weights(best).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    assert len(calls) == 2  # repaired from the recorded value, not validated again


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO])
def test_an_export_failing_otherwise_than_a_full_disk_is_not_taken_for_success(
        tmp_path, fast_config, monkeypatch, code):
    """An export refused (EACCES) or unreadable (EIO) fails the run, not a success without a
    SavedModel."""
    def failing(network, config, path, **kwargs):
        raise OSError(code, os.strerror(code), path)
    monkeypatch.setattr(export_module, "export_saved_model", failing)
    model_dir = str(tmp_path / "run")
    # Only a full disk (ENOSPC, EDQUOT) becomes a TrainingError with the way
    # on; any other OSError is the caller's as it came.
    with pytest.raises(OSError) as raised:
        train(apply_overrides(fast_config, ["train.epochs=1", "train.steps_per_epoch=1"]),
              model_dir, progress=False)
    assert raised.value.errno == code and not isinstance(raised.value, TrainingError)


def test_an_infinite_loss_stops_training_without_saving_the_epoch(tmp_path, fast_config,
                                                                   monkeypatch):
    """A loss of inf (as NaN) stops training and saves no checkpoint of the broken weights."""
    real = model_module.joints_mse_per_example
    # + inf: the loss is inf, its gradients (of the finite part) stay finite.
    monkeypatch.setattr(model_module, "joints_mse_per_example",
                        lambda *a, **k: real(*a, **k) + float("inf"))
    model_dir = str(tmp_path / "run")
    with pytest.raises(TrainingError, match=r"the loss became inf at epoch 1, step 1; training "
                                            r"stopped without saving. No checkpoint was written"):
        train(apply_overrides(fast_config, ["train.epochs=1", "train.steps_per_epoch=1"]),
              model_dir, export=False, progress=False)
    assert _epochs(model_dir) == []
