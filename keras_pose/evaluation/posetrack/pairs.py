"""Pairing PoseTrack ground-truth and prediction files by file name."""

from __future__ import annotations

import os

from absl import logging

from keras_pose.errors import FlagError, MissingFileError


def _prediction_file(pred: str, gt_file: str) -> str:
    """``<pred>/<name>.json``, else predict.py's ``<pred>/<name>.posetrack.json``
    (``--track`` on a folder of frames named as the sequence); both there
    is an error (one was chosen in silence)."""
    name = os.path.basename(gt_file)
    same = os.path.join(pred, name)
    tracked = os.path.join(pred, os.path.splitext(name)[0] + ".posetrack.json")
    if os.path.isfile(same) and os.path.isfile(tracked):
        raise FlagError(f"--pred {pred} holds two predictions of sequence {name}: {same} and "
                        f"{tracked}; move one of them out of the folder")
    return tracked if os.path.isfile(tracked) else same


def sequence_pairs(gt: str, pred: str) -> list[tuple[str, str]]:
    """(ground truth, prediction) files matched by file name.

    Args:
      gt: a ground-truth JSON file or a directory of them (``*.json``).
      pred: a prediction file (with a ``gt`` file) or a directory holding a
        file of the same name for every ground-truth file (or, as
        ``predict.py --track`` names them, ``<name>.posetrack.json``).

    Raises:
      FileNotFoundError: naming the missing path or prediction file.
    """
    if os.path.isdir(gt):
        gt_files = sorted(os.path.join(gt, f) for f in os.listdir(gt)
                          if f.endswith(".json"))
        if not gt_files:
            raise MissingFileError(f"no .json ground-truth files in {gt}")
    elif os.path.isfile(gt):
        gt_files = [gt]
    else:
        raise MissingFileError(f"ground truth {gt} does not exist")
    if os.path.isfile(pred) and not os.path.isdir(gt):
        return [(gt, pred)]
    if not os.path.isdir(pred):
        raise MissingFileError(f"predictions {pred} is not a directory")
    pairs = [(g, _prediction_file(pred, g)) for g in gt_files]
    missing = [p for _, p in pairs if not os.path.isfile(p)]
    if missing:
        raise MissingFileError(
            f"no prediction file for {len(missing)} ground-truth sequence(s): "
            + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    _say_unpaired(pred, {os.path.basename(p) for _, p in pairs})
    return pairs


# What predict.py --track and the evaluations write beside the sequences' files.
_NOT_SEQUENCES = ("predictions.json", "metrics.json")


def _say_unpaired(pred: str, used: set) -> None:
    """Warns of prediction files in ``pred`` that no ground-truth sequence
    pairs with (they were left out in silence)."""
    unpaired = sorted(f for f in os.listdir(pred) if f.endswith(".json") and f not in used
                      and not f.endswith(".frames.json") and f not in _NOT_SEQUENCES)
    if unpaired:
        logging.warning("--pred %s: %d prediction file(s) have no ground-truth sequence of "
                        "their name and are not evaluated: %s", pred, len(unpaired),
                        ", ".join(unpaired[:5]) + (" ..." if len(unpaired) > 5 else ""))
