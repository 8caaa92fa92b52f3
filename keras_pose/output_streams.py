"""The output streams of a command-line run: a stdout or stderr that
cannot be written (a closed pipe, a full disk, closed) loses the output,
not the work (:func:`streams_kept_safe`); a name that stdout or stderr
cannot encode (a file name that is not UTF-8) is written escaped, not a
UnicodeEncodeError (:func:`names_escaped`). (Ground floor: imports nothing
of the project.)
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import sys
from typing import Any, Iterator


# The error handler of :func:`names_escaped`.
ESCAPED = "keras_pose.escaped"


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` (``sys.stdout``, ``sys.stderr``) is a terminal;
    False when it is None or closed."""
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _escaped(error: UnicodeError) -> tuple[str, int]:
    """A character an output stream cannot encode, as text it can: a name's
    byte that is not UTF-8 (Python's lone surrogate U+DC80..U+DCFF) as the
    byte, ``\\xff`` (how the shell names it: ``$'clip\\xff.avi'``); any other
    as ``\\u...`` (backslashreplace)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff"
                   else c.encode("ascii", "backslashreplace").decode("ascii")
                   for c in error.object[error.start:error.end]), error.end


codecs.register_error(ESCAPED, _escaped)


def shown(path: str) -> str:
    """``path`` as :func:`names_escaped` writes it (``bad\\xff.jpg``), for a
    message that may also go elsewhere than stdout and stderr."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@contextlib.contextmanager
def names_escaped() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` write what they cannot encode
    escaped (:func:`_escaped`) in the block, then as before. Was: a name
    that is not UTF-8 (a corrupt ``bad\\xff.jpg`` in the summary) raised
    UnicodeEncodeError on a strict stdout (``PYTHONIOENCODING=utf-8``; any
    UTF-8 locale) after the work, and the summary was lost; stderr
    (backslashreplace) wrote ``bad\\udcff.jpg``. A stream that writes such
    names as their bytes (surrogateescape: a C locale) is left so."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        errors = getattr(stream, "errors", None)
        if errors in ("strict", "backslashreplace") and hasattr(stream, "reconfigure"):
            with contextlib.suppress(OSError, ValueError):  # A closed stream.
                stream.reconfigure(errors=ESCAPED)
                changed.append((stream, errors))
    try:
        yield
    finally:
        for stream, errors in changed:
            with contextlib.suppress(OSError, ValueError):
                stream.reconfigure(errors=errors)


class DroppingStream:
    """``sys.stdout`` or ``sys.stderr`` (``which``) during a run: writes
    through to ``stream`` until one fails (a closed pipe, ``| head -1``; a
    full disk, ``> /dev/full``), then drops the rest and points the stream's
    file descriptor at os.devnull (Python's advice for SIGPIPE), so that
    neither a later write (C code's too) nor the flush at exit fails again.
    A lost stdout is said once on stderr; a lost stderr in silence, as
    nowhere is left to say it.

    Was a BrokenPipeError in Keras' progress bar (the training lost) or
    after the work was done (its exit code 1 or 120); on stderr, in tqdm's
    progress bar (evaluate.py: exit code 1, its output folder removed).
    """

    def __init__(self, stream: Any, name: str, which: str = "stdout"):
        self.stream, self.name, self.which, self.gone = stream, name, which, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except (OSError, ValueError) as e:
                self._lose(e)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except (OSError, ValueError) as e:
                self._lose(e)

    def isatty(self) -> bool:  # Keras' progress bar redraws its line on a terminal.
        try:
            return not self.gone and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, attribute: str) -> Any:  # encoding, fileno, buffer, ...
        if attribute == "stream":  # Not set yet (copy, pickle): no endless recursion.
            raise AttributeError(attribute)
        return getattr(self.stream, attribute)

    def _lose(self, error: Exception) -> None:
        if isinstance(error, ValueError) and not getattr(self.stream, "closed", False):
            raise error  # Not an unwritable stream: a bug.
        self.gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            fd = self.stream.fileno()  # Raises for in-memory streams (pytest's capsys).
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)  # The buffered rest then goes there.
            finally:
                os.close(null)
            self.stream.flush()
        if self.which != "stdout":
            return
        reason = getattr(error, "strerror", None) or str(error)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            print(f"{self.name}: stdout cannot be written ({reason}): its output is dropped "
                  "from here on; the work goes on", file=sys.stderr, flush=True)


@contextlib.contextmanager
def streams_kept_safe(name: str) -> Iterator[tuple[DroppingStream, DroppingStream]]:
    """``sys.stdout`` and ``sys.stderr`` are :class:`DroppingStream` s in
    the block (yielded in that order), and so are the logging handlers'
    streams that were ``sys.stderr`` (absl's holds the stderr of its
    import). A closed stream (``>&-``, ``2>&-``: None, was an
    AttributeError on its first write) writes to os.devnull, and stays so
    after the block. Output still buffered is flushed at the end of the
    block, where a failure is dropped, not at exit."""
    # stderr first: stdout's last flush may still have to say it failed.
    with _kept_safe("stderr", name) as err, _kept_safe("stdout", name) as out:
        yield out, err


@contextlib.contextmanager
def _kept_safe(which: str, name: str) -> Iterator[DroppingStream]:
    """``sys.<which>`` ("stdout" or "stderr") kept safe in the block; after
    it, the stream as before (os.devnull's for a closed one)."""
    original = getattr(sys, which)
    safe = DroppingStream(original if original is not None else
                          _null_stream(1 if which == "stdout" else 2), name, which)
    after = original if original is not None else safe.stream
    setattr(sys, which, safe)
    moved = _handlers_of(original) if which == "stderr" else []
    for handler in moved:
        handler.stream = safe
    try:
        yield safe
    finally:
        safe.flush()
        if getattr(sys, which) is safe:
            setattr(sys, which, after)
        for handler in (h for h in moved if h.stream is safe):
            handler.stream = after


def _handlers_of(stream: Any) -> list:
    """The logging handlers writing to ``stream``: absl's handler (its
    ``python_handler``) holds the ``sys.stderr`` of its import, so a stderr
    that fails sent 'Logging error' and a traceback at every log line."""
    loggers = [logging.getLogger()] + [logger for logger in
                                        logging.Logger.manager.loggerDict.values()
                                        if isinstance(logger, logging.Logger)]
    handlers = {id(h): h for logger in loggers for handler in logger.handlers
                for h in (handler, getattr(handler, "python_handler", None))
                if isinstance(h, logging.StreamHandler) and h.stream is stream}
    return list(handlers.values())


def _null_stream(fd: int) -> Any:
    """A text stream to os.devnull for a closed stdout (``fd`` 1) or stderr
    (2); the descriptor goes there too while free, lest a file opened later
    take it (and C code's prints to it land in that file: TF's log lines in
    the output folder's ``.lock``)."""
    stream = open(os.devnull, "w", encoding="utf-8")
    try:
        os.fstat(fd)
    except OSError:  # Free (closed): taken here.
        os.dup2(stream.fileno(), fd)
    return stream
