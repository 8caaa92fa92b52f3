"""Model checkpoint directories: weights plus the config that rebuilds them.

A *model checkpoint* is a directory holding

- ``config.json``: the whole :class:`ExperimentConfig` (its ``model`` section
  rebuilds the network, including the input normalisation it expects; its
  ``data`` section the keypoint names, flip pairs, skeleton and sigmas);
- ``model.weights.h5``: the Keras weights;
- ``COMPLETE``: written last, after every file was flushed to disk (fsync):
  a directory without it is an interrupted write and is never used.

Every directory is written by :func:`write_checkpoint_dir`: into a
temporary sibling named after the writing host and process, then renamed
into place, with Ctrl-C deferred until the write is over. Training writes
more files into its epoch checkpoints (optimizer state, ``state.json``) but
every one of them is also a model checkpoint. A *model directory* is what
``train.py --model_dir`` fills::

    model_dir/config.json            the final config
    model_dir/checkpoints/epoch_0007/  the last few epochs (model checkpoints)
    model_dir/best/                  the best epoch by the validation metric
    model_dir/saved_model/           the exported SavedModel

:func:`resolve_checkpoint` accepts any of these forms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import re
import warnings
from typing import Callable, Optional

import keras
import numpy as np

from keras_pose import log as logging
from keras_pose.configs import ExperimentConfig, load_config, save_config
from keras_pose.errors import UserError
from keras_pose.files import check_disk_room, is_temporary_name, write_directory_atomically
from keras_pose.locks import live_holder
from keras_pose.signals import defer_interrupts
from keras_pose.special_files import not_a_file, special_member

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
COMPLETE_FILE = "COMPLETE"


class CheckpointError(UserError, ValueError):
    """A checkpoint path that cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class ResolvedCheckpoint:
    """Where a checkpoint path points.

    Attributes:
      kind: "keras" (a model checkpoint directory), "saved_model" or "export"
        (an ONNX, OpenVINO or LiteRT file of ``keras_pose.export.runtimes``).
      path: the model checkpoint or SavedModel directory, or the export file.
    """

    kind: str
    path: str


# Files only train.py writes into its checkpoints (epoch_NNNN/, best/), and
# always before the marker: such a directory without it is not complete.
_BEST_RECORD = "best.json"
_TRAINING_FILES = ("state.json", _BEST_RECORD)


def is_model_checkpoint(path: str) -> bool:
    """A directory with config.json and model.weights.h5 that is not an
    interrupted write: it has the ``COMPLETE`` marker, or (checkpoints of
    earlier versions and hand-made ones, which have no marker) none of the
    files training writes (``state.json``, ``best.json``)."""
    return all(os.path.isfile(os.path.join(path, f)) for f in (CONFIG_FILE, WEIGHTS_FILE)) and (
        os.path.isfile(os.path.join(path, COMPLETE_FILE))
        or not any(os.path.exists(os.path.join(path, f)) for f in _TRAINING_FILES))


# epoch_0007, ..., epoch_9999, epoch_10000: four digits at least.
_EPOCH_DIR = re.compile(r"epoch_(?P<epoch>[0-9]{4,})")
PYTORCH_FILES = (".pth", ".pth.tar", ".pt", ".safetensors")  # Told how to convert.


def epoch_directories(model_dir: str) -> list[tuple[int, str]]:
    """Every ``checkpoints/epoch_NNNN`` directory, complete or not, as
    (epoch, path) in epoch order (the one rule of which names are epochs:
    past 9999 the name has five digits and sorts by number, not text)."""
    found = []
    # Escaped: runs/exp[1] was the pattern of runs/exp1, whose epochs were
    # resumed from, and pruned, by a run in runs/exp[1].
    for path in glob.glob(os.path.join(glob.escape(model_dir), "checkpoints", "epoch_*")):
        match = _EPOCH_DIR.fullmatch(os.path.basename(path))
        if match is not None and os.path.isdir(path):
            found.append((int(match["epoch"]), path))
    return sorted(found)


def unmarked_checkpoints(model_dir: str) -> list[str]:
    """``best/`` and ``checkpoints/epoch_NNNN/`` of a model directory that lack
    the ``COMPLETE`` marker. train.py never leaves one (it writes under a
    temporary name and renames after the marker), so each was copied or
    restored by hand: never used, never deleted, reported. Pruned epochs that
    a reader's export made again are not among them (:func:`pruned_epoch_leftovers`)."""
    paths = [path for _, path in epoch_directories(model_dir)]
    paths.append(os.path.join(model_dir, "best"))
    leftovers = set(pruned_epoch_leftovers(model_dir))
    return [p for p in paths if os.path.isdir(p) and not is_complete(p) and p not in leftovers]


def pruned_epoch_leftovers(model_dir: str) -> list[str]:
    """``checkpoints/epoch_NNNN/`` folders holding nothing but ``exports/`` (or
    nothing): training pruned the epoch while ``--runtime`` was exporting into it,
    whose write made the folder again (or kept it). The next run removes them."""
    return [path for _, path in epoch_directories(model_dir)  # One it may not list: reported.
            if not is_complete(path) and os.access(path, os.R_OK | os.X_OK)
            and set(os.listdir(path)) <= {"exports"}]


def interrupted_best(model_dir: str, among: Optional[list[str]] = None) -> Optional[str]:
    """Where ``best/`` is when a crash stopped its replacement between the two
    renames of :func:`replace_directory` (``best/`` renamed away to ``best.old-*``,
    the new copy still ``best.tmp-*``): the complete one recording the highest
    value (``best.json``; ``best/`` only gets better), else None; meaningful
    only when ``best/`` is missing.

    Args:
      model_dir: the model directory.
      among: only these paths (e.g. those of this host's dead processes).
    """
    found, top = None, None
    root = glob.escape(model_dir)
    for path in sorted(glob.glob(os.path.join(root, "best.tmp-*"))
                       + glob.glob(os.path.join(root, "best.old-*"))):
        if ((among is not None and path not in among)
                or not (is_complete(path) and is_model_checkpoint(path))):
            continue
        try:
            with open(os.path.join(path, _BEST_RECORD)) as f:
                value = float(json.load(f)["value"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if top is None or value > top or (value == top and ".tmp-" in path):
            found, top = path, value
    return found


def unmarked_error(model_dir: str, unmarked: list[str]) -> CheckpointError:
    """The error for :func:`unmarked_checkpoints`: each one, and what to do."""
    for path in unmarked:  # One this user may not read only looked unmarked.
        if not os.access(path, os.R_OK | os.X_OK):
            return permission_error(path)

    def describe(path: str) -> str:
        missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE)
                   if not os.path.isfile(os.path.join(path, f))]
        return f"{path} is incomplete (no {COMPLETE_FILE} marker" + (
            f", no {' or '.join(missing)})" if missing else f"; it has {WEIGHTS_FILE})")

    return CheckpointError(
        f"{model_dir} holds checkpoint directories that train.py did not mark complete: "
        + "; ".join(describe(p) for p in unmarked)
        + f". train.py writes {COMPLETE_FILE} last, so these were copied or restored by hand "
        "(or cut short); nothing was used or deleted. If you trust one, mark it: touch "
        f"<dir>/{COMPLETE_FILE}; otherwise move it out of {model_dir}. Then run again.")


def permission_error(path: str) -> CheckpointError:
    """The error for a checkpoint file or folder this user may not read (or
    list and enter): it was "does not fit", or "incomplete ... touch COMPLETE"."""
    need, mode = ("list and enter it", "u+rx") if os.path.isdir(path) else ("read it", "u+r")
    return CheckpointError(f"{path} cannot be read (Permission denied): check its permissions "
                           f"(this user must be able to {need}; its owner can chmod {mode} it)")


def is_complete(path: str) -> bool:
    """True when ``path`` was written to the end by :func:`write_checkpoint_dir`."""
    return os.path.isfile(os.path.join(path, COMPLETE_FILE))


def _is_saved_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def _is_export_file(path: str) -> bool:
    """An ``.onnx``, ``.xml`` or ``.tflite`` file (a runtime export)."""
    from keras_pose.export.runtimes import export_format  # Their one list of suffixes.
    return os.path.isfile(path) and export_format(path) is not None


def _export_files(directory: str) -> list[str]:
    """The runtime exports directly in ``directory``, sorted; an export
    being written, or a killed one's leftover (``model.tmp-<host>-<pid>.onnx``),
    is none (it made "holds 2 exports" of a folder holding one)."""
    return sorted(p for p in (os.path.join(directory, n) for n in os.listdir(directory))
                  if _is_export_file(p) and not is_temporary_name(p))


def latest_epoch_checkpoint(model_dir: str) -> Optional[str]:
    """The newest complete ``checkpoints/epoch_NNNN`` directory, or None
    (the one rule of what a usable epoch checkpoint is)."""
    return next((path for _, path in reversed(epoch_directories(model_dir))
                 if is_complete(path) and is_model_checkpoint(path)), None)


def write_checkpoint_dir(path: str, write: Callable[[str], None]) -> str:
    """Writes a checkpoint directory atomically.

    ``write(tmp)`` fills a temporary sibling; every file is then flushed to
    disk, the ``COMPLETE`` marker written (and flushed) last, and the directory
    renamed over ``path`` (an older copy is removed only after the new one is
    in place): ``keras_pose.files.write_directory_atomically``, with Ctrl-C
    deferred until it is over. An interrupted or failed write (a full disk)
    leaves any previous checkpoint at ``path`` intact and removes its own files.
    """
    with defer_interrupts():
        return write_directory_atomically(path, write, marker=COMPLETE_FILE)


def resolve_checkpoint(path: str) -> ResolvedCheckpoint:
    """Finds the model a user-given path means.

    Accepts a model checkpoint directory, its ``model.weights.h5`` file, a
    SavedModel directory, a model directory (its ``best/`` checkpoint, else its
    latest epoch checkpoint, else its ``saved_model/``), an export file (``.onnx``,
    ``.xml``, ``.tflite``) or a directory holding exactly one, or the name of a
    pretrained preset (``keras_pose.presets``: downloaded and converted once).

    Raises:
      CheckpointError: naming the path and what was expected there (for a
        name that is neither a path nor a preset, the close preset names).
    """
    from keras_pose import presets  # A name rather than a path.
    if not os.path.exists(path):
        if presets.is_preset(path):
            return resolve_checkpoint(presets.preset_checkpoint(path))
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(parent) and not os.access(parent, os.X_OK):  # Hid what is there.
            raise permission_error(parent)
        raise CheckpointError(presets.missing_message(path))
    try:
        return _resolve_path(path)
    except CheckpointError:
        # A folder named like the preset holding no model (predict.py
        # --output_dir <preset name>, made before the model loaded) hid it.
        if os.path.isdir(path) and presets.is_preset(path) and os.sep not in path.strip(os.sep):
            logging.info("%s: the folder of that name holds no model: using the preset", path)
            return resolve_checkpoint(presets.preset_checkpoint(path))
        from keras_pose.export.runtimes import export_format
        special = special_member(path, ("", "best"), lambda name: name in (
            CONFIG_FILE, WEIGHTS_FILE, "saved_model.pb") or export_format(name) is not None)
        if special:  # Was "incomplete ... touch COMPLETE", or "not a checkpoint".
            raise CheckpointError(f"checkpoint {path}: {special}") from None
        raise


def _resolve_path(path: str) -> ResolvedCheckpoint:
    """:func:`resolve_checkpoint` of a path that exists."""
    if (why := not_a_file(path)):  # A pipe, /dev/null: "cannot be read (Permission denied)".
        raise CheckpointError(f"checkpoint {path} {why}")
    if os.path.isfile(path):
        return _resolve_file(path)
    if not os.access(path, os.R_OK | os.X_OK):  # Its files looked absent.
        raise permission_error(path)
    if _is_saved_model(path):
        return ResolvedCheckpoint("saved_model", path)
    if is_model_checkpoint(path):
        return ResolvedCheckpoint("keras", path)
    is_model_dir = any(os.path.exists(os.path.join(path, d))
                       for d in ("best", "checkpoints", "saved_model"))
    _check_not_pruned(path)
    if os.path.isfile(os.path.join(path, CONFIG_FILE)) and not is_model_dir:
        if not os.path.exists(os.path.join(path, WEIGHTS_FILE)) and any(
                os.path.exists(os.path.join(path, n)) for n in ("logs", ".lock")):
            # A run stopped in its first epoch: "touch COMPLETE" led nowhere.
            holder = live_holder(path)
            if holder:  # Not stopped: still in its first epoch.
                raise CheckpointError(
                    f"{path} has no checkpoint yet: {holder} is training it and has not "
                    "finished its first epoch; wait for it, or give another checkpoint")
            raise CheckpointError(
                f"{path} is a train.py model directory without a checkpoint yet (no best/, "
                "checkpoints/epoch_*/ or saved_model/: stopped, or copied, before its first "
                f"epoch ended); train at least one epoch (train.py --model_dir {path} ... "
                "resumes it), or give another checkpoint")
        raise CheckpointError(
            f"{path} is an incomplete checkpoint (no {WEIGHTS_FILE}, or training files "
            f"without the {COMPLETE_FILE} marker train.py writes last: an interrupted write, "
            f"or a copy without it); use another checkpoint, or touch {path}/{COMPLETE_FILE} "
            "if you trust it")
    return _resolve_model_dir(path)


def _check_not_pruned(path: str) -> None:
    """Raises when ``path`` is an epoch folder that training pruned
    (nothing but ``exports/`` left), naming the run's checkpoints."""
    parent = os.path.dirname(os.path.abspath(path))
    if (os.path.basename(parent) != "checkpoints"
            or not _EPOCH_DIR.fullmatch(os.path.basename(os.path.abspath(path)))):
        return
    model_dir = os.path.dirname(parent)
    if os.path.abspath(path) not in map(os.path.abspath, pruned_epoch_leftovers(model_dir)):
        return
    best = os.path.join(model_dir, "best")
    kept = [p for _, p in epoch_directories(model_dir) + [(0, best)] if is_complete(p)]
    raise CheckpointError(
        f"{path} is an epoch checkpoint that training removed (it keeps the latest "
        "train.keep_checkpoints epochs and best/); what is left there is an export's "
        f"cache. Give the run, {model_dir}, or one of its checkpoints: "
        + (", ".join(kept) if kept else "(none complete yet)"))


def _resolve_file(path: str) -> ResolvedCheckpoint:
    """A file: a checkpoint's weights file or an export."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == WEIGHTS_FILE and is_model_checkpoint(directory):
        return ResolvedCheckpoint("keras", directory)
    if _is_export_file(path):
        return ResolvedCheckpoint("export", path)
    if path.lower().endswith(PYTORCH_FILES):  # Unsaid before.
        from keras_pose.presets.recognize import pytorch_file_advice
        raise CheckpointError(pytorch_file_advice(path))
    raise CheckpointError(
        f"checkpoint {path} is a file; expected a checkpoint directory with {CONFIG_FILE} and "
        f"{WEIGHTS_FILE}, a model directory, a SavedModel or an .onnx / .xml / .tflite export")


def _resolve_model_dir(path: str) -> ResolvedCheckpoint:
    """A model directory: best/ (or its interrupted replacement), else the
    latest complete epoch, else saved_model/, else its one export."""
    best = os.path.join(path, "best")
    interrupted = None if os.path.isdir(best) else interrupted_best(path)
    if interrupted:
        logging.warning("%s is missing: its replacement was interrupted; using %s, the complete "
                        "copy recorded as best (train.py puts it back)", best, interrupted)
        return ResolvedCheckpoint("keras", interrupted)
    if os.path.isdir(best):
        # The rule train.py applies: best/ is served only with its marker.
        if not (is_complete(best) and is_model_checkpoint(best)):
            raise unmarked_error(path, [best])
        return ResolvedCheckpoint("keras", best)
    unmarked = unmarked_checkpoints(path)
    if unmarked:  # the latest complete epoch may not be the latest epoch
        raise unmarked_error(path, unmarked)
    latest = latest_epoch_checkpoint(path)
    if latest:
        return ResolvedCheckpoint("keras", latest)
    saved = os.path.join(path, "saved_model")
    if _is_saved_model(saved):
        return ResolvedCheckpoint("saved_model", saved)
    exports = _export_files(path)
    if len(exports) > 1:
        raise CheckpointError(
            f"{path} holds {len(exports)} exports ({', '.join(map(os.path.basename, exports))}):"
            " pass the one to run as --checkpoint")
    if exports:
        return ResolvedCheckpoint("export", exports[0])
    raise CheckpointError(
        f"{path} is not a checkpoint: expected {CONFIG_FILE} + {WEIGHTS_FILE}, "
        "a model directory with best/ or checkpoints/epoch_*/, a SavedModel "
        "(saved_model.pb) or one .onnx / .xml / .tflite export")


def weights_bytes(variables) -> int:
    """About what ``variables`` take in a weights file (HDF5's overhead:
    2%, and 1 MB for its structure and the small files beside it)."""
    return int(1.02 * sum(int(np.prod(v.shape)) * np.dtype(str(v.dtype)).itemsize
                          for v in variables)) + (1 << 20)


def save_weights(network: keras.Model, path: str) -> None:
    """``network.save_weights(path)``, refused before it starts when the disk
    cannot hold it (:func:`check_disk_room`): HDF5 failing mid-write left h5py
    objects whose clean-up crashed the process as it ended (a segmentation
    fault after the one-line error). A write that fails all the same (the disk
    filled meanwhile) closes HDF5's files, which keeps the exit clean."""
    check_disk_room(path, weights_bytes(network.weights), os.path.basename(path))
    try:
        network.save_weights(path)
    except BaseException:
        import h5py
        for file_id in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
            with contextlib.suppress(Exception):  # Failing again on the full disk.
                file_id.close()
        raise


def save_model_checkpoint(model: keras.Model, config: ExperimentConfig, path: str) -> None:
    """Writes a model checkpoint directory atomically (see
    :func:`write_checkpoint_dir`); a disk too full for it is an OSError
    before anything is written (:func:`save_weights`)."""
    def write(tmp: str) -> None:
        save_weights(model, os.path.join(tmp, WEIGHTS_FILE))
        save_config(config, os.path.join(tmp, CONFIG_FILE))

    write_checkpoint_dir(path, write)


def load_model(path: str, sync_bn: bool = False) -> tuple[keras.Model, ExperimentConfig]:
    """Rebuilds and loads the model of a checkpoint path.

    Args:
      path: anything :func:`resolve_checkpoint` accepts that holds Keras
        weights (SavedModels: ``keras_pose.inference.load_saved_model``).
      sync_bn: build with synchronized BatchNorm.

    Returns:
      (model, config), float32 whatever the caller's dtype policy or floatx.

    Raises:
      CheckpointError: for a path that is not a Keras checkpoint, or weights
        that do not fit the architecture its config describes.
    """
    resolved = resolve_checkpoint(path)
    if resolved.kind == "export":
        raise CheckpointError(
            f"{resolved.path} is an export, not a checkpoint: it has no Keras weights to "
            "export or train again; pass the checkpoint it was exported from (evaluate.py "
            "and predict.py run it as it is)")
    if resolved.kind != "keras":
        raise CheckpointError(
            f"{resolved.path} is a SavedModel; load it with "
            "keras_pose.inference.load_saved_model (evaluate.py and predict.py "
            "accept both)")
    from keras_pose.models import build_model_from_config, dtypes  # Keeps import light.
    config = load_config(os.path.join(resolved.path, CONFIG_FILE))
    with dtypes.float32_scope():  # Was the caller's policy / floatx: bf16, called fp32.
        model = build_model_from_config(config.model, sync_bn=sync_bn)
        load_weights_strict(model, os.path.join(resolved.path, WEIGHTS_FILE), config)
    return model, config


def _hdf5_damage(text: str) -> Optional[str]:
    """HDF5's words in an error of reading a damaged file (h5py's, also quoted
    in Keras's "A total of 1 objects could not be loaded ..."), else None; a name
    the file lacks ("... (object 'vars' doesn't exist)": another model's) is none."""
    found = re.search(r"Unable to synchronously [^()']*\([^()']*\)|truncated file|bad symbol "
                      r"table[^()']*|file signature not found", text)
    return None if found is None or "doesn't exist" in found[0] else found[0]


def _keras_load_error(error: str) -> str:
    """Keras's load error on one line, without the variable's values (it
    printed all of them: 230 lines for one deconvolution)."""
    return " ".join(error.split("Target variable:")[0].split())[:600]


def load_weights_strict(model: keras.Model, weights: str,
                        config: Optional[ExperimentConfig] = None) -> None:
    """``model.load_weights`` that refuses a partial load.

    Keras only warns when a saved file lacks some layers (they keep their
    random initialisation); here any such warning is an error.

    Raises:
      CheckpointError: naming the file and the mismatch (or that it cannot be read).
    """
    m = config.model if config is not None else None
    described = "" if m is None else (f" (depth {m.depth}, K={m.num_keypoints}, style "
                                      f"{m.style}, deconvolution filters {list(m.deconv_filters)})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(weights)
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            if not os.path.exists(weights):  # Not damaged: gone (pruned by a training run).
                raise CheckpointError(
                    f"{weights} was removed while it was read (a training run keeps only its "
                    "last train.keep_checkpoints epochs, and replaces best/): give a newer "
                    "checkpoint, or the model directory") from None
            if not os.access(weights, os.R_OK):  # Was "does not fit the model".
                raise permission_error(weights) from None
            # A damaged object header is h5py's KeyError: it said "does not fit".
            text = str(e.args[0] if isinstance(e, KeyError) and e.args else e)
            if not _hdf5_damage(text):
                raise CheckpointError(f"{weights} does not fit the model{described}: "
                                      f"{_keras_load_error(text)}") from e
            # A file cut short or overwritten in the middle: not another model.
            raise CheckpointError(
                f"{weights} is damaged (HDF5 cannot read it: {_hdf5_damage(text)}): "
                "copy or write that checkpoint again (a converted preset: delete its folder in "
                "the cache and it is converted again)") from e
    problems = [str(w.message) for w in caught if any(
        word in str(w.message).lower() for word in ("skipping", "mismatch", "retain"))]
    if problems:
        raise CheckpointError(
            f"{weights} does not fit the model{described}: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
