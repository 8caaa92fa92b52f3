"""Heatmap codecs: one interface, two variants, chosen by the config.

- :class:`HeatmapCodec`: the interface (``encode`` a person's target,
  ``decode_tf`` heatmaps in the graph, ``to_image_tf``);
- :class:`MSRAHeatmap` (``msra``): the official code's targets and decoding;
- :class:`DarkHeatmap` (``dark``): DARK's unbiased targets and
  distribution-aware decoding.

``model.codec`` names the codec a model is trained with (its targets, and by
default its decoding); ``test.decoding`` decodes with another one at test
time (``--set test.decoding=dark`` on a model trained with ``msra``
targets); :func:`build_codec` is the one place that turns them into an
object.
"""

from __future__ import annotations

from typing import Any, Optional

from keras_pose.codec.base import HeatmapArgmax, HeatmapCodec
from keras_pose.codec.dark import DarkHeatmap, default_blur_kernel
from keras_pose.codec.msra import MSRAHeatmap
from keras_pose.configs.base import CODECS as CODEC_NAMES

CODECS = {"msra": MSRAHeatmap, "dark": DarkHeatmap}
assert tuple(CODECS) == tuple(CODEC_NAMES), "configs.base.CODECS lists the codecs"

__all__ = ["CODECS", "DarkHeatmap", "HeatmapArgmax", "HeatmapCodec", "MSRAHeatmap",
           "build_codec", "default_blur_kernel"]


def build_codec(model_config: Any, test_config: Optional[Any] = None) -> HeatmapCodec:
    """The codec of a model, for training (``test_config`` None: the
    model's ``codec``, refinement on) or inference (``test.decoding`` when
    set, else the model's; ``test.refine``, ``test.blur_kernel``).

    Args:
      model_config: a ``keras_pose.configs.ModelConfig``.
      test_config: a ``keras_pose.configs.TestConfig``, or None.
    """
    name = model_config.codec
    refine, blur_kernel = True, 0
    if test_config is not None:
        name = test_config.decoding or name
        refine, blur_kernel = test_config.refine, test_config.blur_kernel
    geometry = (model_config.image_size, model_config.heatmap_size, model_config.sigma)
    if name == "dark":
        return DarkHeatmap(*geometry, refine=refine, blur_kernel=blur_kernel)
    return CODECS[name](*geometry, refine=refine)
