"""Training: ``fit`` with the recipe's step, callbacks, resumable run directories."""

from keras_pose.training.callbacks import TrainingError
from keras_pose.training.distribution import select_strategy
from keras_pose.training.model import PoseTrainingModel
from keras_pose.training.trainer import TrainingInterrupted, TrainResult, train

__all__ = ["PoseTrainingModel", "TrainingError", "TrainingInterrupted", "TrainResult",
           "select_strategy", "train"]
