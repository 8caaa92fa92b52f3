"""predict.py's own outputs among its inputs: ``--output_dir`` inside the
``--input`` folder (``--input .`` and the default ``predictions``), or an
earlier run's output folder under ``--input``, holds annotated copies that
a rerun must not take for photos (``x.pose.pose.jpg``) nor overwrite, while
a user's own photo named like one stays an input. ``.inputs.json`` in an
output folder records which ``--input`` its copies came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Sequence

from keras_pose.prediction.inputs import InputFile, sequence_output, sequences

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
