"""The Simple Baselines head: stride-2 deconvolutions + BN + ReLU, then a conv.

Layer names: ``head_deconv{i}``, ``head_deconv{i}_bn``, ``head_deconv{i}_relu``
(i = 1..n), ``head_final_conv``.

PyTorch's ``ConvTranspose2d(k, stride=2, padding=p, output_padding=op)`` with
the official (p, op) = (1, 0) for k=4, (1, 1) for k=3, (0, 0) for k=2 keeps
the rows ``[p, p + 2H)`` of the full transposed convolution. Keras "same"
keeps ``[(k - 2) // 2, ...)``: equal for k=4 and k=2, one pixel off for k=3.
Kernel 3 is therefore built as a "valid" transposed convolution followed by
the crop PyTorch does, so every kernel matches PyTorch exactly.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from keras_pose.configs.base import DECONV_KERNELS, FINAL_KERNELS
from keras_pose.models.batch_norm import BatchNormalization
from keras_pose.models.resnet import BN_EPSILON, BN_MOMENTUM

HEAD_INIT_STD = 0.001  # The paper's normal(0, 0.001) initialisation.


def _deconv_padding(kernel: int) -> int:
    """The official ``padding`` of ConvTranspose2d for a kernel size."""
    return {4: 1, 3: 1, 2: 0}[kernel]


def deconv_head(features, num_keypoints: int,
                deconv_filters: Sequence[int] = (256, 256, 256),
                deconv_kernels: Sequence[int] = (4, 4, 4),
                final_kernel: int = 1, sync_bn: bool = False, fused: bool = False):
    """Applies the deconvolution head to backbone features.

    Args:
      features: Keras tensor (N, h, w, C), the stride-32 backbone output.
      num_keypoints: K, the number of heatmaps.
      deconv_filters: filters of each deconvolution layer.
      deconv_kernels: kernel of each deconvolution layer (2, 3 or 4).
      final_kernel: kernel of the final convolution (1 or 3).
      sync_bn: use synchronized BatchNormalization.
      fused: the inference form: BatchNorms folded away; kernel-4
        deconvolutions become :class:`SubPixelDeconv` layers (an exactly
        equivalent stride-1 convolution + depth_to_space), the others keep
        Conv2DTranspose with a bias.

    Returns:
      Heatmaps (N, h * 2^n, w * 2^n, K), no activation.
    """
    if len(deconv_filters) != len(deconv_kernels) or not deconv_filters:
        raise ValueError(
            "deconv_filters and deconv_kernels must be non-empty and of the same "
            f"length, got {tuple(deconv_filters)} and {tuple(deconv_kernels)}")
    for kernel in deconv_kernels:
        if kernel not in DECONV_KERNELS:
            raise ValueError(f"deconv_kernels entries must be one of "
                             f"{DECONV_KERNELS}, got {kernel!r}")
    if final_kernel not in FINAL_KERNELS:
        raise ValueError(f"final_kernel must be one of {FINAL_KERNELS}, "
                         f"got {final_kernel!r}")
    def init():
        # One initializer per layer: Keras 3 fixes an unseeded initializer's
        # seed when it is made, so one shared instance gave head_deconv2 and
        # head_deconv3 (same shape) bit-identical kernels (the official code
        # draws each layer's own).
        return keras.initializers.RandomNormal(mean=0.0, stddev=HEAD_INIT_STD)

    x = features
    for i, (filters, kernel) in enumerate(zip(deconv_filters, deconv_kernels), 1):
        name = f"head_deconv{i}"
        if fused:
            if kernel == 4:
                # The ReLU inside: fused into each phase's convolution.
                x = SubPixelDeconv(filters, activation="relu", name=name)(x)
                continue
            x = layers.Conv2DTranspose(filters, kernel, strides=2, padding="valid" if kernel == 3
                                       else "same", use_bias=True, name=name)(x)
            if kernel == 3:
                x = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_crop")(x)
            x = layers.ReLU(name=f"{name}_relu")(x)
            continue
        if kernel == 3:
            # Full output is 2H + 1; PyTorch keeps rows [1, 2H + 1).
            x = layers.Conv2DTranspose(filters, kernel, strides=2, padding="valid",
                                       use_bias=False, kernel_initializer=init(),
                                       name=name)(x)
            x = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_crop")(x)
        else:
            x = layers.Conv2DTranspose(filters, kernel, strides=2, padding="same",
                                       use_bias=False, kernel_initializer=init(),
                                       name=name)(x)
        x = BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                               synchronized=sync_bn, name=f"{name}_bn")(x)
        x = layers.ReLU(name=f"{name}_relu")(x)
    return layers.Conv2D(num_keypoints, final_kernel, padding="same", use_bias=True,
                         kernel_initializer=init(), bias_initializer="zeros",
                         name="head_final_conv")(x)



class SubPixelDeconv(layers.Layer):
    """A stride-2, kernel-4 transposed convolution (PyTorch padding 1) as
    stride-1 convolutions + depth_to_space.

    Along one axis, output ``2m + r`` reads inputs ``m - 1 + r`` and
    ``m + r`` through kernel taps ``3 - r`` and ``1 - r``: output phase
    (r_y, r_x) is a 2x2 "valid" convolution of the input padded by
    (1 - r, r) on each axis, with that phase's C_out columns of the kernel.
    The four phases (each convolution with its bias and activation, which
    TF fuses into it) are interleaved by depth_to_space. Same multiply-adds
    as the transposed convolution, and TF's CPU kernels (Eigen and oneDNN)
    run plain convolutions faster.

    Weights: ``kernel`` (2, 2, C_in, 4 C_out), phase ``2 r_y + r_x`` in
    columns ``[phase C_out, (phase + 1) C_out)``; ``bias`` (C_out,); see
    ``keras_pose.export.inference_model.subpixel_kernel``.

    Args:
      filters: C_out.
      activation: ``None`` or ``"relu"``, applied to each phase.
    """

    ACTIVATIONS = (None, "relu")

    def __init__(self, filters: int, activation: str | None = None, **kwargs):
        super().__init__(**kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {self.ACTIVATIONS}, got {activation!r}")
        self.filters = filters
        self.activation = activation

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel",
                                      shape=(2, 2, input_shape[-1], 4 * self.filters))
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, inputs):
        import tensorflow as tf
        c = self.filters
        kernel = tf.cast(self.kernel, inputs.dtype)
        bias = tf.cast(self.bias, inputs.dtype)
        phases = []
        for ry in (0, 1):
            for rx in (0, 1):
                phase = 2 * ry + rx
                x = tf.pad(inputs, [[0, 0], [1 - ry, ry], [1 - rx, rx], [0, 0]])
                y = tf.nn.bias_add(tf.nn.conv2d(x, kernel[..., phase * c:(phase + 1) * c],
                                                strides=1, padding="VALID"), bias)
                phases.append(tf.nn.relu(y) if self.activation == "relu" else y)
        return tf.nn.depth_to_space(tf.concat(phases, axis=-1), 2)

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else 2 * h, None if w is None else 2 * w,
                self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "activation": self.activation}
