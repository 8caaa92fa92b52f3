"""ResNet backbones (18-152) as functional Keras graphs with portable names.

Layer names (``s`` = stage 2..5 as in ``conv2_x``..``conv5_x``, ``b`` = block
1..n within the stage):

- stem: ``stem_pad``, ``stem_conv``, ``stem_bn``, ``stem_relu``,
  ``stem_pool_pad``, ``stem_pool``
- blocks: ``stage{s}_block{b}_conv{i}`` / ``_bn{i}`` / ``_relu{i}``,
  ``stage{s}_block{b}_downsample_conv`` / ``_downsample_bn``,
  ``stage{s}_block{b}_add``, ``stage{s}_block{b}_out``

torchvision's ``layer{s-1}.{b-1}.conv{i}`` and keras.applications'
``conv{s}_block{b}_{i}_conv`` map onto these one to one.

Padding is explicit (``ZeroPadding2D`` + "valid") wherever PyTorch pads
symmetrically and Keras "same" would not: the 7x7/2 stem, the 3x3/2 max-pool
(zero padding equals -inf padding after a ReLU) and strided 3x3 convolutions.
"""

from __future__ import annotations

from typing import Optional

from keras import layers

from keras_pose.configs.base import STYLES
from keras_pose.models.batch_norm import BatchNormalization

BLOCKS_PER_STAGE = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
STAGE_WIDTHS = (64, 128, 256, 512)

BN_MOMENTUM = 0.9  # PyTorch momentum 0.1
BN_EPSILON = 1e-5  # PyTorch default
# keras.applications' ResNets use 1.001e-5; the caffe style matches them so
# that their ImageNet weights give identical features.
CAFFE_BN_EPSILON = 1.001e-5


def is_bottleneck(depth: int) -> bool:
    """Depths 50 and more use 1x1-3x3-1x1 bottleneck blocks."""
    return depth >= 50


def check_depth_and_style(depth: int, style: str) -> None:
    """Raises ValueError naming the argument for an unsupported depth/style."""
    if depth not in BLOCKS_PER_STAGE:
        raise ValueError(f"depth must be one of {sorted(BLOCKS_PER_STAGE)}, "
                         f"got {depth!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")


class _LayerFactory:
    """Creates convolutions and BatchNorms with the style's settings."""

    def __init__(self, style: str, sync_bn: bool, fused: bool = False):
        self.style = style
        self.sync_bn = sync_bn
        self.fused = fused
        # keras.applications convolutions carry a bias; torchvision's do not.
        # Fused (inference) models fold each BatchNorm into its convolution.
        self.use_bias = style == "caffe" or fused
        self.epsilon = CAFFE_BN_EPSILON if style == "caffe" else BN_EPSILON

    def conv(self, x, filters: int, kernel: int, stride: int, name: str):
        if kernel > 1 and stride > 1:
            x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
            padding = "valid"
        else:
            padding = "same" if kernel > 1 else "valid"
        return layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                             use_bias=self.use_bias, name=name,
                             kernel_initializer="he_normal")(x)

    def bn(self, x, name: str):
        if self.fused:
            return x
        return BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=self.epsilon,
            synchronized=self.sync_bn, name=name)(x)


def _basic_block(f: _LayerFactory, x, filters: int, stride: int,
                 downsample: bool, prefix: str):
    shortcut = x
    y = f.conv(x, filters, 3, stride, f"{prefix}_conv1")
    y = f.bn(y, f"{prefix}_bn1")
    y = layers.ReLU(name=f"{prefix}_relu1")(y)
    y = f.conv(y, filters, 3, 1, f"{prefix}_conv2")
    y = f.bn(y, f"{prefix}_bn2")
    if downsample:
        shortcut = f.conv(x, filters, 1, stride, f"{prefix}_downsample_conv")
        shortcut = f.bn(shortcut, f"{prefix}_downsample_bn")
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)


def _bottleneck_block(f: _LayerFactory, x, filters: int, stride: int,
                      downsample: bool, prefix: str):
    shortcut = x
    # The two styles differ only in where a block's stride sits.
    stride_1x1, stride_3x3 = (stride, 1) if f.style == "caffe" else (1, stride)
    y = f.conv(x, filters, 1, stride_1x1, f"{prefix}_conv1")
    y = f.bn(y, f"{prefix}_bn1")
    y = layers.ReLU(name=f"{prefix}_relu1")(y)
    y = f.conv(y, filters, 3, stride_3x3, f"{prefix}_conv2")
    y = f.bn(y, f"{prefix}_bn2")
    y = layers.ReLU(name=f"{prefix}_relu2")(y)
    y = f.conv(y, filters * 4, 1, 1, f"{prefix}_conv3")
    y = f.bn(y, f"{prefix}_bn3")
    if downsample:
        shortcut = f.conv(x, filters * 4, 1, stride, f"{prefix}_downsample_conv")
        shortcut = f.bn(shortcut, f"{prefix}_downsample_bn")
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)


def resnet_backbone(inputs, depth: int, style: str = "pytorch",
                    sync_bn: bool = False,
                    blocks_per_stage: Optional[tuple[int, ...]] = None,
                    fused: bool = False):
    """Applies a ResNet backbone to ``inputs`` (N, H, W, 3).

    Args:
      inputs: Keras tensor of shape (N, H, W, 3).
      depth: 18, 34, 50, 101 or 152.
      style: "pytorch" or "caffe" (see the module docstring).
      sync_bn: use synchronized BatchNormalization.
      blocks_per_stage: override the number of blocks per stage (tiny test
        models); None: the standard counts for ``depth``.
      fused: the inference form: no BatchNorm layers, every convolution with
        a bias (``keras_pose.export.inference_model`` folds the weights).

    Returns:
      The stage-5 feature map (N, H/32, W/32, C), C = 512 for depths 18/34
      and 2048 otherwise.
    """
    check_depth_and_style(depth, style)
    f = _LayerFactory(style, sync_bn, fused)
    blocks = blocks_per_stage or BLOCKS_PER_STAGE[depth]
    if len(blocks) != 4 or min(blocks) < 1:
        raise ValueError(f"blocks_per_stage must be 4 positive counts, got {blocks!r}")
    bottleneck = is_bottleneck(depth)
    block_fn = _bottleneck_block if bottleneck else _basic_block
    expansion = 4 if bottleneck else 1

    x = layers.ZeroPadding2D(3, name="stem_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, padding="valid", use_bias=f.use_bias,
                      kernel_initializer="he_normal", name="stem_conv")(x)
    x = f.bn(x, "stem_bn")
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)

    in_channels = 64
    for stage_index, (num_blocks, width) in enumerate(zip(blocks, STAGE_WIDTHS)):
        stage = stage_index + 2
        for block in range(1, num_blocks + 1):
            stride = 2 if (block == 1 and stage > 2) else 1
            downsample = block == 1 and (stride != 1 or in_channels != width * expansion)
            x = block_fn(f, x, width, stride, downsample,
                         f"stage{stage}_block{block}")
            in_channels = width * expansion
    return x
