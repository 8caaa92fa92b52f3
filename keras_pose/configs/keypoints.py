"""Keypoint definitions of the supported data sets.

Names, left/right flip pairs (0-based), skeletons (0-based limbs) and OKS sigmas.
The flip pairs are those of the official code (``lib/dataset/coco.py``,
``lib/dataset/mpii.py``).
"""

from __future__ import annotations

from typing import Sequence

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# COCO's skeleton (the categories entry of the annotation files), made 0-based.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
    (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
    (1, 3), (2, 4), (3, 5), (4, 6))
COCO_OKS_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)

MPII_KEYPOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee",
    "left_ankle", "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
    "left_elbow", "left_wrist",
)
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
MPII_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8),
    (8, 9), (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15))

# Used for OKS when a custom data set does not give its own sigmas: the
# mean of COCO's sigmas, i.e. an "average" joint.
DEFAULT_OKS_SIGMA: float = 0.0626

def _side_and_stem(name: str) -> tuple[str, str] | None:
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    for side, prefixes in (("L", ("left_", "l_")), ("R", ("right_", "r_"))):
        for prefix in prefixes:
            if lowered.startswith(prefix):
                return side, lowered[len(prefix):]
    for side, suffixes in (("L", ("_left", "_l")), ("R", ("_right", "_r"))):
        for suffix in suffixes:
            if lowered.endswith(suffix):
                return side, lowered[: -len(suffix)]
    return None


def flip_pairs_from_names(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Derives left/right flip pairs from keypoint names.

    A name is "left" when it starts with ``left_``/``l_`` (or ends with
    ``_left``/``_l``), likewise for right; the pair is the left and right name
    with the same remaining stem. Names without a side are their own mirror.

    Args:
      names: The K keypoint names.

    Returns:
      Pairs ``(i, j)`` of 0-based indices, ``i < j``, sorted.

    Raises:
      ValueError: if a side name has no partner or more than one.
    """
    by_key: dict[tuple[str, str], list[int]] = {}
    for index, name in enumerate(names):
        parsed = _side_and_stem(name)
        if parsed is not None:
            by_key.setdefault(parsed, []).append(index)
    pairs = []
    for (side, stem), indices in sorted(by_key.items()):
        if side != "L":
            continue
        partners = by_key.get(("R", stem), [])
        if len(indices) != 1 or len(partners) != 1:
            raise ValueError(
                f"keypoint name stem {stem!r}: expected one left and one right "
                f"keypoint, found left {indices} and right {partners}; give "
                "data.flip_pairs explicitly")
        pairs.append(tuple(sorted((indices[0], partners[0]))))
    for (side, stem), indices in by_key.items():
        if side == "R" and ("L", stem) not in by_key:
            raise ValueError(
                f"keypoint {names[indices[0]]!r} has no left partner; give "
                "data.flip_pairs explicitly")
    return tuple(sorted(pairs))


def flip_permutation(num_keypoints: int,
                     flip_pairs: Sequence[Sequence[int]]) -> list[int]:
    """Returns ``perm`` such that flipped[k] = original[perm[k]]."""
    perm = list(range(num_keypoints))
    for a, b in flip_pairs:
        if not (0 <= a < num_keypoints and 0 <= b < num_keypoints):
            raise ValueError(
                f"flip pair ({a}, {b}) is out of range for {num_keypoints} "
                "keypoints")
        perm[a], perm[b] = b, a
    return perm
