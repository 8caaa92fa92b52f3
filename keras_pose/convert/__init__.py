"""Weight conversion tooling: official PyTorch checkpoints and torchvision
backbones into this project's checkpoints and weight files (no torch)."""

from keras_pose.convert.official import (convert_backbone, convert_pose_checkpoint,
                                         official_config, size_from_file_name)

__all__ = ["convert_backbone", "convert_pose_checkpoint", "official_config",
           "size_from_file_name"]
