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


def damaged_mjpg_avi(path, frames: int, damaged) -> None:
    """An MJPG AVI of ``frames`` random 64x48 frames (:func:`mjpg_avi_bytes`)
    whose frames at the indices ``damaged`` hold zeros in place of their JPEG
    data (each chunk keeps its size: the file's layout and index stay valid,
    and only the decoder refuses those frames)."""
    data = bytearray(mjpg_avi_bytes(path, frames))
    chunks, at = [], data.index(b"movi")
    while len(chunks) < frames:
        at = data.index(b"00dc", at + 4)
        size = int.from_bytes(data[at + 4:at + 8], "little")
        chunks.append((at + 8, size))
        at += 8 + size - 4
    for index in damaged:
        start, size = chunks[index]
        data[start:start + size] = bytes(size)
    with open(path, "wb") as f:
        f.write(bytes(data))
