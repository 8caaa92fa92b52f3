"""Pairing PoseTrack ground-truth and prediction files by file name."""

from __future__ import annotations

import os
import re
from typing import Optional

from keras_pose import log as logging
from keras_pose.data.file_kinds import is_video
from keras_pose.errors import FlagError, MissingFileError


def _json_stem(file_name: str) -> Optional[str]:
    """The name without ``.json`` in any case (``clip2.JSON``: ``clip2``),
    None for other names: upper-case extensions were skipped in silence."""
    return file_name[:-5] if file_name.lower().endswith(".json") else None


def _json_files(folder: str, what: str) -> list[str]:
    """The names of the JSON files of ``folder``, sorted; a folder named
    ``*.json`` (was taken for a sequence) is left out with a warning."""
    names = sorted(f for f in os.listdir(folder) if _json_stem(f) is not None)
    folders = [f for f in names if not os.path.isfile(os.path.join(folder, f))]
    if folders:
        logging.warning("%s %s: %s named like JSON files but not files; left out", what, folder,
                        ", ".join(folders[:5]) + (" ..." if len(folders) > 5 else ""))
    return [f for f in names if f not in folders]


def _prediction_file(pred: str, pred_files: list[str], gt_file: str) -> str:
    """``<pred>/<name>.json``, else predict.py's ``<pred>/<name>.posetrack.json``
    (``--track`` on a folder of frames named as the sequence), the extension
    in any case; two such files is an error (one was chosen in silence)."""
    name = os.path.basename(gt_file)
    stem = _sequence(gt_file)
    same = [f for f in pred_files if _json_stem(f) == stem]
    tracked = [f for f in pred_files if _json_stem(f) == stem + ".posetrack"]
    found = [os.path.join(pred, f) for f in same + tracked]
    if len(found) > 1:
        count, which = ("two", "one of them") if len(found) == 2 else (len(found), "all but one")
        raise FlagError(f"--pred {pred} holds {count} predictions of sequence {name}: "
                        f"{' and '.join(found)}; move {which} out of the folder")
    return found[0] if found else os.path.join(pred, name)


def _sequence(gt_file: str) -> str:
    """The sequence a ground-truth file is of: its name without ``.json``."""
    name = os.path.basename(gt_file)
    return _json_stem(name) or os.path.splitext(name)[0]


def _not_found(pred: str, pred_files: list[str], stems: list[str]) -> str:
    """The error of the sequences ``stems`` without a prediction file in
    ``pred``: both names taken (only ``<name>.json`` was said, while
    predict.py writes ``<name>.posetrack.json``), and where they are when
    one folder down (``--input images`` wrote ``out/val/...``)."""
    shown = ", ".join(f"{os.path.join(pred, s)}.json (or {s}.posetrack.json, predict.py "
                      "--track's name)" for s in stems[:5])
    return (f"no prediction file for {len(stems)} ground-truth sequence(s): {shown}"
            + (" ..." if len(stems) > 5 else "") + _one_folder_down(pred, stems)
            + _of_videos(pred, pred_files, stems))


def _one_folder_down(pred: str, stems: list[str]) -> str:
    """"; found in val/: pass --pred <pred>/val" for the subfolder of
    ``pred`` holding most of the sequences' files ("" when none does)."""
    found = {}
    for sub in sorted(os.listdir(pred)):
        try:
            names = {_json_stem(f) for f in os.listdir(os.path.join(pred, sub))}
        except OSError:  # A file, or a folder that cannot be listed: not theirs.
            continue
        found[sub] = sum(s in names or f"{s}.posetrack" in names for s in stems)
    best = max(found, key=lambda sub: found[sub], default=None)
    if not best or not found[best]:
        return ""
    some = "" if found[best] == len(stems) else f"{found[best]} of them "
    return f"; {some}found in {best}/: pass --pred {os.path.join(pred, best)}"


def _of_videos(pred: str, pred_files: list[str], stems: list[str]) -> str:
    """A note on predict.py's outputs of videos in ``pred`` named as the
    sequences ``stems`` (``move10.mp4.posetrack.json``), "" when none: they
    were passed over unsaid, the user told of no file."""
    videos = [f[:-len(".posetrack.json")] for f in pred_files
              if f.lower().endswith(".posetrack.json")]
    videos = [v for v in videos if is_video(v) and os.path.splitext(v)[0] in stems]
    if not videos:
        return ""
    listed = ", ".join(os.path.join(pred, v + ".posetrack.json") for v in videos[:5])
    return (f"; {listed} {'is' if len(videos) == 1 else 'are'} predict.py's output of a "
            f"video, whose frames ({videos[0]}#0, #1 ..., ids from 0) do not pair with a "
            "ground truth's frames: run predict.py --track on the sequence's folder of "
            "frames (PoseTrack's images/val/<sequence>/)")


def _ground_truth_files(gt: str) -> list[str]:
    if os.path.isdir(gt):
        gt_files = [os.path.join(gt, f) for f in _json_files(gt, "--gt")]
        if not gt_files:
            raise MissingFileError(f"no .json ground-truth files in {gt}")
        return gt_files
    if os.path.isfile(gt):
        return [gt]
    raise MissingFileError(f"ground truth {gt} does not exist")


def sequence_pairs(gt: str, pred: str) -> list[tuple[str, str]]:
    """(ground truth, prediction) files matched by file name.

    Args:
      gt: a ground-truth JSON file or a directory of them (``*.json``, the
        extension in any case).
      pred: a prediction file (with a ``gt`` file) or a directory holding a
        file of the same name for every ground-truth file (or, as
        ``predict.py --track`` names them, ``<name>.posetrack.json``).

    Raises:
      FileNotFoundError: naming the missing path or prediction file.
      FlagError: a ground-truth directory with a prediction file.
    """
    gt_files = _ground_truth_files(gt)
    if os.path.isfile(pred) and os.path.isdir(gt):  # Was "is not a directory".
        raise FlagError(f"--gt {gt} is a folder of sequences but --pred {pred} is a file: a "
                        "ground-truth folder needs a predictions folder (one file per "
                        "sequence); or give --gt the sequence's ground-truth file")
    if os.path.isfile(pred):
        return [(gt, pred)]
    if not os.path.isdir(pred):
        raise MissingFileError(f"predictions {pred} is not a directory")
    pred_files = _json_files(pred, "--pred")
    pairs = [(g, _prediction_file(pred, pred_files, g)) for g in gt_files]
    missing = [_sequence(g) for g, p in pairs if not os.path.isfile(p)]
    if missing:
        raise MissingFileError(_not_found(pred, pred_files, missing))
    _say_unpaired(pred, pred_files, {os.path.basename(p) for _, p in pairs})
    return pairs


# What predict.py --track and the evaluations write beside the sequences'
# files: its records (.inputs.json, hidden), results kept from earlier runs
# (predictions.1.json, predictions.previous.json) and per-frame lists (were
# warned of as sequences without ground truth).
_NOT_SEQUENCES = re.compile(r"\..*|predictions(\.\d+|\.previous)?\.json|metrics\.json"
                            r"|.*\.frames\.json", re.IGNORECASE)


def _say_unpaired(pred: str, pred_files: list[str], used: set) -> None:
    """Warns of prediction files in ``pred`` that no ground-truth sequence
    pairs with (they were left out in silence)."""
    unpaired = [f for f in pred_files if f not in used and not _NOT_SEQUENCES.fullmatch(f)]
    if unpaired:
        logging.warning("--pred %s: %d prediction file(s) have no ground-truth sequence of "
                        "their name and are not evaluated: %s", pred, len(unpaired),
                        ", ".join(unpaired[:5]) + (" ..." if len(unpaired) > 5 else ""))
