"""Keypoint metadata of public data sets: the one table.

Per data set: the keypoint names in channel order, the left/right flip pairs
(0-based), the skeleton (0-based limbs, for drawing), the published OKS
sigmas (empty when the benchmark publishes none: PCK/EPE/NME sets) and the
upper-body keypoints (half-body augmentation). Every value was transcribed
from mmpose's data set meta files (``configs/_base_/datasets/<name>.py``,
open-mmlab/mmpose main @ 759b39c1, identical on the 0.x branch), which the
pretrained presets (:mod:`keras_pose.presets`) were trained with;
``tests/data/published_keypoint_metadata.json`` holds the same facts as
published and ``tests/configs/test_dataset_info.py`` compares them.

Users: :mod:`keras_pose.configs.keypoints` (COCO's and MPII's names, flip
pairs, skeletons), :mod:`keras_pose.configs.sigma_presets` (the OKS sigma
presets) and the preset table. Pure data: this module imports nothing of the
project, so that every configs module can import it.

Exceptions, each deliberate:

- ``mpii.skeleton`` is the official code's drawing skeleton (shoulders joined
  to the thorax), mmpose's joins them to the upper neck: drawing only.
- ``names`` are mmpose's spelling except for two sets whose annotation
  files spell keypoints otherwise, so that their files' names match:
  CrowdPose's ``head`` (mmpose: ``top_head``; the CrowdPose files' keypoint
  category says ``head``) and AP-10K's ``left_front_paw`` style (mmpose:
  ``L_F_Paw``; kept from this project's earlier sigma table, not checked
  against the AP-10K files here). ``mmpose_names`` keeps mmpose's spelling.
  The readers compare names in any naming style (``left_eye`` = ``L_Eye``),
  and ``--set data.keypoint_names=...`` settles any other spelling.
- Sets whose benchmark has no OKS (Horse-10, locust, zebra, fly, the hand
  sets but COCO-WholeBody-Hand) have no sigmas, as in mmpose (``sigmas=[]``).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """The keypoint metadata of one data set.

    Attributes:
      names: K keypoint names, in channel order.
      flip_pairs: left/right pairs, 0-based, each once.
      skeleton: limbs, 0-based pairs, for drawing.
      sigmas: the published OKS sigmas (K values), or () when none is
        published.
      upper_body_ids: keypoints of the upper body (half-body augmentation).
      source: where the values were read.
      mmpose_names: mmpose's spelling of the names when ``names`` differ
        (module docstring), else empty.
    """

    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    upper_body_ids: tuple[int, ...]
    source: str
    mmpose_names: tuple[str, ...] = ()

    @property
    def num_keypoints(self) -> int:
        return len(self.names)


_MMPOSE = "mmpose configs/_base_/datasets/{}.py"
MPII_OFFICIAL_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8),
    (8, 9), (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15))

# The 21 hand keypoints (wrist, then each finger from its base to its tip)
# and their bones, as several hand data sets of mmpose share them.
_HAND_NAMES = (
    "wrist", "thumb1", "thumb2", "thumb3", "thumb4", "forefinger1", "forefinger2",
    "forefinger3", "forefinger4", "middle_finger1", "middle_finger2", "middle_finger3",
    "middle_finger4", "ring_finger1", "ring_finger2", "ring_finger3", "ring_finger4",
    "pinky_finger1", "pinky_finger2", "pinky_finger3", "pinky_finger4")
_HAND_SKELETON = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9),
                  (9, 10), (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16),
                  (0, 17), (17, 18), (18, 19), (19, 20))
_CROWDPOSE_MMPOSE_NAMES = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "top_head", "neck")
_AP10K_MMPOSE_NAMES = (
    "L_Eye", "R_Eye", "Nose", "Neck", "Root of tail", "L_Shoulder", "L_Elbow", "L_F_Paw",
    "R_Shoulder", "R_Elbow", "R_F_Paw", "L_Hip", "L_Knee", "L_B_Paw", "R_Hip", "R_Knee",
    "R_B_Paw")

# COCO's 17 body keypoints; OCHuman and macaque use the same metadata.
_COCO_BODY = DatasetInfo(
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    skeleton=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
        (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5),
        (4, 6)),
    sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
        0.107, 0.107, 0.087, 0.087, 0.089, 0.089),
    upper_body_ids=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    source=_MMPOSE.format("coco"))

DATASETS: dict[str, DatasetInfo] = {
    "coco": _COCO_BODY,
    "mpii": DatasetInfo(
        names=("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee",
            "left_ankle", "pelvis", "thorax", "upper_neck", "head_top", "right_wrist",
            "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist"),
        flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
        # The official skeleton (drawing only); mmpose's joins the shoulders to
        # upper_neck (8) instead of thorax (7).
        skeleton=MPII_OFFICIAL_SKELETON,
        sigmas=(0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062,
            0.072, 0.179, 0.179, 0.072, 0.062),
        upper_body_ids=(7, 8, 9, 10, 11, 12, 13, 14, 15),
        source=_MMPOSE.format("mpii")),
    "crowdpose": DatasetInfo(
        names=("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
            "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
            "right_ankle", "head", "neck"),
        flip_pairs=((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)),
        skeleton=((10, 8), (8, 6), (11, 9), (9, 7), (6, 7), (0, 6), (1, 7), (0, 1), (0, 2),
            (1, 3), (2, 4), (3, 5), (12, 13), (1, 13), (0, 13)),
        sigmas=(0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089,
            0.089, 0.079, 0.079),
        upper_body_ids=(0, 1, 2, 3, 4, 5, 12, 13),
        source=_MMPOSE.format("crowdpose"),
        mmpose_names=_CROWDPOSE_MMPOSE_NAMES),
    "aic": DatasetInfo(
        names=("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
            "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
            "left_ankle", "head_top", "neck"),
        flip_pairs=((0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11)),
        skeleton=((2, 1), (1, 0), (0, 13), (13, 3), (3, 4), (4, 5), (8, 7), (7, 6), (6, 9),
            (9, 10), (10, 11), (12, 13), (0, 6), (3, 9)),
        sigmas=(0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144,
            0.03909642, 0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081,
            0.01291456, 0.01236173),
        upper_body_ids=(0, 1, 2, 3, 4, 5, 12, 13),
        source=_MMPOSE.format("aic")),
    "posetrack18": DatasetInfo(
        names=("nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
            "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
            "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
        flip_pairs=((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
        skeleton=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
            (5, 7), (6, 8), (7, 9), (8, 10), (0, 1), (0, 2), (1, 5), (1, 6)),
        sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
            0.107, 0.107, 0.087, 0.087, 0.089, 0.089),
        upper_body_ids=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        source=_MMPOSE.format("posetrack18")),
    "ochuman": dataclasses.replace(_COCO_BODY, source=_MMPOSE.format("ochuman")),
    "ap10k": DatasetInfo(
        names=("left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder",
            "left_elbow", "left_front_paw", "right_shoulder", "right_elbow", "right_front_paw",
            "left_hip", "left_knee", "left_back_paw", "right_hip", "right_knee",
            "right_back_paw"),
        flip_pairs=((0, 1), (5, 8), (6, 9), (7, 10), (11, 14), (12, 15), (13, 16)),
        skeleton=((0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (3, 8),
            (8, 9), (9, 10), (4, 11), (11, 12), (12, 13), (4, 14), (14, 15), (15, 16)),
        sigmas=(0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.072, 0.062, 0.079, 0.072, 0.062,
            0.107, 0.087, 0.089, 0.107, 0.087, 0.089),
        upper_body_ids=(0, 1, 2, 3, 5, 6, 7, 8, 9),
        source=_MMPOSE.format("ap10k"),
        mmpose_names=_AP10K_MMPOSE_NAMES),
    "animalpose": DatasetInfo(
        names=("L_Eye", "R_Eye", "L_EarBase", "R_EarBase", "Nose", "Throat", "TailBase",
            "Withers", "L_F_Elbow", "R_F_Elbow", "L_B_Elbow", "R_B_Elbow", "L_F_Knee",
            "R_F_Knee", "L_B_Knee", "R_B_Knee", "L_F_Paw", "R_F_Paw", "L_B_Paw", "R_B_Paw"),
        flip_pairs=((0, 1), (2, 3), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 19)),
        skeleton=((0, 1), (0, 2), (1, 3), (0, 4), (1, 4), (4, 5), (5, 7), (6, 7), (5, 8),
            (8, 12), (12, 16), (5, 9), (9, 13), (13, 17), (6, 10), (10, 14), (14, 18),
            (6, 11), (11, 15), (15, 19)),
        sigmas=(0.025, 0.025, 0.026, 0.035, 0.035, 0.1, 0.1, 0.1, 0.107, 0.107, 0.107, 0.107,
            0.087, 0.087, 0.087, 0.087, 0.089, 0.089, 0.089, 0.089),
        upper_body_ids=(0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17),
        source=_MMPOSE.format("animalpose")),
    "macaque": dataclasses.replace(_COCO_BODY, source=_MMPOSE.format("macaque")),
    "atrw": DatasetInfo(
        names=("left_ear", "right_ear", "nose", "right_shoulder", "right_front_paw",
            "left_shoulder", "left_front_paw", "right_hip", "right_knee", "right_back_paw",
            "left_hip", "left_knee", "left_back_paw", "tail", "center"),
        flip_pairs=((0, 1), (3, 5), (4, 6), (7, 10), (8, 11), (9, 12)),
        skeleton=((0, 2), (1, 2), (2, 14), (5, 6), (5, 14), (3, 4), (3, 14), (13, 14), (9, 8),
            (8, 7), (7, 13), (12, 11), (11, 10), (10, 13)),
        sigmas=(0.0277, 0.0823, 0.0831, 0.0202, 0.0716, 0.0263, 0.0646, 0.0302, 0.044, 0.0316,
            0.0333, 0.0547, 0.0263, 0.0683, 0.0539),
        upper_body_ids=(0, 1, 2, 3, 4, 5, 6),
        source=_MMPOSE.format("atrw")),
    "horse10": DatasetInfo(
        names=("Nose", "Eye", "Nearknee", "Nearfrontfetlock", "Nearfrontfoot", "Offknee",
            "Offfrontfetlock", "Offfrontfoot", "Shoulder", "Midshoulder", "Elbow", "Girth",
            "Wither", "Nearhindhock", "Nearhindfetlock", "Nearhindfoot", "Hip", "Stifle",
            "Offhindhock", "Offhindfetlock", "Offhindfoot", "Ischium"),
        flip_pairs=(),
        skeleton=((0, 1), (1, 12), (12, 16), (16, 21), (21, 17), (17, 11), (11, 10), (10, 8),
            (8, 9), (9, 12), (2, 3), (3, 4), (5, 6), (6, 7), (13, 14), (14, 15), (18, 19),
            (19, 20)),
        sigmas=(),
        upper_body_ids=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
        source=_MMPOSE.format("horse10")),
    "locust": DatasetInfo(
        names=("head", "neck", "thorax", "abdomen1", "abdomen2", "anttipL", "antbaseL",
            "eyeL", "forelegL1", "forelegL2", "forelegL3", "forelegL4", "midlegL1",
            "midlegL2", "midlegL3", "midlegL4", "hindlegL1", "hindlegL2", "hindlegL3",
            "hindlegL4", "anttipR", "antbaseR", "eyeR", "forelegR1", "forelegR2", "forelegR3",
            "forelegR4", "midlegR1", "midlegR2", "midlegR3", "midlegR4", "hindlegR1",
            "hindlegR2", "hindlegR3", "hindlegR4"),
        flip_pairs=((5, 20), (6, 21), (7, 22), (8, 23), (9, 24), (10, 25), (11, 26), (12, 27),
            (13, 28), (14, 29), (15, 30), (16, 31), (17, 32), (18, 33), (19, 34)),
        skeleton=((1, 0), (2, 1), (3, 2), (4, 3), (6, 5), (7, 6), (9, 8), (10, 9), (11, 10),
            (13, 12), (14, 13), (15, 14), (17, 16), (18, 17), (19, 18), (21, 20), (22, 21),
            (24, 23), (25, 24), (26, 25), (28, 27), (29, 28), (30, 29), (32, 31), (33, 32),
            (34, 33)),
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("locust")),
    "zebra": DatasetInfo(
        names=("snout", "head", "neck", "forelegL1", "forelegR1", "hindlegL1", "hindlegR1",
            "tailbase", "tailtip"),
        flip_pairs=((3, 4), (5, 6)),
        skeleton=((1, 0), (2, 1), (3, 2), (4, 2), (5, 7), (6, 7), (7, 2), (8, 7)),
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("zebra")),
    "fly": DatasetInfo(
        names=("head", "eyeL", "eyeR", "neck", "thorax", "abdomen", "forelegR1", "forelegR2",
            "forelegR3", "forelegR4", "midlegR1", "midlegR2", "midlegR3", "midlegR4",
            "hindlegR1", "hindlegR2", "hindlegR3", "hindlegR4", "forelegL1", "forelegL2",
            "forelegL3", "forelegL4", "midlegL1", "midlegL2", "midlegL3", "midlegL4",
            "hindlegL1", "hindlegL2", "hindlegL3", "hindlegL4", "wingL", "wingR"),
        flip_pairs=((1, 2), (6, 18), (7, 19), (8, 20), (9, 21), (10, 22), (11, 23), (12, 24),
            (13, 25), (14, 26), (15, 27), (16, 28), (17, 29), (30, 31)),
        skeleton=((1, 0), (2, 0), (3, 0), (4, 3), (5, 4), (7, 6), (8, 7), (9, 8), (11, 10),
            (12, 11), (13, 12), (15, 14), (16, 15), (17, 16), (19, 18), (20, 19), (21, 20),
            (23, 22), (24, 23), (25, 24), (27, 26), (28, 27), (29, 28), (30, 3), (31, 3)),
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("fly")),
    "onehand10k": DatasetInfo(
        names=_HAND_NAMES,
        flip_pairs=(),
        skeleton=_HAND_SKELETON,
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("onehand10k")),
    "freihand2d": DatasetInfo(
        names=_HAND_NAMES,
        flip_pairs=(),
        skeleton=_HAND_SKELETON,
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("freihand2d")),
    "rhd2d": DatasetInfo(
        names=("wrist", "thumb4", "thumb3", "thumb2", "thumb1", "forefinger4", "forefinger3",
            "forefinger2", "forefinger1", "middle_finger4", "middle_finger3",
            "middle_finger2", "middle_finger1", "ring_finger4", "ring_finger3",
            "ring_finger2", "ring_finger1", "pinky_finger4", "pinky_finger3", "pinky_finger2",
            "pinky_finger1"),
        flip_pairs=(),
        skeleton=((0, 4), (4, 3), (3, 2), (2, 1), (0, 8), (8, 7), (7, 6), (6, 5), (0, 12),
            (12, 11), (11, 10), (10, 9), (0, 16), (16, 15), (15, 14), (14, 13), (0, 20),
            (20, 19), (19, 18), (18, 17)),
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("rhd2d")),
    "coco_wholebody_hand": DatasetInfo(
        names=_HAND_NAMES,
        flip_pairs=(),
        skeleton=_HAND_SKELETON,
        sigmas=(0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024,
            0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031),
        upper_body_ids=(),
        source=_MMPOSE.format("coco_wholebody_hand")),
    "interhand2d": DatasetInfo(
        names=("thumb4", "thumb3", "thumb2", "thumb1", "forefinger4", "forefinger3",
            "forefinger2", "forefinger1", "middle_finger4", "middle_finger3",
            "middle_finger2", "middle_finger1", "ring_finger4", "ring_finger3",
            "ring_finger2", "ring_finger1", "pinky_finger4", "pinky_finger3", "pinky_finger2",
            "pinky_finger1", "wrist"),
        flip_pairs=(),
        skeleton=((20, 3), (3, 2), (2, 1), (1, 0), (20, 7), (7, 6), (6, 5), (5, 4), (20, 11),
            (11, 10), (10, 9), (9, 8), (20, 15), (15, 14), (14, 13), (13, 12), (20, 19),
            (19, 18), (18, 17), (17, 16)),
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("interhand2d")),
    "panoptic_hand2d": DatasetInfo(
        names=_HAND_NAMES,
        flip_pairs=(),
        skeleton=_HAND_SKELETON,
        sigmas=(),
        upper_body_ids=(),
        source=_MMPOSE.format("panoptic_hand2d")),
    "coco_wholebody_face": DatasetInfo(
        names=tuple(f"face-{i}" for i in range(68)),
        flip_pairs=((0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),
            (17, 26), (18, 25), (19, 24), (20, 23), (21, 22), (31, 35), (32, 34), (36, 45),
            (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53), (50, 52),
            (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)),
        skeleton=(),
        sigmas=(0.042, 0.043, 0.044, 0.043, 0.04, 0.035, 0.031, 0.025, 0.02, 0.023, 0.029,
            0.032, 0.037, 0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012,
            0.012, 0.011, 0.011, 0.013, 0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009,
            0.008, 0.016, 0.01, 0.017, 0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011,
            0.012, 0.01, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.01, 0.008, 0.009,
            0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008),
        upper_body_ids=(),
        source=_MMPOSE.format("coco_wholebody_face")),
}


def dataset_info(name: str) -> DatasetInfo:
    """The metadata of data set ``name`` (a key of :data:`DATASETS`).

    Raises:
      KeyError: naming the unknown set and the known ones.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"no keypoint metadata for data set {name!r}; known: "
                       f"{', '.join(DATASETS)}") from None
