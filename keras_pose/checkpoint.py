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
every one of them is also a model checkpoint. A *model
directory* is what ``train.py --model_dir`` fills::

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
import os
import signal
import threading
import warnings
from typing import Callable, Iterator, Optional

import keras

from keras_pose.configs import ExperimentConfig, load_config, save_config
from keras_pose.files import write_directory_atomically

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
COMPLETE_FILE = "COMPLETE"


class CheckpointError(ValueError):
    """A checkpoint path that cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class ResolvedCheckpoint:
    """Where a checkpoint path points.

    Attributes:
      kind: "keras" (a model checkpoint directory) or "saved_model".
      path: the model checkpoint or SavedModel directory.
    """

    kind: str
    path: str


def is_model_checkpoint(path: str) -> bool:
    """A directory with config.json and model.weights.h5 that is not an
    interrupted write: it has the ``COMPLETE`` marker, or (checkpoints of
    earlier versions, which had no marker) no training ``state.json``."""
    if not (os.path.isfile(os.path.join(path, CONFIG_FILE))
            and os.path.isfile(os.path.join(path, WEIGHTS_FILE))):
        return False
    return (os.path.isfile(os.path.join(path, COMPLETE_FILE))
            or not os.path.exists(os.path.join(path, "state.json")))


def is_complete(path: str) -> bool:
    """True when ``path`` was written to the end by :func:`write_checkpoint_dir`."""
    return os.path.isfile(os.path.join(path, COMPLETE_FILE))


def _is_saved_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def latest_epoch_checkpoint(model_dir: str) -> Optional[str]:
    """The newest complete ``checkpoints/epoch_NNNN`` directory, or None
    (the one rule of what a usable epoch checkpoint is)."""
    candidates = sorted(glob.glob(os.path.join(model_dir, "checkpoints",
                                               "epoch_[0-9][0-9][0-9][0-9]")))
    for candidate in reversed(candidates):
        if is_complete(candidate) and is_model_checkpoint(candidate):
            return candidate
    return None


@contextlib.contextmanager
def defer_interrupts() -> Iterator[None]:
    """Holds back Ctrl-C (SIGINT) until the block ends, then raises it.

    A KeyboardInterrupt in the middle of an HDF5 write can abort the whole
    interpreter; with this, a write finishes (or fails) first. Only in the
    main thread (signal handlers cannot be set elsewhere).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def write_checkpoint_dir(path: str, write: Callable[[str], None]) -> str:
    """Writes a checkpoint directory atomically.

    ``write(tmp)`` fills a temporary sibling; every file is then flushed to
    disk, the ``COMPLETE`` marker written (and flushed) last, and the
    directory renamed over ``path`` (an older copy is removed only after the
    new one is in place): ``keras_pose.files.write_directory_atomically``,
    with Ctrl-C deferred until it is over. An interrupted or failed write (a
    full disk) leaves any previous checkpoint at ``path`` intact and removes
    its own files.
    """
    with defer_interrupts():
        return write_directory_atomically(path, write, marker=COMPLETE_FILE)


def resolve_checkpoint(path: str) -> ResolvedCheckpoint:
    """Finds the model a user-given path means.

    Accepts a model checkpoint directory, its ``model.weights.h5`` file, a
    SavedModel directory, a model directory (its ``best/`` checkpoint, else
    its latest epoch checkpoint, else its ``saved_model/``), or the name of
    a pretrained preset (``keras_pose.presets``: downloaded and converted
    into the cache on first use, reused afterwards).

    Raises:
      CheckpointError: naming the path and what was expected there (for a
        name that is neither a path nor a preset, the close preset names).
    """
    if not os.path.exists(path):
        from keras_pose import presets  # A name rather than a path.
        if presets.is_preset(path):
            return resolve_checkpoint(presets.preset_checkpoint(path))
        raise CheckpointError(presets.missing_message(path))
    if os.path.isfile(path):
        directory = os.path.dirname(os.path.abspath(path))
        if os.path.basename(path) == WEIGHTS_FILE and is_model_checkpoint(directory):
            return ResolvedCheckpoint("keras", directory)
        raise CheckpointError(
            f"checkpoint {path} is a file; expected a checkpoint directory with "
            f"{CONFIG_FILE} and {WEIGHTS_FILE}, a model directory or a SavedModel")
    if _is_saved_model(path):
        return ResolvedCheckpoint("saved_model", path)
    if is_model_checkpoint(path):
        return ResolvedCheckpoint("keras", path)
    is_model_dir = any(os.path.exists(os.path.join(path, d))
                       for d in ("best", "checkpoints", "saved_model"))
    if os.path.isfile(os.path.join(path, CONFIG_FILE)) and not is_model_dir:
        raise CheckpointError(
            f"{path} is an incomplete checkpoint (no {WEIGHTS_FILE} or no {COMPLETE_FILE} "
            "marker: its write was interrupted); use another checkpoint")
    best = os.path.join(path, "best")
    if os.path.isdir(best):
        if not is_model_checkpoint(best):
            raise CheckpointError(
                f"{best} is incomplete (its write was interrupted); run the same train.py "
                "command again to repair it, or pass an epoch checkpoint "
                f"({os.path.join(path, 'checkpoints', 'epoch_NNNN')})")
        return ResolvedCheckpoint("keras", best)
    latest = latest_epoch_checkpoint(path)
    if latest:
        return ResolvedCheckpoint("keras", latest)
    saved = os.path.join(path, "saved_model")
    if _is_saved_model(saved):
        return ResolvedCheckpoint("saved_model", saved)
    raise CheckpointError(
        f"{path} is not a checkpoint: expected {CONFIG_FILE} + {WEIGHTS_FILE}, "
        "a model directory with best/ or checkpoints/epoch_*/, or a SavedModel "
        "(saved_model.pb)")


def save_model_checkpoint(model: keras.Model, config: ExperimentConfig,
                          path: str) -> None:
    """Writes a model checkpoint directory atomically (see
    :func:`write_checkpoint_dir`)."""
    def write(tmp: str) -> None:
        model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        save_config(config, os.path.join(tmp, CONFIG_FILE))

    write_checkpoint_dir(path, write)


def load_model(path: str, sync_bn: bool = False
               ) -> tuple[keras.Model, ExperimentConfig]:
    """Rebuilds and loads the model of a checkpoint path.

    Args:
      path: anything :func:`resolve_checkpoint` accepts that holds Keras
        weights (SavedModels: ``keras_pose.inference.load_saved_model``).
      sync_bn: build with synchronized BatchNorm.

    Returns:
      (model, config) with the checkpoint's weights and full config.

    Raises:
      CheckpointError: for a path that is not a Keras checkpoint, or weights
        that do not fit the architecture its config describes.
    """
    resolved = resolve_checkpoint(path)
    if resolved.kind != "keras":
        raise CheckpointError(
            f"{resolved.path} is a SavedModel; load it with "
            "keras_pose.inference.load_saved_model (evaluate.py and predict.py "
            "accept both)")
    from keras_pose.models import build_model_from_config  # Keeps import light.
    config = load_config(os.path.join(resolved.path, CONFIG_FILE))
    model = build_model_from_config(config.model, sync_bn=sync_bn)
    weights = os.path.join(resolved.path, WEIGHTS_FILE)
    load_weights_strict(model, weights, config)
    return model, config


def load_weights_strict(model: keras.Model, weights: str,
                        config: Optional[ExperimentConfig] = None) -> None:
    """``model.load_weights`` that refuses a partial load.

    Keras only warns when a saved file lacks some layers (they keep their
    random initialisation); here any such warning is an error.

    Raises:
      CheckpointError: naming the file and the mismatch.
    """
    described = ""
    if config is not None:
        described = (f" (depth {config.model.depth}, K={config.model.num_keypoints}, "
                     f"style {config.model.style})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(weights)
        except (ValueError, KeyError, OSError) as e:
            raise CheckpointError(
                f"{weights} does not fit the model{described}: {e}") from e
    problems = [str(w.message) for w in caught
                if "skipping" in str(w.message).lower()
                or "mismatch" in str(w.message).lower()
                or "retain" in str(w.message).lower()]
    if problems:
        raise CheckpointError(
            f"{weights} does not fit the model{described}: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
