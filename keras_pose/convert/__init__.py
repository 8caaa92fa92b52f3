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

_OWNERS = {
    "convert_backbone": "official", "convert_pose_checkpoint": "official",
    "official_config": "official", "size_from_file_name": "official",
    "convert_mmpose_checkpoint": "mmpose", "is_mmpose_checkpoint": "mmpose",
    "read_mmpose_state_dict": "mmpose",
}
__all__ = ["convert_backbone", "convert_mmpose_checkpoint", "convert_pose_checkpoint",
           "is_mmpose_checkpoint", "official_config", "read_mmpose_state_dict",
           "size_from_file_name"]


def __getattr__(name):
    # official and mmpose pull in TensorFlow; the download cache (and the
    # preset table, which uses it) should not: imported only when asked for.
    if name in _OWNERS:
        import importlib
        return getattr(importlib.import_module(f"keras_pose.convert.{_OWNERS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
