"""Which files are images and which are videos, by their extension: what
``predict.py`` reads, and what a boxes file's entry may name.
(Ground floor: imports nothing of the project.)
"""

from __future__ import annotations

# .jfif / .jpe / .jif: JPEGs as Windows and browsers save them.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif", ".jif", ".png", ".bmp", ".webp", ".gif",
                    ".tif", ".tiff")
# What OpenCV's FFmpeg reads; a file it cannot open is reported as unreadable.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".3gp",
                    ".wmv", ".flv", ".ts", ".mts", ".m2ts", ".ogv")


def is_video(name: str) -> bool:
    """Whether ``name`` (a path or an input key) names a video file."""
    return name.lower().endswith(VIDEO_EXTENSIONS)
