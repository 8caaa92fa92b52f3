"""SIGTERM and SIGHUP as a stop, like Ctrl-C: ``kill <pid>``, a scheduler's
or a container's stop, and a closed terminal (SIGHUP) end a command the way
Ctrl-C does (outputs closed, the checkpoint to resume from named), not by
dying mid-write nor, as in a multi-worker training where TensorFlow's
coordination service traps SIGTERM for its preemption notices, by being
ignored. Also the stop kept whole around a write that must not be cut
(:func:`defer_interrupts`) and the stop foreign code must not lose
(:func:`interrupts_kept`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Any, Iterator, Optional


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP, its one argument the
    signal's name (a KeyboardInterrupt, so every path that stops cleanly on
    Ctrl-C stops cleanly on it too)."""


# The signals that stop a command as SIGTERM does, the first one's exit code
# winning when several came. SIGHUP (the terminal closed, an ssh session
# dropped) was left to the OS: a tracked video died as by kill -9 (no
# PoseTrack JSON, an annotated video whose header said 0 frames),
# evaluate.py left its .lock alone, train.py its *.tmp folders.
_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))  # No SIGHUP on Windows.


class _Stop:
    """A signal handler that raises a stop and remembers it did, so that a
    stop foreign code swallowed is raised again (:func:`raise_lost_stop`)."""

    def __init__(self, stop: type, *args: str) -> None:
        self.stop, self.args, self.raised = stop, args, False

    def __call__(self, signum: int, frame: Any) -> None:
        self.raised = True
        raise self.stop(*self.args)


def stop_on_sigint() -> Any:
    """Makes Ctrl-C raise KeyboardInterrupt through a Python function, in
    place of Python's built-in ``default_int_handler``; returns the handler
    it replaced (None when nothing changed: off the main thread, or SIGINT
    ignored or handled by someone else). With the built-in handler, a Ctrl-C
    during a tracked video (TensorFlow and OpenCV's flow thread at work) was
    lost in most tries, without a trace, and the run went on to its end;
    through a Python function (as SIGTERM's is) it never was, in as many."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return None
    return signal.signal(signal.SIGINT, _Stop(KeyboardInterrupt))


def stop_on_sighup() -> Any:
    """Makes SIGHUP (the terminal closed) raise :class:`Terminated` naming
    it in the main thread; returns the handler it replaced (None when
    nothing changed: off the main thread, no SIGHUP (Windows), or SIGHUP
    ignored (``nohup``) or handled by someone else)."""
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(hangup) is not signal.SIG_DFL:
        return None
    return signal.signal(hangup, _Stop(Terminated, "SIGHUP"))


def stop_on_sigterm() -> Any:
    """Makes SIGTERM raise :class:`Terminated` in the main thread, and SIGHUP
    too where the OS would end the process on it (:func:`stop_on_sighup`);
    returns SIGTERM's handler it replaced (None off the main thread: nothing
    changed). Call it again after anything that installs its own handler
    (TF's MultiWorkerMirroredStrategy does)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    stop_on_sighup()
    return signal.signal(signal.SIGTERM, _Stop(Terminated, "SIGTERM"))


def _stop_raised() -> Optional[_Stop]:
    """The handler of ours that raised a stop in this command, if any."""
    for signum in (*_TERMINATING, signal.SIGINT):
        handler = signal.getsignal(signum)
        if isinstance(handler, _Stop) and handler.raised:
            return handler
    return None


def raise_lost_stop() -> None:
    """Raises again a stop (Ctrl-C, SIGTERM, SIGHUP) that this command's handlers
    raised but that never arrived: raised inside a ``__del__`` that happened
    to run, it is printed as "Exception ignored" and dropped. A worker of a
    multi-worker training trained on to its last epoch after ``kill <pid>``
    once in a loaded test run. Called where a loop steps (a training batch,
    an image, a frame); nothing happens when no stop came, or when the
    handlers are not ours (the Python API leaves Python's own)."""
    handler = _stop_raised()
    if handler is not None:
        raise handler.stop(*handler.args)


@contextlib.contextmanager
def command_stops() -> Iterator[None]:
    """A command's stops while the block runs, put back after: SIGTERM and
    SIGHUP as Ctrl-C (:func:`stop_on_sigterm`), Ctrl-C through a Python function
    (:func:`stop_on_sigint`), and a stop Python dropped in a ``__del__``
    not printed as "Exception ignored" with a traceback (it is raised again
    at the next step: :func:`raise_lost_stop`)."""
    previous = {getattr(signal, "SIGHUP", None): stop_on_sighup(),  # Before SIGTERM's, which
                signal.SIGTERM: stop_on_sigterm(),  # installs it too (and returns SIGTERM's).
                signal.SIGINT: stop_on_sigint()}
    hook = sys.unraisablehook

    def unraisable(report):
        if not (isinstance(report.exc_value, KeyboardInterrupt) and _stop_raised()):
            hook(report)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


def stop_name(error: KeyboardInterrupt) -> str:
    """How a stop came: "SIGTERM", "SIGHUP" or "Ctrl-C"."""
    if not isinstance(error, Terminated):
        return "Ctrl-C"
    return error.args[0] if error.args and hasattr(signal, str(error.args[0])) else "SIGTERM"


def stop_exit_code(error: KeyboardInterrupt) -> int:
    """The shell's convention, 128 + the signal: 143 for SIGTERM, 129 for
    SIGHUP, 130 for Ctrl-C."""
    if not isinstance(error, Terminated):
        return 130
    return 128 + int(getattr(signal, stop_name(error)))


@contextlib.contextmanager
def defer_interrupts() -> Iterator[None]:
    """Holds back Ctrl-C (SIGINT), and SIGTERM and SIGHUP when they are stops
    here, until the block ends, then raises the stop through its handler
    (which remembers it: :func:`raise_lost_stop`).

    A KeyboardInterrupt in the middle of an HDF5 write can abort the whole
    interpreter; with this, a write finishes (or fails) first. Only in the
    main thread (signal handlers cannot be set elsewhere); a SIGINT that is
    ignored (nohup, a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    held = {signum: signal.getsignal(signum) for signum in (*_TERMINATING, signal.SIGINT)}
    held = {signum: handler for signum, handler in held.items()
            if isinstance(handler, _Stop) or (signum == signal.SIGINT and callable(handler))}
    for signum in held:
        signal.signal(signum, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        for signum in held:  # SIGTERM first: its exit code wins.
            if signum in received:
                held[signum](signum, None)


# A stop raised while foreign code runs was lost in two ways when Ctrl-C hit
# an OpenVINO export: raised inside a ``__del__`` that happened to run (TF's
# ``AtomicFunction.__del__``), it was printed as "Exception ignored" and
# dropped, and the export went on to replace the old one (exit 0); or
# ``openvino.convert_model``, which calls back into Python, wrapped it in a
# RuntimeError (a traceback, exit 1). Deferring the stop across the
# conversion would make Ctrl-C wait for it (minutes for a large model), so
# :func:`interrupts_kept` raises it as usual, remembers it, and raises it
# again wherever it got lost.


def _kept_stop(received: list) -> KeyboardInterrupt:
    for signum in _TERMINATING:  # SIGTERM first, as in defer_interrupts.
        if signum in received:
            return Terminated(signal.Signals(signum).name)
    return KeyboardInterrupt()


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP run their handlers as before
    (Python's own: they raise the stop) and are remembered. A block that
    ends after one arrived raises the stop: when it ended normally (the
    exception was swallowed) or with another exception (one wrapping it).
    Signals left to the OS (ignored, default) are not touched; only in the
    main thread, where handlers can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list = []

    def remembering(previous):
        def handler(signum, frame):
            received.append(signum)
            previous(signum, frame)
        return handler

    def unraisable(report):
        # The stop a __del__ lost is raised below: not also its traceback.
        if not (received and isinstance(report.exc_value, KeyboardInterrupt)):
            hook(report)

    previous = {n: signal.getsignal(n) for n in (signal.SIGINT, *_TERMINATING)}
    previous = {n: h for n, h in previous.items() if callable(h)}
    for signum, handler in previous.items():
        signal.signal(signum, remembering(handler))
    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        if received:  # The converter's RuntimeError around the stop.
            raise _kept_stop(received) from e
        raise
    finally:
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:  # Swallowed on the way (a __del__'s "Exception ignored").
        raise _kept_stop(received)
