"""OKS sigmas of public keypoint data sets: COCO's, the default for a joint
without one, and the table of published presets (``SIGMA_PRESETS``), each with
its keypoint names and its source.

The numbers and names are :mod:`keras_pose.configs.dataset_info`'s (the one
table of data set metadata): every data set there with published sigmas is a
preset of the same name. Choosing the sigmas of a run from a preset, numbers
or names is :mod:`keras_pose.configs.sigmas`'.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from keras_pose.configs.dataset_info import DATASETS

# pycocotools/cocoeval.py (Params.setKpParams), the COCO keypoint benchmark;
# mmpose's coco.py has the same numbers.
COCO_OKS_SIGMAS: tuple[float, ...] = DATASETS["coco"].sigmas

# Used for OKS when a data set does not give its own sigmas: the mean of
# COCO's sigmas (0.0669), i.e. an "average" joint. (Was 0.0626, said to be
# that mean but not it.)
DEFAULT_OKS_SIGMA: float = round(sum(COCO_OKS_SIGMAS) / len(COCO_OKS_SIGMAS), 4)


@dataclasses.dataclass(frozen=True)
class SigmaPreset:
    """Published OKS sigmas of a public keypoint data set."""

    names: tuple[str, ...]
    sigmas: tuple[float, ...]
    source: str


def _presets() -> dict[str, SigmaPreset]:
    presets = {name: SigmaPreset(info.names, info.sigmas, info.source + " (sigmas)")
               for name, info in DATASETS.items() if info.sigmas}
    # Horse-10 is benchmarked with PCK / normalised error and publishes no
    # sigmas (mmpose: sigmas=[]): the default for each of its 22 keypoints.
    horse10 = DATASETS["horse10"]
    presets["horse10"] = SigmaPreset(horse10.names, (DEFAULT_OKS_SIGMA,) * len(horse10.names),
                                     horse10.source + ": none published, default")
    # COCO-WholeBody's myeval_wholebody.py: its 17 body sigmas are COCO's
    # (coco_wholebody.py sigmas[:17]).
    presets["coco_wholebody_body"] = SigmaPreset(
        DATASETS["coco"].names, COCO_OKS_SIGMAS,
        "mmpose configs/_base_/datasets/coco_wholebody.py (sigmas[:17])")
    return presets


# Sigmas as the benchmarks publish them, in each set's keypoint order.
SIGMA_PRESETS: dict[str, SigmaPreset] = _presets()
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
