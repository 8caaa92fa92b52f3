"""What the three command lines share: errors as one line, Ctrl-C, outputs.

``train.py``, ``evaluate.py`` and ``predict.py`` stay thin: they build a
config (``keras_pose.configs.cli``), call the library and hand their work
to :func:`run` here, which turns the errors a user can fix into one line on
stderr (exit code 1), Ctrl-C into a clean stop (exit code 130, no
traceback), and lets programming errors through with their traceback.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Callable


def is_user_error(error: BaseException) -> bool:
    """Errors caused by the inputs (files, flags, data): one clear line."""
    if type(error).__module__.startswith("keras_pose"):
        return True
    return (isinstance(error, (ValueError, OSError, LookupError, ImportError))
            and not type(error).__module__.startswith("tensorflow"))


def run(name: str, work: Callable[[], int]) -> int:
    """Runs ``work`` and maps its failures to exit codes and messages."""
    try:
        return work()
    except KeyboardInterrupt:
        print(f"{name}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - reported below, or re-raised.
        if not is_user_error(e):
            raise
        code = 130 if type(e).__name__ == "TrainingInterrupted" else 1
        print(f"{name}: {'stopped' if code == 130 else 'error'}: {e}", file=sys.stderr)
        return code


def check_writable(directory: str, what: str = "output directory") -> None:
    """Creates ``directory`` and proves a file can be written there, before
    any work starts.

    Raises:
      OSError: naming the directory when it cannot be created or written.
    """
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as e:
        raise OSError(e.errno, f"{what} {directory} is not writable "
                               f"({e.strerror or e})") from None
