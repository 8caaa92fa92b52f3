"""Experiment configuration: frozen dataclasses and named experiments."""

from keras_pose.configs.base import (PIXEL_STD, ConfigError, DataConfig,
                                     ExperimentConfig, ModelConfig, TestConfig,
                                     TrainConfig, apply_overrides,
                                     config_from_dict, config_to_dict,
                                     load_config, save_config)
from keras_pose.configs.experiments import (default_experiment, get_experiment,
                                            list_experiments)

__all__ = [
    "PIXEL_STD", "ConfigError", "DataConfig", "ExperimentConfig", "ModelConfig",
    "TestConfig", "TrainConfig", "apply_overrides", "config_from_dict",
    "config_to_dict", "load_config", "save_config", "default_experiment",
    "get_experiment", "list_experiments",
]
