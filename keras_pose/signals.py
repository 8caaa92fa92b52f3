"""SIGTERM as a stop, like Ctrl-C: ``kill <pid>``, a scheduler's or a
container's stop end a command the way Ctrl-C does (outputs closed, the
checkpoint to resume from named), not by dying mid-write nor, as in a
multi-worker training where TensorFlow's coordination service traps
SIGTERM for its preemption notices, by being ignored.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM (a KeyboardInterrupt, so every
    path that stops cleanly on Ctrl-C stops cleanly on it too)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated("SIGTERM")


def stop_on_sigterm() -> Any:
    """Makes SIGTERM raise :class:`Terminated` in the main thread; returns
    the handler it replaced (None off the main thread: nothing changed).
    Call it again after anything that installs its own handler (TF's
    MultiWorkerMirroredStrategy does)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def stop_name(error: KeyboardInterrupt) -> str:
    """How a stop came: "SIGTERM" or "Ctrl-C"."""
    return "SIGTERM" if isinstance(error, Terminated) else "Ctrl-C"


def stop_exit_code(error: KeyboardInterrupt) -> int:
    """The shell's convention, 128 + the signal: 143 for SIGTERM, 130 for Ctrl-C."""
    return 143 if isinstance(error, Terminated) else 130


@contextlib.contextmanager
def defer_interrupts() -> Iterator[None]:
    """Holds back Ctrl-C (SIGINT), and SIGTERM when it is a stop here, until
    the block ends, then raises the stop.

    A KeyboardInterrupt in the middle of an HDF5 write can abort the whole
    interpreter; with this, a write finishes (or fails) first. Only in the
    main thread (signal handlers cannot be set elsewhere).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    signums = [signal.SIGINT] + ([signal.SIGTERM] if signal.getsignal(signal.SIGTERM)
                                 is _raise_terminated else [])
    previous = {n: signal.signal(n, lambda signum, frame: received.append(signum))
                for n in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if signal.SIGTERM in received:
            raise Terminated("SIGTERM")
        if received:
            raise KeyboardInterrupt
