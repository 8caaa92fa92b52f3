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
from absl import logging

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


def _load_release(path: str):
    """The ``RELEASE`` struct of the .mat file."""
    if os.path.isdir(path):
        raise MissingFileError(f"MPII annotation file {path} is a folder; give "
                               "mpii_human_pose_v1_u12_1.mat")
    if not os.path.isfile(path):
        raise MissingFileError(f"MPII annotation file {path} does not exist")
    try:
        mat = scipy.io.loadmat(path, struct_as_record=False, squeeze_me=True)
    except NotImplementedError as e:  # MATLAB -v7.3, an HDF5 file.
        raise MatFormatError(f"{path} is a MATLAB -v7.3 (HDF5) file; the release is a -v7 "
                             "file: use the published one, or save it with -v7") from e
    except (ValueError, TypeError, OSError, IndexError, scipy.io.matlab.MatReadError) as e:
        # An empty or cut file: scipy's errors for it include IndexError.
        raise MatFormatError(f"{path} is not a readable .mat file ({type(e).__name__}: "
                             f"{e})") from e
    if "RELEASE" not in mat:
        raise MatFormatError(f"{path}: no 'RELEASE' variable (is this "
                             "mpii_human_pose_v1_u12_1.mat?)")
    return mat["RELEASE"]


def _number(value) -> Optional[float]:
    """A finite float, else None (MATLAB's [] loads as an empty array)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _person(rect, name: str, path: str) -> tuple[Optional[dict], str]:
    """(the person, "") or (None, why it is left out)."""
    annopoints = getattr(rect, "annopoints", None)
    points = _items(getattr(annopoints, "point", None)) if annopoints is not None else []
    objpos, scale = getattr(rect, "objpos", None), getattr(rect, "scale", None)
    if not points or objpos is None or scale is None or isinstance(scale, np.ndarray):
        return None, ""  # Not an annotated person (no joints, no position or scale).
    center = [_number(getattr(objpos, axis, None)) for axis in ("x", "y")]
    if None in center:
        return None, "objpos without a finite x and y"
    scale = _number(scale)
    if scale is None or scale <= 0:
        return None, "scale not a finite number > 0"
    joints = np.full((NUM_JOINTS, 2), -1.0)
    vis = np.zeros(NUM_JOINTS, int)
    for point in points:
        joint = int(_field(point, "id", path))
        xy = [_number(getattr(point, axis, None)) for axis in ("x", "y")]
        if 0 <= joint < NUM_JOINTS and None not in xy:  # Else: not annotated.
            joints[joint], vis[joint] = xy, 1
    return {"image": name, "center": center, "scale": scale, "joints": joints.tolist(),
            "joints_vis": vis.tolist()}, ""


def people_from_release(path: str) -> list[dict]:
    """All annotated people of the training images, in file order. A person
    whose position or scale is not a finite number (> 0 for the scale) is
    left out with a warning naming it (the reader refused the whole file
    written with it: NaN is not JSON); a joint without finite coordinates
    is not annotated.

    Raises:
      MatFormatError: for a file without the release's structure.
      FileNotFoundError: for a missing file.
    """
    release = _load_release(path)
    annolist = _items(_field(release, "annolist", path))
    is_train = np.atleast_1d(_field(release, "img_train", path)).ravel()
    if len(is_train) != len(annolist):
        raise MatFormatError(f"{path}: img_train has {len(is_train)} entries for "
                             f"{len(annolist)} images")
    people, left_out = [], []
    for image_entry, train in zip(annolist, is_train):
        if int(train) != 1:
            continue
        name = str(_field(_field(image_entry, "image", path), "name", path))
        for index, rect in enumerate(_items(getattr(image_entry, "annorect", None))):
            person, why = _person(rect, name, path)
            if person is not None:
                people.append(person)
            elif why:
                left_out.append(f"{name} person {index + 1}: {why}")
    if left_out:
        logging.warning("%s: %d person(s) left out: %s", path, len(left_out),
                        "; ".join(left_out[:5]) + (" ..." if len(left_out) > 5 else ""))
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
        with open(valid_list, encoding="utf-8-sig") as f:  # A byte-order mark: no name.
            names = [line.strip() for line in f if line.strip()]
        unknown = set(names) - {p["image"] for p in people}
        if unknown == set(names):
            raise MatFormatError(f"{valid_list}: none of its {len(names)} image names is an "
                                 f"annotated training image of {mat_path} (e.g. "
                                 f"{sorted(unknown)[0] if names else 'no name at all'})")
        if unknown:  # A typo left an image in training, in silence.
            logging.warning("%s: %d of its %d image names are no annotated training image of "
                            "%s (e.g. %s): they name no person of valid.json; correct them if "
                            "they are typos", valid_list, len(unknown), len(names), mat_path,
                            sorted(unknown)[0])
    train, valid = split_people(people, names)
    os.makedirs(output_dir, exist_ok=True)
    counts = {}
    for name, rows in (("train.json", train), ("valid.json", valid)):
        if name == "valid.json" and names is None:
            _remove_stale_valid(output_dir)
            continue
        write_json(os.path.join(output_dir, name), rows)
        counts[name] = len(rows)
    return counts


def _remove_stale_valid(output_dir: str) -> None:
    """A valid.json of an earlier conversion with a validation list: its
    people are in this train.json too (training would validate on its own
    images), so it goes, and the log says so."""
    stale = os.path.join(output_dir, "valid.json")
    if os.path.isfile(stale):
        os.replace(stale, stale + ".earlier")
        logging.warning("%s was written by an earlier conversion with --valid_list; its "
                        "images are in train.json now, so it is moved to valid.json.earlier "
                        "(pass --valid_list to make the split again)", stale)
