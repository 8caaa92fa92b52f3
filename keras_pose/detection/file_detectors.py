"""Detectors that need no network: precomputed boxes, or the whole image.

``FileDetector`` reads person boxes made by any detector, in either form:

- COCO detection results: ``[{"image_id" or "file_name", "bbox": [x, y, w, h],
  "score", "category_id"}, ...]`` (the entries of the model's keypoint
  categories are kept, COCO's person = 1 by default; the others are dropped
  and counted per category in a warning; each person found in a box is
  written with the box's category), for example the reference's
  ``COCO_val2017_detections_AP_H_56_person.json``;
- ``{"dir/photo.jpg": [[x, y, w, h], ...], ...}`` (score 1), or
  ``[x, y, w, h, score]`` boxes.

An entry that is not a box (NaN, inf, three numbers, a string score, a size
<= 0) is skipped with a warning naming the file and the entry; the rest of
the file is used. Images find their boxes with :meth:`FileDetector.bind`: by
their path relative to ``--input`` first, then by file name when the name
is unambiguous among the inputs, then by image id (through an annotation
file's ``images`` list, or else the number in the file name when only one
input carries it). Two inputs that a bare name or a number would both match
are an error that lists them.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections import Counter
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from absl import logging

from keras_pose.data import transforms
from keras_pose.data.file_kinds import is_video
from keras_pose.data.images import check_rgb_image
from keras_pose.detection.base import (Detections, PersonDetector, Source, check_filter,
                                       filter_detections)
from keras_pose.errors import UserError

Key = Union[str, int]
# {relative path / file name / image id: (boxes (M, 4), scores (M,)[,
# categories (M,) int64: a COCO results file's category_id of each box])}
BoxTable = dict


class DetectionFileError(UserError, ValueError):
    """A boxes file that cannot be used; the message names it."""


def _box(values: Any, score: Any = 1.0) -> Optional[tuple[list[float], float]]:
    """A valid (box, score), or None (not 4 finite numbers with w, h > 0 and
    a finite numeric score)."""
    if isinstance(values, (str, bytes)) or isinstance(score, (str, bytes, bool)):
        return None
    try:
        box, score = [float(v) for v in values], float(score)
    except (TypeError, ValueError):
        return None
    if len(box) != 4 or not all(map(math.isfinite, box + [score])) or min(box[2:]) <= 0:
        return None
    return box, score


# A COCO results entry without category_id (COCO's ids start at 1).
NO_CATEGORY = 0
# (key, box, score, category or None, where in the file)
Entry = tuple[Key, Any, Any, Optional[int], str]


def _entries_of_mapping(data: Mapping) -> list[Entry]:
    out = []
    for name, boxes in data.items():
        for i, box in enumerate(boxes if isinstance(boxes, list) else [boxes]):
            five = isinstance(box, list) and len(box) == 5
            out.append((name, box[:4] if five else box, box[4] if five else 1.0, None,
                        f"{name!r} box {i}"))
    return out


def _entries_of_results(data: list, category_ids: Sequence[int], dropped: Counter
                        ) -> list[Entry]:
    out = []
    for i, det in enumerate(data):
        if not isinstance(det, dict) or not ("image_id" in det or "file_name" in det):
            out.append((None, None, None, None, f"entry {i} (no image_id or file_name)"))
            continue
        category = det.get("category_id")  # None: the file gives none (said by the run).
        if category is not None and category not in category_ids:
            dropped[category] += 1
            continue
        key = str(det["file_name"]) if "file_name" in det else det["image_id"]
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            key = None
        out.append((key, det.get("bbox"), det.get("score", 1.0),
                    None if category is None else int(category), f"entry {i}"))
    return out


def file_key(name: str) -> str:
    """A file name as inputs are keyed: "/" separators, no leading "./"
    (``.\\a\\x.jpg`` and ``./a/x.jpg`` are ``a/x.jpg``)."""
    return str(name).replace("\\", "/").removeprefix("./")


def name_form(name: str) -> str:
    """``name`` as names are compared: :func:`file_key`'s form in Unicode's
    composed form (NFC). Was: a boxes or annotation file's 'café.jpg' (NFC,
    as typed) matched no file of that name written by macOS (NFD, e plus a
    combining accent), which printed the same."""
    return unicodedata.normalize("NFC", file_key(name))


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
            return json.load(f)
    except FileNotFoundError as e:
        raise DetectionFileError(f"boxes file {path} does not exist") from e
    except IsADirectoryError as e:  # Was "Is a directory: PATH", no flag or fix named.
        raise DetectionFileError(f"boxes file {path} is a folder: give the JSON file of boxes "
                                 "in it (--boxes FILE.json)") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DetectionFileError(f"boxes file {path} is not valid JSON: {e}") from e


def load_detection_file(path: str, category_ids: Sequence[int] = (1,)) -> BoxTable:
    """Reads a boxes file into ``{key: (boxes, scores)}``, skipping (and
    reporting) every entry that is not a box, and the COCO results of other
    categories than ``category_ids`` (counted per category in a warning).

    Raises:
      DetectionFileError: a missing file, invalid JSON, or neither form.
    """
    return detections_from_json(_read_json(path), path, category_ids)


def detections_from_json(data: Any, path: str, category_ids: Sequence[int] = (1,)
                         ) -> BoxTable:
    """:func:`load_detection_file` of a boxes file's loaded JSON (``path``
    names it in messages)."""
    if isinstance(data, dict) and {"images", "annotations"} & set(data) and "categories" in data:
        raise DetectionFileError(
            f"boxes file {path} is a COCO annotation file ('images', 'annotations', "
            "'categories'), not boxes: --boxes takes COCO detection results (a list of "
            "{image_id or file_name, bbox, score}) or {file name: [[x, y, w, h], ...]}; give it "
            "as --annotations for its image ids (evaluate.py --use_gt_boxes runs on its boxes)")
    if isinstance(data, dict):
        entries = _entries_of_mapping(data)
    elif isinstance(data, list):
        dropped: Counter = Counter()
        entries = _entries_of_results(data, tuple(category_ids), dropped)
        if dropped:
            logging.warning(
                "%s: %d boxes of other categories than %s dropped (%s); the model's keypoint "
                "categories are kept (data.category_ids: choose with --set "
                "data.category_ids=...)", path, sum(dropped.values()), list(category_ids),
                ", ".join(f"category {c!r}: {n}" for c, n in sorted(dropped.items(), key=str)))
    else:
        raise DetectionFileError(f"{path}: expected COCO detection results (a list) or "
                                 "{file name: [[x, y, w, h], ...]}")
    rows: dict = {}
    bad = []
    for key, box, score, category, where in entries:
        valid = _box(box, score) if key is not None else None
        if valid is None:
            bad.append(where)
            continue
        rows.setdefault(file_key(key) if isinstance(key, str) else key, []).append(
            (*valid, category))
    if isinstance(data, dict):  # {"a.jpg": []}: nobody there, said by the file.
        for name in (n for n, boxes in data.items() if boxes == []):
            rows.setdefault(file_key(str(name)), [])
    if bad and not rows:  # Not one box: not a boxes file (was 0 people, exit 0).
        mpii = all(isinstance(d, dict) and {"center", "scale"} <= set(d) for d in data)
        raise DetectionFileError(
            f"boxes file {path}: none of its {len(bad)} entries is a box "
            f"({', '.join(bad[:3])}){': it is an MPII annotation file' if mpii else ''}; "
            "--boxes takes COCO detection results (a list of {image_id or file_name, bbox, "
            "score}) or {file name: [[x, y, w, h], ...]}")
    if bad:
        logging.warning("%s: %d entr%s skipped (not 4 finite numbers with a positive size, or "
                        "a bad score or image key): %s", path, len(bad),
                        "y" if len(bad) == 1 else "ies", ", ".join(bad[:10]))
    return {key: _table_row(v, isinstance(data, list)) for key, v in rows.items()}


def _table_row(rows: list, with_categories: bool) -> tuple:
    """A BoxTable value from ``[(box, score, category), ...]``; a box
    without ``category_id`` has category ``NO_CATEGORY`` (its person is
    written with the model's first category, said by the run)."""
    boxes = np.asarray([b for b, _, _ in rows], np.float32).reshape(-1, 4)
    scores = np.asarray([s for _, s, _ in rows], np.float32)
    if not with_categories:
        return boxes, scores
    return boxes, scores, np.asarray([NO_CATEGORY if c is None else c for _, _, c in rows],
                                     np.int64)


def frame_key(video: str, index: int) -> str:
    """A video frame's key, as frames.json names it: ``clip.mp4#3`` (0-based)."""
    return f"{video}#{index}"


def video_of_frame(key: str) -> Optional[str]:
    """``clip.mp4`` for a frame key ``clip.mp4#3``; None for any other key."""
    video, mark, index = key.rpartition("#")
    return video if mark and video and index.isdigit() else None


def frame_number(key: str) -> int:
    """3 for a frame key ``clip.mp4#3`` (or ``#03``)."""
    return int(key.rpartition("#")[2])


def _number(key: str) -> Optional[int]:
    """The image id an input's file name carries (its last number), None
    for a video: its frames are keyed ``clip.mp4#n`` or by its name (was:
    every frame of ``clip785.mp4`` took COCO image 785's boxes)."""
    if is_video(key):
        return None
    digits = re.findall(r"\d+", os.path.splitext(os.path.basename(key))[0])
    return int(digits[-1]) if digits else None


def _unique(inputs: Sequence[str], name_of) -> tuple[dict, dict]:
    """({name: input} for names one input has, {name: inputs} for names
    several inputs share)."""
    owners: dict = {}
    for key in inputs:
        owners.setdefault(name_of(key), []).append(key)
    clashes = {n: keys for n, keys in owners.items() if n is not None and len(keys) > 1}
    return {n: keys[0] for n, keys in owners.items() if n is not None and n not in clashes}, \
        clashes


def match_entries(table: Mapping, inputs: Sequence[str], source: str,
                  image_ids: Optional[Mapping[str, int]] = None,
                  paths: Optional[Mapping[str, str]] = None) -> dict[str, Key]:
    """Which table entry belongs to each input key: its key (names compared
    in Unicode's NFC form too, see :func:`_input_named`), else the file it
    names (an absolute path, or one from the current folder, with
    ``paths``), else a bare file name or an image id that one input has.
    An entry ``<video>#<n>`` keys frame n of the video its ``<video>`` part
    matches by these rules (input key ``clip.mp4#n``).

    Args:
      table: :func:`load_detection_file` output.
      inputs: the inputs' keys (paths relative to ``--input``).
      source: the boxes file, for messages.
      image_ids: {input key: image id} from an annotation file, if given
        (matched by ``keras_pose.prediction.inputs.image_ids_of_inputs``).
      paths: {input key: its file}.

    Returns:
      {input key: table key} for the inputs that have boxes.

    Raises:
      DetectionFileError: when a bare file name or an image id in the table
        would match several inputs (listed).
    """
    matched = _frame_entries(table, inputs, source, image_ids, paths)
    # Sets: list lookups made an hour of frames' boxes (90k entries) a minute's wait.
    taken = set(matched.values())
    table = [entry for entry in table if entry not in taken]
    input_named = _input_named(inputs, paths)
    number_of = _number if image_ids is None else image_ids.get
    by_id, id_clashes = _unique(inputs, number_of)
    problems = []
    for entry in table:
        named, clash = input_named(entry) if isinstance(entry, str) else (None, None)
        if named is not None and named == entry:
            matched[entry] = entry  # Its own key: before any entry naming it otherwise.
        elif named is not None:
            matched.setdefault(named, entry)
        elif clash:
            problems.append(f"{entry!r} could be any of {clash[:5]}")
        elif isinstance(entry, int) and entry in by_id:
            matched.setdefault(by_id[entry], entry)
        elif isinstance(entry, int) and entry in id_clashes:
            problems.append(f"image id {entry} could be any of {id_clashes[entry][:5]}")
    if problems:
        raise DetectionFileError(f"{source}: ambiguous entries (give paths relative to --input"
                                 f" or an annotation file): {'; '.join(problems[:5])}")
    return matched


def _input_named(inputs: Sequence[str], paths: Optional[Mapping[str, str]]):
    """A function of a table's file name: (the input it names, or None;
    the inputs it could be when it fits several, or None). It names an input
    by its key, else by its key's Unicode NFC form (:func:`name_form`), else
    by the file's path (with ``paths``: {input key: its file}), else by the
    input's bare file name (in NFC too) when one input has it."""
    keys = set(inputs)
    by_key, key_clashes = _unique(inputs, name_form)
    by_name, name_clashes = _unique(inputs, lambda key: name_form(os.path.basename(key)))
    by_file = {name_form(os.path.realpath(path)): key for key, path in (paths or {}).items()}

    def named(entry: str) -> tuple[Optional[str], Optional[list[str]]]:
        form = name_form(entry)
        if entry in keys:
            return entry, None
        found = by_key.get(form) or by_file.get(
            name_form(os.path.realpath(os.path.expanduser(entry))))
        if found is None and "/" not in form:
            found = by_name.get(form)
        return found, None if found else key_clashes.get(form) or name_clashes.get(form)
    return named


def _frame_entries(table: Mapping, inputs: Sequence[str], source: str,
                   image_ids: Optional[Mapping[str, int]],
                   paths: Optional[Mapping[str, str]]) -> dict[str, Key]:
    """{frame key of an input (``clip.mp4#3``): entry} for the entries that
    key a video's frame: the video part is matched as any entry is (its
    path relative to --input, a file path, a bare name), the frame number
    read as a number (``#03`` is frame 3)."""
    frames = {entry: video_of_frame(entry) for entry in table
              if isinstance(entry, str) and video_of_frame(entry)}
    if not frames:
        return {}
    owner = {}  # {video part: input key}; each on its own (several may name one video).
    for video in dict.fromkeys(frames.values()):
        owner.update({entry: key for key, entry in
                      match_entries({video: None}, inputs, source, image_ids, paths).items()})
    return {frame_key(owner[video], frame_number(entry)): entry
            for entry, video in frames.items() if video in owner}


def _is_loaded(value: Any) -> bool:
    """A ``(boxes (M, 4), scores (M,)[, categories (M,)])`` tuple, not a
    boxes file's list; ``([], [])``, an image without boxes, too (was taken
    for a file's entry: the whole table refused as holding no box)."""
    return isinstance(value, tuple) and len(value) in (2, 3) and (
        np.ndim(value[0]) == 2 or np.size(value[0]) == 0)


def _loaded_entry(key: Key, value: tuple) -> tuple:
    """A loaded entry as (boxes (M, 4) float32, scores (M,) float32[,
    categories (M,) int64]) arrays, checked as ``Detections`` checks them.
    Was kept as given: lists were taken, then failed in ``detect`` with
    NumPy's "only integer scalar arrays can be converted to a scalar index"."""
    try:
        found = Detections(*value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"boxes entry {key!r}: {e}; expected (boxes (M, 4) [x, y, w, h], "
                         "scores (M,)[, categories (M,)])") from e
    return (found.boxes, found.scores) + (() if found.categories is None else
                                          (found.categories,))


class FileDetector(PersonDetector):
    """Person boxes read from a file (or given as a table).

    :meth:`bind` matches the whole list of inputs at once (so that a bare
    file name or image id shared by several inputs is an error); without it
    each source is matched on its own, by key, file name or the number in
    its name. An input with no entry has no people (empty ``Detections``).

    Args:
      boxes: a boxes file path (see ``load_detection_file``), a loaded
        ``{key: (boxes (M, 4), scores (M,)[, categories (M,)])}``, or the file's own form
        ``{file name: [[x, y, w, h], ...]}``.
      score_threshold: boxes scoring below it are ignored.
      nms_iou_threshold: NMS IoU; None (default): the boxes as given.
      max_detections: at most this many per image, best first; None: all.
      category_ids: the COCO results' categories kept (the model's keypoint
        categories; default COCO's person, 1).
    """

    def __init__(self, boxes: Union[str, Mapping], score_threshold: float = 0.0,
                 nms_iou_threshold: Optional[float] = None,
                 max_detections: Optional[int] = None, category_ids: Sequence[int] = (1,)):
        check_filter(score_threshold, nms_iou_threshold, max_detections)
        self.path = boxes if isinstance(boxes, str) else "boxes"
        if isinstance(boxes, str):
            self.table = load_detection_file(boxes, category_ids)
        elif all(_is_loaded(value) for value in boxes.values()):
            self.table = {key: _loaded_entry(key, value) for key, value in boxes.items()}
        else:  # The file's own form: {name: [[x, y, w, h], ...]}, lists or arrays.
            self.table = detections_from_json(
                {name: value.tolist() if isinstance(value, np.ndarray) else value
                 for name, value in boxes.items()}, self.path, category_ids)
        self.score_threshold = score_threshold
        self.nms_iou_threshold = nms_iou_threshold
        self.max_detections = max_detections
        self.matched: Optional[dict[str, Key]] = None
        # Boxes the file gives that scored below ``score_threshold``, and
        # that miss their image (another image's pixels?): not run; the
        # user's boxes, so the run says how many.
        self.below_threshold = 0
        self.off_image = 0

    def bind(self, inputs: Sequence[str], image_ids: Optional[Mapping[str, int]] = None,
             paths: Optional[Mapping[str, str]] = None) -> dict[str, Key]:
        """Matches the table to the inputs (see :func:`match_entries`);
        returns {input key: entry}. Entries matching no input are logged."""
        self.matched = match_entries(self.table, list(inputs), self.path, image_ids, paths)
        unused = len(self.table) - len(set(self.matched.values()))
        if unused:
            # None matched: how entries are matched, with an entry and an
            # input side by side (a folder's own name in every entry matched
            # nothing, unexplained).
            hint = ("" if self.matched or not inputs else
                    f" (an entry names an input by its path relative to --input, by a file's "
                    f"path, or by its bare file name, an image also by its number, a video's "
                    f"frame as <video>#<n>: entry {next(iter(self.table))!r}, input "
                    f"{next(iter(inputs))!r})")
            logging.warning("%s: %d of its %d images match no input%s", self.path, unused,
                            len(self.table), hint)
        return self.matched

    def _entry(self, source: str) -> Optional[Key]:
        if self.matched is None:
            return match_entries(self.table, [source], self.path).get(source)
        return self.matched.get(source)

    def frame_source(self, video: str, index: int) -> str:
        """Whose boxes frame ``index`` of ``video`` (an input key) runs on:
        its own entry (``clip.mp4#3``) when the file has one; else the
        video's, every frame's boxes, when the file has that; else, when
        the file keys other frames of this video, the frame's own key (a
        frame without boxes, reported as such); else the video's key."""
        frame = frame_key(video, index)
        if self.has_entry(frame) or self.has_entry(video):
            return frame if self.has_entry(frame) else video
        keys = self.table if self.matched is None else self.matched
        return frame if any(isinstance(k, str) and video_of_frame(k) == video
                            for k in keys) else video

    def frames_beyond(self, video: str, count: int) -> list[str]:
        """The entries keying frames of ``video`` past its ``count`` frames
        (boxes that no frame took; numbered from 1, or another video's)."""
        keys = self.matched if self.matched is not None else {e: e for e in self.table}
        return sorted((entry for key, entry in keys.items() if isinstance(key, str)
                       and video_of_frame(key) == video
                       and frame_number(key) >= count), key=str)

    def has_entry(self, source: Source) -> bool:
        """Whether the file has boxes for ``source`` (before any filter)."""
        entry = self._entry(source) if isinstance(source, str) else source
        return entry in self.table

    def image_id(self, source: str) -> Optional[int]:
        """The image id of an input's entry when the file keys it by id."""
        entry = self._entry(source)
        return entry if isinstance(entry, int) else None

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        """The boxes of ``source`` (an input key, or a table key)."""
        check_rgb_image(image)
        entry = self._entry(source) if isinstance(source, str) else source
        if entry not in self.table:
            return Detections.empty()
        boxes, scores, *categories = self.table[entry]
        on_image = ~transforms.boxes_off_image(boxes, *image.shape[:2])
        self.off_image += int(np.sum(~on_image))
        boxes, scores = boxes[on_image], scores[on_image]
        categories = np.asarray(categories[0])[on_image] if categories else None
        self.below_threshold += int(np.sum(scores < self.score_threshold))
        return filter_detections(boxes, scores, self.score_threshold, self.nms_iou_threshold,
                                 self.max_detections, categories)


class WholeImageDetector(PersonDetector):
    """Each image is one person filling it (score 1): the fallback when no
    detector is available, and right for single-person crops."""

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        height, width = check_rgb_image(image).shape[:2]
        return Detections(np.array([[0.0, 0.0, width, height]], np.float32),
                          np.ones((1,), np.float32))

