"""The presets as a table for people: ``python -m keras_pose.presets`` and
``predict.py --list_presets``."""

from __future__ import annotations

import sys
from typing import Iterable, Optional, Sequence

from keras_pose.presets.loader import DEFAULT_PRESET, close_presets, is_cached
from keras_pose.presets.table import PRESETS, Preset


def _published(preset: Preset) -> str:
    """Every published headline of a preset, e.g. ``AP 0.718`` or, for
    several splits, ``PCK@0.2 0.973 (val(M)); 0.973 (test(H))``."""
    parts = []
    for result in preset.results:
        metric, value = result.values[0]
        parts.append(f"{metric} {value:g}" + (f" ({result.on})" if result.on else ""))
    return "; ".join(parts)


def format_presets(filter_text: Optional[str] = None,
                   presets: Optional[Iterable[Preset]] = None) -> str:
    """A text table of the presets (those whose name or data set contains
    ``filter_text``): name, data set, input, codec, release, the published
    numbers and on what, whether evaluate.py computes that metric, and
    whether the preset is already converted on this machine."""
    chosen = [p for p in (presets if presets is not None else PRESETS.values())
              if not filter_text or filter_text.lower() in p.name or filter_text.lower()
              in p.dataset]
    header = ("preset", "data set", "input", "codec", "release", "published", "evaluate.py",
              "cached")
    rows = []
    for p in chosen:
        width, height = p.input_size
        name = p.name + (" (default)" if p.name == DEFAULT_PRESET else "")
        rows.append((name, p.dataset, f"{height}x{width}", p.codec, p.release,
                     _published(p), "yes" if p.evaluation.evaluate_py else "no",
                     "yes" if is_cached(p.name) else "no"))
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [header] + rows]
    notes = sorted({p.dataset for p in chosen})
    lines.append(f"{len(rows)} preset(s). Numbers as published, measured on: " + "; ".join(
        f"{d}: {next(p for p in chosen if p.dataset == d).evaluation.benchmark}"
        for d in notes) + ".")
    lines.append("evaluate.py: whether `python evaluate.py --checkpoint <preset>` computes the "
                 "published metric (COCO-style AP, MPII PCKh); the others (PCK/AUC/EPE, NME, "
                 "PoseTrack mAP, CrowdPose's AP, AIC's AP without areas) are not reproducible "
                 "with it today.")
    return "\n".join(lines) + "\n"


def print_presets(arguments: Sequence[str], program: str) -> int:
    """Prints :func:`format_presets` for the one optional filter in
    ``arguments`` (``python -m keras_pose.presets [FILTER]``, ``predict.py
    --list_presets [FILTER]``); an error line naming ``program`` on stderr
    for two or more, or a filter nothing matches. Returns the exit code."""
    if len(arguments) > 1:  # Printed the docstring, no error; predict.py its whole --help.
        print(f"{program}: error: one filter at most (a part of a preset's name or a data "
              f"set, e.g. coco, dark, ap10k); got {len(arguments)}: {' '.join(arguments)}",
              file=sys.stderr)
        return 2
    text = arguments[0] if arguments else None
    if text and not any(text.lower() in p.name or text.lower() in p.dataset
                        for p in PRESETS.values()):
        # Was an empty table and exit 0.
        close = close_presets(text)
        print(f"{program}: error: no preset's name or data set contains {text!r}"
              + (f"; close names: {', '.join(close)}" if close else "; run without a filter "
                 "to list all"), file=sys.stderr)
        return 1
    sys.stdout.write(format_presets(text))
    return 0
