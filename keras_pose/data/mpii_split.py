"""The MPII converter's validation list (``--valid_list``): which people of
the release go to valid.json, which to train.json, which to neither.

The reference's split (its valid.json and gt_valid.mat, 2958 people) is
Tompson et al.'s (CVPR 2015) as the widely used generator makes it (genJSON.m
of convolutional-pose-machines, ported by pytorch-pose). It is a list of
PEOPLE: Tompson's ``mpii_predictions/data/detections.mat`` (in
``mpii_valid_pred.zip``) holds ``RELEASE_img_index``, an image's 1-based
position in ``RELEASE.annolist``, and ``RELEASE_person_index``, the person's
1-based position in that image's ``annorect``. A listed person is validation;
the people of an image none of whose people is listed are training; an
unlisted person of an image with listed people is in neither.

A list is one of (told apart by content):
  * Tompson's detections.mat: a MATLAB file with those two arrays, each
    (1, N) or (N, 1);
  * a text file with a line ``image_name,person_index`` per person (the same
    numbers: person_index counts the image's annorects from 1, annotated or
    not, as the release numbers them);
  * a text file with a line ``image_name`` per image: every person of the
    image is validation (not the reference's split where an image has
    people off Tompson's list). The two kinds of line can be mixed.
"""

from __future__ import annotations

import codecs
import os
from typing import NamedTuple, Optional, Union

import numpy as np
import scipy.io

from keras_pose import log as logging
from keras_pose.data.mpii_mat import MatFormatError, ReleaseImage, warn_left_out
from keras_pose.errors import MissingFileError

DETECTION_ARRAYS = ("RELEASE_img_index", "RELEASE_person_index")  # Tompson's detections.mat.
TOMPSON = ("Tompson's detections.mat (mpii_predictions/data/detections.mat of "
           "mpii_valid_pred.zip)")
FORMS = (f"{TOMPSON}, or a text list with a line image_name,person_index per person or a line "
         "image_name per image (all its people)")


class Entry(NamedTuple):
    """An entry of a list: ``image`` is a name (text) or a 1-based annolist
    position (detections.mat); ``person`` a 1-based annorect position, or
    None for every person of the image."""
    where: str  # "line 3", "entry 5": the messages' name of it.
    image: Union[str, int]
    person: Optional[int]


class ValidList(NamedTuple):
    """The validation people of a list, by 1-based annolist position
    (``images``: all their people) and (position, annorect) (``people``)."""
    images: frozenset
    people: frozenset


def read_valid_list(path: str, images: list[ReleaseImage], people: list[dict],
                    mat_path: str) -> ValidList:
    """The people that the list at ``path`` makes validation people of the
    release ``images`` (``mpii_mat.read_release``). Entries of no annotated
    person of a training image are said (a typo left that image in training,
    in silence).

    Raises:
      MatFormatError: for a file that is no list, a bad line or entry, a
        person index beyond its image's annorects, or a list of no one.
    """
    entries = _entries(path)
    positions = {}  # name: its annolist positions (one, unless the release repeats it)
    for position, image in enumerate(images, 1):
        positions.setdefault(image.name, []).append(position)
    annotated = {(p["index"], p["rect"]) for p in people}
    with_people = {p["index"] for p in people}
    whole, listed, unknown = set(), set(), []
    for entry in entries:
        found = (_checked_position(entry, images, path, mat_path) if isinstance(entry.image, int)
                 else positions.get(entry.image, []))
        for position in found:
            _check_person(entry, position, images[position - 1], path, mat_path)
        if entry.person is None:
            hits = [i for i in found if i in with_people]
            whole.update(hits)
        else:  # Listed even if not annotated: its image's other people are no training people.
            hits = [i for i in found if (i, entry.person) in annotated]
            listed.update((i, entry.person) for i in found)
        if not hits:
            unknown.append(entry)
    _say_unknown(unknown, entries, images, path, mat_path)
    return ValidList(frozenset(whole), frozenset(listed))


def split_people(people: list[dict], listed: ValidList, list_path: str
                 ) -> tuple[list[dict], list[dict]]:
    """(train, valid) by the reference's rule (module docstring), in file
    order; the people in neither are named in a warning."""
    images_with_listed = {position for position, _ in listed.people}
    train, valid, neither = [], [], []
    for person in people:
        if (person["index"] in listed.images
                or (person["index"], person["rect"]) in listed.people):
            valid.append(person)
        elif person["index"] in images_with_listed:
            neither.append(f"{person['image']} person {person['rect']}")
        else:
            train.append(person)
    warn_left_out(list_path, neither, "not on the list, of images with people on it, left out "
                  "of train.json and valid.json (the reference's split trains on no person "
                  "of a validation image)")
    return train, valid


def _checked_position(entry: Entry, images: list[ReleaseImage], path: str,
                      mat_path: str) -> list[int]:
    """[the entry's annolist position], refused beyond the release."""
    if entry.image > len(images):
        raise MatFormatError(
            f"{path} {entry.where}: RELEASE_img_index {entry.image} is beyond the "
            f"{len(images)} images of {mat_path}: give the detections.mat of this release "
            "(mpii_human_pose_v1_u12_1.mat)")
    return [entry.image]


def _check_person(entry: Entry, position: int, image: ReleaseImage, path: str,
                  mat_path: str) -> None:
    if entry.person is not None and entry.person > image.rects:
        raise MatFormatError(
            f"{path} {entry.where}: person {entry.person} of {image.name} (image {position}) "
            f"is beyond its {image.rects} annorect(s) in {mat_path}: the person index counts "
            "the image's annorects from 1, as the release's annorect order; correct it")


def _label(entry: Entry, images: list[ReleaseImage]) -> str:
    """The entry for a message: its place, image and person."""
    if entry.person is None:
        return entry.image
    image = (f"{images[entry.image - 1].name} (image {entry.image})"
             if isinstance(entry.image, int) else entry.image)
    return f"{entry.where}: {image} person {entry.person}"


def _say_unknown(unknown: list[Entry], entries: list[Entry], images: list[ReleaseImage],
                 path: str, mat_path: str) -> None:
    """Refuses a list of no annotated training person; warns of the entries
    of none (the wording of a list of names when they are names)."""
    if not unknown:
        return
    names = all(e.person is None for e in unknown)
    first = (sorted(e.image for e in unknown)[0] if names
             else _label(unknown[0], images))
    what = "image names" if all(e.person is None for e in entries) else "entries"
    if len(unknown) == len(entries):
        raise MatFormatError(f"{path}: none of its {len(entries)} {what} is an annotated "
                             f"{'training image' if names else 'person of a training image'} "
                             f"of {mat_path} (e.g. {first}); give the list of this release: "
                             f"{FORMS}")
    logging.warning("%s: %d of its %d %s are no annotated %s of %s (e.g. %s): they name no "
                    "person of valid.json; correct them if they are typos", path, len(unknown),
                    len(entries), what,
                    "training image" if names else "person of a training image", mat_path,
                    first)


def _entries(path: str) -> list[Entry]:
    """The entries of the list at ``path``: a detections.mat or a text."""
    if not os.path.isfile(path):
        what = "a folder" if os.path.isdir(path) else "missing"
        raise MissingFileError(f"validation list {path} is {what}: give {FORMS}")
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"MATLAB"):  # The text header of every -v5 to -v7.3 .mat file.
        return _detections(path)
    return _text_entries(path, _list_text(path, data))


def _text_entries(path: str, text: str) -> list[Entry]:
    """A line ``name`` (all its people) or ``name,person_index``."""
    entries = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        if "," not in line:
            entries.append(Entry(f"line {number}", line, None))
            continue
        name, _, index = (part.strip() for part in line.rpartition(","))
        if not name or not (index.isascii() and index.isdigit()) or int(index) < 1:
            raise MatFormatError(
                f"{path} line {number}: '{line}' is not image_name,person_index with "
                "person_index a whole number from 1 (the person's position among the "
                "image's annorects in the release): correct the line, or give the image "
                "name alone for all its people")
        entries.append(Entry(f"line {number}", name, int(index)))
    return entries


def _detections(path: str) -> list[Entry]:
    """The people of Tompson's detections.mat, an entry each (1-based)."""
    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError as e:  # MATLAB -v7.3, an HDF5 file.
        raise MatFormatError(f"{path} is a MATLAB -v7.3 (HDF5) file: save it with -v7, or "
                             f"give {TOMPSON} as published") from e
    except (ValueError, TypeError, OSError, IndexError, scipy.io.matlab.MatReadError) as e:
        raise MatFormatError(f"{path} is not a readable .mat file ({type(e).__name__}: "
                             f"{e}): give {FORMS}") from e
    missing = [key for key in DETECTION_ARRAYS if key not in mat]
    if missing:
        raise MatFormatError(f"{path}: a .mat file without {' and '.join(missing)}, so no "
                             f"validation list: give {FORMS}")
    image, person = (_index_array(mat[key], key, path) for key in DETECTION_ARRAYS)
    if len(image) != len(person):
        raise MatFormatError(f"{path}: RELEASE_img_index has {len(image)} entries and "
                             f"RELEASE_person_index {len(person)}: one per person in both; "
                             f"give {TOMPSON}")
    return [Entry(f"entry {k}", int(i), int(p)) for k, (i, p) in enumerate(zip(image, person), 1)]


def _index_array(value: np.ndarray, key: str, path: str) -> np.ndarray:
    """The 1-based indices of ``key``, (1, N) or (N, 1) in the file: (N,)."""
    array = np.asarray(value)
    if (array.ndim > 2 or (array.ndim == 2 and min(array.shape) > 1)
            or not np.issubdtype(array.dtype, np.number)):
        raise MatFormatError(f"{path}: {key} is a {array.dtype} array of shape {array.shape}, "
                             f"not a row or column of numbers: give {TOMPSON}")
    flat = array.ravel().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)) | (flat < 1))
    if bad.size:
        raise MatFormatError(f"{path}: {key} entry {bad[0] + 1} is {flat[bad[0]]:g}, not a "
                             f"whole number from 1 (a 1-based index): give {TOMPSON}")
    return flat.astype(np.int64)


def _list_text(path: str, data: bytes) -> str:
    """The text of a list: UTF-8 (a byte-order mark skipped, as Windows
    editors write one), or UTF-16 with its byte-order mark (Notepad's
    "Unicode").

    Raises:
      MatFormatError: for anything else (a photo given by mistake), naming
        the file (was a UnicodeDecodeError's traceback).
    """
    try:
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as e:
        where = f"byte {e.start} is not UTF-8"
    else:  # UTF-16 without its mark decodes as UTF-8 with a NUL in every name.
        if "\0" not in text:
            return text
        where = f"byte {data.index(0)} is a NUL"
    raise MatFormatError(f"{path} is not a UTF-8 text list of image names, one per line "
                         f"({where}), nor a .mat file: give {FORMS}")
