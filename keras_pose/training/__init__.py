"""Training: ``fit`` with the recipe's step, callbacks, resumable run directories."""

from keras_pose.training.callbacks import TrainingError
from keras_pose.training.distribution import select_strategy
from keras_pose.training.trainer import TrainingInterrupted, TrainResult, train

__all__ = ["TrainingError", "TrainingInterrupted", "TrainResult", "select_strategy", "train"]
