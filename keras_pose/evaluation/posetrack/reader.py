"""Reading and checking PoseTrack18 JSON, one file per video sequence.

The rules (joints by name, labelled frames, head size, what is malformed)
are those of poseval's ``convert.py`` and ``eval_helpers.py``; the package
docstring (``keras_pose.evaluation.posetrack``) states them. Every problem
is a ``PoseTrackFormatError`` naming the file and the entry.

Shapes: P people of a frame, J = 15 joints, K keypoints in the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from keras_pose import log as logging
from keras_pose.configs.keypoints import keypoint_keys
from keras_pose.errors import UserError
from keras_pose.json_values import fits_int64, is_int

HEAD_SIZE_FACTOR = 0.6  # Head size = 0.6 x head box diagonal.

# poseval's 15 joints, in its order (eval_helpers.Joint); "head_bottom" is the
# PoseTrack18 name of poseval's "neck".
JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee",
    "left_ankle", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist", "head_bottom", "nose",
    "head_top")
NUM_JOINTS = len(JOINT_NAMES)

Source = Union[str, os.PathLike, Mapping[str, Any], "PoseTrackSequence"]


class PoseTrackFormatError(UserError, ValueError):
    """A malformed PoseTrack file; the message names the file and entry."""


@dataclasses.dataclass(frozen=True)
class People:
    """The people of one frame, in the order of the file's annotations.

    Attributes:
      track_ids: (P,) int64.
      joints: (P, J, 2) float64 x, y in pixels, poseval's joint order.
      present: (P, J) bool, the joint is annotated / predicted.
      scores: (P, J) float64 keypoint scores (predictions).
      head_sizes: (P,) float64, 0.6 x head box diagonal (NaN without box).
    """

    track_ids: np.ndarray
    joints: np.ndarray
    present: np.ndarray
    scores: np.ndarray
    head_sizes: np.ndarray

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])

    def select(self, keep: np.ndarray, present: np.ndarray) -> "People":
        """The people ``keep`` (P,) bool with ``present`` replaced by (P, J)."""
        return People(self.track_ids[keep], self.joints[keep], present[keep],
                      self.scores[keep], self.head_sizes[keep])


@dataclasses.dataclass(frozen=True)
class Frame:
    """One image of a sequence with its people and ignore regions.

    ``ignore_regions`` holds one (V, 2) float64 polygon per region.
    """

    image_id: Any
    file_name: str
    people: People
    ignore_regions: tuple[np.ndarray, ...] = ()


@dataclasses.dataclass(frozen=True)
class PoseTrackSequence:
    """One PoseTrack18 JSON file: ``name`` (for messages) and its frames."""

    name: str
    frames: tuple[Frame, ...]


def _fail(where: str, message: str) -> PoseTrackFormatError:
    return PoseTrackFormatError(f"{where}: {message}")


def _numbers(value: Any, where: str, key: str,
             length: Optional[int] = None) -> np.ndarray:
    """A list of finite JSON numbers as float64, or a PoseTrackFormatError."""
    if not isinstance(value, (list, tuple)):
        raise _fail(where, f"'{key}' must be a list of numbers, got "
                    f"{type(value).__name__}")
    if length is not None and len(value) != length:
        raise _fail(where, f"'{key}' has {len(value)} values, expected {length}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in value):
        raise _fail(where, f"'{key}' holds a value that is not a number")
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise _fail(where, f"'{key}' holds a non-finite number")
    return array


def _require(entry: Any, key: str, where: str) -> Any:
    if not isinstance(entry, Mapping):
        raise _fail(where, f"must be an object, got {type(entry).__name__}")
    if key not in entry:
        raise _fail(where, f"missing key '{key}'")
    return entry[key]


def _joint_table(data: Mapping[str, Any], name: str, ground_truth: bool) -> np.ndarray:
    """(K,) int: poseval joint index of each file keypoint, -1 if dropped."""
    categories = _require(data, "categories", name)
    if not isinstance(categories, list) or len(categories) != 1:
        raise _fail(f"{name}: categories", "must hold exactly one category "
                    "(person), as poseval requires")
    where = f"{name}: categories[0]"
    if _require(categories[0], "name", where) != "person":
        raise _fail(where, "'name' must be 'person'")
    names = _require(categories[0], "keypoints", where)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _fail(where, "'keypoints' must be a list of keypoint names")
    mismatch = keypoint_mismatch(names, ground_truth)
    if mismatch:
        raise _fail(where, mismatch)
    if ground_truth and len(names) not in (15, 17):  # poseval's. Predictions: by name (an
        raise _fail(where, "'keypoints' must list 15 or 17 keypoint names")  # older K=19's).
    table = np.asarray(joint_indices(names), dtype=np.int64)
    if len(set(table[table >= 0].tolist())) < np.sum(table >= 0):  # "nose" and "Nose".
        raise _fail(where, f"'keypoints' must name each of {JOINT_NAMES} once")
    return table


def joint_indices(names: Sequence[str]) -> list[int]:
    """(K,) poseval joint index of each name in any style (keypoint_keys), else -1."""
    joint_of = {key: j for j, key in enumerate(keypoint_keys(JOINT_NAMES))}
    return [joint_of.get(key, -1) for key in keypoint_keys([str(n) for n in names])]


def keypoint_mismatch(names: Sequence[str], ground_truth: bool = False) -> Optional[str]:
    """Why keypoints of these names (in any style: was exact) cannot be evaluated as
    PoseTrack18's (None: they can), with the way out: of a model's (predictions';
    also said by ``predict.py --track`` before it runs), or of a ``ground_truth`` file's."""
    missing = [JOINT_NAMES[j] for j in sorted(set(range(NUM_JOINTS)) - set(joint_indices(names)))]
    if not missing:
        return None
    said = (f"the keypoints {list(names)} are not PoseTrack18's: {missing} are missing"
            f"{' (these are COCO keypoints)' if {'left_eye', 'right_eye'} <= set(names) else ''}")
    if ground_truth:  # Was the model's advice (fine-tune one): no model wrote this file.
        return (f"{said}. A ground-truth file must label PoseTrack18's keypoints, {missing} "
                "among them: give the sequence's PoseTrack18 annotation file "
                "(annotations/val/<sequence>.json), or label those keypoints in it")
    return (f"{said}. PoseTrack evaluation needs a model with PoseTrack18's 15 joints (nose, "
            "head_bottom, head_top, the limbs' 12; no ears): fine-tune a COCO model on "
            "PoseTrack18 as the paper did, or use a PoseTrack18 model (preset or converted "
            "checkpoint)")


def _track_id(entry: Mapping[str, Any], where: str) -> int:
    value = _require(entry, "track_id", where)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not is_int(value):
        raise _fail(where, f"'track_id' must be an integer, got {value!r}")
    if not fits_int64(value):  # Kept as int64 (was numpy's OverflowError).
        raise _fail(where, f"'track_id' {value} does not fit a 64-bit integer: renumber the "
                           "tracks")
    return value


def _head_size(entry: Mapping[str, Any], where: str, required: bool) -> float:
    if "bbox_head" not in entry:
        if required:
            raise _fail(where, "missing key 'bbox_head' (the head box sets the "
                        "PCKh distance unit)")
        return math.nan
    x1, y1, w, h = _numbers(entry["bbox_head"], where, "bbox_head", 4)
    # poseval goes through corners (x2 = x1 + w) and np.linalg.norm.
    return HEAD_SIZE_FACTOR * float(np.linalg.norm([(x1 + w) - x1, (y1 + h) - y1]))


def _keypoint_scores(entry: Mapping[str, Any], values: np.ndarray,
                     where: str) -> np.ndarray:
    """(K,) scores: ``scores`` when given and non-empty, else third values."""
    scores = entry.get("scores")
    if scores is None or (isinstance(scores, list) and not scores):
        return values[:, 2]
    return _numbers(scores, where, "scores", values.shape[0])


def _person(entry: Any, where: str, table: np.ndarray,
            ground_truth: bool) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, float]:
    """(track id, joints (J, 2), present (J,), scores (J,), head size)."""
    track_id = _track_id(entry, where)
    num_keypoints = table.shape[0]
    values = _numbers(_require(entry, "keypoints", where), where, "keypoints",
                      3 * num_keypoints).reshape(num_keypoints, 3)
    scores = _keypoint_scores(entry, values, where)
    head_size = _head_size(entry, where, required=ground_truth)
    kept = table >= 0
    joints = np.zeros((NUM_JOINTS, 2))
    present = np.zeros(NUM_JOINTS, dtype=bool)
    joint_scores = np.zeros(NUM_JOINTS)
    rows = values[kept]
    joints[table[kept]] = rows[:, :2]
    # poseval's converter skips exactly the (0, 0, 0) keypoints.
    present[table[kept]] = ~np.all(rows == 0, axis=1)
    joint_scores[table[kept]] = scores[kept]
    return track_id, joints, present, joint_scores, head_size


def _stack_people(people: Sequence[tuple]) -> People:
    if not people:
        return People(np.zeros(0, np.int64), np.zeros((0, NUM_JOINTS, 2)),
                      np.zeros((0, NUM_JOINTS), bool), np.zeros((0, NUM_JOINTS)),
                      np.zeros(0))
    ids, joints, present, scores, heads = zip(*people)
    return People(np.asarray(ids, np.int64), np.stack(joints), np.stack(present),
                  np.stack(scores), np.asarray(heads, np.float64))


def _ignore_regions(image: Mapping[str, Any], where: str) -> tuple[np.ndarray, ...]:
    """One (V, 2) polygon per region, as poseval zips the x and y lists."""
    if "ignore_regions_x" not in image or "ignore_regions_y" not in image:
        return ()
    xs, ys = image["ignore_regions_x"], image["ignore_regions_y"]
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise _fail(where, "'ignore_regions_x' and 'ignore_regions_y' must be "
                    "lists of as many polygons")
    regions = []
    for r, (x, y) in enumerate(zip(xs, ys)):
        key = f"ignore_regions_x/y[{r}]"
        x = _numbers(x, where, key.replace("x/y", "x"))
        y = _numbers(y, where, key.replace("x/y", "y"), len(x))
        if 0 < len(x) < 3:
            raise _fail(where, f"{key} has {len(x)} points; a polygon needs 3")
        regions.append(np.stack([x, y], axis=1))
    return tuple(regions)


def _video_of(file_name: str) -> str:
    """poseval's video id: the image directory's name up to its first '_'."""
    return os.path.basename(os.path.dirname(file_name)).split("_")[0]


def _read_images(data: Mapping[str, Any], name: str) -> list[tuple[Any, str, tuple]]:
    images = _require(data, "images", name)
    if not isinstance(images, list):
        raise _fail(name, "'images' must be a list")
    out, seen = [], set()
    for i, image in enumerate(images):
        where = f"{name}: images[{i}]"
        image_id = _require(image, "id", where)
        file_name = _require(image, "file_name", where)
        if not isinstance(file_name, str):
            raise _fail(where, "'file_name' must be a string")
        if not isinstance(image_id, (int, str)) or image_id in seen:
            raise _fail(where, f"'id' {image_id!r} is not a unique integer or string")
        seen.add(image_id)
        out.append((image_id, file_name, _ignore_regions(image, where)))
    videos = sorted({_video_of(f) for _, f, _ in out})
    if len(videos) > 1:
        raise _fail(name, f"images of several videos {videos}; poseval "
                    "evaluates only the first, give one file per sequence")
    return out


def _kind(value: Any) -> str:
    return "a string" if isinstance(value, str) else "a number"


def _type_hint(value: Any, ids: Iterable[Any], what: str) -> str:
    """Says so when ``value`` is one of ``ids`` written with another type
    ("1000" and 1000): was only "is not the id", the types unsaid."""
    same = [i for i in ids if isinstance(i, (int, str)) and type(i) is not type(value)
            and str(i) == str(value)]
    if not same:
        return ""
    return (f": the types differ, {value!r} is {_kind(value)} and {what} {same[0]!r} is "
            f"{_kind(same[0])}; write the ids with one type (all numbers or all strings)")


def _read_people(data: Mapping[str, Any], name: str, image_ids: Iterable[Any],
                 table: np.ndarray, ground_truth: bool) -> dict[Any, People]:
    annotations = _require(data, "annotations", name)
    if not isinstance(annotations, list):
        raise _fail(name, "'annotations' must be a list")
    by_image: dict[Any, list] = {image_id: [] for image_id in image_ids}
    for a, entry in enumerate(annotations):
        where = f"{name}: annotations[{a}]"
        image_id = _require(entry, "image_id", where)
        if not isinstance(image_id, (int, str)) or image_id not in by_image:
            raise _fail(where, f"'image_id' {image_id!r} is not the id of an image"
                        + _type_hint(image_id, by_image, "the image's 'id'"))
        by_image[image_id].append(_person(entry, where, table, ground_truth))
    return {image_id: _stack_people(people) for image_id, people in by_image.items()}


def read_sequence(data: Mapping[str, Any], name: str = "<sequence>",
                  ground_truth: bool = True) -> PoseTrackSequence:
    """Reads one PoseTrack18 sequence from its parsed JSON.

    Args:
      data: the JSON object (``images``, ``annotations``, ``categories``).
      name: what error messages call it (the file name).
      ground_truth: require ``bbox_head`` on every person; read ignore
        regions (they are only ever taken from the ground truth).

    Returns:
      The sequence, frames in the order of ``images``.

    Raises:
      PoseTrackFormatError: naming ``name`` and the entry.
    """
    if not isinstance(data, Mapping):
        raise _fail(name, "must be a JSON object with 'images', 'annotations' "
                    "and 'categories'")
    _refuse_posetrack17(data, name)
    table = _joint_table(data, name, ground_truth)
    images = _read_images(data, name)
    people = _read_people(data, name, [i for i, _, _ in images], table, ground_truth)
    if ground_truth:
        _warn_zero_heads(name, people)
    frames = tuple(Frame(image_id, file_name, people[image_id],
                         regions if ground_truth else ())
                   for image_id, file_name, regions in images)
    return PoseTrackSequence(name, frames)


def _refuse_posetrack17(data: Mapping[str, Any], name: str) -> None:
    """PoseTrack 2017's layout ('annolist'): was "missing key 'categories'"."""
    if "annolist" in data and "categories" not in data and "images" not in data:
        raise _fail(name, "this is the PoseTrack 2017 layout ('annolist'), which is not read; "
                    "convert it to the PoseTrack 2018 layout ('images', 'annotations', "
                    "'categories') first, e.g. with poseval's py/convert.py: python convert.py "
                    "<this file or its folder> --out_fp <new folder>")


def _warn_zero_heads(name: str, people: Mapping[Any, People]) -> None:
    """Ground-truth people with labelled joints and a head box of zero size:
    no prediction can ever match them (distance / 0 head size; poseval
    scores them so too), which was silent: they count as misses."""
    unmatchable = [image_id for image_id, p in people.items()
                   for head, present in zip(p.head_sizes, p.present)
                   if present.any() and not head > 0]
    if unmatchable:
        logging.warning(
            "%s: %d ground-truth person(s) with labelled joints have a 'bbox_head' of zero "
            "size (images %s): no prediction can match them, so they count as misses (as in "
            "poseval); fix their head boxes to score them", name, len(unmatchable),
            ", ".join(str(i) for i in sorted(set(unmatchable), key=str)[:5])
            + (" ..." if len(set(unmatchable)) > 5 else ""))


def load_sequence(source: Source, ground_truth: bool = True,
                  name: Optional[str] = None) -> PoseTrackSequence:
    """Reads a sequence from a JSON file path, a parsed dict, or passes one on.

    Raises:
      FileNotFoundError: the file does not exist.
      PoseTrackFormatError: malformed JSON or content, naming file and entry.
    """
    if isinstance(source, PoseTrackSequence):
        return source
    if isinstance(source, Mapping):
        default = "<ground truth>" if ground_truth else "<predictions>"
        return read_sequence(source, name or default, ground_truth)
    path = os.fspath(source)
    with open(path, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
        try:
            data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:  # JSON is UTF-8 text.
            raise PoseTrackFormatError(f"{path}: not valid JSON: {e}") from e
    return read_sequence(data, name or path, ground_truth)


def check_predictions(gt: PoseTrackSequence, pred: PoseTrackSequence) -> None:
    """Checks that ``pred`` pairs frame by frame with ``gt`` (same count,
    same id or file name at each position, not the frames of the ground
    truth in another order) and has unique track ids per frame (the ground
    truth's: ``metric.check_ground_truth_ids``)."""
    _check_sequence(gt, pred)
    if len(gt.frames) != len(pred.frames):
        raise PoseTrackFormatError(
            f"{pred.name}: {len(pred.frames)} images, but the ground truth "
            f"{gt.name} has {len(gt.frames)}; frames are paired by position"
            + _frames_differing(gt, pred))
    gt_names = {}
    for i, g in enumerate(gt.frames):
        gt_names.setdefault(os.path.basename(g.file_name), i)
    for i, (g, p) in enumerate(zip(gt.frames, pred.frames)):
        where = f"{pred.name}: images[{i}]"
        problem = _pairing_problem(g, p, gt_names)
        if problem:
            raise _fail(where, _renumbered(gt, pred) or problem)
        ids = p.people.track_ids
        if len(np.unique(ids)) != len(ids):
            raise _fail(where, f"non-unique track ids {ids.tolist()} in one frame")


def _check_sequence(gt: PoseTrackSequence, pred: PoseTrackSequence) -> None:
    """Refuses predictions whose frames are another PoseTrack sequence's:
    both files' folders name sequences by number (``000522_mpii_test``) and
    the numbers differ. PoseTrack numbers every sequence's frames from
    ``000000.jpg``, so a file of another sequence was paired by its bare
    names and scored against this one, in silence. Folders that name no
    sequence by number (predict.py's, a video's) are paired as before."""
    if not gt.frames or not pred.frames:
        return
    gt_video, pred_video = _video_of(gt.frames[0].file_name), _video_of(pred.frames[0].file_name)
    if gt_video.isdigit() and pred_video.isdigit() and gt_video != pred_video:
        raise PoseTrackFormatError(
            f"{pred.name}: its frames are of sequence {pred_video} "
            f"('{pred.frames[0].file_name}'), the ground truth {gt.name} is sequence "
            f"{gt_video} ('{gt.frames[0].file_name}'): give the predictions of sequence "
            f"{gt_video}")


def _frames_differing(gt: PoseTrackSequence, pred: PoseTrackSequence, shown: int = 5) -> str:
    """Which ground-truth frames (by file name) the predictions lack, and
    which of theirs the ground truth has not (a frame missing from a long
    sequence was left to the user to find); "" when names cannot tell."""
    gt_names = [os.path.basename(f.file_name) for f in gt.frames]
    pred_names = [os.path.basename(f.file_name) for f in pred.frames]
    gt_set, pred_set = set(gt_names), set(pred_names)
    missing = [n for n in gt_names if n not in pred_set]
    extra = [n for n in pred_names if n not in gt_set]
    if len(missing) == len(gt_names):  # Other names altogether (a video's frames).
        return ""
    said = [f"{what} {', '.join(names[:shown])}" + (" ..." if len(names) > shown else "")
            for what, names in (("missing:", missing), ("not in the ground truth:", extra))
            if names]
    return f" ({'; '.join(said)})" if said else ""


def _numbered(file_name: str) -> Optional[re.Match]:
    """The base name split at its last run of digits (the frame number)."""
    return re.fullmatch(r"(.*?)(\d+)(\D*)", os.path.basename(file_name))


def _renumbered(gt: PoseTrackSequence, pred: PoseTrackSequence) -> Optional[str]:
    """Says so when every prediction frame is named as the ground truth's of
    its position but numbered one constant apart: frames extracted by ffmpeg
    from 000001.jpg (its default) for a ground truth from 000000.jpg were
    "listed in another order", to be reordered (predict.py cannot)."""
    names = [(_numbered(g.file_name), _numbered(p.file_name))
             for g, p in zip(gt.frames, pred.frames)]
    if not names or not all(g and p and g[1] + g[3] == p[1] + p[3] for g, p in names):
        return None
    offsets = {int(p[2]) - int(g[2]) for g, p in names}
    if len(offsets) != 1 or offsets == {0}:
        return None
    first, (g, p), offset = gt.frames[0].file_name, names[0], offsets.pop()
    return (f"every frame's number is {abs(offset)} {'above' if offset > 0 else 'below'} that "
            f"of the ground truth's frame at its position ('{pred.frames[0].file_name}' is "
            f"paired with '{first}': frames pair by position): the frames are numbered from "
            f"{int(p[2])} (ffmpeg numbers from 1 unless given -start_number), the ground "
            f"truth's from {int(g[2])}. Name the frames as the ground truth does, from "
            f"{os.path.basename(first)} (e.g. ffmpeg -i VIDEO -start_number {int(g[2])} "
            f"{g[1]}%0{len(g[2])}d{g[3]}, or rename them), and rerun predict.py --track")


def _pairing_problem(g: Frame, p: Frame, gt_names: Mapping[str, int]) -> Optional[str]:
    """Why prediction frame ``p`` is not ground-truth frame ``g`` of its
    position (None: it is). Frames pair by position, as in poseval; the id
    or the base file name must agree, and a file name that is another
    ground-truth frame's means the frames are in another order."""
    name = os.path.basename(p.file_name)
    if name == os.path.basename(g.file_name):
        return None
    if g.image_id == p.image_id:
        if name not in gt_names:  # The tracker's own names (predict.py's video frames).
            return None
        # Was accepted on the id alone: every frame scored against another (AP 11, MOTA 0).
        return (f"id {p.image_id!r} is that of ground-truth image {g.file_name!r}, but its "
                f"file name {p.file_name!r} is that of ground-truth images[{gt_names[name]}]: "
                "the frames are listed in another order and are paired by position (as "
                "poseval); list the frames in the ground truth's order, each with the "
                "ground truth's id for that frame")
    if name in gt_names:  # Its own name and id, at another frame's position.
        return (f"'{p.file_name}' (id {p.image_id!r}) is ground-truth images[{gt_names[name]}],"
                f" not the frame at this position ('{g.file_name}', id {g.image_id!r}): the "
                "frames are listed in another order and are paired by position (as poseval); "
                "list the frames in the ground truth's order")
    return (f"id {p.image_id!r} / '{p.file_name}' is neither the id nor the file name of "
            f"ground-truth image {g.image_id!r} / '{g.file_name}' at that position"
            + (_type_hint(p.image_id, [g.image_id], "the ground truth's id")
               or f" (name the frames as the ground truth does, e.g. "
                  f"{os.path.basename(g.file_name)}, or give its image ids)"))
