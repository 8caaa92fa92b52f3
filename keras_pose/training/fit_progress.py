"""How Keras' ``fit`` shows its progress on stdout: a bar redrawn at every
step on a terminal, one line per epoch anywhere else (a log file, a pipe)."""

from __future__ import annotations

import sys

from keras_pose.output_streams import is_terminal


def fit_verbosity(shown: bool) -> int:
    """Keras' ``fit(verbose=...)``: 0 when no progress is ``shown``; 1, the
    bar, when stdout is a terminal; else 2: one line per epoch after its
    ``Epoch i/n``, with what the bar's last state says (steps, time, time
    per step, the metrics), only the ETA left out.

    Was 1 everywhere: Keras 3.15 redraws its bar whenever ``'posix' in
    sys.modules``, terminal or not, so ``train.py > log`` got every step
    with ``\\r``, backspaces and colour codes (~210 bytes a step, ~138 MB
    for the COCO recipe), one 'line' per epoch.
    """
    if not shown:
        return 0
    return 1 if is_terminal(sys.stdout) else 2
