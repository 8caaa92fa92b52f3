"""Experiment configuration.

Modules:
  base: the frozen dataclasses (model, data, train, test, track sections).
  conversion: dicts, ``--set`` overrides, config files.
  experiments: the named experiments.  cli: the scripts' config builder.
  keypoints: COCO / MPII keypoints; names -> flip pairs; index bases.
  sigma_presets: published OKS sigmas of data sets.  sigmas: a run's sigmas.
"""

from keras_pose.configs.base import (PIXEL_STD, ConfigError, DataConfig,
                                     ExperimentConfig, ModelConfig, TestConfig,
                                     TrainConfig)
from keras_pose.configs.conversion import (apply_overrides, config_differences, config_from_dict,
                                           config_to_dict, load_config, save_config)
from keras_pose.configs.experiments import (default_experiment, get_experiment,
                                            list_experiments)

__all__ = [
    "PIXEL_STD", "ConfigError", "DataConfig", "ExperimentConfig", "ModelConfig",
    "TestConfig", "TrainConfig", "apply_overrides", "config_from_dict",
    "config_differences", "config_to_dict", "load_config", "save_config", "default_experiment",
    "get_experiment", "list_experiments",
]
