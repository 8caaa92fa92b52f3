"""Ctrl-C (and SIGTERM) that a converter cannot lose during an export.

A stop raised while foreign code runs was lost in two ways when Ctrl-C hit
an OpenVINO export: raised inside a ``__del__`` that happened to run (TF's
``AtomicFunction.__del__``), the KeyboardInterrupt was printed as
"Exception ignored" and dropped, and the export went on to replace the old
one (exit 0); or ``openvino.convert_model``, which calls back into Python,
turned it into ``RuntimeError(... Converting input model KeyboardInterrupt)``,
a traceback with exit code 1. Deferring the stop across the conversion would
make Ctrl-C wait for it (minutes for a large model), so the stop is raised as
usual and also remembered, and raised again wherever it got lost.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Iterator

from keras_pose import signals


def _stop(received: list) -> KeyboardInterrupt:
    return signals.Terminated("SIGTERM") if signal.SIGTERM in received else KeyboardInterrupt()


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM run their handlers as before
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

    previous = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
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
            raise _stop(received) from e
        raise
    finally:
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:  # Swallowed on the way (a __del__'s "Exception ignored").
        raise _stop(received)
