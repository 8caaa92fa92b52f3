"""Pretrained pose models by name (keras-hub style presets).

    python predict.py --checkpoint simplebaseline_resnet50_coco_256x192 --input photo.jpg
    python -m keras_pose.presets            # every preset with its published numbers

Modules:
  table: the presets (one frozen entry per published model) and where their
    numbers were measured.
  loader: a name -> its config, its file (download or official layout), its
    converted checkpoint in the cache; close names for a typo.
  recognize: an mmpose file -> its preset (by its contents) and the config
    the converter script gives it.
"""

from keras_pose.presets.loader import (DEFAULT_PRESET, LIST_COMMAND, PresetError,
                                       close_presets, convert_preset, get_preset,
                                       is_cached, is_preset, missing_message,
                                       preset_checkpoint, preset_config, preset_dir,
                                       source_config, weights_file)
from keras_pose.presets.listing import format_presets
from keras_pose.presets.table import EVALUATIONS, PRESETS, Evaluation, Preset, Result

__all__ = [
    "DEFAULT_PRESET", "EVALUATIONS", "LIST_COMMAND", "PRESETS", "Evaluation", "Preset",
    "PresetError", "Result", "close_presets", "convert_preset", "format_presets",
    "get_preset", "is_cached", "is_preset", "missing_message", "preset_checkpoint",
    "preset_config", "preset_dir", "source_config", "weights_file",
]
