"""Pose-ResNet architectures: ResNet backbones and the deconvolution head.

Architectures only: weight files (torchvision / timm / official PyTorch
files, ``.npz``, keras.applications, downloads) are read by
``keras_pose.convert``, whose ``pretrained.initialize_backbone`` sets the
backbone a config's ``model.pretrained`` names.
"""

from keras_pose.models.pose_resnet import build_model_from_config, build_pose_resnet

__all__ = ["build_model_from_config", "build_pose_resnet"]
