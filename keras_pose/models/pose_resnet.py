"""Pose-ResNet: the Simple Baselines network (ResNet backbone + deconv head)."""

from __future__ import annotations

from typing import Optional, Sequence

import keras
import tensorflow as tf
from keras import layers

from keras_pose.models.head import deconv_head
from keras_pose.models.resnet import check_depth_and_style, resnet_backbone


def build_pose_resnet(depth: int, num_keypoints: int,
                      input_shape: Sequence[int] = (256, 192, 3),
                      style: str = "pytorch",
                      deconv_filters: Sequence[int] = (256, 256, 256),
                      deconv_kernels: Sequence[int] = (4, 4, 4),
                      final_kernel: int = 1, sync_bn: bool = False,
                      blocks_per_stage: Optional[Sequence[int]] = None,
                      name: Optional[str] = None, fused: bool = False) -> keras.Model:
    """Builds the Simple Baselines pose network as a functional Keras model.

    Shapes: N images, H x W input, K keypoints; output heatmaps are
    (N, H/4, W/4, K) with three stride-2 deconvolutions (H/32 * 2^n in general)
    and no activation.

    Args:
      depth: ResNet depth: 18, 34, 50, 101 or 152.
      num_keypoints: K >= 1.
      input_shape: (H, W, 3); H and W divisible by 32.
      style: "pytorch" (stride 2 on the 3x3 conv of the first bottleneck of
        stages 3-5, torchvision's layout used by the official code) or
        "caffe" (stride 2 on the first 1x1 conv, keras.applications' layout).
      deconv_filters: filters of each deconvolution.
      deconv_kernels: kernels of each deconvolution (2, 3 or 4; all match
        PyTorch's ConvTranspose2d with the official padding).
      final_kernel: 1 or 3.
      sync_bn: synchronized BatchNormalization (multi-replica training).
      blocks_per_stage: fewer blocks per stage for tiny test models.
      name: model name; default ``pose_resnet{depth}``.
      fused: build the inference form (BatchNorm folded away; see
        ``keras_pose.export.inference_model``), without weights.

    Returns:
      An uncompiled ``keras.Model`` mapping (N, H, W, 3) float32 normalised
      images to (N, H/4, W/4, K) heatmaps, randomly initialised (the
      backbone's pretrained weights are
      ``keras_pose.convert.pretrained.initialize_backbone``'s).

    Raises:
      ValueError: naming the bad argument and the allowed values.
    """
    check_depth_and_style(depth, style)
    if isinstance(num_keypoints, bool) or not isinstance(num_keypoints, int) or num_keypoints < 1:
        raise ValueError(f"num_keypoints must be an integer >= 1, got {num_keypoints!r}")
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"input_shape must be (height, width, 3), got {input_shape!r}")
    height, width = input_shape[0], input_shape[1]
    if height is not None and width is not None and (
            height % 32 or width % 32 or height <= 0 or width <= 0):
        raise ValueError(
            f"input_shape height and width must be positive multiples of 32 "
            f"(the backbone's stride), got {height}x{width}")
    inputs = keras.Input(shape=input_shape, name="image")
    features = resnet_backbone(inputs, depth, style=style, sync_bn=sync_bn,
                               blocks_per_stage=tuple(blocks_per_stage)
                               if blocks_per_stage else None, fused=fused)
    heatmaps = deconv_head(features, num_keypoints, deconv_filters,
                           deconv_kernels, final_kernel, sync_bn=sync_bn, fused=fused)
    heatmaps = layers.Activation("linear", dtype="float32", name="heatmaps")(heatmaps)
    return keras.Model(inputs, heatmaps, name=name or f"pose_resnet{depth}")


def build_model_from_config(model_config, sync_bn: Optional[bool] = None) -> keras.Model:
    """Builds the network an experiment's ``ModelConfig`` describes, randomly
    initialised: ``model_config.pretrained`` is read by
    ``keras_pose.convert.pretrained.initialize_backbone``, which whoever
    trains the network calls.

    Args:
      model_config: a ``keras_pose.configs.ModelConfig``.
      sync_bn: overrides ``model_config.sync_bn``; when both are None
        (auto), synchronized when the current distribution strategy has
        more than one replica.
    """
    # (ModelConfig checks that heatmap_size is what the network computes.)
    width, height = model_config.image_size
    if sync_bn is None:
        sync_bn = model_config.sync_bn
    if sync_bn is None:
        sync_bn = tf.distribute.get_strategy().num_replicas_in_sync > 1
    return build_pose_resnet(
        depth=model_config.depth,
        num_keypoints=model_config.num_keypoints,
        input_shape=(height, width, 3),
        style=model_config.style,
        deconv_filters=model_config.deconv_filters,
        deconv_kernels=model_config.deconv_kernels,
        final_kernel=model_config.final_kernel,
        sync_bn=sync_bn,
        blocks_per_stage=model_config.blocks_per_stage or None,
    )
