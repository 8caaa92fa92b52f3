"""The Validation callback's rules: which epochs are validated, which one
``best/`` keeps, and what a resumed run validates. Evaluation is stubbed
with scripted values (no network, no data)."""

import json
import os
import types

import keras
import numpy as np

import keras_pose.evaluation.runner as runner
from keras_pose.training.callbacks import Validation


class _Metric:
    primary = "AP"


class _Checkpoint:
    """The EpochCheckpoint's one attribute Validation reads."""

    last_path = None


def _epoch_dir(directory, epoch: int) -> str:
    """A stand-in epoch checkpoint: the two files best/ copies."""
    path = os.path.join(str(directory), "checkpoints", f"epoch_{epoch:04d}")
    os.makedirs(path, exist_ok=True)
    for name in ("config.json", "model.weights.h5"):
        with open(os.path.join(path, name), "w") as f:
            f.write(f"epoch {epoch}")
    return path


def _best(directory) -> dict:
    with open(os.path.join(str(directory), "best", "best.json")) as f:
        return json.load(f)


def _validation(directory, *, every, epochs, how="", estimator=None) -> Validation:
    return Validation(str(directory), _Checkpoint(), estimator, None, _Metric(), every=every,
                      epochs=epochs, strict=True, batch_size=4, how=how)


class _SaveEpoch(keras.callbacks.Callback):
    """Plays EpochCheckpoint: epoch ``epoch + 1``'s checkpoint, before Validation."""

    def __init__(self, directory, checkpoint):
        super().__init__()
        self.directory, self.checkpoint = directory, checkpoint

    def on_epoch_end(self, epoch, logs=None):
        self.checkpoint.last_path = _epoch_dir(self.directory, epoch + 1)


def test_every_second_epoch_and_the_last_are_validated(tmp_path, monkeypatch):
    """validate_every=2 over 5 epochs validates epochs 2, 4 and the last (5), so
    that the final table and best/ hold the run's end."""
    validated = []

    def evaluate(*args, **kwargs):
        validated.append(int(os.path.basename(validation.checkpoint.last_path)[-4:]))
        return {"AP": 0.1 * len(validated)}
    monkeypatch.setattr(runner, "evaluate", evaluate)
    validation = _validation(tmp_path, every=2, epochs=5)
    # Keras' own epoch numbering (0-based) drives the callbacks, as in train().
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((2, 2), np.float32), np.zeros((2, 1), np.float32), epochs=5,
              batch_size=2, verbose=0,
              callbacks=[_SaveEpoch(tmp_path, validation.checkpoint), validation])
    # Hand computation, 1-based epochs 1..5: multiples of 2 are 2, 4; plus the last, 5.
    assert validated == [2, 4, 5]
    assert _best(tmp_path)["epoch"] == 5  # 0.3 > 0.2 > 0.1


def test_a_resume_validates_the_due_epoch_its_run_left_unvalidated(tmp_path, monkeypatch):
    """A run killed during epoch 2's validation (every=2) validates it on resume,
    once: best/ and the final table keep that epoch."""
    ran = []
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: ran.append(1) or {"AP": 0.5})
    validation = _validation(tmp_path, every=2, epochs=10)
    epoch_2 = _epoch_dir(tmp_path, 2)  # Its checkpoint, no validation.json.
    validation.catch_up(epoch_2, 2)  # 2 epochs done: epoch 2 (1-based) was due.
    assert ran == [1]
    with open(os.path.join(epoch_2, "validation.json")) as f:
        assert json.load(f)["value"] == 0.5
    assert _best(tmp_path)["epoch"] == 2
    validation.catch_up(epoch_2, 2)  # Recorded now: not validated again.
    assert ran == [1]


def test_a_tie_keeps_the_earlier_epoch_in_best(tmp_path, monkeypatch):
    """As the official train.py (`if perf_indicator > best_perf`), best/ changes
    only on a strictly higher AP: a tie keeps epoch 1."""
    scripted = iter([0.5, 0.5])
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: {"AP": next(scripted)})
    validation = _validation(tmp_path, every=1, epochs=2)
    for epoch in (0, 1):  # Keras' 0-based epochs 1 and 2.
        validation.checkpoint.last_path = _epoch_dir(tmp_path, epoch + 1)
        validation.on_epoch_end(epoch, {})
    assert _best(tmp_path)["epoch"] == 1
    assert _best(tmp_path)["value"] == 0.5


def test_best_validated_again_is_compared_by_its_new_value(tmp_path, monkeypatch):
    """best/ recorded 0.9 under another validation ("old") but scores 0.2 as
    this run validates: epoch 2's 0.5 must replace it, not lose to the stale 0.9."""
    import keras_pose.checkpoint as checkpoint_module
    import keras_pose.inference as inference
    from keras_pose.training import run_dir

    run_dir.save_best(str(tmp_path), _epoch_dir(tmp_path, 1), 1, "AP", 0.9, "old")
    best_estimator = object()
    monkeypatch.setattr(checkpoint_module, "load_model", lambda path, **k: (object(), None))
    monkeypatch.setattr(inference, "TopDownEstimator", lambda *a, **k: best_estimator)
    # best/'s network (validated again) scores 0.2; this run's network 0.5.
    monkeypatch.setattr(runner, "evaluate", lambda estimator, *a, **k: {
        "AP": 0.2 if estimator is best_estimator else 0.5})
    validation = _validation(tmp_path, every=1, epochs=2, how="new",
                             estimator=types.SimpleNamespace(config=None, flip=True))
    validation.checkpoint.last_path = _epoch_dir(tmp_path, 2)
    validation.on_epoch_end(1, {})  # Epoch 2: 0.5 > 0.2.
    best = _best(tmp_path)
    assert (best["epoch"], best["value"], best["how"]) == (2, 0.5, "new")



def test_a_resume_validates_earlier_due_epochs_whose_validation_failed(tmp_path, monkeypatch):
    """Both validations of a run failed (a damaged image, replaced since):
    the rerun validated only the resumed epoch 2 (AP 0.4), so best/ held it
    while epoch 1 scores 0.6. Now epoch 1 is validated first, from its saved
    weights; a checkpoint of an epoch not due (every=2) is left alone."""
    from keras_pose.checkpoint import COMPLETE_FILE
    paths = {}
    for epoch in (1, 2, 3):
        paths[epoch] = _epoch_dir(tmp_path, epoch)
        open(os.path.join(paths[epoch], COMPLETE_FILE), "w").close()
    saved_scores = {paths[1]: 0.6, paths[2]: 0.3, paths[3]: 0.9}
    validated = []

    def evaluate_saved(self, path):
        validated.append(path)
        return {"AP": saved_scores[path]}
    monkeypatch.setattr(Validation, "_evaluate_saved", evaluate_saved)
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: {"AP": 0.4})
    validation = _validation(tmp_path, every=1, epochs=5)
    validation.catch_up(paths[3], 3)
    assert validated == [paths[1], paths[2]]  # Oldest first; epoch 3 by the live network.
    assert [json.load(open(os.path.join(paths[e], "validation.json")))["value"]
            for e in (1, 2, 3)] == [0.6, 0.3, 0.4]
    assert _best(tmp_path)["epoch"] == 1 and _best(tmp_path)["value"] == 0.6
    validated.clear()
    validation.catch_up(paths[3], 3)  # All recorded now: nothing validated again.
    assert validated == []
    every_2 = tmp_path / "every_2"
    for epoch in (1, 2):
        open(os.path.join(_epoch_dir(every_2, epoch), COMPLETE_FILE), "w").close()
    monkeypatch.setattr(Validation, "_evaluate_saved", lambda self, path: validated.append(path))
    _validation(every_2, every=2, epochs=4).catch_up(str(every_2 / "checkpoints/epoch_0002"), 2)
    assert validated == []  # Epoch 1 was not due; epoch 2 by the live network.
