"""The MPII ground truth file of PCKh, ``annot/gt_valid.mat``: its layout,
read (evaluation) and built (the release converter).

Layout (N people of the validation set, in valid.json's order):
``dataset_joints`` (1, 16) cell of joint names (``rank``, ``rkne``, ...),
``jnt_missing`` (16, N), 1 for a joint not annotated, ``pos_gt_src``
(16, 2, N) in MATLAB's 1-based pixels, ``headboxes_src`` (2, 2, N) (top-left
and bottom-right corners of each head).

Shapes: N people, 16 joints.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.io

from keras_pose.errors import UserError

NUM_JOINTS = 16

# The gt_valid.mat joint names, in the MPII channel order.
MPII_MAT_JOINT_NAMES: tuple[str, ...] = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck",
    "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri")


class GroundTruthError(UserError, ValueError):
    """A gt_valid.mat that is missing or malformed; the message names it."""


def _joint_names(value: np.ndarray, path: str) -> list[str]:
    names = []
    for item in np.asarray(value, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            if item.size != 1:
                raise GroundTruthError(
                    f"{path}: dataset_joints entry {item!r} is not one name")
            item = item.ravel()[0]
        names.append(str(item))
    return names


def load_gt_mat(path: str) -> dict[str, np.ndarray]:
    """Reads and checks ``gt_valid.mat``.

    Returns:
      ``{"joint_names": list of 16 str, "jnt_missing": (16, N),
      "pos_gt_src": (16, 2, N), "headboxes_src": (2, 2, N)}``.

    Raises:
      GroundTruthError: naming the file for a missing file, a missing key
        or inconsistent shapes.
    """
    if not os.path.isfile(path):
        raise GroundTruthError(
            f"MPII ground truth {path} does not exist; it ships with the "
            "official annotations (annot/gt_valid.mat of the Simple Baselines "
            "data layout), and scripts/convert_mpii_mat.py --valid_list writes it from the "
            "MPII release; set test.gt_mat to its location")
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as e:
        raise GroundTruthError(f"{path} is not a readable .mat file: {e}") from e
    for key in ("dataset_joints", "jnt_missing", "pos_gt_src", "headboxes_src"):
        if key not in mat:
            raise GroundTruthError(f"{path} has no {key!r} entry; not a gt_valid.mat")
    names = _joint_names(mat["dataset_joints"], path)
    missing = np.asarray(mat["jnt_missing"], dtype=np.float64)
    pos = np.asarray(mat["pos_gt_src"], dtype=np.float64)
    boxes = np.asarray(mat["headboxes_src"], dtype=np.float64)
    num_joints = len(names)
    if (missing.ndim != 2 or missing.shape[0] != num_joints or pos.ndim != 3
            or pos.shape[:2] != (num_joints, 2) or pos.shape[2] != missing.shape[1]
            or boxes.shape != (2, 2, missing.shape[1])):
        raise GroundTruthError(
            f"{path}: inconsistent shapes jnt_missing {missing.shape}, pos_gt_src "
            f"{pos.shape}, headboxes_src {boxes.shape} for {num_joints} joints")
    unknown = set(MPII_MAT_JOINT_NAMES) - set(names)
    if unknown:
        raise GroundTruthError(
            f"{path}: dataset_joints lacks {sorted(unknown)} (has {names})")
    return {"joint_names": names, "jnt_missing": missing, "pos_gt_src": pos,
            "headboxes_src": boxes}


def gt_arrays(people: list[dict]) -> dict[str, np.ndarray]:
    """The fields of ``gt_valid.mat`` for ``people`` (each with a head box),
    laid out as the official file (module docstring).

    Shapes: N people, 16 joints. ``dataset_joints`` (1, 16) names (a MATLAB
    cell), ``jnt_missing`` (16, N) 1 for a joint not annotated,
    ``pos_gt_src`` (16, 2, N) the release's 1-based pixels (-1 where not
    annotated, as in valid.json), ``headboxes_src`` (2, 2, N), [:, :, n] =
    [[x1, y1], [x2, y2]].
    """
    joints = np.array([p["joints"] for p in people], np.float64).reshape(-1, NUM_JOINTS, 2)
    visible = np.array([p["joints_vis"] for p in people], np.float64).reshape(-1, NUM_JOINTS)
    boxes = np.array([p["head_box"] for p in people], np.float64).reshape(-1, 2, 2)
    names = np.empty((1, NUM_JOINTS), dtype=object)
    names[0, :] = MPII_MAT_JOINT_NAMES  # In the MPII channel order of the joints.
    return {"dataset_joints": names, "jnt_missing": 1.0 - visible.T,
            "pos_gt_src": joints.transpose(1, 2, 0), "headboxes_src": boxes.transpose(1, 2, 0)}
