"""Checkpoints this user may not read: said so, with what to check (they
were "does not fit the model" and "incomplete ... touch COMPLETE")."""

import json
import os
import shutil

from tests.permissions import run_without_override


def resolve_errors(paths: list[str]) -> list[str]:
    """The message of the CheckpointError of loading each of ``paths`` (run in
    the subprocess of :func:`run_without_override`; another error's with its
    type), "" for one that loads."""
    from keras_pose.checkpoint import CheckpointError, load_model, resolve_checkpoint
    errors = []
    for path in paths:
        try:
            if os.path.basename(path) == "ckpt":
                load_model(path)
            else:
                resolve_checkpoint(path)
            errors.append("")
        except CheckpointError as e:
            errors.append(str(e))
        except Exception as e:  # noqa: BLE001 - shown in the comparison (was PermissionError)
            errors.append(f"{type(e).__name__}: {e}")
    return errors


def _errors_without_override(paths: list[str], locked: list[str]) -> list[str]:
    """:func:`resolve_errors` with ``locked`` (files and folders) at mode 000."""
    modes = {p: os.stat(p).st_mode for p in locked}
    for path in locked:
        os.chmod(path, 0)
    try:
        out = run_without_override(
            "import json; from tests.test_checkpoint_permissions import resolve_errors; "
            f"print(json.dumps(resolve_errors({json.dumps(paths)})))")
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    return json.loads(out.strip().splitlines()[-1])


def _checkpoint(path, *extra):
    """A complete training checkpoint folder (its file contents do not matter
    to finding it)."""
    path.mkdir(parents=True)
    for name in ("config.json", "model.weights.h5", "COMPLETE") + extra:
        (path / name).write_text("{}")
    return str(path)


def test_unreadable_weights_are_said_unreadable_not_a_mismatch(tiny_exported, tmp_path):
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_exported[2], checkpoint)
    weights = str(checkpoint / "model.weights.h5")
    assert _errors_without_override([str(checkpoint)], [weights]) == [
        f"{weights} cannot be read (Permission denied): check its permissions (this user must "
        "be able to read it; its owner can chmod u+r it)"]


def test_an_unreadable_checkpoint_folder_is_said_unreadable_not_incomplete(tmp_path):
    run = tmp_path / "run"
    best = _checkpoint(run / "best", "best.json")
    (run / "config.json").write_text("{}")
    no_best = tmp_path / "run2"  # Its epochs are looked into (unmarked, pruned).
    _checkpoint(no_best / "checkpoints" / "epoch_0001", "state.json")
    epoch = _checkpoint(no_best / "checkpoints" / "epoch_0002", "state.json")
    denied = ("cannot be read (Permission denied): check its permissions (this user must be "
              "able to list and enter it; its owner can chmod u+rx it)")
    paths = [str(run), best, os.path.join(best, "model.weights.h5"), str(no_best)]
    assert _errors_without_override(paths, [best, epoch]) == [
        f"{best} {denied}", f"{best} {denied}", f"{best} {denied}", f"{epoch} {denied}"]
