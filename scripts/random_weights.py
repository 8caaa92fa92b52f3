"""Random networks that cost what trained ones cost, for the benchmarks.

A freshly built network's BatchNormalization layers hold gamma 1, beta 0,
moving mean 0 and moving variance 1, so every bias of the exported network
(BatchNorm folded into its convolution) is exactly zero. TensorFlow's
constant folding then removes each zero ``BiasAdd``, and a convolution
followed directly by ReLU (or by the residual add) is not fused by its
remapper as Conv2D + BiasAdd + ReLU is: in the fresh Pose-ResNet-50 all 66
convolutions run unfused, with 52 ReLUs and 16 residual adds as ops of
their own (``scripts/profile_inference.py``), a cost no other runtime pays
and a trained network does not have. :func:`trained_like_statistics` gives the BatchNorm
layers statistics of a trained network's kind.
"""

from __future__ import annotations

import numpy as np


def trained_like_statistics(model, seed: int = 0) -> int:
    """Sets every BatchNormalization layer of ``model`` (Keras) to random
    non-degenerate statistics (gamma, moving variance in [0.5, 1.5]; beta,
    moving mean ~ N(0, 0.1)); returns how many layers were set."""
    import keras
    rng = np.random.default_rng(seed)
    count = 0
    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        c = layer.gamma.shape[0]
        layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0.0, 0.1, c),
                           rng.normal(0.0, 0.1, c), rng.uniform(0.5, 1.5, c)])
        count += 1
    return count
