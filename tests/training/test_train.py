"""End-to-end training: loss goes down, over-fitting, NaN, resume, bad input."""

import os
import shutil

import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.training import TrainingError, train
from keras_pose.training import trainer as trainer_module


def test_tiny_training_decreases_the_loss(tmp_path, fast_config):
    config = apply_overrides(fast_config, ["train.epochs=4", "train.lr_steps=[100]"])
    result = train(config, str(tmp_path / "run"), augment=False, export=False, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.state.epoch == 4
    assert os.path.isfile(tmp_path / "run" / "config.json")
    assert os.path.isdir(tmp_path / "run" / "best")  # no validation: the last epoch


def _coco_layout(coco_dir, root):
    for split in ("train2017", "val2017"):
        os.makedirs(os.path.join(root, "images", split))
        for name in os.listdir(coco_dir):
            if name.endswith(".jpg"):
                shutil.copy(os.path.join(coco_dir, name), os.path.join(root, "images", split))
    os.makedirs(os.path.join(root, "annotations"))
    for split in ("train2017", "val2017"):
        shutil.copy(os.path.join(coco_dir, "test_coco.json"),
                    os.path.join(root, "annotations", f"person_keypoints_{split}.json"))


def test_overfits_the_real_coco_images(tmp_path, coco_dir):
    root = str(tmp_path / "coco")
    _coco_layout(coco_dir, root)
    config = apply_overrides(get_experiment("tiny"), [
        f"data.root={root}", "data.dataset=coco", "data.train_set=train2017",
        "data.test_set=val2017", "model.image_size=64,64", "model.heatmap_size=16,16",
        "model.sigma=2", "model.deconv_filters=64,64,64", "train.batch_size_per_replica=6",
        "train.epochs=40", "train.lr_steps=[100]", "train.validate_every=0",
        "train.image_summary_every=0", "data.seed=0"])
    result = train(config, str(tmp_path / "run"), augment=False, export=False, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.35 * losses[0], losses


def test_nan_loss_stops_clearly_and_keeps_the_checkpoint(tmp_path, fast_config, monkeypatch):
    model_dir = str(tmp_path / "run")
    train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, export=False,
          progress=False)
    real = trainer_module.joints_mse_per_example
    monkeypatch.setattr(trainer_module, "joints_mse_per_example",
                        lambda *a, **k: real(*a, **k) * float("nan"))
    with pytest.raises(TrainingError, match="loss became nan.*epoch_0001"):
        train(apply_overrides(fast_config, ["train.epochs=2"]), model_dir, export=False,
              progress=False)
    assert sorted(os.listdir(os.path.join(model_dir, "checkpoints"))) == ["epoch_0001"]


def test_resume_refuses_another_architecture(tmp_path, fast_config):
    model_dir = str(tmp_path / "run")
    train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, export=False,
          progress=False)
    other = apply_overrides(fast_config, ["train.epochs=2", "model.depth=34"])
    with pytest.raises(TrainingError, match="different architecture.*depth"):
        train(other, model_dir, export=False, progress=False)


def test_missing_and_empty_data(tmp_path, fast_config):
    from keras_pose.data.datasets import DatasetError
    missing = apply_overrides(get_experiment("coco_resnet50_256x192"),
                              [f"data.root={tmp_path / 'none'}"])
    with pytest.raises(DatasetError, match="does not exist"):
        train(missing, str(tmp_path / "run"), export=False, progress=False)
    big_batch = apply_overrides(fast_config, ["train.batch_size_per_replica=4096"])
    with pytest.raises(TrainingError, match="fewer than one global batch"):
        train(big_batch, str(tmp_path / "run2"), export=False, progress=False)
