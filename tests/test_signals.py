"""SIGTERM and SIGHUP stop a command as Ctrl-C does (keras_pose.signals,
keras_pose.cli)."""

import contextlib
import os
import signal
import sys

import pytest

from keras_pose import cli, signals
from keras_pose.checkpoint import write_checkpoint_dir


@pytest.fixture
def sigterm_is_a_stop():
    hangup = signal.getsignal(signal.SIGHUP)  # stop_on_sigterm installs SIGHUP's too.
    previous = signals.stop_on_sigterm()
    yield
    signal.signal(signal.SIGTERM, previous)
    signal.signal(signal.SIGHUP, hangup)


@contextlib.contextmanager
def sighup_as_by_default():
    """SIGHUP as a shell leaves it to a command (it ends the process), put
    back after (a test runner may have set it otherwise)."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def send_sighup():
    """SIGHUP to this process, when it is a stop here: left to the OS (the
    code before SIGHUP was handled), it would end the test run itself."""
    handler = signal.getsignal(signal.SIGHUP)
    assert isinstance(handler, signals._Stop), f"SIGHUP is not a stop here: {handler}"
    os.kill(os.getpid(), signal.SIGHUP)
    signal.sigtimedwait([], 0.5)  # Let the handler run.


def test_sighup_stops_a_command_as_sigterm_does_and_an_ignored_one_stays_ignored(capsys):
    """A closed terminal (SIGHUP) ended a command as kill -9 does: a tracked
    video without its PoseTrack JSON, evaluate.py's .lock alone, train.py's
    *.tmp folders. Under nohup (SIGHUP ignored) it stays ignored."""
    with sighup_as_by_default():
        assert cli.run("tool.py", lambda: send_sighup() or 0) == 129
        assert capsys.readouterr().err == "tool.py: interrupted (SIGHUP)\n"
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup
        seen = []
        assert cli.run("tool.py", lambda: seen.append(signal.getsignal(signal.SIGHUP)) or 0) == 0
        assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    stop = signals.Terminated("SIGHUP")
    assert (signals.stop_name(stop), signals.stop_exit_code(stop)) == ("SIGHUP", 129)


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


class _SignalsInDel:
    """An object whose ``__del__`` receives ``signum``: the handler's stop is
    raised there, printed as "Exception ignored" and dropped."""

    def __init__(self, signum):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        signal.sigtimedwait([], 0.5)  # Let the handler run here.


def swallow_a_stop(signum=signal.SIGTERM):
    """Sends ``signum`` where its stop is lost (inside a ``__del__``)."""
    _SignalsInDel(signum)  # Collected at once, its __del__ runs here.


@contextlib.contextmanager
def commands_handlers():
    """The handlers a command installs (cli.run), put back afterwards."""
    previous_term = signal.getsignal(signal.SIGTERM)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist ignores it
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # As a shell leaves it.
    signals.stop_on_sigterm()
    signals.stop_on_sigint()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGHUP, previous_hup)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("signum, stop, name", [
    (signal.SIGTERM, signals.Terminated, "SIGTERM"), (signal.SIGHUP, signals.Terminated, "SIGHUP"),
    (signal.SIGINT, KeyboardInterrupt, "Ctrl-C")])
def test_a_stop_lost_in_a_del_is_raised_again(signum, stop, name):
    """A worker of a multi-worker training trained on to its last epoch
    after kill <pid> (a loaded CI run): the stop can land in a __del__,
    where Python drops it. The next step raises it again."""
    with commands_handlers():
        signals.raise_lost_stop()  # No stop yet: nothing.
        if signum == signal.SIGHUP:  # Not a stop (the old code): it would end the tests.
            assert isinstance(signal.getsignal(signum), signals._Stop)
        swallow_a_stop(signum)  # "Exception ignored in ... __del__"
        with pytest.raises(stop) as raised:
            signals.raise_lost_stop()
        assert signals.stop_name(raised.value) == name
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:  # Python's own handler (the Python API): nothing is remembered.
        swallow_a_stop(signal.SIGINT)
        signals.raise_lost_stop()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_command_says_nothing_of_a_stop_dropped_in_a_del_and_stops(capsys, monkeypatch):
    """Python reports a stop it drops in a __del__ ("Exception ignored" and a
    traceback): noise before the command's own message, for a stop that is
    raised again. Other exceptions a __del__ drops are still reported."""
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: reported.append(report.exc_value))

    class Failing:
        def __del__(self):
            raise ValueError("in a __del__")

    def work():
        Failing()
        swallow_a_stop()
        signals.raise_lost_stop()
        return 0

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist ignores it
    try:
        assert cli.run("tool.py", work) == 143
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err == "tool.py: interrupted (SIGTERM)\n"
    assert [type(e) for e in reported] == [ValueError]


def test_a_stop_held_back_by_a_write_is_remembered_and_an_ignored_ctrl_c_stays_ignored():
    """A stop held back until a write ends is raised through the command's
    handler, which remembers it (swallowed after the write, it is raised at
    the next step). Under nohup (SIGINT ignored) a Ctrl-C during a write
    stopped the command: it is ignored there as everywhere else."""
    with commands_handlers():
        with pytest.raises(signals.Terminated):
            with signals.defer_interrupts():
                os.kill(os.getpid(), signal.SIGTERM)
                signal.sigtimedwait([], 0.2)
        with pytest.raises(signals.Terminated):
            signals.raise_lost_stop()
    with commands_handlers(), pytest.raises(signals.Terminated, match="SIGHUP"):
        with signals.defer_interrupts():  # Held back too, not run inside the write.
            assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN)
            os.kill(os.getpid(), signal.SIGHUP)
            signal.sigtimedwait([], 0.2)
            written = True
    assert written
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals.defer_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.2)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_under_pythons_own_handler_waits_for_the_write():
    """Through the Python API (Python's default_int_handler, not a command's),
    a Ctrl-C mid-write is raised when the write ends, not cutting it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    steps = []
    try:
        with signals.defer_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.2)  # Let a handler run, if one would.
            steps.append("written")
        steps.append("after the block")
    except KeyboardInterrupt as stop:
        steps.append(type(stop))
    finally:
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, previous)
    assert steps == ["written", KeyboardInterrupt]


def test_sigterm_wins_over_an_earlier_ctrl_c_held_back_by_a_write():
    """Ctrl-C then kill <pid> during a write: the stop is SIGTERM's (exit 143,
    as a scheduler expects), whatever came first."""
    stops = []
    with commands_handlers():
        try:
            with signals.defer_interrupts():
                os.kill(os.getpid(), signal.SIGINT)
                signal.sigtimedwait([], 0.2)
                os.kill(os.getpid(), signal.SIGTERM)
                signal.sigtimedwait([], 0.2)
        except KeyboardInterrupt as stop:  # Terminated is one too.
            stops.append(stop)
    assert [(type(stop), signals.stop_name(stop), signals.stop_exit_code(stop))
            for stop in stops] == [(signals.Terminated, "SIGTERM", 143)]
