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
import json
import os
import re
from typing import Iterable, Sequence

import cv2
from absl import logging

from keras_pose.data.file_kinds import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video
from keras_pose.errors import UserError

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
        return root, _once(p for p in _walk(root, recursive, unlisted) if os.path.isfile(p)
                           or os.path.islink(p)), [], unlisted
    fixed = spec.split("*")[0].split("?")[0].split("[")[0]
    root = os.path.abspath(fixed if fixed.endswith(os.sep) else os.path.dirname(fixed) or ".")
    matched = glob.glob(spec, recursive=True)
    files = _once(os.path.abspath(p) for p in matched if os.path.isfile(p) or os.path.islink(p))
    return root, files, [p for p in matched if os.path.isdir(p)], _unlisted_by_glob(spec)


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
    root, files, folders, unlisted = _files(spec, recursive)
    dangling = _dangling_links(files)
    files = [p for p in files if os.path.isfile(p)]
    # A file named on its own is an input whatever its name ends with (a
    # photo's reader names the format it cannot read), but for a video of a
    # format not read (a .vob was noted, then failed as an image).
    alone = os.path.isfile(spec) and not spec.lower().endswith(UNREAD_VIDEO_EXTENSIONS)
    unread = "; ".join(filter(None, (_unread_formats([] if alone else files), dangling,
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


def _dangling_links(files: Sequence[str]) -> str:
    """"2 links to missing files left out (a/x.jpg -> ...)" for the images
    and videos among ``files`` whose symbolic link points nowhere ("" when
    none): a photo moved away behind a link was skipped without a word."""
    dangling = [p for p in files if _is_media(p) and not os.path.exists(p)]
    if not dangling:
        return ""
    example = f"{dangling[0]} -> {os.readlink(dangling[0])}"
    return (f"{len(dangling)} link{'s' if len(dangling) > 1 else ''} to missing files left "
            f"out (e.g. {example}): restore the files or remove the links")


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


def without_own_outputs(inputs: list[InputFile], output_dir: str
                        ) -> tuple[list[InputFile], list[InputFile]]:
    """(inputs, left out): the inputs that are not predict.py's own outputs.

    With ``--output_dir`` inside the ``--input`` folder (``--input .`` and the
    default ``predictions``), a second run would find the first run's
    annotated copies among its inputs, run them and write
    ``x.pose.pose.jpg`` (or track the folder of copies as a video). A file
    at the place where a run over these inputs, tracked or not, puts an
    annotated copy (``<stem>.pose<ext>`` of an image, ``<key>.pose.avi`` of
    a video or a folder of frames) is left out; the others keep the image
    ids (indices) they would have without it. The same goes for the copies
    in any other folder under ``--input`` that holds a ``predictions.json``
    (an earlier run's ``--output_dir``).
    """
    written = set()
    # Only folders an earlier run wrote to (its predictions.json is there): a
    # user's own photo named x.pose.jpg was taken for a copy, then overwritten.
    earlier = _earlier_output_dirs(inputs)
    if os.path.isfile(os.path.join(output_dir, "predictions.json")):
        earlier.add(os.path.abspath(output_dir))
    for folder in earlier:
        listed, roots = _copies_listed_in(folder)
        written |= listed
        # Where a run over these inputs puts copies (those of images without
        # people are listed nowhere), unless that run's files show it had
        # another --input: then a photo named x.pose.jpg there is the user's.
        if not roots or _root(inputs) in roots:
            written |= {os.path.abspath(item.drawn_output(folder)) for item in inputs}
            written |= {os.path.abspath(sequence_output(folder, key, ".pose.avi"))
                        for key, _ in sequences(inputs)}
        # The copies of that run's photos without people (listed nowhere).
        written |= _copies_of_inputs_under(folder, roots, inputs)
    kept = [item for item in inputs if os.path.abspath(item.path) not in written]
    left_out = [item for item in inputs if os.path.abspath(item.path) in written]
    return [dataclasses.replace(item, index=i) for i, item in enumerate(kept)], left_out


def overwritten_inputs(inputs: Sequence[InputFile], output_dir: str) -> list[str]:
    """The inputs this run's annotated copies would overwrite (``--output_dir``
    equal to ``--input`` with a photo of its own named ``x.pose.jpg``)."""
    paths = {os.path.abspath(item.path) for item in inputs}
    outputs = {os.path.abspath(item.drawn_output(output_dir)) for item in inputs}
    outputs |= {os.path.abspath(sequence_output(output_dir, key, ".pose.avi"))
                for key, _ in sequences(inputs)}
    return sorted(paths & outputs)


def _root(inputs: Sequence[InputFile]) -> str:
    """The ``--input`` folder the inputs' keys are relative to."""
    if not inputs:
        return ""
    return os.path.abspath(inputs[0].path)[:-len(inputs[0].key)]


# In an output directory: the --input folders of the runs that wrote it (a
# run that found nobody lists no input in its predictions.json).
INPUT_ROOTS = ".inputs.json"


def record_input_root(output_dir: str, inputs: Sequence[InputFile],
                      remove: bool = False) -> None:
    """Adds this run's ``--input`` folder to ``output_dir``'s record (read
    by :func:`without_own_outputs` in later runs); ``remove``: takes it out
    again (a run that wrote nothing: the folder as it was)."""
    from keras_pose.files import write_json
    if not inputs:
        return
    path, roots = os.path.join(output_dir, INPUT_ROOTS), _recorded_roots(output_dir)
    if remove and _root(inputs) in roots:
        roots.discard(_root(inputs))
        if not roots:
            os.remove(path)
            return
    elif remove or _root(inputs) in roots:
        return
    write_json(path, {"inputs": sorted(roots | ({_root(inputs)} if not remove else set()))})


def _recorded_roots(folder: str) -> set[str]:
    try:
        with open(os.path.join(folder, INPUT_ROOTS), "rb") as f:
            roots = json.load(f).get("inputs", [])
    except (OSError, ValueError, AttributeError):  # None yet, or not ours to judge.
        return set()
    return {r for r in roots if isinstance(r, str)} if isinstance(roots, list) else set()


def _copies_listed_in(folder: str) -> tuple[set[str], set[str]]:
    """(copies, roots): the annotated copies an earlier run wrote into
    ``folder`` (its output directory), as its own files list them (each
    image of its ``predictions*.json``, each video or folder of frames of
    its ``*.frames.json``), and the ``--input`` folders its entries show.
    That run's inputs may have had another root than this run's
    (``--input photos/trip``, then ``--input photos``): its copies were run
    again as photos."""
    copies, roots = set(), _recorded_roots(folder)
    for name in os.listdir(folder):
        if name.startswith("predictions") and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    entries = json.load(f)
            except (OSError, ValueError):  # Not ours to judge: nothing taken from it.
                continue
            entries = [e for e in entries if isinstance(e, dict) and isinstance(
                e.get("file_name"), str) and e["file_name"]] if isinstance(entries, list) else []
            copies |= {os.path.abspath(InputFile(e["file_name"], e["file_name"], 0).drawn_output(
                folder)) for e in entries}
            roots |= {os.path.abspath(e["path"])[:-len(e["file_name"])] for e in entries
                      if isinstance(e.get("path"), str)
                      and e["path"].replace(os.sep, "/").endswith("/" + e["file_name"])}
    for parent, _, files in os.walk(folder):
        copies |= {os.path.join(os.path.abspath(parent), f[:-len(".frames.json")] + ".pose.avi")
                   for f in files if f.endswith(".frames.json")}
    return copies, roots


def _copies_of_inputs_under(folder: str, roots: set[str], inputs: Sequence[InputFile]
                            ) -> set[str]:
    """The inputs in ``folder`` (an earlier run's output directory) named as
    an annotated copy (``a/x.pose.jpg``) of a photo under one of that run's
    ``--input`` folders (``roots``/a/x.jpg): the copies of photos in which it
    found nobody, whom no entry of its predictions.json lists."""
    found = set()
    top = os.path.abspath(folder) + os.sep
    for item in inputs:
        path = os.path.abspath(item.path)
        copy_of = _copy_of(path, item.is_video)
        if not (path.startswith(top) and copy_of):
            continue
        original = os.path.relpath(copy_of, top)
        exists = os.path.exists if item.is_video else os.path.isfile
        if any(exists(os.path.join(root, original)) for root in roots):
            found.add(path)
    return found


def _copy_of(path: str, is_video: bool) -> str:
    """The input whose annotated copy ``path`` is named as ("" when none):
    ``<stem>.pose<ext>`` of a photo, ``<key>.pose.avi`` of a video or a
    folder of frames (the photos' rule took a user's ``dance.pose.avi``
    beside ``dance.avi`` for a copy: left out of every later run)."""
    if is_video:
        return path[:-len(".pose.avi")] if path.endswith(".pose.avi") else ""
    stem, ext = os.path.splitext(path)
    return stem[:-len(".pose")] + ext if stem.endswith(".pose") else ""


def _earlier_output_dirs(inputs: Sequence[InputFile]) -> set[str]:
    """The folders under ``--input`` (an input's folder or one above it, up
    to ``--input``) that hold a ``predictions.json``: earlier runs' outputs."""
    folders = set()
    for item in inputs:
        folder = os.path.dirname(os.path.abspath(item.path))
        for _ in range(item.key.count("/") + 1):  # Up to --input's folder, not above.
            folders.add(folder)
            folder = os.path.dirname(folder)
    return {f for f in folders if os.path.isfile(os.path.join(f, "predictions.json"))}


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
