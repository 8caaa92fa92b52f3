"""D-FINE (keras-hub) architectures, published figures and output decoding.

keras-hub's D-FINE presets are conversions of the official checkpoints
(github.com/Peterande/D-FINE). The architectures below rebuild them with
random weights, for tests and for timing without a download: built with
``build_dfine_detector`` their parameter counts equal the presets' published
counts exactly (3,788,625 / 10,329,321 / 19,621,160), which checks them.

The model sees the image resized to 640 x 640 (no crop, no padding), scaled
to [0, 1] with no mean / std, as the official evaluation transform
(``Resize((640, 640))`` + ``ConvertPILImage(scale=True)``). It predicts, per
query, relative ``(cx, cy, w, h)`` boxes and one sigmoid logit per class:
80 contiguous COCO classes, person = 0. Relative coordinates of the
stretched image are relative coordinates of the original image, so boxes
map back by multiplying with the original width and height.

Shapes: N images, Q queries, C classes.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence, Union

import tensorflow as tf

from keras_pose.models.dtypes import float32_scope


@dataclasses.dataclass(frozen=True)
class PresetInfo:
    """Published figures of a keras-hub D-FINE preset.

    Attributes:
      architecture: key of ``DFINE_ARCHITECTURES`` (None: not rebuilt here).
      coco_ap: box AP on COCO val2017 (all 80 classes), from the D-FINE README.
      params: parameter count (keras-hub preset metadata).
      gflops: GFLOPs at 640 x 640 (D-FINE README).
      t4_latency_ms: T4 GPU, TensorRT fp16, batch 1 (D-FINE README).
    """

    architecture: Optional[str]
    coco_ap: float
    params: int
    gflops: int
    t4_latency_ms: float

    @property
    def download_mb(self) -> int:
        """Approximate size of the float32 weights file."""
        return round(self.params * 4 / 1e6)


# COCO-class presets of keras-hub 0.32 ("obj2coco": pretrained on
# Objects365, then fine-tuned on COCO: same network, higher AP).
PRESETS = {
    "dfine_nano_coco": PresetInfo("nano", 42.8, 3_788_625, 7, 2.12),
    "dfine_small_coco": PresetInfo("small", 48.5, 10_329_321, 25, 3.49),
    "dfine_small_obj2coco": PresetInfo("small", 50.7, 10_329_321, 25, 3.49),
    "dfine_medium_coco": PresetInfo("medium", 52.3, 19_621_160, 57, 5.62),
    "dfine_medium_obj2coco": PresetInfo("medium", 55.1, 19_621_160, 57, 5.62),
    "dfine_large_coco": PresetInfo(None, 54.0, 31_344_064, 91, 8.07),
    "dfine_large_obj2coco_e25": PresetInfo(None, 57.3, 31_344_064, 91, 8.07),
    "dfine_xlarge_coco": PresetInfo(None, 55.8, 62_834_048, 202, 12.89),
    "dfine_xlarge_obj2coco": PresetInfo(None, 59.3, 62_834_048, 202, 12.89),
}

# HGNetV2 stages: [in, mid, out, blocks, layers per block, kernel].
_HGNETV2_B0 = dict(stem_channels=(3, 16, 16), stages=(
    (16, 16, 64, 1, 3, 3), (64, 32, 256, 1, 3, 3), (256, 64, 512, 2, 3, 5),
    (512, 128, 1024, 1, 3, 5)))
_HGNETV2_B2 = dict(stem_channels=(3, 24, 32), stages=(
    (32, 32, 96, 1, 4, 3), (96, 64, 384, 1, 4, 3), (384, 128, 768, 3, 4, 5),
    (768, 256, 1536, 1, 4, 5)))

# The official configs (configs/dfine/dfine_hgnetv2_{n,s,m}_coco.yml).
DFINE_ARCHITECTURES = {
    "nano": dict(**_HGNETV2_B0, out_features=("stage3", "stage4"), feat_strides=(16, 32),
                 encoder_in_channels=(512, 1024), encoder_hidden_dim=128, encoder_ffn_dim=512,
                 encode_proj_layers=(1,), hidden_expansion=0.34, depth_multiplier=0.5,
                 hidden_dim=128, decoder_ffn_dim=512, num_decoder_layers=3,
                 decoder_n_points=(6, 6)),
    "small": dict(**_HGNETV2_B0, out_features=("stage2", "stage3", "stage4"),
                  feat_strides=(8, 16, 32), encoder_in_channels=(256, 512, 1024),
                  encoder_hidden_dim=256, encoder_ffn_dim=1024, encode_proj_layers=(2,),
                  hidden_expansion=0.5, depth_multiplier=0.34, hidden_dim=256,
                  decoder_ffn_dim=1024, num_decoder_layers=3, decoder_n_points=(3, 6, 3)),
    "medium": dict(**_HGNETV2_B2, out_features=("stage2", "stage3", "stage4"),
                   feat_strides=(8, 16, 32), encoder_in_channels=(384, 768, 1536),
                   encoder_hidden_dim=256, encoder_ffn_dim=1024, encode_proj_layers=(2,),
                   hidden_expansion=1.0, depth_multiplier=0.67, hidden_dim=256,
                   decoder_ffn_dim=1024, num_decoder_layers=4, decoder_n_points=(3, 6, 3)),
}


def _hgnetv2(arch: Mapping):
    from keras_hub.models import HGNetV2Backbone
    stages = [list(s) for s in arch["stages"]]
    return HGNetV2Backbone(
        depths=[s[3] for s in stages], embedding_size=arch["stem_channels"][2],
        hidden_sizes=[s[2] for s in stages], stem_channels=list(arch["stem_channels"]),
        hidden_act="relu", use_learnable_affine_block=True, stackwise_stage_filters=stages,
        apply_downsample=[False, True, True, True],
        use_lightweight_conv_block=[False, False, True, True],
        out_features=list(arch["out_features"]))


def build_dfine_detector(architecture: Union[str, Mapping], num_classes: int = 80,
                         image_size: Sequence[int] = (640, 640), num_queries: int = 300):
    """A ``keras_hub.models.DFineObjectDetector`` with random weights.

    Args:
      architecture: a ``DFINE_ARCHITECTURES`` key or a dict of the same form
        (optionally with ``num_attention_heads``, ``decoder_attention_heads``,
        ``lqe_hidden_dim``; default 8, 8, 64).
      num_classes: output classes.
      image_size: (height, width) the anchors are laid out for: the input size.
      num_queries: decoder queries (at most the number of anchors).
    """
    with float32_scope():  # Whatever the caller's Keras settings (channels_first).
        return _build_dfine(architecture, num_classes, image_size, num_queries)


def _build_dfine(architecture, num_classes, image_size, num_queries):
    from keras_hub.models import DFineBackbone, DFineObjectDetector
    arch = DFINE_ARCHITECTURES[architecture] if isinstance(architecture, str) else architecture
    levels = len(arch["feat_strides"])
    backbone = DFineBackbone(
        backbone=_hgnetv2(arch), decoder_in_channels=[arch["hidden_dim"]] * levels,
        encoder_hidden_dim=arch["encoder_hidden_dim"], num_labels=num_classes,
        # No denoising queries: they only serve training (and their embedding
        # is absent from the presets' parameter counts).
        num_denoising=0, learn_initial_query=False, num_queries=num_queries,
        anchor_image_size=tuple(image_size), feat_strides=list(arch["feat_strides"]),
        num_feature_levels=levels, hidden_dim=arch["hidden_dim"],
        encoder_in_channels=list(arch["encoder_in_channels"]),
        encode_proj_layers=list(arch["encode_proj_layers"]),
        num_attention_heads=arch.get("num_attention_heads", 8),
        encoder_ffn_dim=arch["encoder_ffn_dim"], num_encoder_layers=1,
        hidden_expansion=arch["hidden_expansion"], depth_multiplier=arch["depth_multiplier"],
        eval_idx=-1, num_decoder_layers=arch["num_decoder_layers"],
        decoder_attention_heads=arch.get("decoder_attention_heads", 8),
        decoder_ffn_dim=arch["decoder_ffn_dim"], decoder_n_points=list(arch["decoder_n_points"]),
        lqe_hidden_dim=arch.get("lqe_hidden_dim", 64), num_lqe_layers=2,
        out_features=list(arch["out_features"]))
    return DFineObjectDetector(backbone=backbone, num_classes=num_classes)


def _depthwise_op(layer):
    kh, kw = layer.kernel_size
    strides = (1, *layer.strides, 1)
    padding = layer.padding.upper()

    def convolution_op(inputs, kernel):
        # Keras' grouped kernel (kh, kw, 1, C) is TF's depthwise (kh, kw, C, 1).
        return tf.nn.depthwise_conv2d(inputs, tf.reshape(kernel, (kh, kw, layer.filters, 1)),
                                      strides, padding)
    return convolution_op


def use_depthwise_kernels(model) -> int:
    """Runs the model's depthwise convolutions with ``tf.nn.depthwise_conv2d``.

    Keras 3 on TensorFlow runs every grouped convolution as an XLA-compiled
    ``tf.nn.convolution`` (TF has no grouped convolution kernel on CPU),
    10-20x slower on CPU than TF's depthwise kernel for HGNetV2's depthwise
    layers: D-FINE-S runs 2.4x faster with this, D-FINE-N 3.2x. The results
    are the same up to float rounding. Changes the layers in place.

    Args:
      model: any Keras model; only 2-D channels-last convolutions with one
        group per input channel and output channel (depthwise, multiplier 1,
        no dilation) change.

    Returns:
      The number of convolutions changed.
    """
    import keras
    changed = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if (isinstance(layer, keras.layers.Conv2D) and layer.groups > 1
                and layer.groups == layer.filters and layer.kernel.shape[2] == 1
                and layer.data_format == "channels_last"
                and tuple(layer.dilation_rate) == (1, 1)):
            layer.convolution_op = _depthwise_op(layer)
            changed += 1
    return changed


def decode_dfine_tf(logits: tf.Tensor, relative_boxes: tf.Tensor, image_sizes: tf.Tensor,
                    person_class: int):
    """D-FINE outputs -> person boxes in original-image pixels.

    Args:
      logits: (N, Q, C) class logits (sigmoid, no background class).
      relative_boxes: (N, Q, 4) ``(cx, cy, w, h)`` relative to the image.
      image_sizes: (N, 2) float32 (height, width) of the original images.
      person_class: index of "person" among the C classes.

    Returns:
      boxes (N, Q, 4) float32 [x, y, w, h] clipped to the image, scores
      (N, Q) the person probability, valid (N, Q) bool (False for boxes with
      no area left inside the image).
    """
    scores = tf.sigmoid(tf.cast(logits[..., person_class], tf.float32))
    cx, cy, w, h = tf.unstack(tf.cast(relative_boxes, tf.float32), axis=-1)
    height, width = image_sizes[:, 0:1], image_sizes[:, 1:2]
    x1 = tf.clip_by_value((cx - w / 2) * width, 0.0, width)
    x2 = tf.clip_by_value((cx + w / 2) * width, 0.0, width)
    y1 = tf.clip_by_value((cy - h / 2) * height, 0.0, height)
    y2 = tf.clip_by_value((cy + h / 2) * height, 0.0, height)
    boxes = tf.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    return boxes, scores, tf.logical_and(x2 > x1, y2 > y1)


# Class counts of a COCO-trained detector: 80 contiguous labels or the 91 category ids.
COCO_CLASS_COUNTS = (80, 91)


def person_class_index(num_classes: int, person_class: Optional[int] = None) -> int:
    """The class index of "person" in a COCO-trained detector.

    80 classes: contiguous COCO labels, person = 0 (D-FINE's label remap);
    91 classes: the original COCO category ids, person = 1.

    Raises:
      ValueError: another class count with no explicit ``person_class``, or
        an index out of range.
    """
    if person_class is None:
        if num_classes not in COCO_CLASS_COUNTS:
            raise ValueError(f"a detector with {num_classes} classes is not COCO's 80 (or 91 "
                             "ids): pass person_class, the index of 'person'")
        person_class = 0 if num_classes == 80 else 1
    if not 0 <= person_class < num_classes:
        raise ValueError(f"person_class {person_class} is not among the {num_classes} classes")
    return person_class
