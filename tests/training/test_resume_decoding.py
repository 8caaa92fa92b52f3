"""train.py resumes only with the codec, sigma and decoding a run's
checkpoints were written with: each is validated (best/ again, epochs left
unvalidated) with the run's settings, which must be its own."""

import json
import os

import pytest

from keras_pose import cli
from tests.training.conftest import REPO, fast_flags


@pytest.fixture
def train_script(script_module):
    return script_module(os.path.join(REPO, "train.py"), "train_script")


def _train(train_script, *flags):
    train_script.FLAGS.unparse_flags()
    train_script.FLAGS(["train.py", *flags, "--set", "train.steps_per_epoch=2", "--noexport"])
    return cli.run("train.py", train_script.work)


def _without_model(root):
    """The fast run without its model.* settings (--init_checkpoint's decide)."""
    return fast_flags(root, model=False)


def test_a_resume_with_another_codec_is_refused_before_it_rescores_best(
        train_script, synthetic_root, tmp_path, monkeypatch, capsys):
    """Trained an epoch with model.codec=dark, resumed with msra: epoch 1
    (best/) was validated again with msra decoding, and best.json named
    epoch 2 where evaluate.py gives epoch 1 the higher AP."""
    monkeypatch.chdir(tmp_path)
    flags = [*fast_flags(synthetic_root), "--set", "train.validate_every=1", "--model_dir", "r"]
    assert _train(train_script, *flags, "--set", "train.epochs=1", "--set",
                  "model.codec=dark") == 0
    best = open(os.path.join("r", "best", "best.json")).read()
    capsys.readouterr()
    assert _train(train_script, *flags, "--set", "train.epochs=2") == 1
    err = capsys.readouterr().err
    assert err == ("train.py: error: r/checkpoints/epoch_0001 holds a checkpoint of another "
                   "model, input convention, decoding or precision (model.codec: checkpoint "
                   "dark vs now msra); use another --model_dir or the same settings (--set "
                   "model.codec=dark, the values it was trained with; or, for a run "
                   "fine-tuned by an earlier keras-pose, give its --init_checkpoint again)\n")
    assert open(os.path.join("r", "best", "best.json")).read() == best
    assert not os.path.exists(os.path.join("r", "checkpoints", "epoch_0002"))
    assert _train(train_script, *flags, "--set", "train.epochs=2", "--set",
                  "model.codec=dark") == 0
    assert json.load(open(os.path.join("r", "checkpoints", "epoch_0002", "config.json")))[
        "model"]["codec"] == "dark"


def test_a_dark_fine_tune_resumed_without_its_source_keeps_its_codec(
        train_script, synthetic_root, tmp_path, monkeypatch, capsys):
    """A run fine-tuned from a DARK checkpoint, resumed without
    --init_checkpoint, went on with the experiment's msra targets and
    decoding (a warning), its config still naming the DARK source. With
    --init_checkpoint given and a --set that changes the codec, the advice
    was to give --init_checkpoint again."""
    monkeypatch.chdir(tmp_path)
    source = str(tmp_path / "a")
    assert _train(train_script, *fast_flags(synthetic_root), "--set", "train.epochs=1",
                  "--set", "model.codec=dark", "--model_dir", "a") == 0
    fine_tune = [*_without_model(synthetic_root), "--model_dir", "ft"]
    assert _train(train_script, *fine_tune, "--init_checkpoint", "a", "--set",
                  "train.epochs=1") == 0
    capsys.readouterr()
    # The same model settings but the experiment's codec.
    resume = [*fast_flags(synthetic_root), "--model_dir", "ft", "--set", "train.epochs=2"]
    assert _train(train_script, *resume) == 1
    err = capsys.readouterr().err
    assert ("(model.codec: checkpoint dark vs now msra); use another --model_dir or the same "
            f"settings (a run fine-tuned from {source}: give --init_checkpoint {source} "
            "again, or --set model.codec=dark)\n") in err
    assert _train(train_script, *fine_tune, "--init_checkpoint", "a", "--set",
                  "train.epochs=2", "--set", "model.codec=msra") == 1
    err = capsys.readouterr().err
    assert err.endswith("(model.codec: checkpoint dark vs now msra); use another --model_dir "
                        "or the same settings (--set model.codec=dark: the values the run was "
                        "trained with)\n")
    assert not os.path.exists(os.path.join("ft", "checkpoints", "epoch_0002"))
    # A resume loads its checkpoint's weights: the command's initialisation
    # (an experiment's "imagenet") was recorded as the run's.
    assert _train(train_script, *resume, "--set", "model.codec=dark", "--set",
                  "model.pretrained=imagenet") == 0
    saved = json.load(open(os.path.join("ft", "checkpoints", "epoch_0002", "config.json")))
    assert (saved["model"]["codec"], saved["train"]["init_checkpoint"]) == ("dark", source)
    assert saved["model"]["pretrained"] == ""
