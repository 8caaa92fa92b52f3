"""TensorBoard summaries of a training run, read back from the event files.

(The resumed run's batch_loss steps are checked in test_train.py.)
"""

import glob
import os
from collections import defaultdict

import tensorflow as tf

from keras_pose.configs import apply_overrides
from keras_pose.training import train


def _steps_by_tag(folder: str) -> dict:
    """{tag: sorted steps} of every event file in ``folder``."""
    steps = defaultdict(list)
    for path in glob.glob(os.path.join(folder, "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                steps[value.tag].append(event.step)
    return {tag: sorted(found) for tag, found in steps.items()}


def test_every_epoch_and_validation_is_written_whatever_log_every(tmp_path, fast_config):
    """Keras' record_if(step % log_every == 0), left active after a batch,
    dropped the epoch scalars, val/* and debug images of every epoch whose
    last step was not a multiple of train.log_every."""
    config = apply_overrides(fast_config, [
        "train.epochs=3", "train.steps_per_epoch=3", "train.log_every=4",
        "train.validate_every=1", "train.image_summary_every=3"])
    model_dir = str(tmp_path / "run")
    train(config, model_dir, export=False, progress=False)
    scalars = _steps_by_tag(os.path.join(model_dir, "logs", "train"))
    summaries = _steps_by_tag(os.path.join(model_dir, "logs", "validation"))
    assert scalars["epoch_loss"] == [0, 1, 2]  # Keras' epoch scalars: step = epoch
    assert scalars["epoch_learning_rate"] == [0, 1, 2]
    assert scalars["batch_loss"] == [4, 8]  # step scalars keep their log_every
    validation = {tag: steps for tag, steps in summaries.items() if tag.startswith("val/")}
    assert "val/AP" in validation
    for tag, steps in validation.items():
        assert steps == [3, 6, 9], tag  # after each epoch, at the optimizer's step
    # The first step's image, then each step crossing a multiple of 3.
    assert summaries["train/crops_gt_pred_heatmaps"] == [1, 3, 6, 9]


def test_a_resume_says_it_validates_only_an_epoch_that_is_due(tmp_path, caplog, monkeypatch):
    """Resumed from epoch 3 of a run validating every 8th: "Validating
    epoch_0003, left unvalidated", and no validation came."""
    import logging

    import keras_pose.evaluation.runner as runner
    from keras_pose.training.callbacks import Validation

    class _Metric:
        primary = "AP"

    class _Checkpoint:
        last_path = None

    validation = Validation(str(tmp_path), _Checkpoint(), None, None, _Metric(), every=8,
                            epochs=60, strict=True, batch_size=4)
    ran = []
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: ran.append(1) or {"AP": 0.5})
    caplog.set_level(logging.INFO, logger="absl")
    epoch = tmp_path / "checkpoints" / "epoch_0003"
    epoch.mkdir(parents=True)
    validation.catch_up(str(epoch), 3)
    assert not ran and "left unvalidated" not in caplog.text
