"""OKS sigmas of public keypoint data sets: COCO's, the default for a joint
without one, and the table of published presets (``SIGMA_PRESETS``), each with
its keypoint names and its source.

The table is data: a new data set is one entry (names in the set's order,
sigmas, where they were read). Choosing the sigmas of a run from a preset,
numbers or names is :mod:`keras_pose.configs.sigmas`'.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES, MPII_KEYPOINT_NAMES

# pycocotools/cocoeval.py (Params.setKpParams), the COCO keypoint benchmark.
COCO_OKS_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)

# Used for OKS when a data set does not give its own sigmas: the mean of
# COCO's sigmas, i.e. an "average" joint.
DEFAULT_OKS_SIGMA: float = 0.0626


@dataclasses.dataclass(frozen=True)
class SigmaPreset:
    """Published OKS sigmas of a public keypoint data set."""

    names: tuple[str, ...]
    sigmas: tuple[float, ...]
    source: str


_CROWDPOSE_NAMES = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "head", "neck")
_AIC_NAMES = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "head_top", "neck")
_POSETRACK_NAMES = ("nose", "head_bottom", "head_top") + COCO_KEYPOINT_NAMES[3:]
_AP10K_NAMES = (
    "left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder",
    "left_elbow", "left_front_paw", "right_shoulder", "right_elbow",
    "right_front_paw", "left_hip", "left_knee", "left_back_paw", "right_hip",
    "right_knee", "right_back_paw")
_HORSE10_NAMES = (
    "Nose", "Eye", "Nearknee", "Nearfrontfetlock", "Nearfrontfoot", "Offknee",
    "Offfrontfetlock", "Offfrontfoot", "Shoulder", "Midshoulder", "Elbow",
    "Girth", "Wither", "Nearhindhock", "Nearhindfetlock", "Nearhindfoot", "Hip",
    "Stifle", "Offhindhock", "Offhindfetlock", "Offhindfoot", "Ischium")
_MMPOSE = "mmpose configs/_base_/datasets/{}.py (sigmas of dataset_info)"

# Sigmas as the benchmarks publish them, in each set's keypoint order. The
# numbers were read from mmpose's dataset meta files (cited per preset).
SIGMA_PRESETS: dict[str, SigmaPreset] = {
    "coco": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS,
                        "pycocotools cocoeval.py; " + _MMPOSE.format("coco")),
    # CrowdPose's crowdposetools: COCO's limb sigmas, 0.079 for head and neck.
    "crowdpose": SigmaPreset(_CROWDPOSE_NAMES, (
        0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087,
        0.089, 0.089, 0.079, 0.079), _MMPOSE.format("crowdpose")),
    # AI Challenger's keypoint_eval.py (delta = 2 x sigma).
    "aic": SigmaPreset(_AIC_NAMES, (
        0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144,
        0.03909642, 0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081,
        0.01291456, 0.01236173), _MMPOSE.format("aic")),
    # MPII's benchmark is PCKh; mmpose adapted these from COCO. The shoulder
    # value 0.179 is mmpose's as published (COCO's is 0.079): kept verbatim so
    # that numbers compare with mmpose's.
    "mpii": SigmaPreset(MPII_KEYPOINT_NAMES, (
        0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026,
        0.062, 0.072, 0.179, 0.179, 0.072, 0.062), _MMPOSE.format("mpii")),
    "ochuman": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS, _MMPOSE.format("ochuman")),
    # COCO's numbers in PoseTrack's order (head_bottom/head_top take the eyes').
    "posetrack18": SigmaPreset(_POSETRACK_NAMES, COCO_OKS_SIGMAS,
                               _MMPOSE.format("posetrack18")),
    # AP-10K's own cocoeval: COCO's numbers in AP-10K's keypoint order.
    "ap10k": SigmaPreset(_AP10K_NAMES, (
        0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
        0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089), _MMPOSE.format("ap10k")),
    "macaque": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS, _MMPOSE.format("macaque")),
    # Horse-10 is benchmarked with PCK / normalised error and publishes no
    # sigmas (mmpose: sigmas=[]): the default for each of its 22 keypoints.
    "horse10": SigmaPreset(_HORSE10_NAMES, (DEFAULT_OKS_SIGMA,) * 22,
                           _MMPOSE.format("horse10") + ": none published, default"),
    # COCO-WholeBody's myeval_wholebody.py: its 17 body sigmas are COCO's.
    "coco_wholebody_body": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS,
                                       _MMPOSE.format("coco_wholebody") + "[:17]"),
}
_PRESET_ALIASES = {"macaquepose": "macaque", "posetrack": "posetrack18",
                   "posetrack2018": "posetrack18", "wholebody": "coco_wholebody_body",
                   "cocowholebody": "coco_wholebody_body", "aichallenger": "aic"}


def _preset_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def sigma_preset(name: str) -> Optional[SigmaPreset]:
    """The preset called ``name`` (any case, ``-``/``_`` ignored), or None."""
    key = _preset_key(name)
    by_key = {_preset_key(k): k for k in SIGMA_PRESETS}
    by_key.update({_preset_key(a): t for a, t in _PRESET_ALIASES.items()})
    return SIGMA_PRESETS.get(by_key.get(key, ""))
