"""Who decides a setting on the command lines: a model.* --set of an
evaluation is refused by its key, and train.py's default --model_dir does
not resume a run on another data set (a flag against the --set of its
setting: tests/test_cli_flag_settings.py)."""

import os
import types

import pytest

from keras_pose.configs import apply_overrides, get_experiment, save_config


def test_a_model_set_of_an_evaluation_is_refused_before_its_value(run_script, tiny_exported,
                                                                  tmp_path, monkeypatch):
    """Was "set model.heatmap_size=16,16 too" (the value's own check), and
    that --set was then refused: model.* cannot be overridden."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_script("evaluate.py")(["--checkpoint", tiny_exported[2], "--set",
                                              "model.image_size=[192,256]"])
    assert code == 1 and err.strip() == (
        "evaluate.py: error: model.* cannot be overridden at evaluation (--set "
        "model.image_size): the checkpoint's weights define the model")


def _run_of(model_dir, root):
    """A finished-looking epoch checkpoint of experiment tiny trained on ``root``."""
    epoch = model_dir / "checkpoints" / "epoch_0002"
    epoch.mkdir(parents=True)
    save_config(apply_overrides(get_experiment("tiny"), [f"data.root={root}"]),
                str(epoch / "config.json"))
    for name in ("model.weights.h5", "COMPLETE"):
        (epoch / name).write_text("")


@pytest.fixture
def trained_here(monkeypatch):
    """keras_pose.training.train replaced: the model_dirs it was called with."""
    calls = []

    def train(config, model_dir, **kwargs):
        calls.append(model_dir)
        return types.SimpleNamespace(epochs_run=0, state=types.SimpleNamespace(epoch=2),
                                     model_dir=model_dir, validation_failures=[],
                                     final_table="", saved_model="")
    monkeypatch.setattr("keras_pose.training.train", train)
    return calls


def test_the_default_model_dir_does_not_resume_a_run_on_another_data_set(
        run_script, tmp_path, monkeypatch, trained_here):
    """--data_dir A, then --data_dir B, same experiment: the second "resumed"
    the first's finished run in output/tiny ("Trained 0 epoch(s)")."""
    monkeypatch.chdir(tmp_path)
    _run_of(tmp_path / "output" / "tiny", tmp_path / "A")
    train = run_script("train.py")
    code, _, err = train(["--experiment", "tiny", "--data_dir", str(tmp_path / "B")])
    default = os.path.join("output", "tiny")
    assert code == 1 and err.strip() == (
        f"train.py: error: {default}, the default --model_dir of experiment tiny, holds a run "
        f"on the data set {tmp_path / 'A'}, not {tmp_path / 'B'}: give --model_dir a new folder "
        f"to train on {tmp_path / 'B'}, or --model_dir {default} to resume that run on its "
        f"data moved to {tmp_path / 'B'}")
    assert trained_here == []
    # Its own data set (through a link too) resumes; an explicit --model_dir resumes
    # on data moved elsewhere (the resume names the changed data.root).
    (tmp_path / "A").mkdir()
    os.symlink(tmp_path / "A", tmp_path / "A_link")
    assert train(["--experiment", "tiny", "--data_dir", str(tmp_path / "A_link")])[0] == 0
    assert train(["--experiment", "tiny", "--data_dir", str(tmp_path / "B"), "--model_dir",
                  default])[0] == 0
    assert trained_here == [default, default]
