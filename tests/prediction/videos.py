"""Small video files for the prediction tests."""

import cv2
import numpy as np


def mjpg_avi_bytes(path, frames: int) -> bytes:
    """Writes ``frames`` random 64x48 frames as an MJPG AVI at ``path`` and
    returns its bytes (each frame a "00dc" chunk, then the "idx1" index: a
    file cut between chunks keeps the header's frame count)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), np.uint8))
    writer.release()
    with open(path, "rb") as f:
        return f.read()
