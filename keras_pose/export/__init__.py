"""Export: a SavedModel that returns keypoints for TF Serving."""

from keras_pose.export.saved_model import (PoseServingModule, export_saved_model,
                                           export_tflite, load_saved_model)

__all__ = ["PoseServingModule", "export_saved_model", "export_tflite", "load_saved_model"]
