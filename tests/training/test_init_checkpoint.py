"""Fine-tuning from a checkpoint or a preset name (train.py --init_checkpoint):
what the run takes from it, another K, another architecture."""

import dataclasses
import logging
import os

import numpy as np
import pytest

from keras_pose import cli
from keras_pose.configs import apply_overrides
from keras_pose.training import TrainingError
from tests.training.conftest import REPO, fast_flags


def _flags(root):
    """The fast test run without its model.* settings (--init_checkpoint's)."""
    return fast_flags(root, model=False)


def test_another_k_keeps_the_backbone_and_deconvolutions_and_says_so(
        tiny_preset, tiny_exported, caplog):
    from keras_pose.models import build_model_from_config
    from keras_pose.training.init_checkpoint import FINAL_LAYER, init_from_checkpoint
    source = tiny_exported[0]
    config = apply_overrides(tiny_preset.config, ["model.num_keypoints=5"])
    target = build_model_from_config(config.model)
    fresh = [w.copy() for w in target.get_layer(FINAL_LAYER).get_weights()]
    caplog.set_level(logging.INFO, logger="absl")
    init_from_checkpoint(target, tiny_preset.name, config)
    compared = 0
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name == FINAL_LAYER:  # K=5 filters, freshly initialised.
            for now, before in zip(layer.get_weights(), fresh):
                np.testing.assert_array_equal(now, before)
            assert layer.kernel.shape[-1] == 5
        else:
            for ours, theirs in zip(layer.get_weights(), source.get_layer(layer.name)
                                    .get_weights()):
                np.testing.assert_array_equal(ours, theirs)
            compared += 1
    assert compared > 20
    assert (f"the backbone and the deconvolutions kept; the final layer {FINAL_LAYER} takes "
            "the checkpoint's filters of 0 of this run's 5 keypoints by name (the checkpoint "
            "predicts K=17); re-initialised: [0, 1, 2, 3, 4]") in caplog.text
    other = apply_overrides(tiny_preset.config, ["model.deconv_filters=32,32,32"])
    with pytest.raises(TrainingError, match=r"another architecture \(model.deconv_filters: "
                                            r"checkpoint \(16, 16, 16\) vs this run"):
        init_from_checkpoint(build_model_from_config(other.model), tiny_preset.name, other)


@pytest.fixture
def train_script(script_module):
    return script_module(os.path.join(REPO, "train.py"), "train_script")


def test_the_run_takes_the_presets_model_and_input_convention(train_script, synthetic_root):
    # The official checkpoints were trained on BGR input: a run initialised
    # from one keeps that (and its architecture and input size); K, the data
    # and --set model.* stay the run's. No download: the table's config.
    train_script.FLAGS.unparse_flags()
    train_script.FLAGS(["train.py", *_flags(synthetic_root), "--init_checkpoint",
                        "pose_resnet_101_384x288", "--set", "model.sigma=2.5"])
    config = train_script.build_config()
    m = config.model
    assert (m.depth, m.image_size, m.heatmap_size, m.color_order) == (
        101, (288, 384), (72, 96), "BGR")
    assert (m.mean, m.std) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert (m.deconv_filters, m.blocks_per_stage, m.pretrained) == ((256, 256, 256), (), "")
    assert m.sigma == 2.5 and m.num_keypoints == 17
    assert config.data.dataset == "synthetic" and config.data.root == synthetic_root


def test_train_py_fine_tunes_from_a_preset_name(train_script, tiny_preset, synthetic_root,
                                                tmp_path, capsys):
    train_script.FLAGS.unparse_flags()
    train_script.FLAGS(["train.py", *_flags(synthetic_root), "--init_checkpoint",
                        tiny_preset.name, "--model_dir", str(tmp_path / "run"),
                        "--set", "train.epochs=1", "--set", "train.steps_per_epoch=2",
                        "--noexport"])
    assert cli.run("train.py", train_script.work) == 0, capsys.readouterr().err[-2000:]
    assert "Trained 1 epoch(s)" in capsys.readouterr().out
    assert len(tiny_preset.conversions) == 1
    from keras_pose.configs import load_config
    assert load_config(str(tmp_path / "run" / "config.json")).model == tiny_preset.config.model


def test_the_log_names_only_what_was_taken_from_the_checkpoint(caplog):
    """A model field the command sets (--set model.image_size=...) is not
    'taken from' the checkpoint: the log names it as the command's, with
    the checkpoint's value beside it."""
    from keras_pose.configs import get_experiment
    from keras_pose.configs.cli import init_checkpoint_config
    from keras_pose.presets import preset_config
    source = preset_config("pose_resnet_101_384x288")
    run = get_experiment("tiny")
    caplog.set_level(logging.INFO, logger="absl")
    config = init_checkpoint_config(run, source, ["model.image_size=192,256",
                                                  "model.heatmap_size=48,64"])
    assert config.model.image_size == (192, 256) and config.model.depth == 101
    taken = next(r.getMessage() for r in caplog.records if "taken from it" in r.getMessage())
    assert "model.depth=101" in taken and "image_size" not in taken
    assert "heatmap_size" not in taken
    assert ("model.heatmap_size=(48, 64), model.image_size=(192, 256) as --set gives "
            "(the checkpoint has (72, 96), (288, 384))") in caplog.text


def test_the_final_layer_takes_each_keypoints_filter_by_name(tiny_preset, tiny_exported,
                                                              caplog):
    """K=17 of another set (AP-10K's 17 animal keypoints after COCO's 17)
    took every COCO filter by position, in silence: channel 'left_eye'
    started as COCO's 'nose'. Filters now follow the names, in any naming
    style and order; keypoints the checkpoint lacks start afresh."""
    import dataclasses

    from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES
    from keras_pose.models import build_model_from_config
    from keras_pose.training.init_checkpoint import FINAL_LAYER, init_from_checkpoint
    source = tiny_exported[0].get_layer(FINAL_LAYER).get_weights()
    styled = ["L_Eye", "Nose", "R_Eye"] + [f"tail_{i}" for i in range(14)]
    config = tiny_preset.config.replace(data=dataclasses.replace(
        tiny_preset.config.data, keypoint_names=tuple(styled), flip_pairs=((0, 2),)))
    target = build_model_from_config(config.model)
    fresh = [w.copy() for w in target.get_layer(FINAL_LAYER).get_weights()]
    caplog.set_level(logging.INFO, logger="absl")
    init_from_checkpoint(target, tiny_preset.name, config)
    kernel, bias = target.get_layer(FINAL_LAYER).get_weights()
    for mine, name in enumerate(styled):
        its = {"L_Eye": 1, "Nose": 0, "R_Eye": 2}.get(name)
        want = (source[0][..., its], source[1][its]) if its is not None else (
            fresh[0][..., mine], fresh[1][mine])
        np.testing.assert_array_equal(kernel[..., mine], want[0], err_msg=name)
        assert bias[mine] == want[1], name
    assert COCO_KEYPOINT_NAMES[:3] == ("nose", "left_eye", "right_eye")
    assert ("takes the checkpoint's filters of 3 of this run's 17 keypoints by name, in "
            "another order (the checkpoint predicts K=17); re-initialised: ['tail_0'") in caplog.text


def test_an_export_or_a_saved_model_is_named_as_such(tiny_exported, tiny_onnx):
    """An .onnx as --init_checkpoint was "a SavedModel"."""
    import pytest
    from keras_pose.training.callbacks import TrainingError
    from keras_pose.training.init_checkpoint import init_from_checkpoint
    model, config = tiny_exported[:2]
    with pytest.raises(TrainingError, match=r"tiny.onnx is an exported network; give a Keras"):
        init_from_checkpoint(model, str(tiny_onnx), config)
    with pytest.raises(TrainingError, match=r"saved_model is a SavedModel; give a Keras"):
        init_from_checkpoint(model, str(tiny_exported[3]), config)


def test_a_wrong_init_checkpoint_is_named_with_its_flag(tmp_path):
    """A missing path did not name --init_checkpoint; a file (model.keras)
    was told to be a SavedModel or an export, which the flag refuses."""
    from keras_pose.checkpoint import CheckpointError
    from keras_pose.training.init_checkpoint import check_source
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"PK")
    with pytest.raises(CheckpointError, match=r"^--init_checkpoint .*model\.keras is a file; "
                       r"give a Keras checkpoint directory \(config\.json and model\.weights"
                       r"\.h5\), a model directory or a preset name$"):
        check_source(str(keras_file))
    with pytest.raises(CheckpointError, match=r"^--init_checkpoint: .*nowhere"):
        check_source(str(tmp_path / "nowhere"))
    torch_file = tmp_path / "my_finetune.pth.tar"
    torch_file.write_bytes(b"PK")
    with pytest.raises(CheckpointError, match=r"^--init_checkpoint: .* is a PyTorch weights "
                       r"file: convert it first"):
        check_source(str(torch_file))
    # A published file's name: the preset that takes it.
    published = tmp_path / "pose_resnet_50_256x192.pth.tar"
    published.write_bytes(b"PK")
    with pytest.raises(CheckpointError, match=r"^--init_checkpoint: .* is named as preset "
                       r"pose_resnet_50_256x192's published PyTorch weights file: put it at"):
        check_source(str(published))


def test_the_final_layer_keeps_each_position_of_a_repeated_spelling():
    """'nose' and 'Nose' (one key) in both lists: channel 0 took the
    checkpoint's channel 1 (the last position of the key won)."""
    from keras_pose.training.init_checkpoint import final_layer_channels
    names = ["nose", "Nose", "left_eye", "right_eye", "tail"]
    assert final_layer_channels(names, names, 5, 5) == [(i, i) for i in range(5)]
    assert final_layer_channels(["tail", "x", "nose"], names, 3, 5) == [(0, 4), (2, 0)]


def test_train_py_names_the_flag_of_a_wrong_init_checkpoint(train_script, synthetic_root,
                                                           tmp_path, monkeypatch, capsys):
    """train.py met the resolver's error before check_source: "checkpoint X
    does not exist", and a model.keras file was offered the exports the
    flag refuses."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"PK")
    # A model directory's checkpoints/ folder: the resolver's list offered SavedModels
    # and exports (which the flag refuses) and said nothing of the epochs inside.
    epochs = tmp_path / "old_run" / "checkpoints"
    for epoch in ("epoch_0001", "epoch_0002"):
        (epochs / epoch).mkdir(parents=True)
        (epochs / epoch / "config.json").write_text("{}")
    for source, message in (
            ("model.keras", "--init_checkpoint model.keras is a file; give a Keras checkpoint "
                            "directory (config.json and model.weights.h5), a model directory "
                            "or a preset name"),
            ("old_run/checkpoints/", "--init_checkpoint old_run/checkpoints/ is not a "
                                     "checkpoint: give a Keras checkpoint directory (config.json "
                                     "and model.weights.h5), a model directory or a preset name "
                                     "(it holds epoch checkpoints: give one, e.g. "
                                     "old_run/checkpoints/epoch_0002, or the model directory "
                                     "old_run)"),
            (str(tmp_path / "nope"), f"--init_checkpoint: checkpoint {tmp_path / 'nope'} does "
                                     "not exist")):
        capsys.readouterr()
        assert _train(train_script, *_flags(synthetic_root), "--init_checkpoint", source,
                      "--model_dir", "run") == 1
        err = capsys.readouterr().err
        assert err.startswith(f"train.py: error: {message}"), err
    assert not os.path.exists("run")


def _train(train_script, *flags):
    train_script.FLAGS.unparse_flags()
    train_script.FLAGS(["train.py", *flags, "--set", "train.steps_per_epoch=2", "--noexport"])
    return cli.run("train.py", train_script.work)


def test_a_fine_tune_never_resumes_another_run_in_silence(train_script, synthetic_root,
                                                         tmp_path, monkeypatch, capsys):
    """Trained from scratch, then "fine-tuned from a checkpoint" into the same
    model directory (the default one, before: output/<experiment>): the
    resume continued the scratch run and the checkpoint's weights were never
    loaded. Refused now, nothing written; a fine-tune's default directory is
    its own, and its resume is recorded and taken."""
    from keras_pose.configs import load_config
    from tests.training.conftest import fast_flags
    flags = [*fast_flags(synthetic_root), "--set", "train.epochs=1"]
    source, scratch = str(tmp_path / "a"), str(tmp_path / "b")
    assert _train(train_script, *flags, "--model_dir", source) == 0
    assert _train(train_script, *flags, "--model_dir", scratch) == 0

    def written():  # Every file but the run lock's (taken by each run).
        return {os.path.join(d, p): os.path.getmtime(os.path.join(d, p))
                for d, _, files in os.walk(scratch) for p in files if p != ".lock"}
    before = written()
    capsys.readouterr()
    assert _train(train_script, *flags, "--model_dir", scratch, "--init_checkpoint",
                  source) == 1
    err = capsys.readouterr().err
    assert f"{scratch} holds a run not started from an --init_checkpoint" in err
    assert f"never loads --init_checkpoint {source}: give another --model_dir" in err
    assert written() == before
    monkeypatch.chdir(tmp_path)  # The default --model_dir: output/tiny_from_a.
    assert _train(train_script, *flags, "--init_checkpoint", "a") == 0
    run = os.path.join("output", "tiny_from_a")
    assert load_config(os.path.join(run, "config.json")).train.init_checkpoint == source
    capsys.readouterr()
    assert _train(train_script, *fast_flags(synthetic_root), "--set", "train.epochs=2",
                  "--init_checkpoint", source) == 0  # The same source, given otherwise.
    assert "Trained 1 epoch(s)" in capsys.readouterr().out
    assert _train(train_script, *flags, "--model_dir", run, "--init_checkpoint",
                  scratch) == 1
    assert f"fine-tuned from {source}" in capsys.readouterr().err


def test_an_unfinished_run_where_fine_tunes_went_before_is_named(
        train_script, synthetic_root, tiny_exported, tmp_path, monkeypatch, capsys):
    """A fine-tune of the previous release, stopped in output/<experiment>:
    the same command started over in output/<experiment>_from_<source>,
    the stopped run's progress abandoned unsaid."""
    import dataclasses

    from keras_pose.configs.cli import default_model_dir
    from tests.training.test_run_dir import _model_and_optimizer, _state
    from keras_pose.training import run_dir
    import shutil
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_exported[2], "src")
    train_script.FLAGS.unparse_flags()
    train_script.FLAGS(["train.py", *_flags(synthetic_root), "--init_checkpoint", "src"])
    config = train_script.build_config()
    model, optimizer = _model_and_optimizer(config)
    planned = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=3))
    run_dir.save_epoch_checkpoint(os.path.join("output", "tiny"), model, optimizer, planned,
                                  _state(1))
    train_script._note_unfinished_default_run(config, default_model_dir(config))
    assert capsys.readouterr().out == (
        "note: output/tiny holds a run (1 of 3 epochs done; unfinished), where earlier versions "
        "put fine-tuning runs; this one goes to output/tiny_from_src. To continue that run "
        "instead, stop this one and give --model_dir output/tiny\n")
    # Finished runs (the old command run again to extend it went elsewhere,
    # unsaid): one from this source, one an earlier version did not record
    # the source of; a run from scratch is another run, not said.
    for began, how in (("src", "fine-tuned from src"),
                       (None, "its source not recorded by the version that made it"),
                       ("", None)):
        shutil.rmtree("output")
        finished = dataclasses.replace(config, train=dataclasses.replace(
            config.train, epochs=1, init_checkpoint=began))
        run_dir.save_epoch_checkpoint(os.path.join("output", "tiny"), model, optimizer,
                                      finished, _state(1))
        train_script._note_unfinished_default_run(config, default_model_dir(config))
        out = capsys.readouterr().out
        assert out == (f"note: output/tiny holds a run (1 of 1 epochs done; {how}), where "
                       "earlier versions put fine-tuning runs; this one goes to "
                       "output/tiny_from_src. To continue that run instead, stop this one and "
                       "give --model_dir output/tiny\n" if how else ""), began
    os.makedirs(default_model_dir(config))  # Its own folder exists: said once, at its start.
    train_script._note_unfinished_default_run(config, default_model_dir(config))
    assert capsys.readouterr().out == ""


def test_a_fine_tune_resumes_when_its_source_is_gone(train_script, synthetic_root, tmp_path,
                                                   monkeypatch, capsys):
    """A fine-tune from a run directory, stopped; that directory removed
    (moved, a scratch folder cleaned): the same command stopped at "a" is
    neither a path nor a preset, and the run, which needs only its own
    checkpoint, could not be resumed (only with --set model.* by hand)."""
    import shutil
    from tests.training.conftest import fast_flags
    monkeypatch.chdir(tmp_path)
    assert _train(train_script, *fast_flags(synthetic_root), "--set", "train.epochs=1",
                  "--model_dir", "a") == 0
    fine_tune = [*_flags(synthetic_root), "--init_checkpoint", "a"]  # Its model: a's.
    assert _train(train_script, *fine_tune, "--set", "train.epochs=1") == 0
    shutil.rmtree("a")
    capsys.readouterr()
    assert _train(train_script, *fine_tune, "--set", "train.epochs=2") == 0
    assert "Trained 1 epoch(s) in" in capsys.readouterr().out
    assert os.path.isdir(os.path.join("output", "tiny_from_a", "checkpoints", "epoch_0002"))
    # The run given as its best/ (the same source while it was there), gone too.
    assert _train(train_script, *_flags(synthetic_root), "--init_checkpoint", "a/best",
                  "--model_dir", os.path.join("output", "tiny_from_a"),
                  "--set", "train.epochs=3") == 0
    assert os.path.isdir(os.path.join("output", "tiny_from_a", "checkpoints", "epoch_0003"))
    assert _train(train_script, *fine_tune, "--model_dir", "new") == 1  # A new run needs it.
    assert "train.py: error: --init_checkpoint: checkpoint a does not exist" in capsys.readouterr().err


def test_a_fine_tune_stopped_before_its_first_checkpoint_is_not_restarted_from_scratch(
        train_script, synthetic_root, tmp_path, monkeypatch, capsys):
    """A fine-tune stopped before its first checkpoint (here: no epoch to
    train), run again without --init_checkpoint, trained from scratch in
    silence (AP 0 where a resume after an epoch keeps the fine-tune)."""
    from tests.training.conftest import fast_flags
    monkeypatch.chdir(tmp_path)
    assert _train(train_script, *fast_flags(synthetic_root), "--set", "train.epochs=1",
                  "--model_dir", "a") == 0
    assert _train(train_script, *_flags(synthetic_root), "--init_checkpoint", "a",
                  "--model_dir", "ft", "--set", "train.epochs=0") == 0
    capsys.readouterr()
    assert _train(train_script, *_flags(synthetic_root), "--model_dir", "ft") == 1
    assert capsys.readouterr().err == (
        f"train.py: error: ft holds a run fine-tuned from {tmp_path / 'a'} that stopped before "
        "its first checkpoint (ft/config.json); without --init_checkpoint this run would train "
        f"from scratch: give --init_checkpoint {tmp_path / 'a'} to start it again, or another "
        "--model_dir\n")
    assert not os.path.isdir(os.path.join("ft", "checkpoints", "epoch_0001"))
    assert _train(train_script, *_flags(synthetic_root), "--init_checkpoint", "a",
                  "--model_dir", "ft", "--set", "train.epochs=1") == 0


def test_a_resume_without_the_source_keeps_the_runs(tmp_path, monkeypatch):
    from keras_pose import log as library_log
    from keras_pose.configs import get_experiment
    from keras_pose.training.init_checkpoint import check_resumed_source
    config = get_experiment("tiny")

    def began(source):
        return config.replace(train=dataclasses.replace(config.train, init_checkpoint=source))
    kept = check_resumed_source(began("preset_x"), began(""), "run", "run/c/epoch_0001")
    assert kept.train.init_checkpoint == "preset_x"
    (tmp_path / "src").mkdir()
    os.symlink(tmp_path / "src", tmp_path / "link")  # The same source another way: no change.
    linked = check_resumed_source(began(str(tmp_path / "src")), began(str(tmp_path / "link")),
                                  "run", "run/c/epoch_0001")
    assert linked.train.init_checkpoint == str(tmp_path / "src")
    best = tmp_path / "source_run" / "best"  # A run and its best/: the same weights.
    best.mkdir(parents=True)
    for name in ("config.json", "model.weights.h5", "COMPLETE"):
        (best / name).write_text("{}")
    same = check_resumed_source(began(str(best.parent)), began(str(best)), "run", "run/c/e")
    assert same.train.init_checkpoint == str(best.parent)
    with pytest.raises(TrainingError, match="fine-tuned from .*source_run "):
        check_resumed_source(began(str(best.parent)), began(str(tmp_path / "src")), "run", "e")
    # An earlier version's run, its source not recorded: was recorded as
    # begun from the command's --init_checkpoint, which is never loaded.
    warned = []
    monkeypatch.setattr(library_log, "warning", lambda msg, *a: warned.append(msg % a))
    earlier = check_resumed_source(began(None), began("preset_y"), "run", "run/c/epoch_0001")
    assert earlier.train.init_checkpoint is None
    assert warned == ["run holds a run of an earlier keras-pose that did not record where it "
                      "began; it resumes from run/c/epoch_0001, and --init_checkpoint preset_y "
                      "is neither loaded nor recorded as its source"]
    assert check_resumed_source(began(None), began(""), "run", "e").train.init_checkpoint is None
    assert len(warned) == 1
    with pytest.raises(TrainingError, match=r"^run holds a run fine-tuned from preset_x .*"
                                            r"resume that run with --init_checkpoint preset_x$"):
        check_resumed_source(began("preset_x"), began("preset_y"), "run", "run/c/epoch_0001")


def test_a_saved_model_as_init_checkpoint_is_refused_before_the_model_dir_is_made(
        train_script, synthetic_root, tiny_exported, tmp_path, capsys):
    from tests.training.conftest import fast_flags
    run = tmp_path / "run"
    assert _train(train_script, *fast_flags(synthetic_root), "--model_dir", str(run),
                  "--init_checkpoint", tiny_exported[3]) == 1
    assert "saved_model is a SavedModel; give a Keras" in capsys.readouterr().err
    assert not run.exists()  # An empty folder was left behind.


def test_a_run_refused_before_it_writes_leaves_no_folder(train_script, synthetic_root,
                                                         tmp_path, capsys):
    """The folder train.py made held only .lock after an error in the data."""
    from tests.training.conftest import fast_flags
    run, empty = tmp_path / "runs" / "a" / "run", tmp_path / "empty"
    empty.mkdir()
    flags = [f for f in fast_flags(synthetic_root) if f not in ("synthetic", synthetic_root)]
    flags = [f for f in flags if f not in ("--dataset", "--data_dir")]
    assert _train(train_script, *flags, "--dataset", "custom", "--data_dir", str(empty),
                  "--experiment", "tiny", "--model_dir", str(run)) == 1
    assert "no annotation file for data set" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["empty"]  # Nor the folders made on the way to it.
    # Refused once the run's lock made the folders again: those go too.
    assert _train(train_script, *fast_flags(synthetic_root), "--model_dir", str(run),
                  "--set", "train.batch_size_per_replica=100000") == 1
    assert "fewer than one global batch" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["empty"]


def test_a_run_of_zero_epochs_says_its_model_is_untrained(train_script, synthetic_root,
                                                          tmp_path, capsys):
    from tests.training.conftest import fast_flags
    assert _train(train_script, *fast_flags(synthetic_root), "--model_dir",
                  str(tmp_path / "run"), "--set", "train.epochs=0") == 0
    assert ("warning: no epoch was trained (train.epochs=0): the model holds untrained "
            "weights") in capsys.readouterr().out


def test_the_runs_data_root_is_saved_absolute(train_script, synthetic_root, tmp_path,
                                              monkeypatch):
    """config.json kept --data_dir as typed: resumed or evaluated from another
    folder, the run read (or generated) another data set."""
    import shutil
    shutil.copytree(synthetic_root, tmp_path / "data" / "mine")
    monkeypatch.chdir(tmp_path)
    train_script.FLAGS.unparse_flags()
    train_script.FLAGS(["train.py", "--dataset", "synthetic", "--data_dir", "data/mine/"])
    assert train_script.build_config().data.root == str(tmp_path / "data" / "mine")


def test_the_saved_model_line_names_its_epoch(train_script, tmp_path):
    """The last epoch's table, then "SavedModel: <path>", which holds best/'s
    epoch: read together, the table was taken for the exported model's."""
    import json
    from types import SimpleNamespace
    best = tmp_path / "run" / "best"
    best.mkdir(parents=True)
    (best / "COMPLETE").write_text("ok")
    (best / "best.json").write_text(json.dumps({"epoch": 2, "metric": "AP", "value": 0.411}))

    def result(epoch, table="| Arch | AP |\n"):
        return SimpleNamespace(model_dir=str(tmp_path / "run"), final_table=table,
                               state=SimpleNamespace(epoch=epoch))
    assert train_script._exported_epoch(result(3)) == (
        " (of best/: epoch 2, AP 0.411; the table above is epoch 3's)")
    assert train_script._exported_epoch(result(2)) == " (of best/: epoch 2, AP 0.411)"
    assert train_script._exported_epoch(result(3, table="")) == " (of best/: epoch 2, AP 0.411)"
    (best / "COMPLETE").unlink()
    assert train_script._exported_epoch(result(3)) == ""  # No best/: the last epoch's.


def test_fine_tuning_rgb_from_a_bgr_checkpoint_warns_of_its_convention(tiny_exported, tmp_path,
                                                                       caplog):
    """An RGB run started from a BGR checkpoint (the official ones) is warned:
    it sees swapped colours from its first step."""
    import shutil

    from keras_pose.configs import load_config, save_config
    from keras_pose.models import build_model_from_config
    from keras_pose.training.init_checkpoint import init_from_checkpoint
    _, config, checkpoint, _ = tiny_exported
    bgr = str(tmp_path / "bgr")
    shutil.copytree(checkpoint, bgr)
    source = load_config(os.path.join(bgr, "config.json"))
    save_config(source.replace(model=dataclasses.replace(
        source.model, color_order="BGR", mean=(0.4, 0.45, 0.5), std=(0.2, 0.25, 0.3))),
        os.path.join(bgr, "config.json"))
    rgb = apply_overrides(config, ["model.color_order=RGB", "model.mean=0.5,0.45,0.4",
                                   "model.std=0.3,0.25,0.2"])
    caplog.set_level(logging.INFO, logger="absl")
    init_from_checkpoint(build_model_from_config(rgb.model), bgr, rgb)
    assert (f"{bgr} was trained on BGR input (mean (0.4, 0.45, 0.5), std (0.2, 0.25, 0.3)) "
            "but this run feeds RGB (mean (0.5, 0.45, 0.4), std (0.3, 0.25, 0.2)); pass "
            "--set model.color_order=BGR (and mean/std) to keep its convention") in caplog.text
