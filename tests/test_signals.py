"""SIGTERM stops a command as Ctrl-C does (keras_pose.signals, keras_pose.cli)."""

import os
import signal

import pytest

from keras_pose import cli, signals
from keras_pose.checkpoint import write_checkpoint_dir


@pytest.fixture
def sigterm_is_a_stop():
    previous = signals.stop_on_sigterm()
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_raises_terminated_a_keyboard_interrupt(sigterm_is_a_stop):
    with pytest.raises(KeyboardInterrupt) as info:
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.5)  # Let the handler run.
    assert isinstance(info.value, signals.Terminated)
    assert signals.stop_name(info.value) == "SIGTERM" and signals.stop_exit_code(info.value) == 143
    assert signals.stop_name(KeyboardInterrupt()) == "Ctrl-C"


def test_a_command_stopped_by_sigterm_exits_143_and_puts_the_handler_back(capsys):
    before = signal.getsignal(signal.SIGTERM)

    def work():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.5)
        return 0
    assert cli.run("tool.py", work) == 143
    assert "tool.py: interrupted (SIGTERM)" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_at_the_start_of_a_checkpoint_write_waits_for_the_write(
        tmp_path, sigterm_is_a_stop):
    def write(tmp):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives as the write begins
        with open(os.path.join(tmp, "model.weights.h5"), "w") as f:
            f.write("weights")

    with pytest.raises(signals.Terminated):
        write_checkpoint_dir(str(tmp_path / "ckpt"), write)
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["COMPLETE", "model.weights.h5"]
    assert os.listdir(tmp_path) == ["ckpt"]  # no temporary left
