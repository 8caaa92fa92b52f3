"""Weight files of the published formats, written with real torch, small.

Every tensor is ``torch.zeros(1).expand(shape)``: all share one one-element
storage, so a ResNet-152 file is about 120 KB, yet reading it materialises
and the conversion assigns every tensor of the exact architecture.

- official (microsoft/human-pose-estimation.pytorch): the bare state dict
  (``conv1.weight`` ... ``final_layer.bias``), torch's legacy serialization
  as the 2018 files.
- mmpose: ``{"meta": ..., "state_dict": ...}`` with ``backbone.`` keys and
  the head under ``head.`` (1.x files, /mmpose/v1/) or ``keypoint_head.``
  (0.x-era files), legacy serialization as publish_model.py writes.
"""

from __future__ import annotations

from collections import OrderedDict

LAYERS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _bn(shapes, prefix, n):
    for leaf in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{prefix}.{leaf}"] = (n,)
    shapes[f"{prefix}.num_batches_tracked"] = ()


def pose_resnet_shapes(depth: int, num_keypoints: int) -> "OrderedDict[str, tuple]":
    """The official state dict's names and shapes (bottleneck ResNets,
    three 256-filter kernel-4 deconvolutions, a 1x1 final layer)."""
    shapes = OrderedDict()
    shapes["conv1.weight"] = (64, 3, 7, 7)
    _bn(shapes, "bn1", 64)
    cin = 64
    for stage, (blocks, width) in enumerate(zip(LAYERS[depth], (64, 128, 256, 512)), 1):
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            shapes[f"{prefix}.conv1.weight"] = (width, cin, 1, 1)
            shapes[f"{prefix}.conv2.weight"] = (width, width, 3, 3)
            shapes[f"{prefix}.conv3.weight"] = (width * 4, width, 1, 1)
            for i, n in ((1, width), (2, width), (3, width * 4)):
                _bn(shapes, f"{prefix}.bn{i}", n)
            if block == 0:
                shapes[f"{prefix}.downsample.0.weight"] = (width * 4, cin, 1, 1)
                _bn(shapes, f"{prefix}.downsample.1", width * 4)
            cin = width * 4
    for j in range(3):
        shapes[f"deconv_layers.{3 * j}.weight"] = (cin, 256, 4, 4)
        _bn(shapes, f"deconv_layers.{3 * j + 1}", 256)
        cin = 256
    shapes["final_layer.weight"] = (num_keypoints, 256, 1, 1)
    shapes["final_layer.bias"] = (num_keypoints,)
    return shapes


def _tensors(shapes):
    import torch
    base = torch.zeros(1)
    return OrderedDict((name, torch.tensor(0, dtype=torch.int64) if shape == ()
                        else base.expand(shape)) for name, shape in shapes.items())


def mmpose_name(name: str, head: str) -> str:
    """An official key as mmpose stores it (``head`` = "head" or "keypoint_head")."""
    if name.startswith(("deconv_layers.", "final_layer.")):
        return f"{head}.{name}"
    return f"backbone.{name}"


def write_official(path: str, depth: int, num_keypoints: int) -> str:
    import torch
    torch.save(_tensors(pose_resnet_shapes(depth, num_keypoints)), path,
               _use_new_zipfile_serialization=False)
    return path


def write_mmpose(path: str, depth: int, num_keypoints: int, head: str) -> str:
    import torch
    shapes = pose_resnet_shapes(depth, num_keypoints)
    state = _tensors(OrderedDict((mmpose_name(k, head), v) for k, v in shapes.items()))
    meta = {"epoch": 210, "iter": 1000, "mmpose_version": "test",
            "time": "20260101_000000", "seed": 0}
    torch.save({"meta": meta, "state_dict": state}, path, _use_new_zipfile_serialization=False)
    return path


def head_style(preset) -> str:
    """The head's key prefix of a preset's real file: ``head`` for mmpose
    1.x-native files (under /mmpose/v1/), ``keypoint_head`` for the 0.x-era
    files (which mmpose 1.x renames when it loads them)."""
    return "head" if "/mmpose/v1/" in preset.url else "keypoint_head"
