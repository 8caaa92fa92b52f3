"""The clip and the timing hooks of ``scripts/benchmark_video.py``: a
generated 1280 x 720 video of people walking, and the stopwatches it puts
around predict.py's own path (``PredictionRun.video`` with ``--track``)
from the outside, without changing what runs.

Shapes: P people in a frame, K = 17 joints.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

STAGES = ("decode", "detector", "pose", "tracker", "draw", "write", "other")
SIZE = (1280, 720)
# COCO's 17 joints in a standing person's box, (x, y) relative to it.
TEMPLATE = np.array([
    [0.50, 0.08], [0.45, 0.06], [0.55, 0.06], [0.40, 0.08], [0.60, 0.08], [0.30, 0.22],
    [0.70, 0.22], [0.20, 0.38], [0.80, 0.38], [0.15, 0.50], [0.85, 0.50], [0.38, 0.55],
    [0.62, 0.55], [0.36, 0.75], [0.64, 0.75], [0.35, 0.95], [0.65, 0.95]], np.float32)


# --------------------------------------------------------------------------- the clip


def _layout(people: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Top-left corners (people, 2) on a grid that keeps the boxes apart
    (the tracker's box NMS would merge overlapping people), and the box size."""
    columns = min(people, 7)
    rows = -(-people // columns)
    width, height = SIZE
    cell_w, cell_h = width / columns, (height - 40) / rows
    box = (min(120.0, 0.6 * cell_w), min(390.0, 0.85 * cell_h))
    corners = [(c * cell_w + (cell_w - box[0]) / 2 - 20, 20 + r * cell_h + (cell_h - box[1]) / 2)
               for r in range(rows) for c in range(columns)][:people]
    return np.array(corners), box


def make_clip(path: str, people: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    """Writes a 1280 x 720 MPEG-4 clip of ``people`` moving figures; returns
    each frame's true boxes (people, 4) [x, y, w, h]."""
    import cv2
    rng = np.random.default_rng(seed)
    width, height = SIZE
    background = cv2.resize(rng.integers(0, 255, (45, 80, 3), dtype=np.uint8), SIZE)
    corners, (bw, bh) = _layout(people)
    colours = rng.integers(60, 230, (people, 3))
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25.0, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    boxes = []
    for i in range(frames):
        frame = background.copy()
        xy = corners + i * np.array([3.0, 0.5])
        for (x, y), colour in zip(xy, colours.tolist()):
            head = bh * 0.12
            cx = int(x + bw / 2)
            cv2.circle(frame, (cx, int(y + head)), int(head), colour, -1)
            cv2.rectangle(frame, (int(x + bw * 0.2), int(y + 2 * head)),
                          (int(x + bw * 0.8), int(y + bh * 0.6)), colour, -1)
            for dx in (-1, 1):  # arms and legs
                cv2.line(frame, (cx, int(y + 2.5 * head)),
                         (cx + dx * int(bw / 2), int(y + bh * 0.5)), colour, 8)
                cv2.line(frame, (cx, int(y + bh * 0.6)), (cx + dx * int(bw / 3), int(y + bh)),
                         colour, 10)
        writer.write(frame)
        boxes.append(np.concatenate([xy, np.tile([bw, bh], (people, 1))], 1).astype(np.float32))
    writer.release()
    return boxes


# --------------------------------------------------------------------------- timing


class Clock:
    """Seconds and counts per stage for the current run, and the pose
    stage's own keypoints (to compare the variants' on the same boxes)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.seconds = dict.fromkeys(STAGES + ("network", "step"), 0.0)
        self.boxes = 0
        self.frames = 0
        # (frame index, boxes (P, 4), keypoints (P, K, 2)) of each pose call.
        self.poses: list[tuple[int, np.ndarray, np.ndarray]] = []

    @contextlib.contextmanager
    def time(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


CLOCK = Clock()


def timed(stage: str, fn):
    """``fn``, its time added to ``stage``."""
    def call(*args, **kwargs):
        with CLOCK.time(stage):
            return fn(*args, **kwargs)
    return call


def instrument():
    """Times predict.py's own path from the outside (the benchmark's hooks
    only: decoding, drawing, video writing, the tracker, the runtimes'
    network calls). Returns the timed ``PoseTracker`` class, whose
    ``serial`` switches ``prepare`` off (the flow then runs in ``step``,
    after the detector, as before ``prepare``)."""
    from keras_pose.export import runtimes
    from keras_pose.prediction import runner
    load = runtimes.load_network

    class TimedFrames(runner.VideoFrames):
        def __iter__(self):
            iterator = super().__iter__()
            while True:
                with CLOCK.time("decode"):
                    item = next(iterator, None)
                if item is None:
                    return
                CLOCK.frames += 1
                yield item
    runner.VideoFrames = TimedFrames
    runner._draw_tracks = timed("draw", runner._draw_tracks)
    runtimes.load_network = lambda path, num_threads=None: timed(
        "network", load(path, num_threads))

    class TimedVideo(runner.VideoOutput):
        def add(self, rgb):
            with CLOCK.time("write"):
                super().add(rgb)

        def close(self):
            with CLOCK.time("write"):
                super().close()
    runner.VideoOutput = TimedVideo
    return _timed_tracker()


def _timed_tracker():
    from keras_pose import tracking

    class TimedTracker(tracking.PoseTracker):
        serial = False

        def prepare(self, frame_rgb):
            if not TimedTracker.serial:
                super().prepare(frame_rgb)

        def step(self, *args, **kwargs):
            with CLOCK.time("step"):
                return super().step(*args, **kwargs)
    tracking.PoseTracker = TimedTracker  # What runner._tracker builds.
    return TimedTracker


class BoxesDetector:
    """Runs ``detector`` on every frame (timed) and hands on the clip's true
    boxes (or, with ``real_boxes``, its own)."""

    def __init__(self, detector, boxes: list, real_boxes: bool = False):
        self.detector, self.boxes, self.real_boxes = detector, boxes, real_boxes
        self.index = 0

    def detect(self, image, source=None):
        from keras_pose.detection import Detections
        with CLOCK.time("detector"):
            found = self.detector.detect(image, source)
        boxes = self.boxes[self.index % len(self.boxes)]
        self.index += 1
        return found if self.real_boxes else Detections(boxes, np.ones(len(boxes), np.float32))


class TimedPredictor:
    """The predictor with a timed ``predict`` that records its keypoints
    and, unless ``real_poses``, hands the tracker person-shaped poses
    (:func:`person_shaped`); everything else is the predictor's own."""

    def __init__(self, predictor, real_poses: bool = False):
        self._predictor, self._real_poses = predictor, real_poses

    def predict(self, image, boxes=None, **kwargs):
        CLOCK.boxes += len(boxes)
        with CLOCK.time("pose"):
            result = self._predictor.predict(image, boxes, **kwargs)
        CLOCK.poses.append((CLOCK.frames, np.array(result.boxes, np.float32),
                            np.array(result.keypoints, np.float32)))
        return result if self._real_poses else person_shaped(result)

    def __getattr__(self, name):
        return getattr(self._predictor, name)


def person_shaped(result):
    """``result`` with :data:`TEMPLATE` in each box (P, 4), every joint at 0.9."""
    from keras_pose.inference.predictor import PoseResult
    boxes = np.asarray(result.boxes, np.float32)
    keypoints = boxes[:, None, :2] + TEMPLATE[None] * boxes[:, None, 2:]
    scores = np.full(keypoints.shape[:2], 0.9, np.float32)
    return PoseResult(keypoints, scores, np.full(len(boxes), 0.9, np.float32), boxes)


def keypoint_deviation(reference: list, candidate: list) -> np.ndarray:
    """Image-pixel distances (N,) between the keypoints of the pose calls of
    two runs on the same frames and the same boxes (``Clock.poses``);
    calls whose boxes differ (another flow may propagate other boxes) are
    left out."""
    ref = {(frame, boxes.tobytes()): keypoints for frame, boxes, keypoints in reference}
    dist = [np.linalg.norm(keypoints - ref[(frame, boxes.tobytes())], axis=-1).ravel()
            for frame, boxes, keypoints in candidate if (frame, boxes.tobytes()) in ref]
    return np.concatenate(dist) if dist else np.zeros(0, np.float32)

