"""The library's log lines: absl's logger, without absl.logging's setup of
the host program's logging.

``absl.logging.info()`` and its kin call ``logging.basicConfig()`` when the
root logger has no handler (as the standard library's module-level
``logging.info()`` does). A program using keras-pose as a library (a
service loading a ``Predictor``) had a stderr handler put on its root
logger by the first line keras-pose logged, and its own
``logging.basicConfig(level=INFO, ...)`` after that did nothing: its INFO
lines were lost. Here the same lines go to the same logger (absl's,
``"absl"``) without that call: a command line's absl handler (``absl.app``)
shows them as before, with their file and line and by ``--verbosity``; a
host program's own handlers get them, and with none configured Python
shows warnings and errors on stderr (its last-resort handler).

Use it as absl.logging was used: ``from keras_pose import log as logging``
then ``logging.info(...)``, ``logging.warning(...)``,
``logging.log(logging.WARNING, ...)`` (absl's levels).
"""

from __future__ import annotations

from absl import logging as _absl

FATAL, ERROR, WARNING, INFO, DEBUG = (_absl.FATAL, _absl.ERROR, _absl.WARNING, _absl.INFO,
                                      _absl.DEBUG)


def log(level: int, msg: str, *args, **kwargs) -> None:
    """``msg % args`` at absl's ``level`` (``WARNING``, ``INFO``...)."""
    _absl.get_absl_logger().log(_absl.converter.absl_to_standard(level), msg, *args, **kwargs)


def debug(msg: str, *args, **kwargs) -> None:
    log(DEBUG, msg, *args, **kwargs)


def info(msg: str, *args, **kwargs) -> None:
    log(INFO, msg, *args, **kwargs)


def warning(msg: str, *args, **kwargs) -> None:
    log(WARNING, msg, *args, **kwargs)


def error(msg: str, *args, **kwargs) -> None:
    log(ERROR, msg, *args, **kwargs)


# The line's file and line are its caller's, as with absl.logging's own
# functions (absl's logger skips its own frames and the ones registered).
for _name in ("log", "debug", "info", "warning", "error"):
    _absl.ABSLLogger.register_frame_to_skip(__file__, _name)
