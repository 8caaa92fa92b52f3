"""The official MPII release (``mpii_human_pose_v1_u12_1.mat``) to the files
the reference reads (``annot/train.json``, ``annot/valid.json`` and
``annot/gt_valid.mat``).

Each annotated person of a training image becomes ``{"image", "center",
"scale", "joints", "joints_vis"}`` with MATLAB's 1-based pixel coordinates
kept (the reader subtracts 1, as the reference does). Joints that are not
annotated are written as (-1, -1) with ``joints_vis`` 0. The release has no
validation split: a validation list (``keras_pose.data.mpii_split``: the
reference's is Tompson et al.'s detections.mat, a list of people) puts its
people into ``valid.json``, and their ground truth for PCKh into
``gt_valid.mat`` (the official file's layout, which the official repo only
links to on OneDrive / Google Drive): the same people in the same order,
joints in the release's 1-based pixels (the evaluator adds 1 to the 0-based
predictions), each person's head box from its annorect's x1, y1, x2, y2. A
validation person without a usable head box (PCKh divides by its size) is
left out of both files, and of train.json (its image is a validation image),
with a warning naming it.
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple, Optional

import numpy as np
import scipy.io

from keras_pose import log as logging
from keras_pose.errors import MissingFileError, UserError
from keras_pose.data.mpii_gt import MPII_MAT_JOINT_NAMES, NUM_JOINTS, GroundTruthError, gt_arrays, load_gt_mat
from keras_pose.files import first_free_name, write_atomically, write_json

JSON_FIELDS = ("image", "center", "scale", "joints", "joints_vis")  # A row of train.json.
GT_MAT = "gt_valid.mat"
VALID_JSON = "valid.json"


class MatFormatError(UserError, ValueError):
    """A .mat file that is not the MPII release, or a validation list that
    cannot be used; names the file and field (or line)."""


class ReleaseImage(NamedTuple):
    """An entry of the release's ``annolist``: the validation list refers to
    images by name or by position, and to people by annorect position."""
    name: str
    rects: int  # The number of its annorects, annotated or not.
    train: bool  # img_train: only training images have annotated people.


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
            "joints_vis": vis.tolist(), "head_box": _head_box(rect)}, ""


def _head_box(rect) -> Optional[list]:
    """[[x1, y1], [x2, y2]], the annorect's head rectangle, or None when a
    corner is not a finite number or both are one point (a head size of 0:
    PCKh divides by it)."""
    x1, y1, x2, y2 = (_number(getattr(rect, key, None)) for key in ("x1", "y1", "x2", "y2"))
    if None in (x1, y1, x2, y2) or (x1, y1) == (x2, y2):
        return None
    return [[x1, y1], [x2, y2]]


def warn_left_out(path: str, left_out: list[str], how: str = "left out") -> None:
    """One warning naming the first people of ``left_out``."""
    if left_out:
        logging.warning("%s: %d person(s) %s: %s", path, len(left_out), how,
                        "; ".join(left_out[:5]) + (" ..." if len(left_out) > 5 else ""))


def people_from_release(path: str) -> list[dict]:
    """All annotated people of the training images, in file order
    (:func:`read_release`)."""
    return read_release(path)[0]


def read_release(path: str) -> tuple[list[dict], list[ReleaseImage]]:
    """(people, images): the annotated people of the training images, in
    file order, and every image of ``annolist``. A person whose position or
    scale is not a finite number (> 0 for the scale) is left out with a
    warning naming it (the reader refused the whole file written with it:
    NaN is not JSON); a joint without finite coordinates is not annotated.
    Besides the fields of train.json (``JSON_FIELDS``), each person has
    ``head_box`` (:func:`_head_box`), ``index``, its image's 1-based position
    in annolist, and ``rect``, its 1-based position among the image's
    annorects, counting those that are no annotated person (the warnings'
    "person n", and the validation lists' person index).

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
    people, images, left_out = [], [], []
    for index, (image_entry, train) in enumerate(zip(annolist, is_train), 1):
        rects = _items(getattr(image_entry, "annorect", None))
        if int(train) != 1:  # A test image: its name only serves the list's messages.
            name = str(getattr(getattr(image_entry, "image", None), "name", f"image {index}"))
            images.append(ReleaseImage(name, len(rects), False))
            continue
        name = str(_field(_field(image_entry, "image", path), "name", path))
        images.append(ReleaseImage(name, len(rects), True))
        for rect_index, rect in enumerate(rects, 1):
            person, why = _person(rect, name, path)
            if person is not None:
                people.append({**person, "index": index, "rect": rect_index})
            elif why:
                left_out.append(f"{name} person {rect_index}: {why}")
    warn_left_out(path, left_out)
    return people, images


def convert(mat_path: str, output_dir: str, valid_list: Optional[str] = None) -> dict[str, int]:
    """Writes ``train.json``; with a validation list (``mpii_split``) also
    ``valid.json`` and its ground truth for PCKh, ``gt_valid.mat``. Without
    a list, an earlier conversion's ``valid.json`` and ``gt_valid.mat`` are
    moved aside (their images are in train.json now); with one, a
    ``gt_valid.mat`` or ``valid.json`` of other people (the official copy,
    an earlier split) is too, both files of the pair under one name
    (:func:`_keep_earlier_split`). ``train.json`` is replaced: it is what
    this conversion makes.

    Returns:
      The number of people written per file.
    """
    # mpii_split builds on this module (its errors, ReleaseImage): imported
    # here so that neither module's import waits on the other's.
    from keras_pose.data import mpii_split
    people, images = read_release(mat_path)
    train, valid = people, []
    if valid_list:  # Refused (no one to score) before any file is written.
        listed = mpii_split.read_valid_list(valid_list, images, people, mat_path)
        train, valid = mpii_split.split_people(people, listed, valid_list)
        valid = _scorable(valid, mat_path, valid_list)
    os.makedirs(output_dir, exist_ok=True)
    counts = {"train.json": _write_rows(os.path.join(output_dir, "train.json"), train)}
    pair = [os.path.join(output_dir, name) for name in (VALID_JSON, GT_MAT)]
    if not valid_list:
        suffix = _free_suffix(pair)  # One name for both: valid.json.earlier.2, .mat.earlier.2.
        _move_aside(pair[0], "was written by an earlier "
                    "conversion with --valid_list and its images are in train.json now (pass "
                    "--valid_list to make the split again)", suffix)
        _move_aside(pair[1], "scores a validation split, and this "
                    "conversion has none (pass --valid_list to make the split and its "
                    f"{GT_MAT})", suffix)
        return counts
    _keep_earlier_split(pair, valid)
    counts[VALID_JSON] = _write_rows(pair[0], valid)
    counts[GT_MAT] = write_gt_mat(pair[1], valid)
    return counts


def _scorable(valid: list[dict], mat_path: str, valid_list: str) -> list[dict]:
    """The people of ``valid`` that have a head box. The others are named
    and left out of valid.json and gt_valid.mat (PCKh has no head size to
    score them by; the evaluator pairs the two files by position, so both
    leave them out), and out of train.json (the list makes them validation
    people)."""
    kept = [p for p in valid if p["head_box"] is not None]
    warn_left_out(mat_path, [f"{p['image']} person {p['rect']}: no head box (x1, y1, x2, "
                              "y2 finite, two corners)" for p in valid
                              if p["head_box"] is None],
                   f"of the validation images left out of valid.json and {GT_MAT}")
    if not kept:
        raise MatFormatError(f"{mat_path}: none of the {len(valid)} validation people of "
                             f"{valid_list} has a head box (x1, y1, x2, y2): PCKh cannot score "
                             "them; check that the list names validation images or people")
    return kept


def _write_rows(path: str, people: list[dict]) -> int:
    """Writes the people's JSON fields (not head_box, index, rect); their number."""
    write_json(path, [{key: person[key] for key in JSON_FIELDS} for person in people])
    return len(people)


def write_gt_mat(path: str, people: list[dict]) -> int:
    """Writes ``gt_valid.mat`` for ``people`` (:func:`gt_arrays`),
    atomically; an existing file of other content is moved aside first.
    Returns the number of people."""
    arrays = gt_arrays(people)
    if os.path.isfile(path) and not _holds(path, arrays):
        _move_aside(path, "holds other people than this conversion's valid.json (the "
                    "official copy, or an earlier conversion's)")
    write_atomically(path, lambda f: scipy.io.savemat(f, arrays), binary=True)
    return len(people)


def _holds(path: str, arrays: dict[str, np.ndarray]) -> bool:
    """Whether the gt_valid.mat at ``path`` holds ``arrays``' ground truth."""
    try:
        old = load_gt_mat(path)
    except (GroundTruthError, ValueError, IndexError, NotImplementedError,
            scipy.io.matlab.MatReadError):  # Unreadable: kept aside, never replaced.
        return False
    return old["joint_names"] == list(MPII_MAT_JOINT_NAMES) and all(
        np.array_equal(old[key], arrays[key])
        for key in ("jnt_missing", "pos_gt_src", "headboxes_src"))


def _same_rows(path: str, people: list[dict]) -> bool:
    """Whether the valid.json at ``path`` holds ``people``'s rows."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f) == [{key: p[key] for key in JSON_FIELDS} for p in people]
    except (OSError, ValueError):  # Unreadable: kept aside, never replaced.
        return False


def _keep_earlier_split(pair: list[str], valid: list[dict]) -> None:
    """Moves ``pair``, an earlier split's valid.json and gt_valid.mat, aside
    under one free name (``valid.json.earlier.2`` with
    ``gt_valid.mat.earlier.2``) when either holds other people than
    ``valid`` (the official copy, another list); one warning says it. (Was:
    gt_valid.mat kept, its valid.json overwritten in silence.)"""
    valid_json, gt_mat = pair
    other = [path for path, same in ((gt_mat, lambda: _holds(gt_mat, gt_arrays(valid))),
                                     (valid_json, lambda: _same_rows(valid_json, valid)))
             if os.path.isfile(path) and not same()]
    if not other:
        return
    present = [path for path in (gt_mat, valid_json) if os.path.isfile(path)]
    suffix = _free_suffix(present)
    for path in present:
        os.replace(path, path + suffix)
    moved = [os.path.basename(path) + suffix for path in present]
    train = (f"; train.json is replaced by this split's (the earlier one: the release "
             f"converted with the images of {moved[-1]} as --valid_list)"
             if valid_json in present else "")
    logging.warning("%s holds other people than this conversion's%s (the official copy, or an "
                    "earlier conversion's): %s moved to %s%s", other[0],
                    " valid.json" if other[0] == gt_mat else "",
                    "it is" if len(moved) == 1 else "both are", " and ".join(moved), train)


def _free_suffix(paths: list[str]) -> str:
    """The first of ``.earlier``, ``.earlier.2``, ... free after every one
    of ``paths``: one name for files kept aside together."""
    def suffix(n: int) -> str:
        return ".earlier" + (f".{n}" if n > 1 else "")
    # first_free_name checks one name: it gets a taken one of the n-th names when any is.
    aside = first_free_name(lambda n: next(
        (p + suffix(n) for p in paths if os.path.lexists(p + suffix(n))), paths[0] + suffix(n)))
    return aside[len(paths[0]):]


def _move_aside(path: str, why: str, suffix: Optional[str] = None) -> None:
    """Keeps a file that this conversion would replace or leave stale as the
    first free of ``<path>.earlier``, ``<path>.earlier.2``, ... (or as
    ``<path><suffix>``: a name free for a pair of files), so that a second
    move does not overwrite the first (the official gt_valid.mat cannot be
    downloaded by a program), and says so."""
    if not os.path.isfile(path):
        return
    aside = path + (suffix or _free_suffix([path]))
    os.replace(path, aside)
    logging.warning("%s %s: it is moved to %s", path, why, os.path.basename(aside))
