"""Keras' progress bar on a terminal only: elsewhere (``train.py > log``)
one line per epoch, not every step redrawn with ``\\r`` and colour codes."""

import sys
import types

import pytest

from keras_pose.training import trainer


class _Stdout:
    def __init__(self, terminal):
        self.terminal = terminal

    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return self.terminal


class _Model:
    """What ``_fit`` calls of the training model: records fit's verbosity."""

    def __init__(self):
        self.verbose = None

    def fit(self, dataset, **kwargs):
        self.verbose = kwargs["verbose"]

    def release_iterator(self):
        pass


def _fit_verbosity(progress, chief=True):
    model = _Model()
    config = types.SimpleNamespace(train=types.SimpleNamespace(epochs=2))
    plan = types.SimpleNamespace(steps_per_epoch=3, chief=chief, directory="unused")
    trainer._fit(model, None, config, plan, types.SimpleNamespace(epoch=0), [], progress, None)
    return model.verbose


@pytest.mark.parametrize("terminal, verbose", [(True, 1), (False, 2)])
def test_the_bar_on_a_terminal_one_line_per_epoch_elsewhere(monkeypatch, terminal, verbose):
    """Was 1 (the bar) in a log file too: ~210 bytes a step."""
    monkeypatch.setattr(sys, "stdout", _Stdout(terminal))
    assert _fit_verbosity(progress=True) == verbose
    assert _fit_verbosity(progress=False) == 0
    assert _fit_verbosity(progress=True, chief=False) == 0  # Another worker: silent.


def test_a_closed_stdout_is_no_terminal(monkeypatch):
    """``train.py >&-`` called from Python (no cli.run): sys.stdout is None."""
    monkeypatch.setattr(sys, "stdout", None)
    assert _fit_verbosity(progress=True) == 2
