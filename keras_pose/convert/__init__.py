"""Foreign weight files: official and mmpose PyTorch checkpoints, torchvision /
timm backbones, keras.applications and ``.npz`` weights, read without torch,
and the download cache they come through.

Modules:
  torch_pickle: the restricted unpickler (runs nothing) and tensor rebuilding.
  torch_reader: ``torch.save`` files (zip, legacy, tar) and safetensors.
  state_dict: PyTorch names -> our layers; architecture inference; assignment.
  download: a URL into the cache, checked by the hash in its name; offline error.
  imagenet: torchvision's ImageNet ResNet files per depth.
  pretrained: ``model.pretrained`` -> backbone weights (``initialize_backbone``).
  official: official checkpoints -> this project's checkpoints and ``.npz``.
  mmpose: mmpose's SimpleBaseline checkpoints (1.x, 0.x) -> this project's checkpoints.
"""

from keras_pose.convert.mmpose import (convert_mmpose_checkpoint, is_mmpose_checkpoint,
                                       read_mmpose_state_dict)
from keras_pose.convert.official import (convert_backbone, convert_pose_checkpoint,
                                         official_config, size_from_file_name)

__all__ = ["convert_backbone", "convert_mmpose_checkpoint", "convert_pose_checkpoint",
           "is_mmpose_checkpoint", "official_config", "read_mmpose_state_dict",
           "size_from_file_name"]
