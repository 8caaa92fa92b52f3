"""What ``predict.py`` reads and where each result goes.

Every input is keyed by its path relative to ``--input`` (a folder: its
files, in subfolders too; a glob: the folder before the first wildcard; a
file: its name). Inputs run in the keys' natural order (``frame_2.jpg``
before ``frame_10.jpg``: a folder of frames is a video). The key decides
everything else: the output files mirror
it under ``--output_dir`` (so two frames named ``000000.jpg`` in two
subfolders, or ``x.jpg`` and ``x.png`` side by side, never write the same
file), boxes files match by it, and ``predictions.json`` records it.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from typing import Iterable, Sequence

import cv2

from keras_pose import log as logging
from keras_pose.data.file_kinds import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video
from keras_pose.errors import UserError
from keras_pose.special_files import not_a_file, special_kind

# Photos in formats not read here: named with the way out. Every other file
# left out is counted by extension too (never passed over in silence).
UNREAD_PHOTO_EXTENSIONS = (".heic", ".heif", ".avif", ".dng", ".cr2", ".cr3", ".nef", ".nrw",
                           ".arw", ".srw", ".pef", ".orf", ".rw2", ".raf", ".raw", ".jp2",
                           ".j2k", ".jpx", ".jxl", ".jxr", ".ppm", ".pgm", ".pbm", ".pnm",
                           ".pfm", ".exr", ".hdr", ".ico", ".dib", ".tga", ".psd")
# JPEGs and PNGs by names of their own (a browser's, Twitter's): read once renamed.
RENAMED_PHOTO_EXTENSIONS = (".pjpeg", ".pjp", ".jfi", ".jpg_large", ".jpeg_large", ".apng")
# Videos OpenCV opens but not listed above: named too (were passed over unsaid).
UNREAD_VIDEO_EXTENSIONS = (".vob", ".mxf", ".divx", ".asf", ".mjpeg", ".y4m", ".m2v", ".dv",
                           ".f4v", ".qt", ".h264", ".h265", ".rm", ".rmvb", ".mjpg", ".m2t")
# (extensions, why they are not read and the way out) of the note of find_inputs.
_UNREAD = ((UNREAD_PHOTO_EXTENSIONS, "the image formats read are JPEG, PNG, BMP, GIF and WebP; "
            "HEIC/HEIF/AVIF, JPEG 2000, JPEG XL/XR, PNM, TGA, PSD and camera raw files are not): "
            "convert them to JPEG or PNG"),
           (RENAMED_PHOTO_EXTENSIONS, "JPEGs and PNGs named as browsers save them): rename "
            "them .jpg or .png, or name one on its own"),
           (UNREAD_VIDEO_EXTENSIONS, f"the videos read are {', '.join(VIDEO_EXTENSIONS)}): "
            "convert them to MP4 (e.g. ffmpeg -i INPUT OUTPUT.mp4)"))


class InputError(UserError, ValueError):
    """An input that cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One image or video.

    Attributes:
      path: the file.
      key: its path relative to ``--input`` (with "/" separators).
      index: its position in the sorted input list (its image id when no
        annotation or detection file gives ids: :mod:`image_ids`).
    """

    path: str
    key: str
    index: int

    @property
    def is_video(self) -> bool:
        return is_video(self.path)

    def drawn_output(self, output_dir: str) -> str:
        """Where its annotated copy goes: ``<stem>.pose<ext>`` for an image
        (``a/x.jpg`` -> ``a/x.pose.jpg``), ``<key>.pose.avi`` for a video.
        An image whose extension OpenCV cannot write is drawn as a JPEG,
        ``<stem>.pose<ext>.jpg`` (``x.jfif`` -> ``x.pose.jfif.jpg``: as
        ``x.jfif.pose.jpg`` it was the copy of ``x.jfif.jpg`` too, one
        overwriting the other); one named without an extension (an input
        only when named on its own) as ``<key>.pose.jpg``."""
        if self.is_video:
            return sequence_output(output_dir, self.key, ".pose.avi")
        stem, ext = os.path.splitext(self.key)
        if not ext:
            return sequence_output(output_dir, self.key, ".pose.jpg")
        if not cv2.haveImageWriter("x" + ext):
            return sequence_output(output_dir, stem, ".pose" + ext + ".jpg")
        return sequence_output(output_dir, stem, ".pose" + ext)


def sequence_output(output_dir: str, key: str, suffix: str) -> str:
    """``output_dir/<key><suffix>``: the files of a video or a folder of
    frames (``.pose.avi``, ``.frames.json``, ``.posetrack.json``); the key,
    extension included, keeps every output distinct."""
    return os.path.join(output_dir, *key.split("/")) + suffix


def natural_order(key: str) -> tuple:
    """Sort key of ``key`` with its numbers compared as numbers:
    ``frame_2.jpg`` before ``frame_10.jpg``, as ``ffmpeg -i clip.mp4
    frame_%d.jpg`` numbers the frames (plain string order would track
    frame 10 right after frame 1), and a digit run, a point and a digit run
    as a decimal number: ``t_0.04.jpg`` before ``t_0.2.jpg`` (frames named
    by their time in seconds; read as two whole numbers, 4 came after 2).
    Ties (``a01`` and ``a1``, ``t_0.5`` and ``t_0.50``) go by the key."""
    parts = re.split(r"(\d+(?:\.\d+)?)", key)
    # Odd positions are numbers, each (whole part, fraction's digits without
    # its trailing zeros): every tuple alternates str and (int, str).
    return tuple(_number(p) if i % 2 else p for i, p in enumerate(parts)), key


def _number(digits: str) -> tuple[int, str]:
    """``"12.0340"`` -> (12, "034"), ``"7"`` -> (7, ""): in tuple order as in
    number order (the fraction's digits, compared as strings, order as
    fractions once their trailing zeros are gone)."""
    whole, _, fraction = digits.partition(".")
    return int(whole), fraction.rstrip("0")


def _is_media(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)


def _walk(root: str, recursive: bool, unlisted: list[OSError]) -> Iterable[str]:
    """The files of a folder (and its subfolders), as a glob's ``**`` sees
    them: symbolic links to folders followed (each folder once, so a link
    loop ends), hidden names (``.x``, macOS's ``._x``) left out. The errors
    of the subfolders that cannot be listed go to ``unlisted`` (os.walk
    passed over them without a word)."""
    if not recursive:
        return (os.path.join(root, f) for f in os.listdir(root) if not f.startswith("."))
    seen = set()

    def walk():
        for folder, dirs, files in os.walk(root, onerror=unlisted.append, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            yield from (os.path.join(folder, f) for f in files if not f.startswith("."))
    return walk()


def _once(paths: Iterable[str]) -> list[str]:
    """Each name of each real folder once, by its shortest path (a glob's
    ``**`` followed a link loop into sub/loop/sub/loop/...: each photo ran
    dozens of times). A link to a file is an input of its own (a frame
    repeated by a link, a folder of links): one real file per input dropped
    frames and whole sequences, unsaid."""
    chosen: dict[tuple[str, str], str] = {}
    for path in sorted(paths, key=lambda p: (p.count(os.sep), p)):
        folder, name = os.path.split(path)
        chosen.setdefault((os.path.realpath(folder), name), path)
    return list(chosen.values())


def _files(spec: str, recursive: bool) -> tuple[str, list[str], list[str], list[OSError]]:
    """(root, files, folders, unlisted) that ``spec`` names: a file, a
    folder's files or a glob's; the folders a glob matches (not searched);
    the errors of the folders that could not be listed.

    Raises:
      InputError: a folder ``spec`` that cannot be listed, naming the reason.
    """
    if os.path.isfile(spec):
        return os.path.dirname(os.path.abspath(spec)), [os.path.abspath(spec)], [], []
    unlisted: list[OSError] = []
    if os.path.isdir(spec):
        root = os.path.abspath(spec)
        try:
            os.scandir(root).close()
        except OSError as e:  # Was "no image or video found".
            raise InputError(f"--input {spec}: the folder cannot be listed ({e.strerror or e}): "
                             "check its permissions") from e
        return root, _once(filter(_not_a_folder, _walk(root, recursive, unlisted))), [], unlisted
    fixed = spec.split("*")[0].split("?")[0].split("[")[0]
    root = os.path.abspath(fixed if fixed.endswith(os.sep) else os.path.dirname(fixed) or ".")
    matched = glob.glob(spec, recursive=True)
    files = _once(os.path.abspath(p) for p in matched if _not_a_folder(p))
    return root, files, [p for p in matched if os.path.isdir(p)], _unlisted_by_glob(spec)


def _not_a_folder(path: str) -> bool:
    """A file, a link (to a missing file: noted), or a special file (noted:
    a named pipe or a device named x.jpg was dropped without a word)."""
    return os.path.isfile(path) or os.path.islink(path) or special_kind(path) is not None


def _unlisted_by_glob(spec: str) -> list[OSError]:
    """The errors of the folders that a glob pattern lists and that cannot
    be listed (``glob`` passes over them without a word): those its part
    before each wildcard part matches (``a/*/b/*.jpg``: ``a`` and the
    ``a/*/b``), and every folder below them for a ``**``."""
    parts, folders = spec.split(os.sep), set()
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            parent = (os.sep.join(parts[:i]) or os.sep) if i else os.curdir
            pattern = os.path.join(parent, "**") if part == "**" else parent
            folders.update(glob.glob(pattern, recursive=True) if glob.has_magic(pattern)
                           else [pattern])
    unlisted = []
    for folder in sorted(f for f in folders if os.path.isdir(f)):
        try:
            os.scandir(folder).close()
        except OSError as e:
            unlisted.append(e)
    return unlisted


def find_inputs(spec: str, recursive: bool = True) -> tuple[list[InputFile], str]:
    """(inputs, note): the images and videos ``spec`` names, in the keys'
    natural order, and what it holds in photo or video formats not read here
    or as links to missing files, with the way out ("" when none), from
    one walk of the folder.

    Args:
      spec: a file, a folder (searched recursively unless ``recursive`` is
        False) or a glob pattern (``**`` allowed).
      recursive: search the subfolders of a folder.

    Raises:
      InputError: when nothing is found (naming photos of formats not read,
        the folders that could not be listed, those a glob matched), or a
        folder ``spec`` cannot be listed.
    """
    if (why := not_a_file(spec)):  # Was "no image or video found" (<(cat x.jpg), /dev/null).
        raise InputError(f"--input {spec} {why}")
    root, files, folders, unlisted = _files(spec, recursive)
    left_out = _left_out(files)
    files = [p for p in files if os.path.isfile(p)]
    # A file named on its own is an input whatever its name ends with (a
    # photo's reader names the format it cannot read), but for a video of a
    # format not read (a .vob was noted, then failed as an image).
    alone = os.path.isfile(spec) and not spec.lower().endswith(UNREAD_VIDEO_EXTENSIONS)
    unread = "; ".join(filter(None, (_unread_formats([] if alone else files), *left_out,
                                     _unlisted_note(unlisted))))
    keys = sorted(((os.path.relpath(p, root).replace(os.sep, "/"), p)
                   for p in files if _is_media(p) or alone),
                  key=lambda pair: natural_order(pair[0]))
    if not keys:
        if not files and not glob.has_magic(spec) and not os.path.lexists(spec):
            raise InputError(f"--input {spec}: no such file or folder")
        shown = ", ".join(sorted(folders)[:5]) + (" ..." if len(folders) > 5 else "")
        matched = (f"; the pattern matches {len(folders)} folder(s) ({shown}), whose files it "
                   f"does not search: give '{spec.rstrip(os.sep)}{os.sep}**' to search them, "
                   "or one folder") if folders else ""  # Was only "no image or video found".
        raise InputError(f"--input {spec}: no image or video found{matched}"
                         + (f"; {unread}" if unread else ""))
    return [InputFile(path, key, i) for i, (key, path) in enumerate(keys)], unread


def list_inputs(spec: str, recursive: bool = True) -> list[InputFile]:
    """The inputs of :func:`find_inputs`."""
    return find_inputs(spec, recursive)[0]


def _left_out(files: Sequence[str]) -> list[str]:
    """The notes of the images and videos among ``files`` whose symbolic link
    points nowhere, and of the special files (named pipes, devices, sockets):
    both were left out without a word (a photo moved away behind a link,
    ``mkfifo b.jpg``); [] when none."""
    dangling = [p for p in files if _is_media(p) and not os.path.exists(p)]
    special = [f"{p}: {special_kind(p)}" for p in files if special_kind(p)]
    notes = []
    if dangling:
        notes.append(f"{len(dangling)} link{'s' if len(dangling) > 1 else ''} to missing files "
                     f"left out (e.g. {dangling[0]} -> {os.readlink(dangling[0])}): restore the "
                     "files or remove the links")
    if special:
        notes.append(f"{len(special)} special file(s) left out, not files ("
                     f"{', '.join(special[:3])}{' ...' if len(special) > 3 else ''}): save what "
                     "they give into files first")
    return notes


def _unread_formats(files: Sequence[str]) -> str:
    """"3 .heic file(s) ...: convert them to JPEG" for the photos among
    ``files`` that no decoder here reads, the like for videos of the
    extensions not read, and a count by extension of every other file that
    is not an image or a video ("" when none)."""
    notes, others = [], {}
    for path in files:
        if not _is_media(path) and not _is_run_record(path):
            ext = os.path.splitext(path)[1].lower() or "(no extension)"
            others[ext] = others.get(ext, 0) + 1
    for extensions, why in _UNREAD:
        counts = {ext: n for ext, n in others.items() if ext in extensions}
        if counts:
            found = ", ".join(f"{n} {ext} file(s)" for ext, n in sorted(counts.items()))
            notes.append(f"{found} not read ({why}")
        others = {ext: n for ext, n in others.items() if ext not in extensions}
    if others:  # Was passed over in silence (.txt, but a .pef photo too).
        shown = sorted(others.items(), key=lambda pair: (-pair[1], pair[0]))
        notes.append(f"{sum(others.values())} other file(s) not read, not images or videos "
                     f"by their extension ({', '.join(f'{ext} {n}' for ext, n in shown[:8])}"
                     f"{' ...' if len(shown) > 8 else ''})")
    return "; ".join(notes)


def _is_run_record(path: str) -> bool:
    """A JSON file (or its ``.incomplete`` / ``.previous`` mark) of an
    earlier run's output folder (one holding a ``predictions.json``): not
    worth a note on every rerun of ``--input .``."""
    return (path.endswith((".json", ".incomplete", ".previous"))
            and os.path.isfile(os.path.join(os.path.dirname(path), "predictions.json")))


def _unlisted_note(unlisted: Sequence[OSError]) -> str:
    """"2 folder(s) cannot be listed ..." naming them and why ("" when none)."""
    if not unlisted:
        return ""
    shown = "; ".join(f"{e.filename}: {e.strerror or e}" for e in unlisted[:5])
    return (f"{len(unlisted)} folder(s) cannot be listed, their files not searched ({shown}"
            f"{' ...' if len(unlisted) > 5 else ''}): check their permissions")


def sequences(inputs: Sequence[InputFile], warn: bool = False
              ) -> list[tuple[str, list[InputFile]]]:
    """(key, frames) of each folder of images, in key order: the frame
    sequences of ``--track`` (each folder of frames is one video), each key
    its own (outputs ``<key>.frames.json`` ...). ``warn``: says which files
    of a sequence share a frame number (the run's listing: once a sequence).

    A folder's key is its path relative to ``--input``; frames right in
    ``--input`` take that folder's own name (``--input clips/seq1`` ->
    ``seq1``: two runs over two folders write two sets of outputs),
    ``frames`` when it has none, ``<name>_frames`` when a subfolder has
    that name (``seq1/`` holding frames and ``seq1/seq1/``: the subfolder's
    outputs replaced the others).
    """
    groups: dict[str, list[InputFile]] = {}
    for item in inputs:
        if not item.is_video:
            groups.setdefault(os.path.dirname(item.key), []).append(item)
    keyed = []
    for folder in sorted(groups, key=natural_order):
        key = folder
        if not folder:
            name = os.path.basename(os.path.dirname(os.path.abspath(groups[folder][0].path)))
            key = name or "frames"
            while key in groups:
                key = f"{key}_frames"
        keyed.append((key, groups[folder]))
        if warn:
            _say_shared_frame_numbers(groups[folder])
    return keyed


def _say_shared_frame_numbers(frames: Sequence[InputFile]) -> None:
    """Warns of a folder's frames of one frame number (``x_3.jpg`` and
    ``x_3.png``, ``x_5.jpg`` and ``x_05.jpg``): each is tracked as a frame of
    its own (8 frames of a 6-frame clip, unsaid); they run, as meant or not."""
    by_number: dict[tuple, list[str]] = {}
    for name in (os.path.basename(item.key) for item in frames):
        if re.search(r"\d", os.path.splitext(name)[0]):  # Names without digits give none.
            by_number.setdefault(natural_order(os.path.splitext(name)[0])[0], []).append(name)
    shared = [names for names in by_number.values() if len(names) > 1]
    if shared:
        logging.warning(
            "%s: files of one frame number (digits compared as numbers, extension and zero "
            "padding ignored): %s; each is tracked as a frame of its own (%d frames, %d more "
            "than the numbers): remove or rename the extra files if they are one frame",
            os.path.dirname(frames[0].path), "; ".join(" and ".join(n) for n in shared),
            len(frames), sum(len(names) - 1 for names in shared))
