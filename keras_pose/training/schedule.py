"""The official learning-rate schedule: x ``lr_factor`` at each ``lr_steps`` epoch."""

from __future__ import annotations

import bisect


def base_learning_rate(learning_rate: float, global_batch: int, reference_global_batch: int,
                       scale_with_batch: bool) -> float:
    """The linear scaling rule (Goyal et al.): lr x global batch / reference batch.

    The official runs used 32 images per GPU on 4 GPUs (128) with lr 1e-3; with
    ``train.scale_lr_with_batch`` a run with another global batch scales the
    rate by the same ratio. Off by default: the official configs keep 1e-3.
    """
    if scale_with_batch:
        return learning_rate * global_batch / reference_global_batch
    return learning_rate


def learning_rate_for_epoch(base: float, epoch: int, lr_steps, lr_factor: float) -> float:
    """PyTorch's MultiStepLR as the official code steps it (once before each
    epoch): epochs [0, 90) at base, [90, 120) at base x 0.1, then x 0.01."""
    return base * lr_factor ** bisect.bisect_right(sorted(lr_steps), epoch)
