"""Pose-ResNet models: ResNet backbones, the deconvolution head, weights."""

from keras_pose.models.pose_resnet import build_model_from_config, build_pose_resnet
from keras_pose.models.pretrained import (KERAS_CAFFE_PREPROCESSING,
                                          copy_keras_applications_weights,
                                          load_named_weights,
                                          load_pretrained_backbone,
                                          load_torch_backbone,
                                          save_named_weights)
from keras_pose.models.state_dict import ConversionError, WeightsMismatchError

__all__ = [
    "build_model_from_config", "build_pose_resnet", "ConversionError",
    "KERAS_CAFFE_PREPROCESSING", "WeightsMismatchError",
    "copy_keras_applications_weights", "load_named_weights",
    "load_pretrained_backbone", "load_torch_backbone", "save_named_weights",
]
