"""Foreign weight files: official PyTorch checkpoints, torchvision / timm
backbones, keras.applications and ``.npz`` weights, read without torch, and
the download cache they come through.

Modules:
  torch_pickle: the restricted unpickler (tensors only) and tensor rebuilding.
  torch_reader: ``torch.save`` files (zip, legacy, tar) and safetensors.
  state_dict: PyTorch names -> our layers; architecture inference; assignment.
  download: a URL into the cache, checked by the hash in its name; offline error.
  imagenet: torchvision's ImageNet ResNet files per depth.
  pretrained: ``model.pretrained`` -> backbone weights (``initialize_backbone``).
  official: official checkpoints -> this project's checkpoints and ``.npz``.
"""

__all__ = ["convert_backbone", "convert_pose_checkpoint", "official_config",
           "size_from_file_name"]


def __getattr__(name):
    # official pulls in TensorFlow; the download cache (and the preset table,
    # which uses it) should not: imported only when asked for.
    if name in __all__:
        from keras_pose.convert import official
        return getattr(official, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
