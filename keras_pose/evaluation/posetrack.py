"""PoseTrack evaluation (per-joint AP and MOTA) as the official ``poseval``.

The numbers are those of poseval's ``evaluate.py --evalPoseEstimation
--evalPoseTracking`` (leonid-pishchulin/poseval, ``eval_helpers.py``,
``evaluateAP.py``, ``evaluateTracking.py``, ``convert.py``) on PoseTrack18
JSON files, one file per video sequence, read with the same rules:

- **Joints.** poseval evaluates 15 joints, in its order (``JOINT_NAMES``):
  right_ankle, right_knee, right_hip, left_hip, left_knee, left_ankle,
  right_wrist, right_elbow, right_shoulder, left_shoulder, left_elbow,
  left_wrist, head_bottom (poseval's "neck"), nose, head_top. They are found
  by *name* in the file's ``categories[0].keypoints`` (15 or 17 names); the
  ears of the 17-keypoint PoseTrack18 layout are dropped. A keypoint counts
  as annotated (or predicted) unless it is exactly ``(0, 0, 0)``: a
  visibility of 0 with non-zero coordinates still counts, as in poseval.
- **Frames.** Ground truth and predictions are paired by their position in
  ``images`` (the counts must agree). Only frames whose ground truth holds at
  least one person annotation are evaluated; that is poseval's notion of a
  labelled frame (``is_labeled`` itself is not read by poseval, nor here).
- **Head size** is 0.6 x the diagonal of ``bbox_head`` [x, y, w, h]; a
  joint matches when its distance / head size <= 0.5 (PCKh@0.5).
- **Ignore regions** (``ignore_regions_x`` / ``_y`` of a ground-truth image,
  one polygon per list): in a frame with at least one polygon, every
  predicted *and* ground-truth joint strictly inside a polygon (shapely's
  ``contains``) is dropped, then every person left without joints.
- **AP** (evaluateAP): per frame, each prediction picks the ground-truth
  person of highest PCKh (the fraction of that person's annotated joints it
  matches), each ground-truth person keeps the best of the predictions that
  picked it; every joint of a kept prediction is a true positive when it
  matches, every joint of any other prediction a false positive. Per joint,
  the scored labels of all frames of all sequences are pooled, sorted by
  score, and AP is the VOC area under the interpolated precision/recall
  curve, in percent. Total = mean over the 15 joints (NaN ones left out);
  the groups (Head = head_top, head_bottom, nose; Shoulder ... Ankle = left
  and right) are plain means.
- **MOTA** (evaluateTracking): one ``motmetrics.MOTAccumulator`` per joint
  and sequence, fed frame by frame with the ground-truth and predicted track
  ids that have this joint and their normalised distances (NaN beyond 0.5).
  Misses, switches, false positives, objects, detections and the summed
  distances are added up over the sequences, then MOTA = 100 (1 - (misses +
  switches + false positives) / objects), MOTP = 100 (1 - distance sum /
  detections), precision = 100 detections / (detections + false positives),
  recall = 100 detections / objects, per joint; Total = mean over joints.

poseval's quirks, reproduced because they are in the official numbers:

1. **The last evaluated frame of every sequence is left out of the tracking
   metrics** (``imgidxs[:-1]``); AP uses every frame.
2. **A frame without any predicted person** (or whose ground truth is empty
   after the ignore regions) feeds every joint's accumulator one dummy
   ground-truth object and one dummy hypothesis that never match: one miss
   and one false positive per joint, however many people the frame has.
3. **MOTP's distance sum is** ``accumulator.events['D'].sum()``, which
   includes motmetrics' RAW events: every ground-truth/prediction pair within
   0.5 head sizes counts once as a raw distance and once more when matched
   (and, in motmetrics 1.4, again in its TRANSFER/ASCEND/MIGRATE events).
   MOTP is therefore not the CLEAR-MOT mean distance; a perfect prediction
   still gives 100.
4. Ties in the AP score sort are broken as NumPy's default ``argsort``
   reversed, over the scores in sequence order: poseval's sequence order is
   its directory listing's, ours the order of ``update`` calls (the
   command-line tool sorts the file names).

Where this module deliberately differs: a prediction without ``scores``
takes its keypoint scores from the third keypoint values (poseval falls back
to -9999 for all, which makes AP depend on tie order); malformed input stops
with a ``PoseTrackFormatError`` naming the file and entry, where poseval
would crash or silently mis-evaluate (an annotation whose ``image_id`` is not
an image, paired frames with neither the same ``id`` nor the same
``file_name`` base name, a file holding several videos, of which poseval evaluates only
the first); poseval's track-id limit (< 10000), which only serves its id
offsets, is not imposed; a sequence with a single evaluated frame adds no
tracking frames (poseval crashes).

Shapes: P people of a frame, J = 15 joints, K keypoints in the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

PCKH_THRESHOLD = 0.5
HEAD_SIZE_FACTOR = 0.6  # Head size = 0.6 x head box diagonal.

# poseval's 15 joints, in its order (eval_helpers.Joint); "head_bottom" is the
# PoseTrack18 name of poseval's "neck".
JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee",
    "left_ankle", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist", "head_bottom", "nose",
    "head_top")
NUM_JOINTS = len(JOINT_NAMES)

# The columns poseval prints (eval_helpers.getCum), as joint indices.
JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (14, 12, 13),
    "Shoulder": (8, 9),
    "Elbow": (7, 10),
    "Wrist": (6, 11),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}
GROUP_NAMES: tuple[str, ...] = tuple(JOINT_GROUPS) + ("Total",)
MOT_COUNT_NAMES: tuple[str, ...] = (
    "num_misses", "num_switches", "num_false_positives", "num_objects",
    "num_detections")

Source = Union[str, os.PathLike, Mapping[str, Any], "PoseTrackSequence"]


class PoseTrackFormatError(ValueError):
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


# ---------------------------------------------------------------------------
# Reading PoseTrack18 JSON.


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


def _joint_table(data: Mapping[str, Any], name: str) -> np.ndarray:
    """(K,) int: poseval joint index of each file keypoint, -1 if dropped."""
    categories = _require(data, "categories", name)
    if not isinstance(categories, list) or len(categories) != 1:
        raise _fail(f"{name}: categories", "must hold exactly one category "
                    "(person), as poseval requires")
    where = f"{name}: categories[0]"
    if _require(categories[0], "name", where) != "person":
        raise _fail(where, "'name' must be 'person'")
    names = _require(categories[0], "keypoints", where)
    if not isinstance(names, list) or len(names) not in (15, 17):
        raise _fail(where, "'keypoints' must list 15 or 17 keypoint names")
    missing = [n for n in JOINT_NAMES if n not in names]
    if missing or len(set(map(str, names))) != len(names):
        raise _fail(where, f"'keypoints' must name each of {JOINT_NAMES} once "
                    f"(missing {missing})")
    return np.asarray([JOINT_NAMES.index(n) if n in JOINT_NAMES else -1
                       for n in names], dtype=np.int64)


def _track_id(entry: Mapping[str, Any], where: str) -> int:
    value = _require(entry, "track_id", where)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(where, f"'track_id' must be an integer, got {value!r}")
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
            raise _fail(where, f"'image_id' {image_id!r} is not the id of an image")
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
    table = _joint_table(data, name)
    images = _read_images(data, name)
    people = _read_people(data, name, [i for i, _, _ in images], table, ground_truth)
    frames = tuple(Frame(image_id, file_name, people[image_id],
                         regions if ground_truth else ())
                   for image_id, file_name, regions in images)
    return PoseTrackSequence(name, frames)


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
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise PoseTrackFormatError(f"{path}: not valid JSON: {e}") from e
    return read_sequence(data, name or path, ground_truth)


# ---------------------------------------------------------------------------
# Frame-wise matching (eval_helpers.assignGTmulti).


def _drop_ignored(people: People, regions: Sequence[Any]) -> People:
    """Drops joints strictly inside a region, then people left without any."""
    import shapely

    x, y = people.joints[..., 0], people.joints[..., 1]
    inside = np.zeros(people.present.shape, dtype=bool)
    for polygon in regions:
        inside |= shapely.contains_xy(polygon, x, y)
    present = people.present & ~inside
    return people.select(present.any(axis=1), present)


def apply_ignore_regions(frame: Frame, predictions: People) -> tuple[People, People]:
    """(ground truth, predictions) of a frame after its ignore regions.

    Without regions nothing changes (people without joints stay, as in
    poseval); with at least one region, joints inside are dropped from both
    and every person left without joints is removed.
    """
    if not frame.ignore_regions:
        return frame.people, predictions
    import shapely

    polygons = [shapely.Polygon(r) if len(r) else shapely.Polygon()
                for r in frame.ignore_regions]
    return _drop_ignored(frame.people, polygons), _drop_ignored(predictions, polygons)


def joint_distances(gt: People, pred: People) -> np.ndarray:
    """(P_pred, P_gt, J) distance / head size, inf where either joint is absent."""
    diff = pred.joints[:, None] - gt.joints[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(np.sum(diff * diff, axis=-1)) / gt.head_sizes[None, :, None]
    both = pred.present[:, None, :] & gt.present[None, :, :]
    return np.where(both, dist, np.inf)


def assign_predictions(match: np.ndarray, gt_present: np.ndarray) -> np.ndarray:
    """poseval's person assignment: (P_pred,) ground-truth index or -1.

    Each prediction keeps only its best ground-truth person by PCKh (matched
    joints / annotated joints of that person, first on ties); each
    ground-truth person then takes the best prediction among those that
    picked it (first on ties), none when that PCKh is 0.

    Args:
      match: (P_pred, P_gt, J) bool, distance <= threshold.
      gt_present: (P_gt, J) bool.
    """
    num_pred, num_gt = match.shape[:2]
    assigned = np.full(num_pred, -1, dtype=np.int64)
    if num_pred == 0 or num_gt == 0:
        return assigned
    annotated = gt_present.sum(axis=1)
    pckh = match.sum(axis=2).astype(np.float64)
    pckh = np.where(annotated > 0, pckh / np.maximum(annotated, 1), pckh)
    rows = np.arange(num_pred)
    best = np.argmax(pckh, axis=1)
    kept = np.zeros_like(pckh)
    kept[rows, best] = pckh[rows, best]
    chosen = np.argmax(kept, axis=0)
    has_match = np.max(kept, axis=0) > 0
    assigned[chosen[has_match]] = np.nonzero(has_match)[0]
    return assigned


@dataclasses.dataclass
class FrameResult:
    """What one frame adds: per joint AP samples, GT counts and MOT input.

    ``mot`` holds, per joint, (ground-truth ids (G,), predicted ids (H,),
    distances (G, H) with NaN for pairs that may not match).
    """

    scores: list[np.ndarray]
    labels: list[np.ndarray]
    num_gt: np.ndarray
    mot: list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _dummy_mot() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    # poseval's stand-in for a frame without predictions (or ground truth).
    one = np.zeros(1, np.int64)
    return [(one, one, np.full((1, 1), np.nan))] * NUM_JOINTS


def evaluate_frame(gt: People, pred: People,
                   threshold: float = PCKH_THRESHOLD) -> FrameResult:
    """Matches one frame's predictions with its ground truth as poseval."""
    dist = joint_distances(gt, pred)
    match = dist <= threshold
    assigned = assign_predictions(match, gt.present)
    labels = np.zeros(pred.present.shape, dtype=bool)
    kept = np.nonzero(assigned >= 0)[0]
    labels[kept] = match[kept, assigned[kept]]
    scores = [pred.scores[pred.present[:, j], j] for j in range(NUM_JOINTS)]
    label_list = [labels[pred.present[:, j], j] for j in range(NUM_JOINTS)]
    if len(gt) == 0 or len(pred) == 0:
        mot = _dummy_mot()
    else:
        pair_dist = np.where(match, dist, np.nan)
        mot = []
        for j in range(NUM_JOINTS):
            g, p = gt.present[:, j], pred.present[:, j]
            mot.append((gt.track_ids[g], pred.track_ids[p], pair_dist[p][:, g, j].T))
    return FrameResult(scores, label_list, gt.present.sum(axis=0), mot)


# ---------------------------------------------------------------------------
# Sequences, tracking counts and the metric.


def _check_predictions(gt: PoseTrackSequence, pred: PoseTrackSequence) -> None:
    if len(gt.frames) != len(pred.frames):
        raise PoseTrackFormatError(
            f"{pred.name}: {len(pred.frames)} images, but the ground truth "
            f"{gt.name} has {len(gt.frames)}; frames are paired by position")
    for i, (g, p) in enumerate(zip(gt.frames, pred.frames)):
        where = f"{pred.name}: images[{i}]"
        same_name = os.path.basename(g.file_name) == os.path.basename(p.file_name)
        if g.image_id != p.image_id and not same_name:
            raise _fail(where, f"id {p.image_id!r} / '{p.file_name}' is neither "
                        f"the id nor the file name of ground-truth image "
                        f"{g.image_id!r} / '{g.file_name}' at that position")
        ids = p.people.track_ids
        if len(np.unique(ids)) != len(ids):
            raise _fail(where, f"non-unique track ids {ids.tolist()} in one frame")


_METRICS_HOST = None


def _metrics_host():
    global _METRICS_HOST
    if _METRICS_HOST is None:
        import motmetrics

        _METRICS_HOST = motmetrics.metrics.create()
    return _METRICS_HOST


def tracking_counts(frames: Sequence[FrameResult]) -> np.ndarray:
    """(J, 6) per joint: misses, switches, false positives, objects,
    detections and summed distance of one sequence's tracking frames."""
    import motmetrics

    counts = np.zeros((NUM_JOINTS, len(MOT_COUNT_NAMES) + 1))
    if not frames:
        return counts
    for j in range(NUM_JOINTS):
        acc = motmetrics.MOTAccumulator(auto_id=True)
        for frame in frames:
            acc.update(*frame.mot[j])
        values = _metrics_host().compute(acc, metrics=list(MOT_COUNT_NAMES),
                                         return_dataframe=False, name="acc")
        distance = acc.events["D"].sum()  # RAW events included, as poseval.
        counts[j, :-1] = [values[n] for n in MOT_COUNT_NAMES]
        counts[j, -1] = 0.0 if np.isnan(distance) else distance
    return counts


def average_precision(scores: np.ndarray, labels: np.ndarray,
                      num_gt: float) -> float:
    """poseval's AP in percent (computeRPC + VOCap); 0 without predictions.

    Args:
      scores: (N,) float scores of all predictions of one joint.
      labels: (N,) bool true positive.
      num_gt: number of annotated ground-truth joints.
    """
    if len(scores) == 0:
        return 0.0
    order = np.asarray(scores).argsort()[::-1]
    true_pos = np.cumsum(np.asarray(labels)[order])
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = true_pos / np.float64(num_gt)
    precision = true_pos / np.arange(1, len(order) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]) * 100)


def _mean_not_nan(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def tracking_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-joint MOTA, MOTP, Precision, Recall (J,) from summed (J, 6) counts."""
    misses, switches, false_pos, objects, detections, distance = counts.T
    objects = np.where(objects > 0, objects, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        motp = np.where(detections == 0, 0.0, 100 * (1 - distance / detections))
        total_det = np.where(false_pos + detections > 0, false_pos + detections, np.nan)
        return {
            "MOTA": 100 * (1 - (misses + switches + false_pos) / objects),
            "MOTP": motp,
            "Precision": 100 * detections / total_det,
            "Recall": 100 * detections / objects,
        }


def _grouped(prefix: str, per_joint: np.ndarray) -> dict[str, float]:
    out = {f"{prefix}/{g}": float(np.mean(per_joint[list(idx)]))
           for g, idx in JOINT_GROUPS.items()}
    out[f"{prefix}/Total"] = _mean_not_nan(per_joint)
    out.update({f"{prefix}/{n}": float(v) for n, v in zip(JOINT_NAMES, per_joint)})
    return out


class PoseTrackMetric:
    """PoseTrack AP and MOT metrics accumulated over sequences, as poseval.

    ``update`` once per sequence (ground truth, predictions: a JSON path, the
    parsed dict or a ``PoseTrackSequence``); ``result`` pools AP samples and
    tracking counts over all sequences (poseval computes one AP per joint
    over all frames and sums each sequence's accumulator counts; it does not
    average per-sequence numbers).

    Keys of ``result``: ``AP/<g>``, ``MOTA/<g>``, ``MOTP/<g>``,
    ``Precision/<g>``, ``Recall/<g>`` for g in Head, Shoulder, Elbow, Wrist,
    Hip, Knee, Ankle, Total and each of ``JOINT_NAMES``. poseval prints AP
    and MOTA per group and MOTP, Precision, Recall for Total.

    Besides ``update`` and ``result`` it has the project's metric methods
    that apply here (``primary``, ``reset``, ``table``, ``describe``); there
    is no ``write``: the predictions are already files.
    """

    primary = "MOTA/Total"

    def __init__(self, threshold: float = PCKH_THRESHOLD):
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        """Forgets every sequence."""
        self._scores: list[list[np.ndarray]] = [[] for _ in range(NUM_JOINTS)]
        self._labels: list[list[np.ndarray]] = [[] for _ in range(NUM_JOINTS)]
        self._num_gt = np.zeros(NUM_JOINTS)
        self._counts = np.zeros((NUM_JOINTS, len(MOT_COUNT_NAMES) + 1))
        self.num_sequences = 0
        self.num_frames = 0

    def update(self, ground_truth: Source, predictions: Source) -> None:
        """Adds one sequence. Raises PoseTrackFormatError on malformed input."""
        gt = load_sequence(ground_truth, ground_truth=True)
        pred = load_sequence(predictions, ground_truth=False)
        _check_predictions(gt, pred)
        results = []
        for g, p in zip(gt.frames, pred.frames):
            if len(g.people) == 0:  # Not a labelled frame for poseval.
                continue
            results.append(evaluate_frame(*apply_ignore_regions(g, p.people),
                                          threshold=self.threshold))
        for r in results:
            for j in range(NUM_JOINTS):
                self._scores[j].append(r.scores[j])
                self._labels[j].append(r.labels[j])
            self._num_gt += r.num_gt
        # poseval leaves the last evaluated frame out of the tracking metrics.
        self._counts += tracking_counts(results[:-1])
        self.num_sequences += 1
        self.num_frames += len(results)

    def result(self) -> dict[str, float]:
        """The metrics in percent (NaN where poseval's would be NaN)."""
        ap = np.zeros(NUM_JOINTS)
        for j in range(NUM_JOINTS):
            # Frames and sequences in order, as poseval concatenates them.
            scores = np.concatenate(self._scores[j]) if self._scores[j] else np.zeros(0)
            labels = np.concatenate(self._labels[j]) if self._labels[j] else np.zeros(0)
            ap[j] = average_precision(scores, labels.astype(bool), self._num_gt[j])
        out = _grouped("AP", ap)
        for prefix, per_joint in tracking_metrics(self._counts).items():
            out.update(_grouped(prefix, per_joint))
        return out

    def table(self, metrics: Mapping[str, float], arch_name: str = "",
              title: str = "") -> str:
        """poseval's two tables (``format_table``), ``title`` line above."""
        del arch_name  # poseval's tables have no architecture column.
        return (f"{title}\n\n" if title else "") + format_table(metrics)

    def describe(self, in_vis_threshold: Optional[float] = None) -> str:
        """How the numbers were obtained (for metrics.json)."""
        del in_vis_threshold  # Joints are kept or dropped by the tracker.
        return (f"poseval (PoseTrack18): PCKh@{self.threshold} with head size 0.6 x "
                "head box diagonal; per-joint AP pooled over all sequences; "
                "MOTA/MOTP/precision/recall from motmetrics accumulators per joint "
                "and sequence, counts summed over sequences, the last labelled "
                "frame of each sequence left out")


def format_table(metrics: Mapping[str, float]) -> str:
    """poseval's two tables (AP, then MOT) as markdown, one decimal."""
    def row(values):
        return "| " + " | ".join(f"{float(v):.1f}" for v in values) + " |"

    groups = list(GROUP_NAMES)
    mot_cols = [f"MOTA/{g}" for g in groups] + [
        "MOTP/Total", "Precision/Total", "Recall/Total"]
    lines = ["Average Precision (AP):", "",
             "| " + " | ".join(groups) + " |", "|---" * len(groups) + "|",
             row(metrics[f"AP/{g}"] for g in groups), "",
             "Multiple Object Tracking (MOT):", "",
             "| " + " | ".join(c.replace("/", " ") for c in mot_cols) + " |",
             "|---" * len(mot_cols) + "|",
             row(metrics[c] for c in mot_cols)]
    return "\n".join(lines) + "\n"


def sequence_pairs(gt: str, pred: str) -> list[tuple[str, str]]:
    """(ground truth, prediction) files matched by file name.

    Args:
      gt: a ground-truth JSON file or a directory of them (``*.json``).
      pred: a prediction file (with a ``gt`` file) or a directory holding a
        file of the same name for every ground-truth file.

    Raises:
      FileNotFoundError: naming the missing path or prediction file.
    """
    if os.path.isdir(gt):
        gt_files = sorted(os.path.join(gt, f) for f in os.listdir(gt)
                          if f.endswith(".json"))
        if not gt_files:
            raise FileNotFoundError(f"no .json ground-truth files in {gt}")
    elif os.path.isfile(gt):
        gt_files = [gt]
    else:
        raise FileNotFoundError(f"ground truth {gt} does not exist")
    if os.path.isfile(pred) and not os.path.isdir(gt):
        return [(gt, pred)]
    if not os.path.isdir(pred):
        raise FileNotFoundError(f"predictions {pred} is not a directory")
    pairs = [(g, os.path.join(pred, os.path.basename(g))) for g in gt_files]
    missing = [p for _, p in pairs if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"no prediction file for {len(missing)} ground-truth sequence(s): "
            + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    return pairs
