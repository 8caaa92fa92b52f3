"""The paper's flow-based pose tracker (Section 3, Algorithm 1), online.

Per frame k:

1. Flow F(k-1 -> k) (OpenCV, :mod:`keras_pose.tracking.flow`); every stored
   pose of every live track is carried one frame further along it, so a pose
   seen at frame k-i is always expressed in the current frame (the paper's
   propagation from frame k-i to k, made as a chain of one-frame flows).
2. Boxes: detections scoring at least ``detection_threshold``, unified by
   NMS with the boxes of the poses of frame k-1 propagated into frame k and
   grown by ``box_extension`` (joint propagation). Detections rank first;
   a propagated box carries the person score of the pose it came from
   (see ``boxes.unify_boxes``).
3. Poses: ``estimate_fn`` on every box; poses with fewer than
   ``min_keypoints`` confident joints are dropped, and a second pose of one
   person (OKS above ``pose_nms_oks``) too.
4. Tracking: the flow-based similarity (OKS of each track's propagated
   poses with each new pose; the maximum over the track's last
   ``num_previous_frames`` poses: the multi-flow similarity), greedy
   one-to-one matching above ``similarity_threshold``; unmatched poses start
   new tracks (ids 0, 1, 2... in order of appearance, never reused); a track
   unmatched for more than ``max_missed_frames`` frames ends.

Where the paper keeps the poses of the last L_Q *frames* in its queue, each
track here keeps its own last L_Q *poses* and lives ``max_missed_frames``
frames: the same queue while the person is seen, and a person lost for a few
frames can still be re-linked, which is what the paper wants the
multi-frame similarity for. Boxes are propagated only from poses of frame
k-1, as in the paper.

The flow needs only the two frames, not the detections: :meth:`PoseTracker.
prepare` starts it in a background thread before the detector runs, so that
the two overlap (OpenCV, TensorFlow and the runtimes release the GIL);
``step`` then takes that flow. The results are the same with or without it.

Shapes: M boxes, P people in a frame, K joints.
"""

from __future__ import annotations

import contextlib
import collections
import copy
import dataclasses
import threading
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from keras_pose import log as logging
from keras_pose.configs.base import ConfigError, TrackConfig
from keras_pose.data.images import check_rgb_image
from keras_pose.data.transforms import MAX_BOX_TO_IMAGE, boxes_off_image
from keras_pose.detection.base import Detections
from keras_pose.oks import greedy_oks_suppress, oks_between
from keras_pose.signals import defer_interrupts
from keras_pose.tracking import boxes as box_ops
from keras_pose.tracking.flow import DenseFlow, FlowInThread, propagate_joints, to_gray
from keras_pose.tracking.similarity import greedy_match, sigmas_or_default

# estimate_fn(image (H, W, 3) uint8 RGB, boxes (M, 4) float32 [x, y, w, h],
# box_scores (M,) float32) -> an object with .keypoints (M, K, 2),
# .keypoint_scores (M, K), .scores (M,) (and optionally .boxes (M, 4)), such
# as keras_pose.inference.predictor.PoseResult; M may be 0.
EstimateFn = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]
# Why estimate_fn is called with no box (said when its answer is no K).
_ASKED = (" (with no box: the tracker asks it the model's K, for the frames before the first "
          "pose; or give PoseTracker sigmas=, the K OKS sigmas)")


@dataclasses.dataclass
class FrameResult:
    """The tracked people of one frame, in increasing track id.

    Attributes:
      frame_index: 0-based index of the frame since the last reset.
      track_ids: (P,) int64.
      keypoints: (P, K, 2) float32 image pixels.
      keypoint_scores: (P, K) float32.
      scores: (P,) float32 person scores from the estimator.
      boxes: (P, 4) float32 [x, y, w, h] the poses were estimated in.
      propagated: (P,) bool: the box came from joint propagation, not from
        the detector.
    """

    frame_index: int
    track_ids: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    propagated: np.ndarray


def _checked_detections(detections: Any) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (M, 4), scores (M,)) float32 of ``detections`` (None, a
    ``(boxes, scores)`` pair or an object with ``.boxes`` and ``.scores``).

    Raises:
      ValueError: for anything else (``Detections.of``: ``[]`` or bare
        boxes were "not enough values to unpack"), counts that differ or a
        value that is not finite (a NaN box became a track of NaN joints
        that broke every later frame).
    """
    found = Detections.of(detections)
    boxes, scores = found.boxes, found.scores
    bad = np.flatnonzero(~(np.isfinite(boxes).all(axis=1) & np.isfinite(scores)))
    if len(bad):
        raise ValueError(f"detection {bad[0]} is not finite: box {boxes[bad[0]].tolist()}, "
                         f"score {scores[bad[0]]}")
    return boxes, scores


@dataclasses.dataclass
class _Poses:
    """P poses of the current frame (the fields of :class:`FrameResult`)."""

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    propagated: np.ndarray

    def take(self, index: np.ndarray) -> "_Poses":
        return _Poses(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))


@dataclasses.dataclass
class _Track:
    """A live track: its last poses (carried into the current frame)."""

    track_id: int
    joints: collections.deque   # of (K, 2) float32, newest last
    valid: collections.deque    # of (K,) bool: joints confident when seen
    areas: collections.deque    # of float: OKS area when seen
    score: float                # person score of the newest pose
    missed: int = 0             # consecutive frames without a match


def tracked_min_keypoints(config: TrackConfig, num_keypoints: int) -> int:
    """The confident joints a pose needs to be tracked: ``min_keypoints``,
    but at most K (with more, a model of fewer keypoints, e.g. 2, had every
    pose dropped).

    Raises:
      ConfigError: K < 2 (a tracked person's box is drawn around two joints
        or more).
    """
    if num_keypoints < 2:
        raise ConfigError(f"tracking needs a model of 2 or more keypoints (a tracked person's "
                          f"box is drawn around its confident joints); this one has "
                          f"{num_keypoints}: predict without --track")
    return min(config.min_keypoints, num_keypoints)


class PoseTracker:
    """Online flow-based pose tracking, one frame at a time: one video in
    one thread (a call while another runs, from a second thread, is a
    RuntimeError; give each thread its own tracker).

    Args:
      config: the ``track`` section of the experiment config.
      estimate_fn: the pose estimator, see :data:`EstimateFn`; for a model,
        ``lambda image, boxes, scores: predictor.predict(image, boxes,
        box_scores=scores)``.
      sigmas: the data set's K OKS sigmas (``keras_pose.configs.sigmas.
        resolve_sigmas(config.data.oks_sigmas, config.data.keypoint_names)``);
        None or empty: COCO's for K = 17, ``DEFAULT_OKS_SIGMA`` otherwise;
        without them, K is asked of ``estimate_fn`` (keypoints (0, K, 2) for
        no box) when a frame before the first pose needs it.
    """

    def __init__(self, config: TrackConfig, estimate_fn: EstimateFn,
                 sigmas: Optional[Sequence[float]] = None):
        # TrackConfig checks its own values when it is built.
        self.config = config
        self._estimate_fn = estimate_fn
        self._sigmas_given = sigmas
        self._flow = DenseFlow(config.flow_method, config.dis_preset, config.flow_scale)
        self._pending: Optional[FlowInThread] = None  # started by prepare
        # What the thresholds dropped since the tracker was made (a run
        # reports it: a video of unconfident poses must not end in silence).
        self.low_score_detections = 0  # detector boxes below detection_threshold
        self.unconfident_poses = 0  # poses of detected boxes below min_keypoints
        self.unusable_detections = 0  # off the image, or of no positive size
        self.duplicate_poses = 0  # poses of detected boxes of a person already posed
        # Two threads stepping one tracker broke it (a deque mutated during
        # iteration, new ids for the same people): refused instead.
        self._busy = threading.Lock()
        self.reset()

    @contextlib.contextmanager
    def _alone(self, what: str) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(f"PoseTracker.{what}() called while another call on this tracker "
                               "runs (from another thread): a tracker follows one video, a "
                               "frame at a time; give each thread its own tracker")
        try:
            yield
        finally:
            self._busy.release()

    def reset(self) -> None:
        """Forgets all tracks and frames (a new video); ids restart at 0."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frame_index = 0
        self._prev_gray: Optional[np.ndarray] = None
        self._wait_for_flow()
        # K is known from the sigmas when given, else from the first poses or
        # asked of estimate_fn (_known_sigmas).
        given = self._sigmas_given
        self._sigmas: Optional[np.ndarray] = (
            sigmas_or_default(given, len(given)) if given is not None and len(given) else None)

    def cut(self) -> None:
        """Ends every track (a scene cut, or frames of another size whose
        flow cannot be taken), keeping the frame count and the ids given:
        new people get new ids, never one already used in this video."""
        self._wait_for_flow()
        self._tracks = []
        self._prev_gray = None

    def prepare(self, frame_rgb: np.ndarray) -> None:
        """Starts the flow from the previous frame to ``frame_rgb`` in a
        background thread; the next :meth:`step` on this same array takes
        it. Call it before running the detector on the frame: the flow and
        the detector then overlap. Optional: ``step`` computes the flow
        itself otherwise, with the same result.

        Raises:
          ValueError: as :meth:`step`, for a frame it would refuse.
        """
        self._wait_for_flow()
        gray = self._check_frame(frame_rgb)
        if self._prev_gray is not None and self._tracks:
            # A Ctrl-C inside Thread.start() (it waits for the thread to run)
            # escaped with the flow running but not pending: the step taken
            # again ran a second flow on the same OpenCV object beside it
            # (other track ids, or a segmentation fault). Raised once it is.
            with defer_interrupts():
                self._pending = FlowInThread(self._flow, frame_rgb, self._prev_gray, gray)

    def _wait_for_flow(self) -> Optional[FlowInThread]:
        """The flow started by ``prepare``, finished (None if none)."""
        pending = self._pending
        if pending is not None:
            # A Ctrl-C here leaves it pending: its thread still runs, and a
            # flow computed beside it (the step taken again) shared OpenCV's
            # flow object with it (garbage flow, an IndexError).
            pending.wait()  # The flow's own error: raised by step's result().
        self._pending = None
        return pending

    @property
    def active_track_ids(self) -> list[int]:
        """Ids of the tracks still alive (seen within max_missed_frames)."""
        return [t.track_id for t in self._tracks]

    def step(self, frame_rgb: np.ndarray,
             detections: Any = None) -> FrameResult:
        """Tracks the people of the next frame.

        Args:
          frame_rgb: (H, W, 3) uint8 RGB, the same size for the whole video.
          detections: the person detector's boxes (M, 4) [x, y, w, h] and
            scores (M,): a ``(boxes, scores)`` pair or an object with
            ``.boxes`` and ``.scores`` (``keras_pose.detection.Detections``);
            None or an empty pair: no detections (only propagated boxes).
            Boxes off the image are skipped (``unusable_detections``).

        Returns:
          The frame's :class:`FrameResult`.
        """
        with self._alone("step"):
            return self._step(frame_rgb, detections)

    def _step(self, frame_rgb: np.ndarray, detections: Any) -> FrameResult:
        pending = self._wait_for_flow()
        ready = pending is not None and pending.frame is frame_rgb
        gray = pending.gray if ready else self._check_frame(frame_rgb)
        det_boxes, det_scores = _checked_detections(detections)
        # A frame that raises (a box the estimator refuses, a failing
        # estimator) leaves the tracker as it was: the tracks had been
        # carried into this frame already, and the next step carried them
        # again, one frame too far.
        saved = (copy.deepcopy(self._tracks), self._next_id, self.low_score_detections,
                 self.unconfident_poses, self.unusable_detections, self.duplicate_poses)
        try:
            if ready:
                self._advance_tracks(pending.result())
            elif self._prev_gray is not None and self._tracks:
                self._advance_tracks(self._flow(self._prev_gray, gray))
            boxes, box_scores, propagated = self._candidate_boxes(det_boxes, det_scores,
                                                                  gray.shape)
            poses = self._estimate(frame_rgb, boxes, box_scores, propagated)
            track_ids = self._associate(poses)
        except BaseException:
            (self._tracks, self._next_id, self.low_score_detections,
             self.unconfident_poses, self.unusable_detections, self.duplicate_poses) = saved
            raise
        self._prev_gray = gray
        order = np.argsort(track_ids, kind="stable")
        poses = poses.take(order)
        result = FrameResult(self._frame_index, track_ids[order], poses.keypoints,
                             poses.keypoint_scores, poses.scores, poses.boxes,
                             poses.propagated)
        self._frame_index += 1
        return result

    def skip(self) -> FrameResult:
        """A frame that cannot be read (a damaged file in a folder of
        frames): its result is empty, the frame count goes on (frame
        numbers stay the frames' positions) and the tracks stay as they are;
        the next frame's flow spans the gap from the last frame read."""
        self._wait_for_flow()
        k = len(self._known_sigmas(None))
        result = FrameResult(self._frame_index, np.zeros((0,), np.int64),
                             np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32),
                             np.zeros((0,), np.float32), np.zeros((0, 4), np.float32),
                             np.zeros((0,), bool))
        self._frame_index += 1
        return result

    def _check_frame(self, frame_rgb: np.ndarray) -> np.ndarray:
        frame_rgb = check_rgb_image(frame_rgb, "frame")
        if self._prev_gray is not None and self._prev_gray.shape != frame_rgb.shape[:2]:
            raise ValueError(f"frame size changed from {self._prev_gray.shape} to "
                             f"{frame_rgb.shape[:2]}; call reset() for a new video")
        return to_gray(frame_rgb)

    def _advance_tracks(self, flow: np.ndarray) -> None:
        """Carries every stored pose of every track into the current frame."""
        for track in self._tracks:
            track.joints = collections.deque(
                (propagate_joints(j, flow) for j in track.joints), maxlen=track.joints.maxlen)

    def _candidate_boxes(self, det_boxes: np.ndarray, det_scores: np.ndarray,
                         image_hw: tuple[int, int]):
        """Detections above the threshold, NMS-unified with propagated boxes."""
        det_boxes, det_scores = self._usable(det_boxes, det_scores, image_hw)
        confident = det_scores >= self.config.detection_threshold
        self.low_score_detections += int(np.count_nonzero(~confident))
        det_boxes, det_scores = det_boxes[confident], det_scores[confident]
        prop_boxes, prop_scores = [], []
        if self.config.use_propagation:
            size = (image_hw[1], image_hw[0])
            for track in self._tracks:
                if track.missed:  # only poses of the previous frame propagate
                    continue
                box = box_ops.box_from_joints(track.joints[-1], track.valid[-1],
                                              self.config.box_extension, size)
                if box is not None:
                    prop_boxes.append(box)
                    # A NaN score (a model's broken weights) failed the next frame: the
                    # Predictor refuses it as a box score (predict.py --track stopped).
                    prop_scores.append(track.score if np.isfinite(track.score) else 0.0)
        return box_ops.unify_boxes(det_boxes, det_scores, np.reshape(prop_boxes, (-1, 4)),
                                   np.asarray(prop_scores, np.float32),
                                   self.config.box_nms_iou)

    def _usable(self, det_boxes: np.ndarray, det_scores: np.ndarray,
                image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The detections of a positive size that overlap the image
        (``boxes_off_image``, predict.py's rule for a boxes file); the others
        are skipped and counted, and the first ones logged. Was: one box off
        the image failed the frame (the Predictor refuses it), while one of
        negative width was dropped without a word."""
        usable = ((det_boxes[:, 2] > 0) & (det_boxes[:, 3] > 0)
                  & ~boxes_off_image(det_boxes, *image_hw))
        skipped = int(np.count_nonzero(~usable))
        if skipped and not self.unusable_detections:
            logging.warning(
                "PoseTracker: %d detection(s) of frame %d skipped: they do not overlap the "
                "image of (height, width) %s, are more than %g times its size or have no "
                "positive width and height (later ones are counted in unusable_detections)",
                skipped, self._frame_index, tuple(image_hw), MAX_BOX_TO_IMAGE)
        self.unusable_detections += skipped
        return det_boxes[usable], det_scores[usable]

    def _estimate(self, frame_rgb, boxes, box_scores, propagated) -> _Poses:
        """Poses in the boxes, without unconfident ones and duplicates."""
        if len(boxes) == 0:
            k = len(self._known_sigmas(frame_rgb))
            return _Poses(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32),
                          np.zeros((0,), np.float32), boxes, propagated)
        out = self._estimate_fn(frame_rgb, boxes, box_scores)
        keypoints = np.asarray(out.keypoints, np.float32)
        poses = _Poses(keypoints, np.asarray(out.keypoint_scores, np.float32),
                       np.asarray(out.scores, np.float32).reshape(-1), boxes, propagated)
        self._check_keypoints(keypoints.shape, len(boxes))
        confident = poses.keypoint_scores >= self.config.keypoint_threshold
        enough = confident.sum(1) >= tracked_min_keypoints(self.config, keypoints.shape[1])
        # A propagated box that loses its pose is a person leaving: not counted.
        self.unconfident_poses += int(np.count_nonzero(~enough & ~poses.propagated))
        poses = poses.take(np.flatnonzero(enough))
        kept = self._pose_nms(poses)
        # Two of the user's (or the detector's) boxes on one person: said.
        self.duplicate_poses += int(np.count_nonzero(~poses.propagated)) - int(
            np.count_nonzero(~poses.propagated[kept]))
        return poses.take(kept)

    def _check_keypoints(self, shape: tuple, count: int) -> None:
        """Refuses estimate_fn's keypoints unless (count, K, 2) for the
        tracker's K (of the sigmas, else of the first keypoints seen)."""
        if len(shape) != 3 or shape[0] != count or (count == 0 and shape[1] == 0):
            raise ValueError(f"estimate_fn returned keypoints of shape {shape} for {count} "
                             f"boxes; expected ({count}, K, 2){_ASKED if count == 0 else ''}")
        if self._sigmas is None:
            self._sigmas = sigmas_or_default(self._sigmas_given, shape[1])
        if shape[1] != len(self._sigmas):
            raise ValueError(f"estimate_fn returned {shape[1]} keypoints, "
                             f"the OKS sigmas are for {len(self._sigmas)}")

    def _known_sigmas(self, frame_rgb: Optional[np.ndarray]) -> np.ndarray:
        """The (K,) OKS sigmas; K not known yet (no sigmas given, no pose
        seen) is asked of estimate_fn: its keypoints (0, K, 2) for no box on
        ``frame_rgb`` (None: a black pixel). Was K = 0 for the frames before
        the first pose, then the model's: arrays of changing K."""
        if self._sigmas is None:
            frame = np.zeros((1, 1, 3), np.uint8) if frame_rgb is None else frame_rgb
            out = self._estimate_fn(frame, np.zeros((0, 4), np.float32),
                                    np.zeros((0,), np.float32))
            self._check_keypoints(np.shape(out.keypoints), 0)
        return self._sigmas

    def _pose_nms(self, poses: _Poses) -> np.ndarray:
        """Indices of the poses kept by OKS NMS (detections first, then score)."""
        order = np.lexsort((-poses.scores, poses.propagated))
        confident = poses.keypoint_scores >= self.config.keypoint_threshold
        areas = np.array([box_ops.pose_area(j, v, self.config.box_extension)
                          for j, v in zip(poses.keypoints, confident)])
        # Row by row (O(P K) memory), "> threshold" drops: NaN keeps, as before.
        kept = greedy_oks_suppress(poses.keypoints[order], areas[order],
                                   self.config.pose_nms_oks, self._sigmas,
                                   nan_suppresses=False)
        return np.sort(order[kept])

    def _similarity(self, keypoints, valid, areas) -> np.ndarray:
        """(tracks, P) multi-flow similarity: max OKS over each track's poses."""
        sim = np.zeros((len(self._tracks), len(keypoints)))
        if not self._tracks or not len(keypoints):
            return sim
        owner = np.concatenate([[i] * len(t.joints) for i, t in enumerate(self._tracks)])
        stored = np.stack([j for t in self._tracks for j in t.joints])
        stored_valid = np.stack([v for t in self._tracks for v in t.valid])
        stored_areas = np.array([a for t in self._tracks for a in t.areas])
        oks = oks_between(stored, keypoints, stored_areas, areas, self._sigmas,
                          stored_valid, valid)
        np.maximum.at(sim, owner, oks)
        return sim

    def _associate(self, poses: _Poses) -> np.ndarray:
        """Track ids of the poses; updates, starts and ends tracks."""
        valid = poses.keypoint_scores >= self.config.keypoint_threshold
        areas = np.array([box_ops.pose_area(j, v, self.config.box_extension)
                          for j, v in zip(poses.keypoints, valid)])
        rows, cols = greedy_match(self._similarity(poses.keypoints, valid, areas),
                                  self.config.similarity_threshold)
        track_ids = np.full(len(poses.scores), -1, np.int64)
        matched = set(rows.tolist())
        for r, c in zip(rows, cols):
            self._observe(self._tracks[r], poses, valid, areas, c)
            track_ids[c] = self._tracks[r].track_id
        for track_index, track in enumerate(self._tracks):
            if track_index not in matched:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.config.max_missed_frames]
        # New tracks, the most confident pose first, so ids follow confidence.
        for c in sorted(np.flatnonzero(track_ids < 0), key=lambda i: -poses.scores[i]):
            track = self._new_track()
            self._observe(track, poses, valid, areas, c)
            self._tracks.append(track)
            track_ids[c] = track.track_id
        return track_ids

    def _new_track(self) -> _Track:
        length = self.config.num_previous_frames
        track = _Track(self._next_id, collections.deque(maxlen=length),
                       collections.deque(maxlen=length), collections.deque(maxlen=length),
                       score=0.0)
        self._next_id += 1
        return track

    @staticmethod
    def _observe(track: _Track, poses: _Poses, valid, areas, index: int) -> None:
        track.joints.append(poses.keypoints[index].copy())
        track.valid.append(valid[index].copy())
        track.areas.append(float(areas[index]))
        track.score = float(poses.scores[index])
        track.missed = 0
