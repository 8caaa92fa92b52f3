"""An earlier ``predict.py`` run's outputs in the same ``--output_dir``:
moved aside when they are of other inputs (``predictions.1.json``,
``<key>.1.*``), kept as ``.previous`` until this run has finished when they
are of the same inputs, never overwritten in silence.

A video's (or a folder of frames') kept outputs are named
``<name><tag><suffix>`` (``clip.mp4.previous.pose.avi``, ``clip.mp4.1.frames.json``);
a name that leaves no room for the tag has its ``<name>`` shortened to
``<first bytes>~<hash>`` (:func:`tagged`; the same for every suffix), so
that keeping them never fails on a name the input's own outputs fit.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Collection, Mapping, Optional

from absl import logging

from keras_pose.files import fitting_name, nearest_existing

SEQUENCE_SUFFIXES = (".frames.json", ".posetrack.json", ".pose.avi")
# An earlier run's outputs of the same inputs, while this run has not finished.
PREVIOUS = ".previous"


def name_limit(path: str) -> int:
    """The bytes a file name may have in ``path``'s folder (255 when the
    file system does not say)."""
    try:
        return os.pathconf(nearest_existing(os.path.dirname(path) or "."), "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def name_too_long(path: str) -> bool:
    """Whether ``path``'s file name passes its folder's limit."""
    return len(os.fsencode(os.path.basename(path))) > name_limit(path)


def tagged(current: str, tag: str) -> str:
    """The kept name of a video's output ``current`` (``<dir>/<name><suffix>``,
    a suffix of :data:`SEQUENCE_SUFFIXES`): ``<dir>/<name><tag><suffix>``, its
    ``<name>`` shortened by ``files.fitting_name`` when the tag and the
    longest suffix leave no room (one shortening for every suffix, so the
    ``.frames.json`` of a kept ``.pose.avi`` is found beside it). Was: a
    236-byte video name's ``.previous.frames.json`` did not fit ("File name
    too long" stopped the whole run; a 233-byte one's ``.previous.posetrack.json``
    failed after frames.json had been moved)."""
    if not tag:
        return current
    suffix = next(s for s in SEQUENCE_SUFFIXES if current.endswith(s))
    folder, name = os.path.split(current[:-len(suffix)])
    room = len(os.fsencode(tag)) + max(len(s) for s in SEQUENCE_SUFFIXES)
    return os.path.join(folder, fitting_name(name, room, name_limit(current)) + tag + suffix)


def earlier_entries_are(path: str, ours: Callable[[dict], bool]) -> bool:
    """Whether the JSON list at ``path`` is missing, or holds only entries
    (dicts) that ``ours`` accepts: then this run may replace it. A file that
    is not such a list is not this run's to delete."""
    try:
        with open(path, "rb") as f:
            earlier = json.load(f)
    except FileNotFoundError:
        return True
    except OSError:  # Was raised (a name too long, a folder): the whole run stopped.
        return not os.path.lexists(path)  # Something there that is not ours: kept.
    except ValueError:  # Not JSON (or not ours): kept.
        return False
    return isinstance(earlier, list) and all(
        isinstance(entry, dict) and ours(entry) for entry in earlier)


def keep_earlier_results(path: str, names: Mapping[str, str]) -> Optional[str]:
    """Moves an earlier run's results file at ``path`` to ``<stem>.<n>.json``
    (the first free n; returned) unless every entry is for one of ``names``
    ({file_name: the input's absolute path}; an entry's ``path``, when it
    has one, must be that input's too): a run over the same inputs again
    replaces it. A file that is not a list of results is kept too: it is
    not this run's to delete. Two runs (``predict.py a.jpg``, then
    ``b.jpg``, or ``a/x.jpg`` then ``b/x.jpg``) into one ``--output_dir``
    lost the first one's results this way before."""
    def ours(entry: dict) -> bool:
        name = entry.get("file_name")
        return name in names and entry.get("path", names[name]) == names[name]
    if earlier_entries_are(path, ours):
        return None
    stem, n = os.path.splitext(path)[0], 1
    while os.path.exists(f"{stem}.{n}.json"):
        n += 1
    os.replace(path, f"{stem}.{n}.json")  # The run holds the folder's lock.
    return f"{stem}.{n}.json"


def previous_path(path: str) -> str:
    """``predictions.json`` -> ``predictions.previous.json``."""
    stem, ext = os.path.splitext(path)
    return stem + PREVIOUS + ext


def _rename_all(moves: list[tuple[str, str]]) -> None:
    """Each (from, to) renamed, all or none: a failed rename puts back the
    ones done, then raises (was: a set of outputs left half-renamed, which
    the next run took for a stopped run's and deleted)."""
    done = []
    try:
        for source, target in moves:  # The run holds the folder's lock.
            os.replace(source, target)
            done.append((source, target))
    except OSError:
        for source, target in reversed(done):
            os.replace(target, source)
        raise


def keep_previous(pairs: list[tuple[str, str]]) -> tuple[list[str], bool]:
    """Keeps an earlier run's outputs of the same inputs until this run has
    finished: each (current, previous) file pair's current file is moved to
    its previous name (all or none). When previous files are there already,
    a run stopped before its end wrote the current ones (a finished run
    removes the previous ones): those are removed, and the older, complete
    ones stay.

    Returns:
      (the previous files there now, whether this call moved them).
    """
    if any(os.path.exists(previous) for _, previous in pairs):
        for current, _ in pairs:
            if os.path.exists(current):
                os.remove(current)
        return [previous for _, previous in pairs if os.path.exists(previous)], False
    moves = [(current, previous) for current, previous in pairs if os.path.exists(current)]
    _rename_all(moves)
    return [previous for _, previous in moves], bool(moves)


def put_back_previous(pairs: list[tuple[str, str]]) -> None:
    """Undoes :func:`keep_previous` for a run that wrote nothing: each pair's
    current file (this run's empty one) removed, its previous file renamed
    back to the current name."""
    for current, previous in pairs:
        if os.path.exists(previous):
            if os.path.exists(current):
                os.remove(current)
            os.replace(previous, current)


def keep_earlier_sequence(output: Callable[[str], str], source: str,
                          frames: Optional[Collection[str]] = None,
                          tracked: bool = True, tag: str = "") -> Optional[tuple[str, str]]:
    """Moves an earlier run's outputs of a video or a folder of frames
    (``tagged(output(suffix), tag)`` for each of :data:`SEQUENCE_SUFFIXES`;
    ``tag`` :data:`PREVIOUS`: those a stopped rerun kept) to the tag
    ``<tag>.<n>`` (the first n free for all) when its frames.json
    names another ``source`` (the input's absolute path) in its entries, or,
    for a folder, a frame not among this run's ``frames`` (file names): ``a.avi``
    of another folder, or frames 4-6 of a folder tracked after frames 1-3,
    given in a later run into the same ``--output_dir``, replaced the first
    one's results in silence. So are a tracked run's outputs when this run
    is not ``tracked``: its track ids and PoseTrack JSON were lost. A run
    over the same source again (or an earlier version's file, which names
    none) replaces them.

    Returns:
      None, or (the kept frames.json's path, why it was kept).
    """
    names = None if frames is None else {os.path.basename(name) for name in frames}

    def ours(entry: dict) -> bool:
        return entry.get("source", source) == source and (
            names is None or os.path.basename(str(entry.get("file_name", ""))) in names)

    def named(suffix: str, kept: str = "") -> str:
        return tagged(output(suffix), tag + kept)
    if not earlier_entries_are(named(".frames.json"), ours):
        why = "another input of this name"
    elif not tracked and os.path.exists(named(".posetrack.json")):
        why = "tracked, this run is not"
    else:
        return None
    n = 1
    while any(os.path.exists(named(suffix, f".{n}")) for suffix in SEQUENCE_SUFFIXES):
        n += 1
    _rename_all([(named(suffix), named(suffix, f".{n}")) for suffix in SEQUENCE_SUFFIXES
                 if os.path.exists(named(suffix))])
    return named(".frames.json", f".{n}"), why


def settle_previous(key: str, pairs: list[tuple[str, str]], complete: bool,
                    frames: int) -> None:
    """An earlier run's outputs of the same video or folder (each pair's
    previous file) go once this run's are complete; they go back in place
    when this run wrote no frame; else they stay, and are named."""
    previous = [p for _, p in pairs if os.path.exists(p)]
    if not previous:
        return
    if complete:
        for path in previous:
            os.remove(path)
    elif not frames:  # Stopped (or failed) at once: nothing of this run's to keep.
        put_back_previous(pairs)
    else:
        logging.warning("%s: the earlier run's outputs of it are kept (%s): this run's are "
                        "not complete", key, ", ".join(previous))
