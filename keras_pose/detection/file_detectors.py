"""The detector of precomputed boxes (``WholeImageDetector`` is in ``base``).

``FileDetector`` reads person boxes made by any detector from a boxes file
(its forms: :mod:`keras_pose.detection.box_files`), or takes them as a
table. Images find their boxes with :meth:`FileDetector.bind`: by their
path relative to ``--input`` or their file's path, then by file name when
one input has it, then by image id (an annotation file's, else the number in
one input's file name; a record's ``image_id`` when its ``file_name`` names
no input). An input runs on the boxes of every entry naming it; a name or a
number several inputs could be is an error. Boxes that look like another
format than [x, y, w, h] in pixels are said once their images' sizes are
known (:class:`FormatWatch`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from keras_pose import log as logging
from keras_pose.data import transforms
from keras_pose.data.detection_checks import warn_box_format
from keras_pose.data.file_kinds import is_video
from keras_pose.data.images import check_rgb_image
from keras_pose.detection.base import (Detections, PersonDetector, Source, check_filter,
                                       filter_detections)
from keras_pose.detection.box_files import (DetectionFileError, Key, detections_from_json,
                                            load_detection_file, name_form, valid_box,
                                            warn_skipped)
from keras_pose.detection.results import NO_CATEGORY


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
                  paths: Optional[Mapping[str, str]] = None) -> dict[str, tuple]:
    """Which table entries belong to each input key: every entry naming it
    (:func:`_finder`), the input running on all their boxes (a COCO results
    file's records of one image; ``a.jpg`` and its absolute path; was: one
    entry, the others dropped). A bare file name gives way to an entry
    naming that input by its path (beside ``sub/x.jpg``, ``x.jpg`` is
    another file). ``<video>#<n>`` keys frame n of the video its
    ``<video>`` part matches (input key ``clip.mp4#n``).

    Args:
      table: :func:`load_detection_file` output; inputs: the inputs' keys
        (paths relative to ``--input``); source: the boxes file, for
        messages; image_ids: {input key: image id} from an annotation file,
        if given; paths: {input key: its file}.

    Returns:
      {input key: (table key, ...) in the table's order}, inputs with boxes.

    Raises:
      DetectionFileError: a name, a file or an id several inputs could be.
    """
    matched = _frame_entries(table, inputs, source, image_ids, paths)
    # Sets: list lookups made an hour of frames' boxes (90k entries) a minute's wait.
    taken = {entry for entries in matched.values() for entry in entries}
    find = _finder(inputs, image_ids, paths)
    found: dict = {}  # {input key: [(entry, how), ...]}
    problems: list[str] = []  # Entries that several inputs could be.
    for entry in (entry for entry in table if entry not in taken):
        key, problem, how = find(entry)
        if problem:
            problems.append(problem)
        elif key is not None:
            found.setdefault(key, []).append((entry, how))
    if problems:
        raise DetectionFileError(f"{source}: ambiguous entries (give paths relative to --input"
                                 f" or an annotation file): {'; '.join(problems[:5])}")
    for key, pairs in found.items():
        by_path = any(how == "path" for _, how in pairs)
        matched[key] = tuple(entry for entry, how in pairs if how != "name" or not by_path)
    return matched


def _finder(inputs: Sequence[str], image_ids: Optional[Mapping[str, int]],
            paths: Optional[Mapping[str, str]]):
    """A function of a table entry: (the input it names or None, the
    ambiguity to report or None, how: "path", "name" or "id"). Names match
    as :func:`_input_named` says, ids by ``image_ids`` else the number in a
    name (:func:`_number`), a record by its ``image_id`` when its
    ``file_name`` names no input (was: never, 0 people)."""
    input_named = _input_named(inputs, paths)
    by_id, id_clashes = _unique(inputs, _number if image_ids is None else image_ids.get)

    def by_number(entry: int) -> tuple:
        clash = id_clashes.get(entry)
        return by_id.get(entry), clash and f"image id {entry} could be any of {clash[:5]}", "id"

    def find(entry: Key) -> tuple:
        if not isinstance(entry, str):  # An image id, or a loaded table's other key.
            return by_number(entry) if isinstance(entry, int) else (None, None, None)
        key, clash, how = input_named(entry)
        if key is None and getattr(entry, "image_id", None) is not None:
            as_id = by_number(entry.image_id)
            if as_id[0] is not None or not clash:
                return as_id
        return key, clash and f"{entry!r} could be any of {clash[:5]}", how
    return find


def _input_named(inputs: Sequence[str], paths: Optional[Mapping[str, str]]):
    """A function of a table's file name: (the input it names, or None; the
    inputs it could be, or None; "path", or "name" for a bare file name). It
    names an input by its key, else its key's NFC form (:func:`name_form`),
    else by a file's path (``paths``: {input key: its file}): the input's
    own path, else the file itself (symlinks resolved) when one input is it
    (was: the last symlink to it took the boxes of its own path); else by
    the input's bare file name (in NFC too) when one input has it."""
    keys = set(inputs)
    by_key, key_clashes = _unique(inputs, name_form)
    by_name, name_clashes = _unique(inputs, lambda key: name_form(os.path.basename(key)))
    paths = paths or {}  # Its own path first: a symlink to it is another input.
    by_path = {name_form(os.path.abspath(path)): key for key, path in paths.items()}
    by_file, file_clashes = _unique(list(paths), lambda k: name_form(os.path.realpath(paths[k])))

    def named(entry: str) -> tuple[Optional[str], Optional[list[str]], str]:
        form, path = name_form(entry), os.path.expanduser(entry)
        if entry in keys:
            return entry, None, "path"
        file = name_form(os.path.realpath(path))
        found = by_key.get(form) or by_path.get(name_form(os.path.abspath(path))) or \
            by_file.get(file)
        if found is None and "/" not in form and form in by_name:
            return by_name[form], None, "name"
        return found, None if found else (key_clashes.get(form) or file_clashes.get(file)
                                          or name_clashes.get(form)), "path"
    return named


def _frame_entries(table: Mapping, inputs: Sequence[str], source: str,
                   image_ids: Optional[Mapping[str, int]],
                   paths: Optional[Mapping[str, str]]) -> dict[str, tuple]:
    """{frame key of an input (``clip.mp4#3``): (entry, ...)} for the
    entries that key a video's frame: the video part is matched as any entry
    is (its path relative to --input, a file path, a bare name), the frame
    number read as a number (``#03`` is frame 3)."""
    frames = {entry: video_of_frame(entry) for entry in table
              if isinstance(entry, str) and video_of_frame(entry)}
    owner = {}  # {video part: input key}; each on its own (several may name one video).
    for video in dict.fromkeys(frames.values()):
        owner.update({entry: key for key, entries in match_entries(
            {video: None}, inputs, source, image_ids, paths).items() for entry in entries})
    found: dict = {}
    for entry, video in frames.items():
        if video in owner:
            found.setdefault(frame_key(owner[video], frame_number(entry)), []).append(entry)
    return {key: tuple(entries) for key, entries in found.items()}


def _is_loaded(value: Any) -> bool:
    """A ``(boxes (M, 4), scores (M,)[, categories (M,)])`` tuple, not a
    boxes file's list; ``([], [])``, an image without boxes, too (was taken
    for a file's entry: the whole table refused as holding no box)."""
    return isinstance(value, tuple) and len(value) in (2, 3) and (
        np.ndim(value[0]) == 2 or np.size(value[0]) == 0)


def _loaded_entry(key: Key, value: tuple, bad: list) -> tuple:
    """A loaded entry as (boxes (M', 4) float32, scores (M',) float32[, categories
    (M',) int64]) arrays as ``Detections`` checks them, without the entries a file
    skips (:func:`valid_box`), named in ``bad``. Were kept: lists failed in ``detect``,
    a negative width ran, a NaN score was dropped uncounted."""
    try:
        found = Detections(*value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"boxes entry {key!r}: {e}; expected (boxes (M, 4) [x, y, w, h], "
                         "scores (M,)[, categories (M,)])") from e
    ok = np.array([valid_box(b, s) is not None for b, s in zip(found.boxes, found.scores)], bool)
    bad.extend(f"{key!r} box {i}" for i in np.flatnonzero(~ok))
    return tuple(a[ok] for a in (found.boxes, found.scores, found.categories) if a is not None)


def _merged(rows: Sequence[tuple]) -> tuple:
    """One input's table rows as one (boxes (M, 4), scores (M,), categories
    (M,) or None); a row without categories has ``NO_CATEGORY`` beside others."""
    boxes = np.concatenate([np.reshape(row[0], (-1, 4)) for row in rows])
    scores = np.concatenate([row[1] for row in rows])
    if all(len(row) == 2 for row in rows):
        return boxes, scores, None
    return boxes, scores, np.concatenate([row[2] if len(row) == 3 else np.full(
        len(row[1]), NO_CATEGORY) for row in rows]).astype(np.int64)


class FormatWatch:
    """Says once when a boxes file's boxes look like another format than
    [x, y, w, h] in pixels (:func:`warn_box_format`: evaluate.py's rule and
    words), which needs their images' sizes: gathered as images are
    detected, checked when every entry the run uses has been seen or
    ``SAMPLE`` boxes have (a long video's need not all be read). Was
    silent: [x1, y1, x2, y2] or fractions of the image ran as people in
    the wrong places.

    Args:
      path: the boxes file, named in the warning; entries: the entries the
        run uses (bound), else all the table's.
    """

    # Enough for the rule's shares (more than 20% past the edge, every box
    # a fraction): right boxes fall far short in any 100.
    SAMPLE = 100

    def __init__(self, path: str, entries: Sequence[Key]):
        self.path, self.unseen = path, set(entries)
        self.boxes: list = []  # (M, 4) each: an entry's boxes, as the file gives them.
        self.sizes: list = []  # (M, 2) each: their image's width and height.
        self.count = 0  # Boxes seen (a sum over boxes made hours of frames quadratic).
        self.done = False

    def saw(self, entries: Sequence[Key], table: Mapping, image_hw: Sequence[int]) -> None:
        """Takes the boxes of ``entries`` on an image of ``image_hw`` (height,
        width), each entry once; checks all it took once enough are seen."""
        if self.done:
            return
        for entry in (e for e in entries if e in self.unseen):
            self.unseen.discard(entry)
            self.boxes.append(np.reshape(table[entry][0], (-1, 4)))
            self.sizes.append(np.tile([image_hw[1], image_hw[0]], (len(self.boxes[-1]), 1)))
            self.count += len(self.boxes[-1])
        if not self.boxes or (self.unseen and self.count < self.SAMPLE):
            return
        self.done = True
        warn_box_format(self.path, np.concatenate(self.boxes), np.concatenate(self.sizes))
        self.boxes, self.sizes = [], []


class FileDetector(PersonDetector):
    """Person boxes read from a file (or given as a table).

    :meth:`bind` matches the whole list of inputs at once (so that a bare
    file name or image id shared by several inputs is an error); without it
    each source is matched on its own, by key, file name or the number in
    its name. An input with no entry has no people (empty ``Detections``).

    Args:
      boxes: a boxes file's path (str or Path; ``load_detection_file``), a loaded
        ``{key: (boxes (M, 4), scores (M,)[, categories (M,)])}``, or the file's own form
        ``{file name: [[x, y, w, h], ...]}``.
      score_threshold: boxes scoring below it are ignored.
      nms_iou_threshold: NMS IoU; None (default): the boxes as given.
      max_detections: at most this many per image, best first; None: all.
      category_ids: the COCO results' categories kept (the model's keypoint
        categories; default COCO's person, 1).
    """

    def __init__(self, boxes: Union[str, os.PathLike, Mapping], score_threshold: float = 0.0,
                 nms_iou_threshold: Optional[float] = None,
                 max_detections: Optional[int] = None, category_ids: Sequence[int] = (1,)):
        check_filter(score_threshold, nms_iou_threshold, max_detections)
        boxes = os.fsdecode(boxes) if isinstance(boxes, os.PathLike) else boxes  # A Path was an
        if not isinstance(boxes, (str, Mapping)):  # AttributeError: "a boxes file path".
            raise TypeError(f"boxes: expected a file path or a mapping, got {type(boxes).__name__}")
        self.path = boxes if isinstance(boxes, str) else "boxes"
        if isinstance(boxes, str):
            self.table = load_detection_file(boxes, category_ids)
        elif all(_is_loaded(value) for value in boxes.values()):
            bad: list = []
            self.table = {key: _loaded_entry(key, value, bad) for key, value in boxes.items()}
            warn_skipped(self.path, bad)
        else:  # The file's own form: {name: [[x, y, w, h], ...]}, lists or arrays.
            self.table = detections_from_json(
                {name: value.tolist() if isinstance(value, np.ndarray) else value
                 for name, value in boxes.items()}, self.path, category_ids)
        self.score_threshold = score_threshold
        self.nms_iou_threshold = nms_iou_threshold
        self.max_detections = max_detections
        self.matched: Optional[dict[str, tuple]] = None
        # Boxes the file gives that scored below ``score_threshold``, and
        # that miss their image (another image's pixels?): not run; the
        # user's boxes, so the run says how many.
        self.below_threshold = 0
        self.off_image = 0
        self._counted: set = set()  # Calibration detects the inputs once more than the run.
        self.format_watch = FormatWatch(self.path, list(self.table))

    def bind(self, inputs: Sequence[str], image_ids: Optional[Mapping[str, int]] = None,
             paths: Optional[Mapping[str, str]] = None) -> dict[str, tuple]:
        """Matches the table to the inputs (see :func:`match_entries`);
        returns {input key: (entry, ...)}. Entries matching no input are
        logged, the first 5 named (was: only a count, unless none matched)."""
        self.matched = match_entries(self.table, list(inputs), self.path, image_ids, paths)
        used = {entry for entries in self.matched.values() for entry in entries}
        self.format_watch = FormatWatch(self.path, list(used))
        unused = [entry for entry in self.table if entry not in used]
        if unused:
            # None matched: how entries match, an entry and an input side by
            # side (a folder's own name in every entry matched nothing, unsaid).
            hint = ("" if self.matched or not inputs else
                    f" (an entry names an input by its path relative to --input, by a file's "
                    f"path, or by its bare file name, an image also by its number, a video's "
                    f"frame as <video>#<n>: entry {next(iter(self.table))!r}, input "
                    f"{next(iter(inputs))!r})")
            logging.warning("%s: %d of its %d images match no input: %s%s%s", self.path,
                            len(unused), len(self.table), ", ".join(map(repr, unused[:5])),
                            f" and {len(unused) - 5} more" if len(unused) > 5 else "", hint)
        return self.matched

    def _entries(self, source: Source) -> tuple:
        """The table entries ``source`` (an input key, or a table key) runs on."""
        if not isinstance(source, str):
            return (source,) if source in self.table else ()
        matched = self.matched
        if matched is None:
            matched = match_entries(self.table, [source], self.path)
        return matched.get(source, ())

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
        keys = self.matched if self.matched is not None else {e: (e,) for e in self.table}
        return sorted((entry for key, entries in keys.items() if isinstance(key, str)
                       and video_of_frame(key) == video and frame_number(key) >= count
                       for entry in entries), key=str)

    def has_entry(self, source: Source) -> bool:
        """Whether the file has boxes for ``source`` (before any filter)."""
        return bool(self._entries(source))

    def image_id(self, source: str) -> Optional[int]:
        """The image id the file gives an input's entries: an entry keyed by
        id, or a COCO record's ``image_id`` beside its ``file_name``."""
        ids = (entry if isinstance(entry, int) else getattr(entry, "image_id", None)
               for entry in self._entries(source))
        return next((image_id for image_id in ids if image_id is not None), None)

    def detect(self, image: np.ndarray, source: Source = None) -> Detections:
        """The boxes of ``source`` (an input key, or a table key)."""
        check_rgb_image(image)
        entries = self._entries(source)
        rows = [self.table[entry] for entry in entries]
        if not rows:
            return Detections.empty()
        self.format_watch.saw(entries, self.table, image.shape[:2])
        boxes, scores, categories = _merged(rows)
        on_image = ~transforms.boxes_off_image(boxes, *image.shape[:2])
        counted, boxes, scores = source in self._counted, boxes[on_image], scores[on_image]
        self._counted.add(source)
        self.off_image += 0 if counted else int(np.sum(~on_image))
        categories = None if categories is None else categories[on_image]
        self.below_threshold += 0 if counted else int(np.sum(scores < self.score_threshold))
        return filter_detections(boxes, scores, self.score_threshold, self.nms_iou_threshold,
                                 self.max_detections, categories)
