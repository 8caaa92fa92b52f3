"""What ``predict.py`` reads and where each result goes.

Every input is keyed by its path relative to ``--input`` (a folder: its
files, in subfolders too; a glob: the folder before the first wildcard; a
file: its name). The key decides everything else: the output files mirror
it under ``--output_dir`` (so two frames named ``000000.jpg`` in two
subfolders, or ``x.jpg`` and ``x.png`` side by side, never write the same
file), boxes files match by it, and ``predictions.json`` records it.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Iterable

from keras_pose.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")


class InputError(UserError, ValueError):
    """An input that cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One image or video.

    Attributes:
      path: the file.
      key: its path relative to ``--input`` (with "/" separators).
      index: its position in the sorted input list (a stable image id when
        no annotation or detection file gives one).
    """

    path: str
    key: str
    index: int

    @property
    def is_video(self) -> bool:
        return self.path.lower().endswith(VIDEO_EXTENSIONS)

    def output(self, output_dir: str, suffix: str) -> str:
        """``output_dir/<key>`` + ``suffix`` (e.g. ``.pose.jpg``): the key,
        extension included, keeps every output distinct."""
        return os.path.join(output_dir, *self.key.split("/")) + suffix


def _is_media(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)


def _walk(root: str, recursive: bool) -> Iterable[str]:
    if not recursive:
        return (os.path.join(root, f) for f in os.listdir(root))
    return (os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def list_inputs(spec: str, recursive: bool = True) -> list[InputFile]:
    """The images and videos ``spec`` names, sorted by key.

    Args:
      spec: a file, a folder (searched recursively unless ``recursive`` is
        False) or a glob pattern (``**`` allowed).
      recursive: search the subfolders of a folder.

    Raises:
      InputError: when nothing is found.
    """
    if os.path.isfile(spec):
        root, paths = os.path.dirname(os.path.abspath(spec)), [os.path.abspath(spec)]
    elif os.path.isdir(spec):
        root = os.path.abspath(spec)
        paths = [p for p in _walk(root, recursive) if _is_media(p) and os.path.isfile(p)]
    else:
        fixed = spec.split("*")[0].split("?")[0].split("[")[0]
        root = os.path.abspath(fixed if fixed.endswith(os.sep) else os.path.dirname(fixed) or ".")
        paths = [os.path.abspath(p) for p in glob.glob(spec, recursive=True)
                 if _is_media(p) and os.path.isfile(p)]
    keys = sorted((os.path.relpath(p, root).replace(os.sep, "/"), p) for p in paths)
    if not keys:
        raise InputError(f"--input {spec}: no image or video found")
    return [InputFile(path, key, i) for i, (key, path) in enumerate(keys)]


def sequences(inputs: list[InputFile]) -> list[list[InputFile]]:
    """Images grouped by folder, in key order: the frame sequences of
    ``--track`` (each folder of frames is one video)."""
    groups: dict[str, list[InputFile]] = {}
    for item in inputs:
        if not item.is_video:
            groups.setdefault(os.path.dirname(item.key), []).append(item)
    return [groups[k] for k in sorted(groups)]
