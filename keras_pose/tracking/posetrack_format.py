"""Tracking results as a PoseTrack18 JSON file (one file per video).

The PoseTrack18 format is COCO-like (what the official ``poseval`` reads):

- ``images``: ``file_name`` (predict.py: a frame's name under ``--input``,
  after its folder's name when it is right in ``--input``: poseval reads
  the sequence from the folder a name is in, so ``--input images/val`` and
  ``--input images/val/<sequence>`` both give ``<sequence>/000000.jpg``;
  ``clip.mp4#3`` for a video's frame), ``id`` and
  ``frame_id`` (the same number: the frame's 0-based position, not
  PoseTrack's ``1SSSSSSFFFF``), ``vid_id``, ``nframes``, ``is_labeled``; we
  add ``frame_index`` (0-based position in the video). The official poseval
  derives sequence and frame from PoseTrack's file names, which only a run
  over PoseTrack's own ``images/val`` folder gives (not tried here);
  ``scripts/evaluate_posetrack.py`` (the same metrics) pairs frames by
  position and reads any.
- ``annotations``: ``id``, ``image_id``, ``category_id`` 1, ``track_id``,
  ``keypoints`` (K x (x, y, v) flattened; v = 1 for a joint, and a dropped
  joint is written (0, 0, 0), which poseval skips), ``scores`` (K joint
  scores: poseval ranks joints by them), ``score`` (person score) and
  ``bbox`` [x, y, w, h].
- ``categories``: one ``person`` category with keypoint names and a 1-based
  skeleton.

A model that names each of PoseTrack18's 15 joints once, in any naming style
(``L_Ankle``, ``Head Top``; :func:`keras_pose.configs.keypoints.keypoint_keys`),
among other keypoints or not (COCO's 17 + head_bottom + head_top), is written
in PoseTrack18's own 17-slot layout (:func:`posetrack18_layout`): the
evaluator reads 15 or 17 names, as poseval does, and poseval's converter
needs PoseTrack18's exact names. Any other model is written in its own layout.

poseval requires track ids below 10000 per video.

Shapes: P people, K keypoints.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any, Optional, Sequence

import numpy as np

from keras_pose.configs.keypoints import COCO_SKELETON, keypoint_keys

# PoseTrack18's 17 keypoint names, in COCO's order: the slots of COCO's eyes
# hold head_bottom and head_top, the ears are unlabelled (poseval's
# convert.py). A COCO-trained model's eye outputs are not head points: map
# them before writing when evaluating such a model.
POSETRACK18_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# The ear slots: unlabelled in PoseTrack18 and not evaluated (poseval's 15
# joints are the other slots); a model without ears leaves them (0, 0, 0).
_EAR_SLOTS = (3, 4)

_SEQUENCE_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}


def posetrack18_image_id(sequence: str, frame_index: int) -> int:
    """PoseTrack18's image id of a frame: T SSSSSS FFFF as one integer.

    T is the source of the sequence (1 mpii, 2 bonn, 3 mpiinew), SSSSSS its
    number, FFFF the frame: ``"000342_mpii_test", 5`` -> 10003420005.

    Args:
      sequence: the sequence directory name, ``<number>_<source>[_split]``.
      frame_index: 0-based frame, < 10000.
    """
    tokens = os.path.basename(sequence.rstrip("/")).split("_")
    if len(tokens) < 2 or not tokens[0].isdigit() or tokens[1] not in _SEQUENCE_TYPES:
        raise ValueError(f"{sequence!r} is not a PoseTrack sequence name "
                         "(<number>_<mpii|bonn|mpiinew>[_split])")
    if not 0 <= frame_index < 10000:
        raise ValueError(f"frame index {frame_index} is outside [0, 10000)")
    return _SEQUENCE_TYPES[tokens[1]] * 10_000_000_000 + int(tokens[0]) * 10_000 + frame_index


def posetrack18_layout(names: Sequence[str]) -> Optional[np.ndarray]:
    """Where each slot of PoseTrack18's 17-keypoint layout comes from.

    Names match in any naming style (``L_Ankle`` is ``left_ankle``, ``Head
    Top`` is ``head_top``); keypoints that are none of PoseTrack18's (COCO's
    eyes) are left out.

    Args:
      names: the model's K keypoint names.

    Returns:
      (17,) int64: the model keypoint (index into ``names``) of each slot of
      :data:`POSETRACK18_KEYPOINT_NAMES`, -1 for an empty slot (an ear the
      model lacks or names twice); None when one of the 15 evaluated joints
      is missing or named twice (the model's own layout is written then).
    """
    slot_of = {key: s for s, key in enumerate(keypoint_keys(POSETRACK18_KEYPOINT_NAMES))}
    found: dict[int, list[int]] = defaultdict(list)
    for k, key in enumerate(keypoint_keys(names)):
        if key in slot_of:
            found[slot_of[key]].append(k)
    if any(len(found[s]) != 1 for s in range(len(POSETRACK18_KEYPOINT_NAMES))
           if s not in _EAR_SLOTS):
        return None
    return np.asarray([found[s][0] if len(found[s]) == 1 else -1
                       for s in range(len(POSETRACK18_KEYPOINT_NAMES))], np.int64)


def _slotted(values: np.ndarray, layout: Optional[np.ndarray]) -> np.ndarray:
    """(K, ...) model values -> (17, ...) in PoseTrack18's slots, zero in
    empty ones; unchanged without a layout."""
    if layout is None:
        return values
    out = np.zeros((len(layout),) + values.shape[1:], values.dtype)
    out[layout >= 0] = values[layout[layout >= 0]]
    return out


def _slotted_skeleton(skeleton: Optional[Sequence[Sequence[int]]], num_kp: int,
                      layout: Optional[np.ndarray]) -> list[tuple[int, int]]:
    """0-based limbs of the written layout: the model's, renumbered to the
    slots (limbs to a left-out keypoint dropped); None: COCO's (PoseTrack18's)
    for 17 written keypoints, else none."""
    if skeleton is None:
        written = num_kp if layout is None else len(layout)
        return list(COCO_SKELETON) if written == 17 else []
    if layout is None:
        return [(int(a), int(b)) for a, b in skeleton]
    slot = {int(k): s for s, k in enumerate(layout) if k >= 0}
    return [(slot[int(a)], slot[int(b)]) for a, b in skeleton
            if int(a) in slot and int(b) in slot]


def _annotation(result, person: int, image_id: int, ann_id: int,
                keypoint_threshold: float, layout: Optional[np.ndarray]) -> dict[str, Any]:
    points = np.asarray(result.keypoints[person], np.float64)
    scores = np.asarray(result.keypoint_scores[person], np.float64)
    keep = scores >= keypoint_threshold
    triples = np.zeros((len(points), 3))
    triples[keep, :2] = points[keep]
    triples[keep, 2] = 1.0
    triples, scores = _slotted(triples, layout), _slotted(scores, layout)
    return {
        "id": ann_id, "image_id": image_id, "category_id": 1,
        "track_id": int(result.track_ids[person]),
        "keypoints": [round(float(v), 2) for v in triples.reshape(-1)],
        "scores": [round(float(v), 4) for v in scores],
        "score": round(float(result.scores[person]), 4),
        "bbox": [round(float(v), 2) for v in result.boxes[person]],
    }


def to_posetrack18(results: Sequence[Any], file_names: Optional[Sequence[str]] = None,
                   image_ids: Optional[Sequence[int]] = None, video_id: str = "",
                   keypoint_names: Optional[Sequence[str]] = None,
                   skeleton: Optional[Sequence[Sequence[int]]] = None,
                   keypoint_threshold: float = 0.0) -> dict[str, Any]:
    """A video's tracking results as a PoseTrack18 JSON dict.

    Args:
      results: the :class:`~keras_pose.tracking.FrameResult` of every frame,
        in order (frames without people included).
      file_names: one per result (PoseTrack: ``images/val/<seq>/000000.jpg``);
        None: ``000000.jpg``, ``000001.jpg``... from the frame indices.
      image_ids: one per result (see :func:`posetrack18_image_id`); None: the
        frame indices.
      video_id: ``vid_id`` of every image (PoseTrack: the sequence number).
      keypoint_names: K names; None: PoseTrack18's for K = 17. Names with
        each of PoseTrack18's 15 joints are written in PoseTrack18's 17-slot
        layout (:func:`posetrack18_layout`), other names as they are.
      skeleton: 0-based limbs of the K keypoints; None: COCO's (PoseTrack18's)
        when 17 keypoints are written, else none.
      keypoint_threshold: joints scoring below it are written (0, 0, 0)
        (the paper drops joints below 0.4, ``track.keypoint_threshold``).

    Returns:
      A dict with ``images``, ``annotations`` and ``categories``, ready for
      ``json.dump``.

    Raises:
      ValueError: if the lengths disagree (names included), or K != 17
        without names.
    """
    count = len(results)
    for name, values in (("file_names", file_names), ("image_ids", image_ids)):
        if values is not None and len(values) != count:
            raise ValueError(f"{len(values)} {name} for {count} results")
    # No one in any frame: the names' count (a 5-keypoint model's empty
    # video failed as "5 keypoint_names for K = 17"), else PoseTrack's 17.
    num_kp = next((r.keypoints.shape[1] for r in results if len(r.track_ids)),
                  17 if keypoint_names is None else len(keypoint_names))
    if keypoint_names is None:
        if num_kp != 17:
            raise ValueError(f"keypoint_names are needed for K = {num_kp}")
        keypoint_names = POSETRACK18_KEYPOINT_NAMES
    if len(keypoint_names) != num_kp:
        raise ValueError(f"{len(keypoint_names)} keypoint_names for K = {num_kp} keypoints")
    layout = posetrack18_layout(keypoint_names)
    skeleton = _slotted_skeleton(skeleton, num_kp, layout)
    if layout is not None:
        keypoint_names = POSETRACK18_KEYPOINT_NAMES
    images, annotations = [], []
    for i, result in enumerate(results):
        image_id = int(image_ids[i]) if image_ids is not None else int(result.frame_index)
        images.append({
            "file_name": (file_names[i] if file_names is not None
                          else f"{result.frame_index:06d}.jpg"),
            "id": image_id, "frame_id": image_id, "frame_index": int(result.frame_index),
            "vid_id": video_id, "nframes": count, "is_labeled": True})
        for person in range(len(result.track_ids)):
            annotations.append(_annotation(result, person, image_id, len(annotations),
                                           keypoint_threshold, layout))
    categories = [{"supercategory": "person", "id": 1, "name": "person",
                   "keypoints": list(keypoint_names),
                   "skeleton": [[int(a) + 1, int(b) + 1] for a, b in skeleton]}]
    return {"images": images, "annotations": annotations, "categories": categories}
