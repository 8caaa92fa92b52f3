"""An exactly equivalent, faster inference form of a Pose-ResNet.

Two rewrites, exact up to float rounding:

1. BatchNorm folding: in inference a BatchNorm is ``(x - mean) * s + beta``
   with ``s = gamma / sqrt(var + eps)``; it is merged into the convolution
   before it: ``W' = W * s`` per output channel, ``b' = (b - mean) * s + beta``.
2. Kernel-4 stride-2 deconvolutions become :class:`SubPixelDeconv` layers
   (one stride-1 convolution + depth_to_space, see its docstring).

The fused network is built by ``build_pose_resnet(..., fused=True)`` with the
same layer names, and the weights are folded in by name. For inference only.
"""

from __future__ import annotations

import re

import keras
import numpy as np

from keras_pose.configs import ExperimentConfig
from keras_pose.export.precision import dtype_policy_scope, keras_policy, resolve_precision
from keras_pose.models import build_pose_resnet
from keras_pose.models.head import SubPixelDeconv


def _bn_name(conv_name: str) -> str | None:
    if conv_name == "stem_conv":
        return "stem_bn"
    if re.fullmatch(r"stage\d_block\d+_conv\d", conv_name):
        return conv_name[:-5] + "bn" + conv_name[-1]
    if conv_name.endswith("_downsample_conv"):
        return conv_name[:-len("conv")] + "bn"
    if re.fullmatch(r"head_deconv\d+", conv_name):
        return conv_name + "_bn"
    return None


def _blocks_per_stage(model: keras.Model) -> tuple[int, ...]:
    names = {layer.name for layer in model.layers}
    return tuple(sum(1 for b in range(1, 100) if f"stage{s}_block{b}_conv1" in names)
                 for s in (2, 3, 4, 5))


def subpixel_kernel(kernel: np.ndarray) -> np.ndarray:
    """Conv2DTranspose kernel (4, 4, C_out, C_in) -> SubPixelDeconv kernel
    (2, 2, C_in, 4 C_out): phase (r_y, r_x) at window (j_y, j_x) uses tap
    (3 - r_y - 2 j_y, 3 - r_x - 2 j_x)."""
    c_out, c_in = kernel.shape[2], kernel.shape[3]
    out = np.zeros((2, 2, c_in, 4 * c_out), kernel.dtype)
    for ry in (0, 1):
        for rx in (0, 1):
            phase = 2 * ry + rx
            for jy in (0, 1):
                for jx in (0, 1):
                    out[jy, jx, :, phase * c_out:(phase + 1) * c_out] = \
                        kernel[3 - ry - 2 * jy, 3 - rx - 2 * jx].T
    return out


def build_inference_model(model: keras.Model, config: ExperimentConfig,
                          precision: str = "fp32") -> keras.Model:
    """The fused twin of ``model`` (same inputs and outputs in inference).

    Args:
      model: a pose model built by this package (any style / depth).
      config: its config (architecture fields of ``config.model``).
      precision: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (see
        ``keras_pose.export.precision``): the fused network is built under
        that Keras dtype policy, so its variables and every layer but the
        float32 ``heatmaps`` output are in that type (the weights are folded
        in float64, then rounded once). Input and output stay float32.
    """
    policy = keras_policy(resolve_precision(precision))
    m = config.model
    with dtype_policy_scope(policy):
        fused = build_pose_resnet(
            m.depth, m.num_keypoints, input_shape=tuple(model.input_shape[1:]),
            style=m.style, deconv_filters=m.deconv_filters, deconv_kernels=m.deconv_kernels,
            final_kernel=m.final_kernel, blocks_per_stage=_blocks_per_stage(model),
            name=f"{model.name}_fused", fused=True)
    for layer in fused.layers:
        if not layer.weights:
            continue
        source = model.get_layer(layer.name)
        weights = source.get_weights()
        kernel = weights[0].astype(np.float64)
        bias = weights[1].astype(np.float64) if len(weights) > 1 else None
        bn_name = _bn_name(layer.name)
        transposed = isinstance(source, keras.layers.Conv2DTranspose)
        out_axis = 2 if transposed else 3
        c_out = kernel.shape[out_axis]
        if bias is None:
            bias = np.zeros(c_out)
        if bn_name is not None:
            bn = model.get_layer(bn_name)
            gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
            s = gamma / np.sqrt(var + bn.epsilon)
            shape = [1, 1, 1, 1]
            shape[out_axis] = c_out
            kernel = kernel * s.reshape(shape)
            bias = (bias - mean) * s + beta
        if isinstance(layer, SubPixelDeconv):
            kernel = subpixel_kernel(kernel)
        layer.set_weights([kernel, bias])  # Rounded to the layer's variable dtype.
    return fused
