"""How ``predict.py`` shows that it is working, over the photos of a run
and over the frames of each video or folder of frames.

When stderr is a terminal, a tqdm bar on it (the ``sys.stderr`` of the
moment: in a command, the stream that ``output_streams.streams_kept_safe``
guards, as evaluate.py's bar does). Anywhere else (a log file, a pipe, a
batch job) the bar's redraws would fill the log, so an absl
``logging.info`` line comes instead, at most every :data:`LOG_INTERVAL`
seconds of the monotonic clock: what, the count done, of how many (a
video's count is its header's, "of about": headers can be wrong; left out
when unknown) and the time elapsed. Nothing goes to stdout: its summary
may be parsed.

Was: nothing until the final summary (3,000 photos: 64 s; the default
detector on a CPU, ~0.5 s a 720p frame: hours of video without a sign).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Iterable, Iterator, Optional

from keras_pose import log as logging
from keras_pose.output_streams import is_terminal

# Seconds between two log lines when stderr is no terminal.
LOG_INTERVAL = 30.0

# The clock of the log lines (tests put a fake one here).
_monotonic: Callable[[], float] = time.monotonic


def stderr_is_terminal() -> bool:
    """Whether ``sys.stderr`` (of the moment) is a terminal."""
    return is_terminal(sys.stderr)


def _bar_size() -> dict:
    """tqdm's size arguments: the terminal's, followed as it is resized;
    80 x 24 when it says 0 x 0 (a pseudo-terminal never sized: ``script``,
    some CI runners), where tqdm took -1 columns and rows and hid the bar."""
    try:
        sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (AttributeError, OSError, ValueError):  # No descriptor (a test's stream).
        sized = True  # tqdm's own guess then.
    return {"dynamic_ncols": True} if sized else {"ncols": 80, "nrows": 24}


def elapsed_text(seconds: float) -> str:
    """``0:31``, ``12:05``, ``1:02:03`` (hours only when there are some)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """The progress of one loop: a bar, or log lines (see the module).

    Args:
      what: what is counted, first on the bar and the line (``photos``,
        a video's key).
      total: how many there are; None (or 0 or less, as OpenCV gives an
        unknown frame count) when unknown.
      unit: one of them (``photo``, ``frame``).
      about: ``total`` is an estimate (a video header's frame count).
    """

    def __init__(self, what: str, total: Optional[int], unit: str, *, about: bool = False):
        self.what, self.unit, self.about = what, unit, about
        self.total = total if total is not None and total > 0 else None
        self.done = 0
        self._bar = None
        if stderr_is_terminal():
            from tqdm import tqdm  # Only for the command line.
            self._bar = tqdm(total=self.total, desc=what, unit=unit, file=sys.stderr,
                             **_bar_size())
        self._start = self._said = _monotonic()

    def advance(self) -> None:
        """One more done; a log line when :data:`LOG_INTERVAL` has passed
        since the last (or the start)."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            return
        now = _monotonic()
        if now - self._said >= LOG_INTERVAL:
            self._said = now
            logging.info("%s", self.line(now - self._start))

    def line(self, elapsed: float) -> str:
        """``photos: 120 of 3000 photos done, 1:04 elapsed``."""
        of = "" if self.total is None else f" of {'about ' if self.about else ''}{self.total}"
        count = self.done if self.total is None else self.total
        return (f"{self.what}: {self.done}{of} {self.unit}{'' if count == 1 else 's'} done, "
                f"{elapsed_text(elapsed)} elapsed")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def counted(items: Iterable, what: str, total: Optional[int], unit: str, *,
            about: bool = False, shown: bool = True) -> Iterator:
    """``items`` one by one, each counted done when the next is asked for
    (or the loop ends), with its :class:`Progress` when ``shown`` (and
    ``total`` is not 0: an empty loop shows nothing). The bar is closed
    when the loop ends, also by an error or a stop."""
    if not shown or total == 0:
        yield from items
        return
    progress = Progress(what, total, unit, about=about)
    try:
        for item in items:
            yield item
            progress.advance()
    finally:
        progress.close()
