"""Dense optical flow with OpenCV, and joints carried along it.

The paper propagates each joint (x, y) of frame k-1 to (x + dx, y + dy) in
frame k, where (dx, dy) is the flow at (x, y). It uses FlowNet2-S; here the
flow is OpenCV's DIS (default) or Farneback, so nothing is downloaded.
"none" is zero flow: poses stay where they were seen, which turns the
flow-based similarity into the paper's plain pose similarity (its S_Pose
ablation). :class:`FlowInThread` computes one frame's flow beside the
detector and the pose network (``PoseTracker.prepare``).

Shapes: H x W frames, K joints, N people.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

import cv2
import numpy as np

FLOW_METHODS: tuple[str, ...] = ("dis", "farneback", "none")
DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# OpenCV's DIS refuses frames with a side under 8 pixels or both under 12
# (OpenCV 4.x-5.x), and its finest pyramid level must hold a patch (8
# pixels) across: a short side under 8 * 2 ** finest scale (16 for
# "medium", 32 for "fast") crashed the process in DIS's calc (a
# segmentation fault: 12 x 40 with "medium", 20 x 100 with "fast";
# opencv-python 5.1). Frames are enlarged to that short side (the long one
# is then over 12 too).
_DIS_PATCH = 8
# Nor can its warp take a side over SHRT_MAX (a 1 x 8000 frame enlarged 8
# times failed in remap): each side is capped, the two scaled apart.
_DIS_MAX_SIDE = 16384

# Farneback's parameters: OpenCV's documented example values (pyramid scale
# 0.5, 3 levels, 15 px window, 3 iterations, 5 px polynomial, sigma 1.2).
_FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                  poly_n=5, poly_sigma=1.2, flags=0)


def to_gray(frame_rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB uint8 -> (H, W) uint8 luminance, what the flows take."""
    return cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2GRAY)


class DenseFlow:
    """Dense optical flow from one grey frame to the next.

    Args:
      method: "dis", "farneback" or "none" (zero flow).
      dis_preset: "ultrafast", "fast" or "medium" (DIS only).
      scale: the flow is computed on frames resized by this factor in (0, 1]
        and brought back to full size (vectors divided by it): faster and
        coarser (DIS "medium" at 1280x720, 0.5: 2.2x faster, worst error
        0.43 px instead of 0.26 px on a translation).

    Raises:
      ValueError: for an unknown method or preset, or a scale outside (0, 1].
    """

    def __init__(self, method: str = "dis", dis_preset: str = "medium", scale: float = 1.0):
        if method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {method!r}; one of {FLOW_METHODS}")
        if method == "dis" and dis_preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {dis_preset!r}; one of "
                             f"{tuple(DIS_PRESETS)}")
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"flow scale must be in (0, 1], got {scale}")
        self.method = method
        self.scale = float(scale)
        # DIS keeps its buffers between calls: create it once.
        self._dis = (cv2.DISOpticalFlow_create(DIS_PRESETS[dis_preset])
                     if method == "dis" else None)
        self._min_short = (_DIS_PATCH * 2 ** self._dis.getFinestScale()
                           if self._dis is not None else 0)

    def __call__(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        """Flow from ``prev_gray`` to ``next_gray``.

        Args:
          prev_gray: (H, W) uint8.
          next_gray: (H, W) uint8.

        Returns:
          (H, W, 2) float32: pixel (x, y) of ``prev_gray`` moves to
          (x + flow[y, x, 0], y + flow[y, x, 1]) in ``next_gray``.
        """
        if prev_gray.shape != next_gray.shape or prev_gray.ndim != 2:
            raise ValueError(f"flow needs two (H, W) frames of one size, got "
                             f"{prev_gray.shape} and {next_gray.shape}")
        if self.method == "none":
            return np.zeros(prev_gray.shape + (2,), np.float32)
        height, width = prev_gray.shape
        size = self._flow_size(width, height)
        if size != (width, height):
            interpolation = cv2.INTER_AREA if size[0] < width else cv2.INTER_LINEAR
            prev_gray = cv2.resize(prev_gray, size, interpolation=interpolation)
            next_gray = cv2.resize(next_gray, size, interpolation=interpolation)
        if self._dis is not None:
            try:
                flow = self._dis.calc(prev_gray, next_gray, None)
            except cv2.error:  # A 1 x 500 frame (enlarged to 8 x 4000) failed in DIS
                # at times, by its content: a traceback mid-video. Farneback
                # takes any size.
                flow = cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, **_FARNEBACK)
        else:
            flow = cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, **_FARNEBACK)
        if size != (width, height):
            # Back to full size; vectors in full-size pixels, per axis.
            factors = np.float32([width / flow.shape[1], height / flow.shape[0]])
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * factors
        return np.asarray(flow, np.float32)


    def _flow_size(self, width: int, height: int) -> tuple[int, int]:
        """(w, h) the flow is computed at: ``scale`` times the frame's, but
        for DIS never under its minimum size (a tiny video's frames are
        enlarged instead: DIS would refuse them)."""
        if self._dis is None:
            scale = self.scale
        else:
            scale = max(self.scale, self._min_short / min(width, height))
        if scale == 1.0:
            return width, height
        size = [max(2, round(width * scale)), max(2, round(height * scale))]
        if self._dis is not None:  # Rounding must not undo the minimum.
            size = [max(side, self._min_short) for side in size]
            size = [min(side, _DIS_MAX_SIDE) for side in size]
        return size[0], size[1]


def sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear flow at sub-pixel points, the points clipped to the image.

    A point outside the image takes the flow of the nearest border pixel (a
    joint that left the frame keeps moving as the border does).

    Args:
      flow: (H, W, 2) flow.
      points: (..., 2) (x, y) pixel coordinates, finite.

    Returns:
      (..., 2) float32 flow at the points.
    """
    if min(flow.shape[:2]) < 1:
        raise ValueError(f"flow must be at least 1 x 1 pixels, got {flow.shape}")
    # A frame one pixel wide or tall (its flow refused: a traceback mid-video):
    # its one row or column repeated, so that the neighbour below exists.
    flow = np.pad(flow, ((0, max(0, 2 - flow.shape[0])), (0, max(0, 2 - flow.shape[1])),
                         (0, 0)), mode="edge")
    height, width = flow.shape[:2]
    pts = np.asarray(points, np.float64)
    x = np.clip(pts[..., 0], 0.0, width - 1.0)
    y = np.clip(pts[..., 1], 0.0, height - 1.0)
    # The left/top neighbour stays one pixel inside so that x0 + 1 exists;
    # on the last column the weight of x0 + 1 is then exactly 1.
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2)
    x1, y1 = x0 + 1, y0 + 1
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    top = flow[y0, x0] * (1 - fx) + flow[y0, x1] * fx
    bottom = flow[y1, x0] * (1 - fx) + flow[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def propagate_joints(joints: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Carries joints from one frame into the next along the flow.

    Args:
      joints: (..., K, 2) (x, y) in the earlier frame, e.g. (K, 2) or
        (N, K, 2).
      flow: (H, W, 2) flow from that frame to the next (:class:`DenseFlow`).

    Returns:
      (..., K, 2) float32 joints in the next frame: each joint plus the
      bilinear flow at it (see :func:`sample_flow`). The result is not
      clipped: a joint may leave the image.
    """
    joints = np.asarray(joints, np.float32)
    return joints + sample_flow(flow, joints)


class FlowInThread:
    """The flow (H, W, 2) from ``prev_gray`` to ``gray`` (H, W) of one frame,
    computed in a background thread. The thread waits on nothing, so a video
    given up between ``prepare`` and ``step`` (an error, Ctrl-C) leaves no
    thread blocked. Not a daemon: the interpreter's exit waits for its one
    flow (milliseconds); a daemon thread still inside OpenCV when Python
    tore down aborted the process ("terminate called without an active
    exception", exit 134) after a Ctrl-C.
    """

    def __init__(self, flow: DenseFlow, frame_rgb: np.ndarray, prev_gray: np.ndarray,
                 gray: np.ndarray):
        self.frame, self.gray = frame_rgb, gray
        self._result: Any = None
        self._error: Optional[BaseException] = None
        # An Event, not Thread.join: a Ctrl-C during join() left Python 3.11
        # taking the running thread for finished (result() then gave None).
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(flow, prev_gray, gray),
                                        name="pose-tracker-flow", daemon=False)
        self._thread.start()

    def _run(self, flow: DenseFlow, prev_gray: np.ndarray, gray: np.ndarray) -> None:
        try:
            self._result = flow(prev_gray, gray)
        except BaseException as e:  # noqa: BLE001 - raised again by result().
            self._error = e
        finally:
            self._done.set()

    def wait(self) -> None:
        """Until the flow is done; a Ctrl-C meanwhile is raised here."""
        self._done.wait()

    def result(self) -> np.ndarray:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._result
