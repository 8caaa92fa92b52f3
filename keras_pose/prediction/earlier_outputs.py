"""An earlier ``predict.py`` run's outputs in the same ``--output_dir``:
moved aside when they are of other inputs (``predictions.1.json``,
``<key>.1.*``), kept as ``.previous`` until this run has finished when they
are of the same inputs, never overwritten in silence.

A run's outputs are marked partial from its start until it has finished
(:data:`INCOMPLETE`: ``predictions.incomplete``, ``<name>.incomplete``):
a stop, a crash or ``kill -9`` leaves the mark, which moves with the
outputs. When two partial sets of one model compete the one holding more inputs (or
frames) is kept, and the other removed unless it holds a file the kept one
lacks (a tracked video's PoseTrack JSON, which ``kill -9`` leaves
unwritten): then it is moved aside (``<name>.<n>.*``); a complete set is
never replaced by a partial one. The
mark names the model (``--checkpoint``) that wrote them: a partial set of
another model is never removed for this run's, but moved aside as the
outputs of other inputs are (``predictions.<n>.json``, ``<name>.<n>.*``).

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

from keras_pose import log as logging
from keras_pose.files import fitting_name, nearest_existing
from keras_pose.signals import defer_interrupts

# The mark of outputs that a run which has not finished wrote (a text file
# saying so): ``predictions.json``'s is ``predictions.incomplete``, a video's
# ``<name>.incomplete``. Was: a stopped run's outputs looked complete, and
# the next run kept them as such (a rerun stopped again then deleted its own
# 91 images' results, keeping the first run's 14).
INCOMPLETE = ".incomplete"
SEQUENCE_SUFFIXES = (".frames.json", ".posetrack.json", ".pose.avi", INCOMPLETE)
# An earlier run's outputs of the same inputs, while this run has not finished.
PREVIOUS = ".previous"
# The line of an INCOMPLETE mark naming the model that wrote the outputs.
MODEL_LINE = "model: "


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
    lost the first one's results this way before. An input reached by
    another path to the same file (a linked folder) is the same input."""
    def ours(entry: dict) -> bool:
        name = entry.get("file_name")
        return name in names and same_input(entry.get("path", names[name]), names[name])
    if earlier_entries_are(path, ours):
        return None
    n = first_free([path, marker_of(path)])
    # Its mark goes with it (a partial file of other inputs stays known as such).
    _rename_all([(name, numbered(name, n)) for name in (path, marker_of(path))
                 if os.path.exists(name)])
    return numbered(path, n)


def same_input(recorded: object, path: str) -> bool:
    """Whether an entry's ``recorded`` input path (``path``, ``source``)
    names the file at ``path``: compared once links are resolved. Was: the
    same files given through a linked folder (``--input photos_link``, then
    ``--input photos``) were taken for other inputs, and the earlier results
    moved aside as another run's."""
    if recorded == path:
        return True
    return isinstance(recorded, str) and os.path.realpath(recorded) == os.path.realpath(path)


def previous_path(path: str) -> str:
    """``predictions.json`` -> ``predictions.previous.json``."""
    stem, ext = os.path.splitext(path)
    return stem + PREVIOUS + ext


def marker_of(path: str) -> str:
    """``predictions.json`` -> ``predictions.incomplete``: the file that
    marks ``path`` partial (:data:`INCOMPLETE`)."""
    return os.path.splitext(path)[0] + INCOMPLETE


def mark_incomplete(marker: str, results: str, model: Optional[str] = None) -> None:
    """Writes ``marker``, which says that ``results`` (and the outputs of
    its name beside it) are partial until the run writing them removes it
    at its end: left by a stop, a crash or ``kill -9``, it tells the next
    run and the user; its last line names the ``model`` writing them."""
    os.makedirs(os.path.dirname(marker) or ".", exist_ok=True)
    # surrogateescape: a name that is not UTF-8 (seq\xff, a --checkpoint
    # path) is written as its bytes (was a UnicodeEncodeError, the run lost).
    with open(marker, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(f"{os.path.basename(results)} (at first; the outputs beside this file whose "
                "names it shares, wherever they were moved) are partial: the predict.py run "
                "writing them did not finish (stopped, killed, or still running). A run over "
                "the same inputs that finishes replaces them and removes this file; a copy "
                "moved aside (.1, .2 ...) keeps it.\n"
                + (f"{MODEL_LINE}{model}\n" if model else ""))


def model_of(marker: str) -> Optional[str]:
    """The model a partial set's mark names (None: no mark, or one of an
    earlier version, which named none)."""
    try:
        # Back to the name mark_incomplete wrote (any bytes decode).
        with open(marker, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    return next((line[len(MODEL_LINE):] for line in lines if line.startswith(MODEL_LINE)),
                None)


def numbered(path: str, n: int) -> str:
    """An output's name when moved aside: ``predictions.json`` ->
    ``predictions.<n>.json``, a video's ``<name><suffix>`` ->
    ``<name>.<n><suffix>`` (the names other inputs' outputs are kept by)."""
    if any(path.endswith(suffix) for suffix in SEQUENCE_SUFFIXES):
        return tagged(path, f".{n}")
    stem, ext = os.path.splitext(path)
    return f"{stem}.{n}{ext}"


def first_free(paths: Collection[str]) -> int:
    """The first n (from 1) for which no ``numbered(path, n)`` of ``paths``
    exists: the number a set of outputs is moved aside to."""
    n = 1
    while any(os.path.lexists(numbered(path, n)) for path in paths):
        n += 1
    return n


def _drop(pairs: list[tuple[str, str]], side: int, model: Optional[str],
          count: Callable[[str], int]) -> Optional[tuple[str, str]]:
    """Removes one set of ``pairs`` (``side`` 0: the current files, 1: the
    previous ones) that the other set of the same inputs replaces. It is
    moved aside instead (each file to ``numbered(current name, n)``, the
    first n free for all; its mark goes with it) when it holds results no
    other set has: its mark names another model than ``model``, or it holds
    some of its inputs (``count``) and a file the other set lacks
    (:func:`_only_in`). Was: a tracked video stopped by SIGTERM at 62
    frames (with its PoseTrack JSON), again by ``kill -9`` at 100 (none:
    written at the end), then again at 0: the 62 frames' set was deleted,
    and with it the only PoseTrack JSON.

    Returns:
      None when removed, else (its results file's new name, why it was kept).
    """
    files = [(pair[side], pair[0]) for pair in pairs if os.path.lexists(pair[side])]
    theirs = model_of(_marker_pair(pairs)[side])
    only = _only_in(pairs, side)
    if files and model and theirs and theirs != model:
        why = f"of another model ({theirs})"
    elif only and count(pairs[0][side]) > 0:
        why = "holding " + ", ".join(only) + " (not among the outputs kept in their place)"
    else:
        _remove([path for path, _ in files])
        return None
    n = first_free([current for current, _ in pairs])
    _rename_all([(path, numbered(current, n)) for path, current in files])
    kept = numbered(pairs[0][0], n)
    logging.warning("%s: the partial outputs %s are kept as %s",
                    os.path.basename(pairs[0][0]), why, kept)
    return kept, why


def _only_in(pairs: list[tuple[str, str]], side: int) -> list[str]:
    """The files of set ``side`` whose counterpart the other set lacks (a
    tracked video's ``.posetrack.json``, which ``kill -9`` leaves unwritten).
    The :data:`INCOMPLETE` mark is not one: without it a set is complete."""
    return [pair[side] for pair in pairs if not pair[0].endswith(INCOMPLETE)
            and os.path.lexists(pair[side]) and not os.path.lexists(pair[1 - side])]


def held(path: str, field: Optional[str] = None) -> int:
    """How much the JSON list at ``path`` holds: its entries (a video's
    frames), or the distinct values of their ``field`` (``file_name``:
    predictions.json's images with people); 0 when missing or not a list."""
    try:
        with open(path, "rb") as f:
            entries = json.load(f)
    except (OSError, ValueError):
        return 0
    if not isinstance(entries, list):
        return 0
    if field is None:
        return len(entries)
    return len({str(entry.get(field)) for entry in entries if isinstance(entry, dict)})


def _marker_pair(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """The (current, previous) pair of the :data:`INCOMPLETE` marks."""
    return next(pair for pair in pairs if pair[0].endswith(INCOMPLETE))


def _remove(paths: Collection[str]) -> None:
    for path in paths:
        if os.path.lexists(path):
            os.remove(path)


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


def keep_previous(pairs: list[tuple[str, str]], count: Callable[[str], int],
                  model: Optional[str] = None) -> tuple[list[str], bool]:
    """Keeps an earlier run's outputs of the same inputs until this run has
    finished: each (current, previous) file pair's current file is moved to
    its previous name (all or none). ``pairs[0]`` is the results file
    (``count`` says how many inputs or frames one holds), one pair the
    :data:`INCOMPLETE` marks'. When previous files are there already, a
    stopped run wrote the current ones (a finished run removes the previous
    ones): the previous ones stay when complete (unmarked), or partial and
    holding more; partial and holding no more, they go, and the current
    ones take their place. Of the two, the set that goes is moved aside
    instead when its mark names another model than ``model``, or when it
    holds a file the other lacks (``_drop``).
    Was: the current ones always went, also when the previous ones were a
    stopped run's too (its 14 images kept, the next stopped run's 91
    deleted); and a stopped run of another checkpoint lost its outputs.

    Returns:
      (the previous files there now, whether this call moved them).
    """
    with defer_interrupts():  # Removed, not yet moved: a stop here lost both.
        previous = [p for _, p in pairs if os.path.lexists(p)]
        if previous:
            (results, kept), (_, kept_marker) = pairs[0], _marker_pair(pairs)
            if not (os.path.exists(kept_marker) and os.path.exists(results)
                    and count(results) >= count(kept)):
                # Complete earlier outputs, or an earlier stopped run's holding
                # more of the same inputs: this stopped run's partial ones go
                # (aside when of another model, or holding a file the others lack).
                _drop(pairs, 0, model, count)
                return previous, False
            _drop(pairs, 1, model, count)
        moves = [(current, previous) for current, previous in pairs if os.path.lexists(current)]
        _rename_all(moves)
    return [previous for _, previous in moves], bool(moves)


def put_back_previous(pairs: list[tuple[str, str]]) -> None:
    """Undoes :func:`keep_previous` for a run that wrote nothing: this run's
    current files (empty ones, its mark) removed and each previous file
    renamed back to the current name (the earlier run's mark too, if it was
    partial); nothing happens when there is no previous file."""
    if not any(os.path.lexists(previous) for _, previous in pairs):
        return
    _remove([current for current, _ in pairs])
    for current, previous in pairs:
        if os.path.lexists(previous):
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
        return same_input(entry.get("source", source), source) and (
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
    if os.path.exists(named(INCOMPLETE, f".{n}")):
        why += f"; partial, as {named(INCOMPLETE, f'.{n}')} says"
    return named(".frames.json", f".{n}"), why


def settle_previous(key: str, pairs: list[tuple[str, str]], complete: bool, done: int,
                    count: Callable[[str], int], unit: str,
                    why: str = "stopped before its end", model: Optional[str] = None) -> None:
    """After a run: an earlier run's outputs (each pair's previous file) go
    with this run's mark once this run's are ``complete``; they go back in
    place when this run holds no input (``done``: the inputs or frames it
    holds, as ``count`` counts them in ``unit``); else this run's stay
    marked partial beside them, and of two partial sets the one holding
    fewer goes (aside when its mark names another model than ``model`` or
    it holds a file the other lacks: ``_drop``).
    One line says what is kept where (``why``: why this run's outputs are
    partial)."""
    with defer_interrupts():  # A second Ctrl-C here left the sets half moved.
        line = _settled(pairs, complete, done, count, unit, why, model)
    if line:
        logging.warning("%s: %s", key, line)


def _settled(pairs: list[tuple[str, str]], complete: bool, done: int,
             count: Callable[[str], int], unit: str, why: str,
             model: Optional[str]) -> Optional[str]:
    """:func:`settle_previous`'s moves; the line to say (None: complete)."""
    (results, kept), (marker, kept_marker) = pairs[0], _marker_pair(pairs)
    previous = [p for _, p in pairs if os.path.lexists(p)]
    if complete:
        _remove(previous + [marker])  # The mark last: until then these are partial.
        return None
    earlier_partial = os.path.exists(kept_marker)
    if not done and previous:
        put_back_previous(pairs)
        return (f"this run {why} and holds no {unit}: the earlier run's outputs are back in "
                f"place" + (f" (partial too, as {marker} says)" if earlier_partial else ""))
    line = f"this run {why}: {results} holds its {done} {unit}, marked partial by {marker}"
    listed = ", ".join(p for p in previous if p != kept_marker)
    if not previous:
        return line
    if not earlier_partial:
        return line + f"; the earlier run's complete outputs are kept as {listed}"
    earlier = count(kept)
    if done >= earlier:  # The same inputs in the same order: these hold those and more.
        aside = _drop(pairs, 1, model, count)
        if aside:
            return line + (f"; the earlier stopped run's ({earlier} {unit}), {aside[1]}, are "
                           f"kept as {aside[0]}")
        return line + f"; the earlier stopped run's ({earlier} {unit}) are removed"
    return (line + f"; the earlier stopped run's, which hold more ({earlier} {unit}), are "
            f"kept as {listed} (partial too, as {kept_marker} says)")
