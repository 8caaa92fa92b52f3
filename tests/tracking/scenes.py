"""Synthetic videos of moving stick figures, with an oracle pose estimator.

Frames are 160 x 120 RGB on a static textured background
(``keras_pose.data.synthetic``'s drawing). Each person is a fixed pose
translated along a path; the oracle ``estimate_fn`` returns the true joints
of the visible person whose true box overlaps a given box best, so no network
is needed, and all-zero scores when no visible person overlaps it (as a real
model scores an empty box low).
"""

from __future__ import annotations

import dataclasses
import types
from typing import Callable, Optional

import numpy as np

from keras_pose.data.synthetic import _background, _draw_person, make_pose
from keras_pose.tracking import PoseTracker, box_iou

WIDTH, HEIGHT = 160, 120
JOINT_SCORE = 0.9


@dataclasses.dataclass
class Person:
    """A pose moving along ``path(t) -> (dx, dy)``; visible when ``visible(t)``;
    ``confident(t)`` (17,) bool: the joints the oracle scores high (None:
    those inside the frame)."""

    height: float
    center_x: float
    feet_y: float
    path: Callable[[int], tuple[float, float]]
    visible: Callable[[int], bool] = lambda t: True
    seed: int = 0
    confident: Optional[Callable[[int], np.ndarray]] = None

    def __post_init__(self):
        self.base = make_pose(np.random.default_rng(self.seed), self.height,
                              self.center_x, self.feet_y)

    def joints(self, t: int) -> np.ndarray:
        return self.base + np.asarray(self.path(t), np.float64)

    def scores(self, t: int) -> np.ndarray:
        """(17,) the oracle's joint scores in frame t."""
        joints = self.joints(t)
        ok = ((joints[:, 0] >= 0) & (joints[:, 0] <= WIDTH - 1)
              & (joints[:, 1] >= 0) & (joints[:, 1] <= HEIGHT - 1))
        if self.confident is not None:
            ok &= self.confident(t)
        return np.where(ok, JOINT_SCORE, 0.0).astype(np.float32)


def true_box(joints: np.ndarray, pad: float = 0.1) -> np.ndarray:
    """[x, y, w, h] of the joints inside the frame, grown by ``pad``."""
    inside = ((joints[:, 0] >= 0) & (joints[:, 0] <= WIDTH - 1)
              & (joints[:, 1] >= 0) & (joints[:, 1] <= HEIGHT - 1))
    pts = joints[inside] if inside.sum() >= 2 else joints
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    w, h = (x1 - x0) * (1 + pad), (y1 - y0) * (1 + pad)
    return np.array([(x0 + x1 - w) / 2, (y0 + y1 - h) / 2, w, h], np.float32)


def render(people: list[Person], t: int, background: np.ndarray) -> np.ndarray:
    """Frame t: the visible people drawn back to front (list order)."""
    image = background.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    for person in people:
        if person.visible(t):
            # Same seed every frame: the same colours, frame after frame.
            _draw_person(image, mask, person.joints(t), person.height,
                         np.random.default_rng(person.seed + 1000))
    return image


class Oracle:
    """``estimate_fn`` returning the true joints of the best-overlapping person."""

    def __init__(self):
        self.truth: list[np.ndarray] = []   # joints of the visible people
        self.truth_scores: list[np.ndarray] = []  # and their joint scores
        self.calls: list[np.ndarray] = []   # the boxes of every call

    def __call__(self, image, boxes, box_scores):
        self.calls.append(np.array(boxes))
        k = 17
        keypoints = np.zeros((len(boxes), k, 2), np.float32)
        scores = np.zeros((len(boxes), k), np.float32)
        if self.truth:
            iou = box_iou(boxes, np.stack([true_box(j) for j in self.truth]))
            for i, row in enumerate(iou):
                if row.max() >= 0.3:
                    keypoints[i] = self.truth[int(row.argmax())]
                    scores[i] = self.truth_scores[int(row.argmax())]
        for i, box in enumerate(boxes):
            if not scores[i].any():
                keypoints[i] = box[:2] + box[2:] / 2  # nothing there: centre, score 0
        person = scores.mean(1) * np.asarray(box_scores, np.float32)
        return types.SimpleNamespace(keypoints=keypoints, keypoint_scores=scores,
                                     scores=person, boxes=np.asarray(boxes, np.float32))


def run(people: list[Person], num_frames: int, tracker_config,
        drop_detection: Optional[Callable[[int, int], bool]] = None, seed: int = 0,
        oracle: Optional[Oracle] = None, prepare: bool = False):
    """Tracks the video; returns (results, ids) with ids[t][person] the track
    id given to that person in frame t (absent: not found in the output).
    ``drop_detection(t, person)``: the detector misses that person then.
    ``prepare``: each frame's flow is started by ``PoseTracker.prepare``
    before the detections are made, as predict.py does."""
    background = _background(np.random.default_rng(seed), WIDTH, HEIGHT)
    oracle = Oracle() if oracle is None else oracle
    tracker = PoseTracker(tracker_config, oracle)
    results, ids = [], []
    for t in range(num_frames):
        visible = [i for i, p in enumerate(people) if p.visible(t)]
        oracle.truth = [people[i].joints(t) for i in visible]
        oracle.truth_scores = [people[i].scores(t) for i in visible]
        det = [i for i in visible if not (drop_detection and drop_detection(t, i))]
        frame = render(people, t, background)
        if prepare:
            tracker.prepare(frame)
        boxes = np.array([true_box(people[i].joints(t)) for i in det], np.float32).reshape(-1, 4)
        result = tracker.step(frame, (boxes, np.full(len(det), 0.95, np.float32)))
        results.append(result)
        ids.append(_identify(result, people, visible, t))
    return results, ids


def _identify(result, people, visible, t) -> dict[int, int]:
    """Person index -> track id, for output poses within 0.5 px of a truth."""
    found = {}
    for p in range(len(result.track_ids)):
        for i in visible:
            if np.abs(result.keypoints[p] - people[i].joints(t)).max() < 0.5:
                found[i] = int(result.track_ids[p])
    return found
