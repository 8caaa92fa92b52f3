"""Training: the loop, the schedule, checkpoints and train-time accuracy."""

from keras_pose.training.trainer import (TrainingError, TrainResult, make_train_step,
                                         select_strategy, train)

__all__ = ["TrainingError", "TrainResult", "make_train_step", "select_strategy", "train"]
