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


def test_debug_panels_mark_a_joint_at_its_column_and_row_on_a_wide_heatmap():
    """On a non-square heatmap (H 16 x W 24) a joint at column 10, row 2 is
    drawn there (not transposed), each panel with its own joints only."""
    import numpy as np

    from keras_pose.configs import get_experiment
    from keras_pose.training.summaries import debug_panels

    config = apply_overrides(get_experiment("tiny"), ["model.image_size=96,64",
                                                      "model.heatmap_size=24,16"])
    h, w = 64, 96  # Input crop; stride 96/24 = 64/16 = 4.
    gt = np.zeros((1, 16, 24, 1), np.float32)
    gt[0, 2, 10, 0] = 1.0  # Row 2, column 10.
    pred = np.zeros_like(gt)
    pred[0, 12, 3, 0] = 0.8  # Row 12, column 3.
    panels = debug_panels(np.zeros((1, h, w, 3), np.uint8), gt, pred,
                          np.ones((1, 1), np.float32), config)
    assert panels.shape == (1, h, 4 * w, 3)
    # Hand computation (filled circles centred there): GT x = 10 * 4 = 40,
    # y = 2 * 4 = 8 (green, first panel); predicted x = 3 * 4 = 12, y = 12 * 4 = 48
    # (red, second panel).
    for part, color, centre in ((panels[0, :, :w], (0, 255, 0), (40.0, 8.0)),
                                (panels[0, :, w:2 * w], (255, 0, 0), (12.0, 48.0))):
        ys, xs = np.nonzero(np.all(part == color, axis=-1))
        assert len(xs) > 0, color
        assert (xs.mean(), ys.mean()) == centre
    # Each panel holds its own joints only: no red in the GT panel, no green
    # in the prediction's.
    assert not np.all(panels[0, :, :w] == (255, 0, 0), axis=-1).any()
    assert not np.all(panels[0, :, w:2 * w] == (0, 255, 0), axis=-1).any()


def test_writing_debug_images_leaves_every_network_weight_unchanged(tmp_path):
    """A debug image's forward pass runs in inference mode: no weight, the
    BatchNorm moving statistics included, moves at an image summary."""
    import numpy as np

    from keras_pose.configs import get_experiment
    from keras_pose.models import build_model_from_config
    from keras_pose.training.model import PoseTrainingModel
    from keras_pose.training.summaries import write_debug_images
    from tests.training.conftest import FAST

    config = apply_overrides(get_experiment("tiny"), FAST)
    network = build_model_from_config(config.model)
    model = PoseTrainingModel(network, config, global_batch=2)
    moving = [v for v in network.non_trainable_weights if "moving" in v.path]
    assert moving, "the network has BatchNorm moving statistics"
    before = [np.array(v.numpy()) for v in network.weights]
    k = config.model.num_keypoints
    rng = np.random.default_rng(0)
    batch = {"image": rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8),
             "heatmaps": np.zeros((2, 16, 16, k), np.float32),
             "target_weight": np.ones((2, k), np.float32)}
    write_debug_images(tf.summary.create_file_writer(str(tmp_path)), model, batch, config,
                       step=1)
    changed = [v.path for v, old in zip(network.weights, before)
               if not np.array_equal(v.numpy(), old)]
    assert changed == []
    assert glob.glob(os.path.join(str(tmp_path), "events.*"))  # The image was written.


def test_a_resumed_run_writes_the_debug_images_of_an_uninterrupted_one(tmp_path, fast_config):
    """Blocks of 3 steps, epochs of 4: a run of 2 epochs writes steps 1, 3,
    6. Run as 1 epoch, then resumed to 2, it wrote one more at step 5 (the
    resumed callback had not seen block 1's image of step 3)."""
    config = apply_overrides(fast_config, [
        "train.epochs=1", "train.steps_per_epoch=4", "train.validate_every=0",
        "train.image_summary_every=3"])
    model_dir = str(tmp_path / "run")
    train(config, model_dir, export=False, progress=False)
    train(apply_overrides(config, ["train.epochs=2"]), model_dir, export=False, progress=False)
    summaries = _steps_by_tag(os.path.join(model_dir, "logs", "validation"))
    assert summaries["train/crops_gt_pred_heatmaps"] == [1, 3, 6]
