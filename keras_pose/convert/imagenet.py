"""torchvision's ImageNet ResNets: which file for a depth, and where it is.

The official experiments start from torchvision's classic ImageNet weights
(``MODEL.PRETRAINED: models/pytorch/imagenet/resnet50-19c8e357.pth``);
:data:`TORCHVISION_FILES` names them per depth. They are fetched on first
use from :data:`TORCHVISION_BASE_URL` by :mod:`keras_pose.convert.download`
(cache folder, SHA-256 prefix of the name checked, the offline error).
"""

from __future__ import annotations

from keras_pose.convert import download

TORCHVISION_BASE_URL = "https://download.pytorch.org/models/"
# torchvision's original (2017) ImageNet files; 50/101/152 are the ones the
# official yaml files name.
TORCHVISION_FILES = {
    18: "resnet18-5c106cde.pth",
    34: "resnet34-333f7ec4.pth",
    50: "resnet50-19c8e357.pth",
    101: "resnet101-5d3b4d8f.pth",
    152: "resnet152-b121ed2d.pth",
}
# What the offline error adds for a backbone file: the config's other ways out.
PRETRAINED_ALTERNATIVES = ("or set model.pretrained to its local path; "
                           "model.pretrained=none trains from a random initialisation instead")


def torchvision_file(depth: int) -> str:
    """torchvision's ImageNet file name for a ResNet depth.

    Raises:
      ValueError: for a depth torchvision does not publish.
    """
    if depth not in TORCHVISION_FILES:
        raise ValueError(f"no torchvision ImageNet ResNet of depth {depth}; depths: "
                         f"{sorted(TORCHVISION_FILES)}")
    return TORCHVISION_FILES[depth]


def torchvision_url(depth: int) -> str:
    """The download URL of :func:`torchvision_file`."""
    return TORCHVISION_BASE_URL + torchvision_file(depth)


def imagenet_weights(depth: int) -> str:
    """The local path of torchvision's ImageNet ResNet-``depth``, downloaded
    into :func:`keras_pose.convert.download.cache_dir` on first use.

    Raises:
      ValueError: for a depth without a torchvision file.
      download.DownloadError: offline (naming file, URL and where to put it).
      download.HashMismatchError: for a file that does not match its name's hash.
    """
    return download.fetch(torchvision_url(depth), alternatives=PRETRAINED_ALTERNATIVES)
