"""TensorFlow in a forked child: refused with the way out, not a hang.

TensorFlow's runtime (its thread pools, the eager context's executor) does
not survive ``fork()`` once the eager context is initialized: a child of
such a process hangs forever in its first op (``quick_execute``), with no
message, whether it uses the parent's model or loads its own. That is the
pattern of gunicorn ``--preload``, celery's prefork pool and
``multiprocessing``'s default 'fork' start method on Linux. A parent that
only imported TensorFlow (or keras_pose) is fine: the context is made on
first use.

So a hook run in each forked child records whether the parent had started
TensorFlow, and :func:`check_not_forked` (called where keras_pose loads or
runs a model) raises :class:`ForkedTensorFlowError` in such a child.

This module imports nothing of TensorFlow: the hook only looks at a
TensorFlow already imported.
"""

from __future__ import annotations

import os
import sys

from keras_pose.errors import UserError

# True in a forked child whose parent (or an earlier ancestor) had started
# TensorFlow's eager context; inherited by the child's own children.
_parent_ran_tensorflow = False


class ForkedTensorFlowError(UserError, RuntimeError):
    """TensorFlow asked for in a forked child of a process that ran it; the
    message says how to start the worker instead."""


def tensorflow_started() -> bool:
    """Whether this process has initialized TensorFlow's eager context (a
    model loaded or run); False when it only imported TensorFlow."""
    context = sys.modules.get("tensorflow.python.eager.context")
    if context is None:
        return False
    current = context.context_safe()  # None until anything asks for the context.
    # ``_initialized`` is private (no public "is initialized" exists); TF is
    # pinned <2.22 in setup.py, and on 2.21 it is False after an import and
    # True after a model load (tests/inference/test_fork_safety.py).
    return current is not None and bool(getattr(current, "_initialized", False))


def _after_fork_in_child() -> None:
    """Runs in every forked child (``os.register_at_fork``); must not raise."""
    global _parent_ran_tensorflow
    try:
        _parent_ran_tensorflow = _parent_ran_tensorflow or tensorflow_started()
    except Exception:  # A TF without context_safe: no guard rather than a broken fork.
        pass


def check_not_forked(what: str) -> None:
    """Raises ForkedTensorFlowError if this process is a forked child of one
    that had started TensorFlow (``what``: the call refused, for the message).
    """
    if _parent_ran_tensorflow:
        raise ForkedTensorFlowError(
            f"{what} in a forked child: a forked child of a process that ran TensorFlow (a "
            "model loaded or used before the fork) cannot run it (it would hang): use "
            "multiprocessing's 'spawn' or 'forkserver' start method "
            "(multiprocessing.get_context('spawn')), or load the "
            "model only in each worker, after the fork (gunicorn: without --preload; "
            "celery: load it in worker_process_init)")


def _os_threads() -> int:
    """This process's OS threads (0 where /proc does not tell)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _forked_before_import() -> bool:
    """Whether this process, importing keras_pose now, is a forked child of
    one that had started TensorFlow before keras_pose was imported (the hook
    above was not there then): TensorFlow's context is initialized, yet its
    thread pools (started with the context: 9 threads here) are gone, as
    ``fork()`` copies only the calling thread."""
    try:
        return tensorflow_started() and _os_threads() == 1
    except Exception:  # A TF without context_safe: no guard rather than a broken import.
        return False


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork.
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _parent_ran_tensorflow = _forked_before_import()
