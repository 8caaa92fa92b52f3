"""The pretrained presets: one entry per published Simple Baselines model.

A preset is a name for published weights plus everything needed to use
them as they were measured: the file (URL and the SHA-256 prefix its name
carries), the architecture (ResNet depth, input and heatmap size, K), the
target sigma, the keypoint metadata (:mod:`keras_pose.configs.dataset_info`),
the input normalisation, the decoding (codec, DARK's blur kernel, the flip
test's heatmap shift), the box padding and ground-truth box rule, the
evaluation data and the published numbers. :func:`keras_pose.presets.preset_config`
turns an entry into the experiment config that the converted checkpoint
carries (its ``config.json``), so every path (predict, evaluate, export,
fine-tuning) follows it.

Sources: mmpose's model zoo (model-index yml files, configs and READMEs of
open-mmlab/mmpose main @ 759b39c13 for 1.x and the 0.x branch @ 3b8173463),
and the official microsoft/human-pose-estimation.pytorch README.

Included (84 presets):

- every mmpose SimpleBaseline (ResNet-50/101/152 + three deconvolutions,
  heatmap codec) for COCO (1.x plain, DARK and fp16 files; the older 0.x
  files under the same names with ``_0x``), MPII, CrowdPose, AI Challenger,
  PoseTrack18, AP-10K, Animal-Pose, MacaquePose, ATRW, Horse-10 (3 splits),
  Desert Locust, Grevy's Zebra, Vinegar Fly, OneHand10K, FreiHand, RHD,
  COCO-WholeBody-Hand, InterHand2.6M (2D, 3 annotation subsets), CMU
  Panoptic hands and COCO-WholeBody-Face: 72 files;
- the 12 official checkpoints of microsoft/human-pose-estimation.pytorch,
  named as their files (``pose_resnet_50_256x192``): files behind OneDrive /
  Google Drive links, which the user downloads and places (no direct URL).

Left out:

- mmpose 1.x ``td-hm_res101_8xb32-210e_coco-384x288``: its model index links
  the 256x192 model's file (see the comment in the table).
- JHMDB (6 files): the 2-deconvolution variants have another head (heatmap
  stride 8), and all six are fine-tuned per JHMDB sub-split and measured
  with PCK on that split only; out of this table's scope.
- COCO-WholeBody (133 keypoints, 6 files), DeepFashion (3) and DeepFashion2
  (13, 294 channels of which each category uses a subset, and an asymmetric
  flip table), MHP (1), MPII-TRB (3, centre and scale from the annotation,
  no box): their evaluation and data conventions are not this project's
  COCO-style reader; not included for now.
- OCHuman: its mmpose entries are the 0.x COCO files evaluated on OCHuman;
  those numbers are listed as extra results of the ``_0x`` COCO presets.
- mmpose's other ResNet-based models (ResNetV1d, ResNeXt, SE-ResNet, ResNeSt,
  SCNet, ViPNAS, SimCC, regression/RLE heads): other architectures.

Names: ``simplebaseline_resnet<depth>_<data set>_<height>x<width>`` with
``_dark`` (DARK codec), ``_fp16`` (trained in fp16) and ``_0x`` (an older
mmpose 0.x file of a setting that also has a 1.x file) suffixes; the official
checkpoints keep their file names. Names are lowercase, unique and stable.
"""

from __future__ import annotations

from keras_pose.presets import animals, body, hands_faces
from keras_pose.presets.builders import EVALUATIONS, OFFICIAL_DIRS, OFFICIAL_LINKS
from keras_pose.presets.preset import EVALUATE_PY_METRICS, Evaluation, Preset, Result

__all__ = ["EVALUATE_PY_METRICS", "EVALUATIONS", "Evaluation", "OFFICIAL_DIRS",
           "OFFICIAL_LINKS", "PRESETS", "Preset", "Result"]

_PRESETS: tuple[Preset, ...] = body.PRESETS + animals.PRESETS + hands_faces.PRESETS

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}
if len(PRESETS) != len(_PRESETS):  # pragma: no cover - a table edit gone wrong
    raise AssertionError("duplicate preset names")
