"""Training end to end: resume equals an uninterrupted run, best/, failures."""

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.checkpoint import CheckpointError, resolve_checkpoint
from keras_pose.configs import ConfigError, apply_overrides, get_experiment
from keras_pose.evaluation import runner
from keras_pose.training import TrainingError, train
from keras_pose.training import model as model_module


def _weights(path):
    arrays = {}
    with h5py.File(os.path.join(path, "model.weights.h5"), "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


def _scripted_validation(monkeypatch, values):
    """Validation returns the given AP values, epoch after epoch."""
    calls = []

    def evaluate(estimator, records, metric, batch_size=32, progress=False):
        from keras_pose.evaluation.coco import STATS_NAMES
        calls.append(len(records))
        return {name: values[len(calls) - 1] for name in STATS_NAMES}

    monkeypatch.setattr(runner, "evaluate", evaluate)
    return calls


def test_resume_equals_an_uninterrupted_run_and_best_follows_the_metric(
        tmp_path, fast_config, monkeypatch):
    config = apply_overrides(fast_config, ["train.validate_every=1", "train.epochs=2",
                                           "train.image_summary_every=1"])
    calls = _scripted_validation(monkeypatch, [0.5, 0.3, 0.5, 0.3])
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    train(config, whole, export=False, progress=False)
    first = train(apply_overrides(config, ["train.epochs=1"]), parts, export=False,
                  progress=False)
    second = train(config, parts, export=False, progress=False)
    assert (first.epochs_run, second.epochs_run, second.state.epoch) == (1, 1, 2)
    assert len(calls) == 4 and len(set(calls)) == 1  # every validation person, each epoch
    a = _weights(os.path.join(whole, "checkpoints", "epoch_0002"))
    b = _weights(os.path.join(parts, "checkpoints", "epoch_0002"))
    assert a.keys() == b.keys() and len(a) > 30
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6, err_msg=name)
    for run in (whole, parts):  # epoch 1 scored 0.5, epoch 2 0.3: best/ is epoch 1
        best = _weights(os.path.join(run, "best"))
        for name, value in _weights(os.path.join(run, "checkpoints", "epoch_0001")).items():
            np.testing.assert_array_equal(best[name], value)
    # The debug images reached TensorBoard.
    from tensorboard.backend.event_processing import event_accumulator
    events = event_accumulator.EventAccumulator(os.path.join(whole, "logs", "validation"),
                                                size_guidance={"tensors": 0})
    events.Reload()
    assert "train/crops_gt_pred_heatmaps" in events.Tags()["tensors"]


@pytest.mark.slow  # a fit with a failing validation
def test_a_failed_validation_never_costs_the_epoch(tmp_path, fast_config, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("val image corrupt")

    monkeypatch.setattr(runner, "evaluate", broken)
    config = apply_overrides(fast_config, ["train.validate_every=1", "train.epochs=1"])
    result = train(config, str(tmp_path / "run"), export=False, progress=False)
    assert result.state.epoch == 1
    # Said where the run ends (train.py prints it after its summary), not
    # only in the log of the epoch: a run with no best/ had ended in silence.
    assert result.validation_failures == (
        "validation after epoch 1 failed (OSError: val image corrupt); the epoch's checkpoint "
        f"{tmp_path / 'run' / 'checkpoints' / 'epoch_0001'} is kept",)
    assert os.path.isfile(tmp_path / "run" / "checkpoints" / "epoch_0001" / "COMPLETE")
    strict = apply_overrides(config, ["train.strict_validation=true", "train.epochs=2"])
    # Resumed, epoch 1 (left unvalidated by the failure) is validated first.
    with pytest.raises(TrainingError, match="validation after epoch 1 failed.*epoch_0001 is kept"):
        train(strict, str(tmp_path / "run"), export=False, progress=False)
    with pytest.raises(TrainingError, match="validation after epoch 1 failed.*epoch_0001 is kept"):
        train(apply_overrides(strict, ["train.epochs=1"]), str(tmp_path / "strict"), export=False,
              progress=False)
    assert os.path.isfile(tmp_path / "strict" / "checkpoints" / "epoch_0001" / "COMPLETE")


@pytest.mark.slow  # a fit
def test_ctrl_c_as_the_last_epoch_ends_names_the_checkpoint(tmp_path, fast_config, monkeypatch):
    """A Ctrl-C while fit freed its input pipeline (right after the last
    epoch's log line) escaped as a bare 'interrupted (Ctrl-C)', naming
    neither the complete checkpoint nor what the same command does."""
    from keras_pose.training.trainer import TrainingInterrupted

    def stopped(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(model_module.PoseTrainingModel, "release_iterator", stopped)
    with pytest.raises(TrainingInterrupted, match=r"^interrupted \(Ctrl-C\); the last complete "
                       r"checkpoint is .*epoch_0001: run the same command again"):
        train(apply_overrides(fast_config, ["train.epochs=1"]), str(tmp_path / "run"),
              export=False, progress=False)


def test_ctrl_c_before_training_says_what_the_same_command_does(tmp_path, fast_config,
                                                                monkeypatch):
    """A Ctrl-C in the set-up or a resume's catch-up validation escaped as a
    bare 'interrupted (Ctrl-C)', naming no checkpoint to resume from."""
    from keras_pose.training import trainer

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(trainer, "_dataset", stopped)
    with pytest.raises(trainer.TrainingInterrupted,
                       match=r"^interrupted \(Ctrl-C\); no checkpoint was written yet$") as e:
        train(fast_config, str(tmp_path / "run"), export=False, progress=False)
    assert e.value.exit_code == 130


@pytest.mark.slow  # a fit
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_sigterm_lost_in_a_del_stops_training_at_the_next_step(tmp_path, fast_config,
                                                                monkeypatch):
    """A worker of a multi-worker run trained on to its last epoch after
    kill <pid> (a loaded CI run): a stop that lands in a __del__ is dropped
    by Python. The next step raises it again: the run stops as on SIGTERM."""
    from keras_pose.training import callbacks
    from keras_pose.training.trainer import TrainingInterrupted
    from tests.test_signals import commands_handlers, swallow_a_stop
    steps = []

    def step_end(self, batch, logs=None):
        steps.append(batch)
        if len(steps) == 2:
            swallow_a_stop()
    monkeypatch.setattr(callbacks.StopOnNaN, "on_train_batch_end", step_end)
    model_dir = str(tmp_path / "run")
    with commands_handlers(), pytest.raises(TrainingInterrupted) as raised:
        train(apply_overrides(fast_config, ["train.epochs=4", "train.steps_per_epoch=2"]),
              model_dir, export=False, progress=False)
    # Raised at the end of the next step (epoch 2's first), before the later
    # callbacks saw it; epoch 1, complete, was saved.
    assert raised.value.exit_code == 143 and len(steps) == 2
    assert "interrupted (SIGTERM); the last complete checkpoint is " in str(raised.value)
    assert sorted(os.listdir(os.path.join(model_dir, "checkpoints"))) == ["epoch_0001"]


@pytest.mark.slow  # a fit to a NaN loss
def test_nan_loss_stops_clearly_and_keeps_the_checkpoint(tmp_path, fast_config, monkeypatch):
    model_dir = str(tmp_path / "run")
    train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, export=False,
          progress=False)
    real = model_module.joints_mse_per_example
    monkeypatch.setattr(model_module, "joints_mse_per_example",
                        lambda *a, **k: real(*a, **k) * float("nan"))
    with pytest.raises(TrainingError, match="loss became nan.*epoch_0001"):
        train(apply_overrides(fast_config, ["train.epochs=2"]), model_dir, export=False,
              progress=False)
    assert sorted(os.listdir(os.path.join(model_dir, "checkpoints"))) == ["epoch_0001"]


@pytest.mark.slow  # three fits
def test_resume_refuses_another_model_or_input_convention(tmp_path, fast_config):
    model_dir = str(tmp_path / "run")
    train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, export=False,
          progress=False)
    saved = open(os.path.join(model_dir, "config.json"), "rb").read()
    listing = sorted(os.listdir(model_dir))
    refused = "another model, input convention, decoding or precision"
    for change, message in (
            ("model.depth=34", f"{refused}.*depth"),
            ("model.color_order=BGR", f"{refused}.*color_order"),
            ("model.mean=[0.5,0.5,0.5]", f"{refused}.*mean"),
            ("model.codec=dark", rf"{refused} \(model.codec: checkpoint msra vs now dark\)"),
            # Refused only once the checkpoint is restored: still before any write.
            ("train.batch_size_per_replica=4", "steps per epoch and global batch"),
            # fp32 -> bf16 was taken with a warning (auto picks bf16 where the CPU has it).
            ("train.precision=mixed_bfloat16", r"train.precision: checkpoint fp32 vs now "
                                               r"mixed_bfloat16 \(--precision fp32 resumes\)"),
            ("train.precision=mixed_float16", "train.precision: checkpoint fp32 vs now "
                                              "mixed_float16")):
        other = apply_overrides(fast_config, ["train.epochs=2", change])
        with pytest.raises(TrainingError, match=message):
            train(other, model_dir, export=False, progress=False)
        assert open(os.path.join(model_dir, "config.json"), "rb").read() == saved, change
    assert sorted(os.listdir(model_dir)) == listing


@pytest.mark.slow  # fits and a SavedModel
def test_unmarked_checkpoints_stop_training_and_serving_and_are_kept(tmp_path, fast_config):
    model_dir = str(tmp_path / "run")
    train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, export=False,
          progress=False)
    epoch1 = os.path.join(model_dir, "checkpoints", "epoch_0001")
    best = os.path.join(model_dir, "best")
    shutil.copytree(epoch1, best)  # best/ copied by hand, no marker
    open(os.path.join(best, "best.json"), "w").write('{"epoch": 1, "value": 0.5}')
    os.remove(os.path.join(best, "COMPLETE"))
    os.remove(os.path.join(epoch1, "COMPLETE"))  # restored from a backup without it
    listing = sorted(os.listdir(epoch1))
    more = apply_overrides(fast_config, ["train.epochs=2"])
    with pytest.raises(CheckpointError, match=r"epoch_0001 is incomplete.*best is incomplete"
                                              r".*touch <dir>/COMPLETE"):
        train(more, model_dir, export=False, progress=False)
    assert sorted(os.listdir(epoch1)) == listing and os.path.isdir(best)
    assert not os.path.exists(os.path.join(model_dir, "checkpoints", "epoch_0002"))
    with pytest.raises(CheckpointError, match="best is incomplete"):  # evaluate, predict
        resolve_checkpoint(model_dir)
    open(os.path.join(best, "COMPLETE"), "w").close()
    assert resolve_checkpoint(model_dir).path == best
    shutil.rmtree(best)  # no best/: the unmarked epoch is not skipped silently either
    with pytest.raises(CheckpointError, match="epoch_0001 is incomplete"):
        resolve_checkpoint(model_dir)
    open(os.path.join(epoch1, "COMPLETE"), "w").close()  # trusted: training resumes from it
    assert train(more, model_dir, export=False, progress=False).epochs_run == 1
    # Fewer epochs than done: config.json said 1 in silence, for a run of 2.
    config_json = open(os.path.join(model_dir, "config.json")).read()
    with pytest.raises(TrainingError, match=r"epoch_0002 has 2 epochs done, more than "
                       r"train.epochs=1: nothing to train, nothing was written. Give "
                       r"train.epochs=2 or more"):
        train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, export=False,
              progress=False)
    assert open(os.path.join(model_dir, "config.json")).read() == config_json


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow  # fits
def test_best_between_its_two_renames_is_served_and_put_back(tmp_path, fast_config,
                                                              monkeypatch):
    _scripted_validation(monkeypatch, [0.3, 0.5, 0.4])
    config = apply_overrides(fast_config, ["train.validate_every=1", "train.epochs=3",
                                           "train.steps_per_epoch=1", "train.keep_checkpoints=1"])
    model_dir = str(tmp_path / "run")
    train(config, model_dir, export=False, progress=False)  # best/: epoch 2, since pruned
    best = os.path.join(model_dir, "best")
    # A crash in epoch 2's replacement of best/ (epoch 1), between the renames.
    suffix = f"{socket.gethostname()}-{_dead_pid()}"
    old, new = f"{best}.old-{suffix}", f"{best}.tmp-{suffix}"
    shutil.copytree(best, old)
    open(os.path.join(old, "best.json"), "w").write('{"epoch": 1, "metric": "AP", "value": 0.3}')
    os.rename(best, new)
    foreign = f"{best}.tmp-otherhost-{os.getpid()}"
    shutil.copytree(new, foreign)
    assert resolve_checkpoint(model_dir).path == new  # not epoch 3, the latest
    assert train(config, model_dir, export=False, progress=False).epochs_run == 0
    assert json.load(open(os.path.join(best, "best.json")))["epoch"] == 2
    assert sorted(p for p in os.listdir(model_dir) if p.startswith("best")) == [
        "best", os.path.basename(foreign)]  # another host's leftover is not ours to delete


@pytest.mark.slow  # XLA and mixed precision
def test_precision_and_xla_train_with_a_finite_loss_close_to_fp32(tmp_path, fast_config):
    base = apply_overrides(fast_config, ["train.epochs=1", "train.steps_per_epoch=1",
                                         "train.lr_steps=[10]"])
    reference = train(base, str(tmp_path / "fp32"), export=False, progress=False, augment=False)
    expected = reference.history[0]["loss"]
    for i, override in enumerate(["train.precision=mixed_bfloat16", "train.jit_compile=true"]):
        other = train(apply_overrides(base, [override]), str(tmp_path / f"other{i}"),
                      export=False, progress=False, augment=False)
        loss = other.history[0]["loss"]
        assert np.isfinite(loss) and loss == pytest.approx(expected, rel=0.05), override
        assert tf.keras.config.dtype_policy().name == "float32"  # restored afterwards


def _optimizer_state(run, epoch):
    path = os.path.join(run, "checkpoints", f"epoch_{epoch:04d}", "optimizer_state.npz")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("precision,optimizer", [
    ("fp32", "train.weight_decay=0"), ("mixed_bfloat16", "train.weight_decay=1e-4"),
    ("mixed_float16", "train.weight_decay=0")])
@pytest.mark.slow  # every precision and optimizer, fit and resume
def test_every_precision_saves_and_resumes_exactly(tmp_path, fast_config, precision, optimizer):
    # mixed_float16: compile wraps Adam in a LossScaleOptimizer; weight decay: AdamW.
    config = apply_overrides(fast_config, [f"train.precision={precision}", optimizer,
                                           "train.epochs=2", "train.steps_per_epoch=2"])
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    train(config, whole, export=False, progress=False)
    shutil.copytree(whole, parts)  # as if the run had stopped after epoch 1
    shutil.rmtree(os.path.join(parts, "checkpoints", "epoch_0002"))
    assert train(config, parts, export=False, progress=False).epochs_run == 1
    a, b = _optimizer_state(whole, 2), _optimizer_state(parts, 2)
    assert a.keys() == b.keys() and int(b["iteration"]) == 4  # the inner optimizer's steps
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6, err_msg=name)
    if precision == "mixed_float16":  # the loss scale and its step count, resumed
        assert int(b["LossScaleOptimizer/step_counter"]) == 4
        assert float(b["LossScaleOptimizer/dynamic_scale"]) > 0
    weights = _weights(os.path.join(whole, "checkpoints", "epoch_0002"))
    for name, value in _weights(os.path.join(parts, "checkpoints", "epoch_0002")).items():
        np.testing.assert_allclose(weights[name], value, rtol=0, atol=1e-6, err_msg=name)
    assert tf.keras.config.dtype_policy().name == "float32"


def test_init_checkpoint_loads_every_weight(tmp_path, fast_config):
    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.models import build_model_from_config
    from keras_pose.training.init_checkpoint import init_from_checkpoint
    source = build_model_from_config(fast_config.model)
    for variable in source.weights:
        variable.assign(np.random.default_rng(len(variable.path)).normal(
            size=variable.shape).astype("float32"))
    save_model_checkpoint(source, fast_config, str(tmp_path / "init"))
    target = build_model_from_config(fast_config.model)
    init_from_checkpoint(target, str(tmp_path / "init"), fast_config)
    assert len(target.weights) == len(source.weights) > 30
    for a, b in zip(source.weights, target.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())



def test_a_fresh_run_initialises_the_backbone_from_model_pretrained(
        tmp_path, fast_config, monkeypatch):
    # The trainer, not the model builder, reads model.pretrained: once for a
    # fresh run, never when a checkpoint will overwrite the weights.
    from keras_pose.training import trainer
    calls = []
    monkeypatch.setattr(trainer, "initialize_backbone",
                        lambda network, model_config: calls.append(model_config))
    config = apply_overrides(fast_config, ["model.pretrained=imagenet"])
    plan = trainer._Plan(global_batch=8, steps_per_epoch=1, steps_per_execution=1,
                         base_lr=1e-3, chief=True, directory=str(tmp_path))
    strategy = tf.distribute.get_strategy()
    trainer._build(config, strategy, plan, latest=None, init_checkpoint=None)
    assert calls == [config.model]
    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.models import build_model_from_config
    save_model_checkpoint(build_model_from_config(config.model), config, str(tmp_path / "init"))
    trainer._build(config, strategy, plan, latest=None, init_checkpoint=str(tmp_path / "init"))
    assert calls == [config.model]

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


@pytest.mark.slow  # a 75-step overfit
def test_overfits_the_real_coco_images(tmp_path, coco_dir):
    root = str(tmp_path / "coco")
    _coco_layout(coco_dir, root)
    config = apply_overrides(get_experiment("tiny"), [
        f"data.root={root}", "data.dataset=coco", "data.train_set=train2017",
        "data.test_set=val2017", "model.image_size=64,64", "model.heatmap_size=16,16",
        "model.sigma=2", "model.blocks_per_stage=1,1,1,1", "model.deconv_filters=32,32,32",
        "train.batch_size_per_replica=6",
        "train.epochs=3", "train.steps_per_epoch=25", "train.lr_steps=[100]",
        "train.validate_every=0", "train.image_summary_every=0", "data.seed=0"])
    result = train(config, str(tmp_path / "run"), augment=False, export=False, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0], losses


def test_missing_and_empty_data_and_bad_settings(tmp_path, fast_config):
    from keras_pose.data.datasets import DatasetError
    missing = apply_overrides(get_experiment("coco_resnet50_256x192"),
                              [f"data.root={tmp_path / 'none'}"])
    with pytest.raises(DatasetError, match="does not exist"):
        train(missing, str(tmp_path / "run"), export=False, progress=False)
    big_batch = apply_overrides(fast_config, ["train.batch_size_per_replica=4096"])
    with pytest.raises(TrainingError, match="fewer than one global batch"):
        train(big_batch, str(tmp_path / "run2"), export=False, progress=False)
    for bad, key in (("train.batch_size_per_replica=0", "batch_size_per_replica"),
                     ("train.epochs=-1", "train.epochs"), ("train.precision=fp8", "precision")):
        with pytest.raises(ConfigError, match=key):
            apply_overrides(fast_config, [bad])


def test_validation_data_with_the_keypoints_in_another_order_is_refused(tmp_path, fast_config):
    # The val file's keypoints reversed (names and values alike): every
    # validation would have scored AP 0 without a word; evaluate.py refused it.
    import shutil

    from keras_pose.data import datasets
    from keras_pose.training.validation_data import validation_setup
    root = tmp_path / "data"
    shutil.copytree(fast_config.data.root, root)
    config = apply_overrides(fast_config, [f"data.root={root}", "train.validate_every=1"])
    config = datasets.resolve_dataset_config(config)
    train_people = datasets.load_records(config, "train")
    assert validation_setup(config, True, train_people) is not None
    val_file = datasets.annotation_file(config, "test")
    data = json.load(open(val_file))
    for cat in data["categories"]:
        cat["keypoints"] = cat["keypoints"][::-1]
        cat["skeleton"] = []
    for ann in data["annotations"]:
        triples = [ann["keypoints"][i:i + 3] for i in range(0, len(ann["keypoints"]), 3)]
        ann["keypoints"] = [v for t in triples[::-1] for v in t]
    json.dump(data, open(val_file, "w"))
    with pytest.raises(TrainingError, match=r"validation split: .* has keypoints \['right_ankle'"
                       r", .* but the model of this run \(training split .*\) was trained on "
                       r"\['nose'.*\(--set train.validate_every=0 trains without validation\)"):
        validation_setup(config, True, train_people)


def _rename_keypoints(annotation_file, names):
    data = json.load(open(annotation_file))
    for cat in data["categories"]:
        cat["keypoints"] = list(names)
    json.dump(data, open(annotation_file, "w"))


def test_keypoint_names_given_rename_the_validation_split_too(tmp_path, fast_config):
    """Both files naming the keypoints p0..p16 and --set data.keypoint_names
    naming them as COCO does: the training split was renamed, the
    validation split refused with the advice to pass that very flag."""
    from keras_pose.data import datasets
    from keras_pose.training.validation_data import validation_setup
    root = tmp_path / "data"
    shutil.copytree(fast_config.data.root, root)
    config = datasets.resolve_dataset_config(apply_overrides(
        fast_config, [f"data.root={root}", "train.validate_every=1"]))
    coco_names = ",".join(config.data.keypoint_names)
    own = [f"p{i}" for i in range(17)]
    for split in ("train", "test"):
        _rename_keypoints(datasets.annotation_file(config, split), own)
    renamed = datasets.resolve_dataset_config(apply_overrides(
        fast_config, [f"data.root={root}", "train.validate_every=1",
                      f"data.keypoint_names={coco_names}"]))
    train_people = datasets.load_records(renamed, "train")
    datasets.check_order(renamed, train_people)
    validation = validation_setup(renamed, True, train_people)
    assert validation is not None and validation.config.data.keypoint_names[0] == "nose"
    # A validation file that names them otherwise than the training file: refused.
    _rename_keypoints(datasets.annotation_file(config, "test"), [f"q{i}" for i in range(17)])
    with pytest.raises(TrainingError, match=r"validation split: .* has keypoints \['q0'.* but "
                       r"the training split .* has \['p0'.*which data.keypoint_names renames "
                       r"\['nose'.*must list the same keypoints in the same order"):
        validation_setup(renamed, True, train_people)


def test_a_validation_split_without_labels_is_refused_before_training(tmp_path, fast_config):
    # A test split (image info only; MPII's test.json) as the validation
    # split: its metric gives no AP, and epoch 1 ended in a KeyError traceback.
    from keras_pose.data import datasets
    from keras_pose.training.validation_data import validation_setup
    root = tmp_path / "data"
    shutil.copytree(fast_config.data.root, root)
    config = apply_overrides(fast_config, [f"data.root={root}", "train.validate_every=1"])
    config = datasets.resolve_dataset_config(config)
    data = json.load(open(datasets.annotation_file(config, "test")))
    del data["annotations"]
    json.dump(data, open(root / "annotations" / "image_info_test_mine.json", "w"))
    config = apply_overrides(config, ["data.test_set=test_mine"])
    with pytest.raises(TrainingError, match=r"validation split test_mine \(.*image_info_test_mine"
                       r"\.json\) has no keypoint labels.*train.validate_every=0"):
        validation_setup(config, True, None)
    assert validation_setup(apply_overrides(config, ["train.validate_every=0"]), True,
                             None) is None


def test_a_checkpoint_left_unvalidated_is_validated_on_resume(tmp_path, fast_config,
                                                              monkeypatch):
    # A stop (Ctrl-C, kill -9) during the last epoch's validation: the resumed
    # run had nothing to train and never validated it: no best/, no table.
    config = apply_overrides(fast_config, ["train.validate_every=1", "train.epochs=1"])
    calls = _scripted_validation(monkeypatch, [0.5, 0.6])
    model_dir = str(tmp_path / "run")
    train(config, model_dir, export=False, progress=False)
    epoch1 = os.path.join(model_dir, "checkpoints", "epoch_0001")
    os.remove(os.path.join(epoch1, "validation.json"))  # as if stopped mid-validation
    shutil.rmtree(os.path.join(model_dir, "best"))
    result = train(config, model_dir, export=False, progress=False)
    assert result.epochs_run == 0 and len(calls) == 2
    assert json.load(open(os.path.join(epoch1, "validation.json")))["value"] == 0.6
    assert os.path.isfile(os.path.join(model_dir, "best", "model.weights.h5"))
    assert result.final_metrics["AP"] == 0.6 and "0.600" in result.final_table
    train(config, model_dir, export=False, progress=False)  # recorded now: not again
    assert len(calls) == 2


def test_a_stop_during_the_final_export_names_the_trained_checkpoint(tmp_path, fast_config,
                                                                   monkeypatch):
    """Ctrl-C (or SIGTERM) while the SavedModel is written, after the last
    epoch: the message says that training is complete, names the
    checkpoint and that the same command only exports (it did not)."""
    import keras_pose.export as export_module
    from keras_pose.training.trainer import TrainingInterrupted

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    model_dir = str(tmp_path / "run")
    config = apply_overrides(fast_config, ["train.epochs=1"])
    monkeypatch.setattr(export_module, "export_saved_model", stopped)
    with pytest.raises(TrainingInterrupted, match=(
            r"interrupted \(Ctrl-C\) during the export, after the last epoch: training is "
            r"complete in .*epoch_0001; run the same command again to finish the export "
            r"\(nothing is trained again\)")) as raised:
        train(config, model_dir, progress=False)
    assert raised.value.exit_code == 130
    monkeypatch.undo()
    again = train(config, model_dir, progress=False)
    assert again.epochs_run == 0 and os.path.isfile(os.path.join(again.saved_model,
                                                                 "saved_model.pb"))


def test_a_full_disk_at_the_final_export_says_training_is_complete(tmp_path, fast_config,
                                                                    monkeypatch):
    """Was the bare "No space left on device: .../saved_model", with no word
    of the trained checkpoint or of what to run."""
    import errno

    import keras_pose.export as export_module
    from keras_pose.training.callbacks import TrainingError

    def full(network, config, path, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    monkeypatch.setattr(export_module, "export_saved_model", full)
    with pytest.raises(TrainingError, match=r"the export failed after the last epoch \(No space "
                                            r"left on device: .*saved_model.*\): training is "
                                            r"complete in .*epoch_0001; once the disk has room"):
        train(apply_overrides(fast_config, ["train.epochs=1"]), str(tmp_path / "run"),
              progress=False)


def test_a_resumed_runs_batch_scalars_go_on_from_its_step(tmp_path, fast_config):
    """TensorBoard's batch_loss of a resumed run started again at step 1 (Keras
    counts a fit's batches from 0), drawn over the first run's."""
    import glob

    import tensorflow as tf
    model_dir = str(tmp_path / "run")
    for epochs in (1, 2):
        train(apply_overrides(fast_config, [f"train.epochs={epochs}", "train.steps_per_epoch=3"]),
              model_dir, progress=False, export=False)
    steps = sorted(event.step
                   for path in glob.glob(os.path.join(model_dir, "logs", "train", "events.*"))
                   for event in tf.compat.v1.train.summary_iterator(path)
                   for value in event.summary.value if value.tag == "batch_loss")
    assert steps == [1, 2, 3, 4, 5, 6]


def test_an_export_older_than_best_left_by_noexport_is_named(tmp_path, fast_config, caplog):
    """A run extended with --noexport kept saved_model/ of an earlier best/
    in silence (evaluate.py on it gave the earlier epoch's AP)."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    model_dir = str(tmp_path / "run")
    config = apply_overrides(fast_config, ["train.validate_every=1"])
    train(apply_overrides(config, ["train.epochs=1"]), model_dir, progress=False)
    saved_model = os.path.join(model_dir, "saved_model")
    os.utime(saved_model, (0, 0))  # As if exported before best/ changed.
    train(apply_overrides(config, ["train.epochs=2"]), model_dir, progress=False, export=False)
    assert (f"{saved_model} is of an earlier epoch than this run's best: run the same "
            "command without --noexport") in caplog.text
    caplog.clear()
    train(apply_overrides(config, ["train.epochs=2"]), model_dir, progress=False)
    assert "earlier epoch" not in caplog.text  # Exported again: up to date.
    # Without validation, the export is of the last epoch.
    plain = str(tmp_path / "plain")
    train(apply_overrides(fast_config, ["train.epochs=1"]), plain, progress=False)
    os.utime(os.path.join(plain, "saved_model"), (0, 0))
    train(apply_overrides(fast_config, ["train.epochs=2"]), plain, progress=False, export=False)
    assert "is of an earlier epoch than this run's checkpoints/epoch_0002" in caplog.text


def test_best_is_compared_only_with_values_validated_alike(tmp_path, fast_config, caplog):
    """Resumed with another validation flip test, the run compared its AP
    without flip (0.377) to best/'s with flip (0.411), and kept the worse
    epoch. best/ is validated again as the run now validates."""
    import json
    import logging

    from keras_pose.evaluation.runner import run_evaluation
    caplog.set_level(logging.WARNING, logger="absl")
    model_dir = str(tmp_path / "run")
    config = apply_overrides(fast_config, ["train.validate_every=1"])
    train(apply_overrides(config, ["train.epochs=1"]), model_dir, progress=False, export=False)
    best = json.load(open(os.path.join(model_dir, "best", "best.json")))
    assert "| flip test | settings " in best["how"]
    train(apply_overrides(config, ["train.epochs=2", "train.val_flip_test=false"]), model_dir,
          progress=False, export=False)
    assert "best/ (epoch 1) was validated otherwise" in caplog.text
    best = json.load(open(os.path.join(model_dir, "best", "best.json")))
    assert "| no flip test | settings " in best["how"]
    epoch = os.path.join(model_dir, "checkpoints", f"epoch_{best['epoch']:04d}")
    assert json.load(open(os.path.join(epoch, "validation.json")))["how"] == best["how"] or \
        best["epoch"] == 1
    again = run_evaluation(checkpoint=os.path.join(model_dir, "best"), flip=False,
                           use_gt_boxes=config.train.val_use_gt_boxes, progress=False)
    assert best["value"] == pytest.approx(again.metrics["AP"], abs=1e-6)
    # Other OKS sigmas (wider: a higher AP of the same weights) were compared
    # with best/'s value of the old ones: a worse epoch replaced best/.
    caplog.clear()
    wider = ",".join(str(3 * s) for s in config.data.oks_sigmas)
    train(apply_overrides(config, ["train.epochs=3", "train.val_flip_test=false",
                                   f"data.oks_sigmas={wider}"]), model_dir, progress=False,
          export=False)
    assert f"best/ (epoch {best['epoch']}) was validated otherwise" in caplog.text
    assert json.load(open(os.path.join(model_dir, "best", "best.json")))["how"] != best["how"]
    # A record of an earlier version, without "how": validated again too.
    caplog.clear()
    record = os.path.join(model_dir, "best", "best.json")
    json.dump({k: v for k, v in json.load(open(record)).items() if k != "how"},
              open(record, "w"))
    train(apply_overrides(config, ["train.epochs=4", "train.val_flip_test=false",
                                   f"data.oks_sigmas={wider}"]), model_dir, progress=False,
          export=False)
    assert "was validated otherwise (how unrecorded; now " in caplog.text


def test_the_final_evaluation_of_a_finished_run_takes_the_commands_settings(tmp_path,
                                                                          fast_config):
    """A finished run given again with --final_eval, --data_dir elsewhere and
    test.flip_test=false: the evaluation took best/'s stored settings (flip
    on, the old data folder, generated again there)."""
    import json
    import shutil
    model_dir = str(tmp_path / "run")
    config = apply_overrides(fast_config, ["train.epochs=1"])
    train(config, model_dir, progress=False, export=False)
    moved = str(tmp_path / "moved")
    shutil.copytree(config.data.root, moved)
    again = apply_overrides(config, ["train.final_evaluation=true", "test.flip_test=false",
                                     f"data.root={moved}"])
    assert train(again, model_dir, progress=False, export=False).epochs_run == 0
    report = json.load(open(os.path.join(model_dir, "eval", "final", "metrics.json")))
    assert report["flip_test"] is False and report["data_root"] == moved


def test_a_saved_model_folder_holding_other_files_is_refused_before_training(tmp_path,
                                                                            fast_config):
    """<run>/saved_model holding a user's file: an epoch was trained, then the
    final export stopped naming "output_dir" (a Python argument; train.py has
    no such flag). Refused before anything is trained or written."""
    model_dir = tmp_path / "run"
    (model_dir / "saved_model").mkdir(parents=True)
    (model_dir / "saved_model" / "notes.txt").write_text("mine")
    with pytest.raises(TrainingError, match=r"saved_model holds notes.txt and is not a keras_pose "
                                            r"SavedModel: the export at the end of this run "
                                            r"would replace it; .* or train with --noexport"):
        train(apply_overrides(fast_config, ["train.epochs=1"]), str(model_dir), progress=False)
    assert sorted(os.listdir(model_dir)) == [".lock", "saved_model"]  # The run's lock alone.
    assert os.listdir(model_dir / "saved_model") == ["notes.txt"]


@pytest.mark.parametrize("gpu, bf16, expected", [(True, True, "mixed_float16"),
                                                 (False, True, "mixed_bfloat16"),
                                                 (False, False, "fp32")])
def test_auto_precision_is_the_exports_choice(monkeypatch, gpu, bf16, expected):
    """train.precision=auto picks what the exports' auto picks on the same
    machine (one owner: keras_pose.export.precision.auto_precision)."""
    from keras_pose.export import precision
    from keras_pose.training.distribution import resolve_precision
    monkeypatch.setattr(precision, "_has_gpu", lambda: gpu)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda cpuinfo="/proc/cpuinfo": bf16)
    assert resolve_precision("auto") == expected
    assert resolve_precision("mixed_float16") == "mixed_float16"  # Named: kept.


def test_the_runs_saved_model_is_of_best_and_waits_for_no_other_export(tmp_path,
                                                                       tiny_exported):
    """<model_dir>/saved_model held the last epoch's weights where
    --checkpoint <model_dir> serves best/; and it took no export lock: the
    export script writing into it at the same time and train.py both said
    they succeeded, the last one winning."""
    from keras_pose.export.destination import output_lock
    from keras_pose.inference import load_saved_model
    from keras_pose.models import build_model_from_config
    from keras_pose.training.finish import export_at_end
    best_model, config, checkpoint, _ = tiny_exported
    model_dir = tmp_path / "run"
    shutil.copytree(checkpoint, model_dir / "best")
    last_epoch = build_model_from_config(config.model)  # Other (random) weights.
    crops = tf.random.normal((1, *config.model.image_size[::-1], 3), seed=1)
    with output_lock(str(model_dir / "saved_model")):  # scripts/export_saved_model.py's.
        with pytest.raises(TrainingError, match=r"training is complete in .*run, but the "
                           r"SavedModel .*saved_model is being written by .*; run the same "
                           r"train.py command again when it has ended"):
            export_at_end(last_epoch, config, str(model_dir), str(model_dir))
    # The run's config another codec than best/'s (a resume given --set
    # model.codec=dark): the export decoded otherwise than best/.
    run_config = config.replace(model=dataclasses.replace(config.model, codec="dark"))
    path = export_at_end(last_epoch, run_config, str(model_dir), str(model_dir))
    served = load_saved_model(path)
    np.testing.assert_allclose(served.network(crops).numpy(),
                               best_model(crops, training=False).numpy(), atol=1e-5)
    assert served.config.model.codec == config.model.codec == "msra"
    shutil.rmtree(model_dir / "best")  # No validation: the last epoch's weights.
    path = export_at_end(last_epoch, config, str(model_dir), str(model_dir))
    served = load_saved_model(path).network(crops).numpy()
    np.testing.assert_allclose(served, last_epoch(crops, training=False).numpy(), atol=1e-5)


def test_the_validation_table_names_a_mixed_precision_it_ran_in(fast_config):
    """Under train.precision=auto on a CPU with bf16 units the end-of-training
    table gave the bf16 network's AP (0.685, the saved weights 0.688 in
    evaluate.py) under a title that named no precision."""
    from keras_pose.data.datasets import BoxMode
    from keras_pose.training.validation_data import Validation

    class Metric:
        def table(self, metrics, arch, title):
            return title
    titles = {precision: Validation(apply_overrides(fast_config, [
        f"train.precision={precision}"]), None, Metric(), BoxMode(True)).table({"AP": 0.5})
        for precision in ("fp32", "mixed_bfloat16")}
    assert titles["mixed_bfloat16"] == titles["fp32"] + " | tf mixed_bfloat16"


def test_mixed_float16_without_a_gpu_is_warned_about(fast_config, caplog):
    """Unsaid, it ran an epoch over 200 s against 12 s at fp32 (AMX Xeon)."""
    from keras_pose.training.trainer import _prepare
    for precision in ("mixed_float16", "fp32"):
        caplog.clear()
        _prepare(apply_overrides(fast_config, [f"train.precision={precision}"]),
                 tf.distribute.get_strategy(), None)
        warned = "mixed_float16 is for GPUs: this machine has none" in caplog.text
        assert warned == (precision == "mixed_float16")


def test_a_steps_per_execution_that_does_not_divide_the_epoch_is_said(fast_config, caplog):
    # 2 with 5 steps an epoch ran as 1, config.json saying 2, unsaid.
    from keras_pose.training import trainer
    config = apply_overrides(fast_config, ["train.steps_per_epoch=5",
                                           "train.steps_per_execution=2"])
    with caplog.at_level("WARNING"):
        plan = trainer._plan(config, tf.distribute.get_strategy(), 100, "/tmp/run")
    assert plan.steps_per_execution == 1
    assert ("train.steps_per_execution=2 runs as 1: it must divide the 5 steps of an epoch"
            in caplog.text)
    caplog.clear()
    config = apply_overrides(config, ["train.steps_per_epoch=6"])
    assert trainer._plan(config, tf.distribute.get_strategy(), 100, "/r").steps_per_execution == 2
    assert "runs as" not in caplog.text
