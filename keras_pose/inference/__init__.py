"""The one top-down inference path and the one model loader.

``TopDownEstimator`` (boxes -> crops -> network -> flip -> decode ->
rescore, in TF ops), ``load_pose_model`` (checkpoints and SavedModels) and
the ``Predictor`` API built on them.
"""

from keras_pose.inference.estimator import TopDownEstimator, person_scores
from keras_pose.inference.loading import (PoseModel, load_pose_model, load_saved_model,
                                          with_overrides)
from keras_pose.inference.predictor import PoseResult, Predictor, check_boxes

__all__ = ["PoseModel", "PoseResult", "Predictor", "TopDownEstimator", "check_boxes",
           "load_pose_model", "load_saved_model", "person_scores", "with_overrides"]
