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


def test_ctrl_c_raises_through_a_python_handler_in_a_command(capsys):
    """With Python's built-in default_int_handler, a Ctrl-C during a tracked
    video was lost in most tries (the run went on to its end, exit 0); a
    Python function as handler (as SIGTERM's) never lost it. The command
    installs one and puts the built-in back; an ignored SIGINT stays so."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        seen = []

        def work():
            seen.append(signal.getsignal(signal.SIGINT))
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.5)
            return 0
        assert cli.run("tool.py", work) == 130
        assert "tool.py: interrupted (Ctrl-C)" in capsys.readouterr().err
        assert callable(seen[0]) and seen[0] is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nohup, a background job
        assert cli.run("tool.py", lambda: seen.append(signal.getsignal(signal.SIGINT)) or 0) == 0
        assert seen[-1] is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
