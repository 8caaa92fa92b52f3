"""The official MPII release (``mpii_human_pose_v1_u12_1.mat``) to the JSON
form the reference reads (``annot/train.json``, ``annot/valid.json``).

Each annotated person of a training image becomes ``{"image", "center",
"scale", "joints", "joints_vis"}`` with MATLAB's 1-based pixel coordinates
kept (the reader subtracts 1, as the reference does). Joints that are not
annotated are written as (-1, -1) with ``joints_vis`` 0. The release has no
validation split: the reference's ``valid.json`` is the set of images of
Tompson et al.'s validation list; pass that list (one image name per line)
to put those images' people into ``valid.json``.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional

import numpy as np
import scipy.io

from keras_pose.errors import MissingFileError, UserError
from keras_pose.files import write_json

NUM_JOINTS = 16


class MatFormatError(UserError, ValueError):
    """A .mat file that is not the MPII release; names the file and field."""


def _items(value) -> list:
    """MATLAB struct arrays load as arrays, single elements as scalars."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _field(obj, name: str, path: str):
    if not hasattr(obj, name):
        raise MatFormatError(f"{path}: expected a field '{name}' (is this "
                             "mpii_human_pose_v1_u12_1.mat?)")
    return getattr(obj, name)


def people_from_release(path: str) -> list[dict]:
    """All annotated people of the training images, in file order.

    Raises:
      MatFormatError: for a file without the release's structure.
      FileNotFoundError: for a missing file.
    """
    if not os.path.isfile(path):
        raise MissingFileError(f"MPII annotation file {path} does not exist")
    try:
        mat = scipy.io.loadmat(path, struct_as_record=False, squeeze_me=True)
    except (ValueError, TypeError, OSError) as e:
        raise MatFormatError(f"{path} is not a readable .mat file: {e}") from e
    if "RELEASE" not in mat:
        raise MatFormatError(f"{path}: no 'RELEASE' variable (is this "
                             "mpii_human_pose_v1_u12_1.mat?)")
    release = mat["RELEASE"]
    annolist = _items(_field(release, "annolist", path))
    is_train = np.atleast_1d(_field(release, "img_train", path)).ravel()
    if len(is_train) != len(annolist):
        raise MatFormatError(f"{path}: img_train has {len(is_train)} entries for "
                             f"{len(annolist)} images")
    people = []
    for image_entry, train in zip(annolist, is_train):
        if int(train) != 1:
            continue
        name = str(_field(_field(image_entry, "image", path), "name", path))
        for rect in _items(getattr(image_entry, "annorect", None)):
            annopoints = getattr(rect, "annopoints", None)
            points = _items(getattr(annopoints, "point", None)) if annopoints is not None else []
            objpos = getattr(rect, "objpos", None)
            scale = getattr(rect, "scale", None)
            if not points or objpos is None or scale is None or isinstance(scale, np.ndarray):
                continue  # not an annotated person (no joints, no position or scale)
            joints = np.full((NUM_JOINTS, 2), -1.0)
            vis = np.zeros(NUM_JOINTS, int)
            for point in points:
                joint = int(_field(point, "id", path))
                if 0 <= joint < NUM_JOINTS:
                    joints[joint] = (float(point.x), float(point.y))
                    vis[joint] = 1
            people.append({
                "image": name,
                "center": [float(objpos.x), float(objpos.y)],
                "scale": float(scale),
                "joints": joints.tolist(),
                "joints_vis": vis.tolist(),
            })
    return people


def split_people(people: list[dict], valid_images: Optional[Iterable[str]] = None
                 ) -> tuple[list[dict], list[dict]]:
    """(train, valid): people of the images in ``valid_images`` go to valid."""
    valid_set = set(valid_images or ())
    train = [p for p in people if p["image"] not in valid_set]
    valid = [p for p in people if p["image"] in valid_set]
    return train, valid


def convert(mat_path: str, output_dir: str, valid_list: Optional[str] = None) -> dict[str, int]:
    """Writes ``train.json`` (and ``valid.json`` with a validation list).

    Returns:
      The number of people written per file.
    """
    people = people_from_release(mat_path)
    names = None
    if valid_list:
        with open(valid_list) as f:
            names = [line.strip() for line in f if line.strip()]
    train, valid = split_people(people, names)
    os.makedirs(output_dir, exist_ok=True)
    counts = {}
    for name, rows in (("train.json", train), ("valid.json", valid)):
        if name == "valid.json" and names is None:
            continue
        write_json(os.path.join(output_dir, name), rows)
        counts[name] = len(rows)
    return counts
