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
from typing import Iterable, Mapping, Sequence

import cv2
from absl import logging

from keras_pose.data.file_kinds import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video
from keras_pose.detection.file_detectors import file_key, name_form
from keras_pose.errors import UserError

# Photos in formats not read here: named, never silently passed over.
UNREAD_PHOTO_EXTENSIONS = (".heic", ".heif", ".avif", ".dng", ".cr2", ".cr3", ".nef", ".arw",
                           ".orf", ".rw2", ".raf", ".jp2", ".j2k", ".jpx", ".jxl", ".ppm",
                           ".pgm", ".pbm", ".pnm", ".pfm", ".exr", ".hdr", ".ico")
# Videos OpenCV opens but not listed above: named too (were passed over unsaid).
UNREAD_VIDEO_EXTENSIONS = (".vob", ".mxf", ".divx", ".asf", ".mjpeg", ".y4m", ".m2v", ".dv",
                           ".f4v")
# (extensions, why they are not read and the way out) of the note of find_inputs.
_UNREAD = ((UNREAD_PHOTO_EXTENSIONS, "the image formats read are JPEG, PNG, BMP, GIF and WebP; "
            "HEIC/HEIF/AVIF, JPEG 2000, JPEG XL, PNM and camera raw files are not): convert "
            "them to JPEG or PNG"),
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
      index: its position in the sorted input list (a stable image id when
        no annotation or detection file gives one).
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
    """Sort key of ``key`` with its digit runs compared as numbers:
    ``frame_2.jpg`` before ``frame_10.jpg``, as ``ffmpeg -i clip.mp4
    frame_%d.jpg`` numbers the frames (plain string order would track
    frame 10 right after frame 1). Ties (``a01`` and ``a1``) go by the key."""
    parts = re.split(r"(\d+)", key)
    # Odd positions are digit runs: every tuple alternates str and int.
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), key


def _is_media(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)


def _walk(root: str, recursive: bool) -> Iterable[str]:
    """The files of a folder (and its subfolders), as a glob's ``**`` sees
    them: symbolic links to folders followed (each folder once, so a link
    loop ends), hidden names (``.x``, macOS's ``._x``) left out."""
    if not recursive:
        return (os.path.join(root, f) for f in os.listdir(root) if not f.startswith("."))
    seen = set()

    def walk():
        for folder, dirs, files in os.walk(root, followlinks=True):
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


def _files(spec: str, recursive: bool) -> tuple[str, list[str]]:
    """(root, files) that ``spec`` names: a file, a folder's files or a glob's."""
    if os.path.isfile(spec):
        return os.path.dirname(os.path.abspath(spec)), [os.path.abspath(spec)]
    if os.path.isdir(spec):
        root = os.path.abspath(spec)
        return root, _once(p for p in _walk(root, recursive) if os.path.isfile(p)
                           or os.path.islink(p))
    fixed = spec.split("*")[0].split("?")[0].split("[")[0]
    root = os.path.abspath(fixed if fixed.endswith(os.sep) else os.path.dirname(fixed) or ".")
    return root, _once(os.path.abspath(p) for p in glob.glob(spec, recursive=True)
                       if os.path.isfile(p) or os.path.islink(p))


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
      InputError: when nothing is found (naming photos of formats not read).
    """
    root, files = _files(spec, recursive)
    dangling = _dangling_links(files)
    files = [p for p in files if os.path.isfile(p)]
    unread = "; ".join(filter(None, (_unread_formats(files), dangling)))
    # A file named on its own is an input whatever its name ends with (a
    # photo's reader names the format it cannot read), but for a video of a
    # format not read (a .vob was noted, then failed as an image).
    alone = os.path.isfile(spec) and not spec.lower().endswith(UNREAD_VIDEO_EXTENSIONS)
    keys = sorted(((os.path.relpath(p, root).replace(os.sep, "/"), p)
                   for p in files if _is_media(p) or alone),
                  key=lambda pair: natural_order(pair[0]))
    if not keys:
        if not files and not glob.has_magic(spec) and not os.path.lexists(spec):
            raise InputError(f"--input {spec}: no such file or folder")
        raise InputError(f"--input {spec}: no image or video found"
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
    ``files`` that no decoder here reads, and the like for videos of the
    extensions not read ("" when none)."""
    notes = []
    for extensions, why in _UNREAD:
        counts: dict[str, int] = {}
        for path in files:
            ext = os.path.splitext(path)[1].lower()
            if ext in extensions:
                counts[ext] = counts.get(ext, 0) + 1
        if counts:
            found = ", ".join(f"{n} {ext} file(s)" for ext, n in sorted(counts.items()))
            notes.append(f"{found} not read ({why}")
    return "; ".join(notes)


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


def sequences(inputs: Sequence[InputFile]) -> list[tuple[str, list[InputFile]]]:
    """(key, frames) of each folder of images, in key order: the frame
    sequences of ``--track`` (each folder of frames is one video), each key
    its own (outputs ``<key>.frames.json`` ...).

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
    return keyed


def image_ids_of_inputs(file_ids: Mapping[str, int], keys: Sequence[str],
                        source: str) -> dict[str, int]:
    """{input key: image id} of every image input, from an annotation
    file's {file_name: id}.

    An input takes the id of the ``file_name`` equal to its path relative to
    ``--input`` (names compared in Unicode's NFC form too: macOS writes
    'café.jpg' decomposed); an input left over takes the id of the left-over
    ``file_name`` with its bare name when that name is one input's and one
    file name's (:func:`listed_image_ids` keeps these). The images it does
    not list are named in a warning and take ids above its largest:
    that id + 1 + their index in ``keys`` (stable for the same inputs and
    file). Was: they kept their index, another image's id in the file
    (a.jpg id 1 in the file, b.jpg not in it: both 1), unsaid.

    Raises:
      InputError: naming ``source`` and listing the inputs whose bare name
        fits several inputs or file names (give paths relative to --input).
    """
    names = {file_key(name): int(image_id) for name, image_id in file_ids.items()}
    pairs = {key: key for key in keys if key in names}
    for form in (name_form, lambda name: name_form(os.path.basename(name))):
        found, problems = _pairs([k for k in keys if k not in pairs],
                                 set(names) - set(pairs.values()), form)
        pairs.update(found)
    if problems:  # Those of bare names: a path that fits two is one of them too.
        raise InputError(f"--annotations {source}: ambiguous file names, give each image's "
                         f"path relative to --input: {'; '.join(problems[:5])}")
    matched = {key: names[name] for key, name in pairs.items()}
    return {**matched, **_unlisted_image_ids(names, keys, matched, source)}


def listed_image_ids(image_ids: Mapping[str, int], file_ids: Mapping[str, int]
                     ) -> dict[str, int]:
    """The part of :func:`image_ids_of_inputs` ``image_ids`` that are the
    annotation file's own ids (``file_ids``: its {file_name: id}): those a
    boxes file's image ids may name (an id made up for an unlisted input
    may be another image's there)."""
    ids = {int(i) for i in file_ids.values()}
    return {key: i for key, i in image_ids.items() if i in ids}


def _pairs(keys: Sequence[str], names: Iterable[str], form) -> tuple[dict[str, str], list[str]]:
    """({input key: file name} for each ``form`` that one input and one
    file name have, problems: the forms that several of either have)."""
    inputs_by: dict[str, list[str]] = {}
    for key in keys:
        inputs_by.setdefault(form(key), []).append(key)
    files_by: dict[str, list[str]] = {}
    for name in sorted(names):
        files_by.setdefault(form(name), []).append(name)
    pairs, problems = {}, []
    for shared, owners in sorted(inputs_by.items()):
        files = files_by.get(shared, [])
        if len(owners) == 1 and len(files) == 1:
            pairs[owners[0]] = files[0]
        elif files:
            problems.append(f"{shared!r}: inputs {owners[:5]}, file names {files[:5]}")
    return pairs, problems


def _unlisted_image_ids(names: Mapping[str, int], keys: Sequence[str],
                        matched: Mapping[str, int], source: str) -> dict[str, int]:
    """{key: the file's largest id + 1 + its index} of the image inputs the
    annotation file does not list, named in a warning."""
    top = max(names.values(), default=-1)
    unlisted = {key: top + 1 + i for i, key in enumerate(keys)
                if key not in matched and not is_video(key)}
    if unlisted:
        # None matched: how names are matched, a file name and an input side by side.
        hint = ("" if matched or not names else
                f" (an image is found by its path relative to --input, or by its bare file "
                f"name: file_name {next(iter(names))!r}, input {next(iter(unlisted))!r})")
        logging.warning(
            "--annotations %s: %d of the %d image inputs are not in its 'images' (%s)%s: "
            "their image ids in predictions.json are %s, none of its own (list them in it, "
            "by path relative to --input, for ids of its own)",
            source, len(unlisted), len(unlisted) + len(matched),
            ", ".join(list(unlisted)[:5]) + (", ..." if len(unlisted) > 5 else ""), hint,
            f"above its largest id, {top}" if names else "their indices (it lists no image)")
    return unlisted
