"""Small video files for the prediction tests."""

import struct

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


def rotated_mp4(path, frames: int = 3) -> None:
    """An MP4 of ``frames`` 64x48 frames, black with a white band on their
    16 left columns, whose rotation metadata says 90 degrees (a phone's
    portrait video, stored lying): its track header's display matrix set to
    ffmpeg's for ``-metadata:s:v rotate=90`` (a=0, b=1, c=-1, d=0). Turned
    upright, a frame is 48 wide x 64 high with the band along its top."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert writer.isOpened(), "OpenCV cannot write .mp4 here"
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :16] = 255
    for _ in range(frames):
        writer.write(frame)
    writer.release()
    data = bytearray(open(path, "rb").read())
    at = data.index(b"tkhd")
    # After "tkhd": version and flags (4), times, track id and duration (20
    # bytes in version 0, 32 in 1), reserved (8), layer to volume (8).
    matrix = at + 4 + 4 + (32 if data[at + 4] == 1 else 20) + 8 + 8
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
    with open(path, "wb") as f:
        f.write(bytes(data))
