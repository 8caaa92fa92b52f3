"""Range checks of the configs' numbers and of the experiment's name, worded
as every config error is: ``section.field must be <range>, got <value>``.

Each test is written so that NaN fails it (a comparison with NaN is False).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

from keras_pose.configs.errors import ConfigError

# Counts stay below 2**31, so that a product of two (epochs x steps_per_epoch:
# the step counter) still fits TF's int64 (train.steps_per_epoch=1e19 was an
# OverflowError traceback).
COUNT_LIMIT = 2 ** 31
# Images decoded at once: far above any machine's CPU count; 2**31 aborted
# TensorFlow (std::bad_alloc), 2**24 took 5 GB and 48 s before the first image.
PARALLEL_CALLS_LIMIT = 1024


def check_count(key: str, value: int, low: int, high: int = COUNT_LIMIT, note: str = "") -> None:
    """A whole number in [low, high) (``high`` is exclusive).

    Raises:
      ConfigError: naming ``key``, the range and ``value`` (and ``note``, why).
    """
    if not value >= low:
        raise ConfigError(f"{key} must be >= {low}{note}, got {value}")
    if not value < high:
        limit = "below 2**31" if high == COUNT_LIMIT else f"at most {high - 1}"
        raise ConfigError(f"{key} must be {limit}{note}, got {value}")


def check_counts(key: str, values: Sequence[int], low: int, note: str = "") -> None:
    """Every entry of a list of counts in [low, 2**31)."""
    if not all(low <= v < COUNT_LIMIT for v in values):
        raise ConfigError(f"{key} must each be >= {low} and below 2**31{note}, got "
                          f"{list(values)}")


def check_number(key: str, value: float, low: float, high: float = math.inf, *,
                 above: bool = False, note: str = "") -> None:
    """A finite number in [low, high] (low itself excluded when ``above``);
    inf and NaN are refused whatever the bounds.

    Raises:
      ConfigError: naming ``key``, the range, ``note`` (why) and ``value``.
    """
    inside = (low < value if above else low <= value) and value <= high
    if inside and math.isfinite(value):
        return
    if high < math.inf:
        span = f"in {'(' if above else '['}{low:g}, {high:g}]"
    else:
        span = f"{'>' if above else '>='} {low:g}"
    raise ConfigError(f"{key} must be a finite number {span}{note}, got {value}")


def check_numbers(key: str, values: Sequence[float], note: str = "") -> None:
    """Every entry finite (any sign)."""
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{key} must be finite numbers{note}, got {list(values)}")


def check_run_name(name: str) -> None:
    """The experiment's name, which names the run's folder ``output/<name>``:
    empty trained into output/ itself, ``../x`` outside it.

    Raises:
      ConfigError: for an empty name, ``.`` or ``..``, or one with a path
        separator.
    """
    separators = {"/", os.sep, os.altsep or "/"}
    if name in ("", ".", "..") or any(s in name for s in separators):
        raise ConfigError(
            f"name {name!r} names the run's folder output/<name>: give a name that is not "
            "empty, '.' or '..' and has no '/' (to train elsewhere, give train.py "
            "--model_dir)")
