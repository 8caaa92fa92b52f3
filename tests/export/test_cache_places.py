"""Where --runtime exports are kept and which are trusted
(``keras_pose.export.cache_places``): the export cache is not part of the
model evaluate.py records, this user's temporary folder serves only when it
is theirs alone, a bad KERAS_POSE_CACHE is named, a touched checkpoint is not
"replaced", and the log says what is done with an export passed over.

``runtimes.export_network`` is ``fake_onnx_export`` (tests/conftest.py): a
copy of ``tiny_onnx``, as in tests/export/test_cache.py. A read-only
checkpoint or cache is ``cache._writable`` saying so (the tests may run as
root, whom no permission stops).
"""

import errno
import getpass
import json
import logging
import os
import re
import shutil
import stat
import tempfile

import numpy as np
import pytest

from keras_pose.checkpoint import WEIGHTS_FILE, CheckpointError
from keras_pose.errors import NotWritableError
from keras_pose.export import cache, cache_places, runtimes
from keras_pose.inference import load_pose_model

POSIX = pytest.mark.skipif(not hasattr(os, "getuid"), reason="no user ids")


@pytest.fixture
def checkpoint(private_checkpoint):
    """A private copy of tiny_exported's checkpoint (conftest.private_checkpoint)."""
    return private_checkpoint


@pytest.fixture
def read_only(checkpoint, tmp_path, monkeypatch):
    """The checkpoint and the cache ``shared/`` read-only: exports go to
    this user's folder of the temporary directory ``tmp/``; returns it."""
    # The folder's name stays this user's when a test fakes os.getuid.
    monkeypatch.setattr(cache_places, "_user_name", lambda name=getpass.getuser(): name)
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "shared"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(cache, "_writable", lambda d: d.startswith(str(tmp_path / "tmp")))
    return str(tmp_path / "tmp" / f"keras_pose-{getpass.getuser()}")


@POSIX
def test_the_temporary_folder_is_made_private(checkpoint, read_only, fake_onnx_export):
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    assert path.startswith(read_only + os.sep)
    assert stat.S_IMODE(os.stat(read_only).st_mode) == 0o700  # Was 0o755 (umask 022).


@POSIX
@pytest.mark.parametrize("planted", ["another user's", "writable by all"])
def test_an_export_in_a_temporary_folder_not_ours_alone_is_refused(
        checkpoint, read_only, fake_onnx_export, monkeypatch, planted):
    """A folder of that predictable name made by another user (or open to
    all): its export was trusted, so that a wrong one gave silently wrong
    keypoints; now refused in one line naming the folder and the fix."""
    planted_path = load_pose_model(checkpoint, runtime="onnxruntime").path  # "Their" export.
    if planted == "writable by all":
        os.chmod(read_only, 0o777)
        message = (r"others can write in it \(mode 777\).*set KERAS_POSE_CACHE to a folder "
                   rf"of yours, or make it yours alone: chmod go-w {read_only}$")
    else:  # As root could chown it; any user can be someone else.
        real = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: real + 1)
        message = (rf"it belongs to another user \(uid {real}\), so that another user could "
                   r"have put a wrong export there; set KERAS_POSE_CACHE to a folder of yours$")
    with pytest.raises(NotWritableError, match=rf"exports are not read from or written into "
                                               rf"{read_only}: {message}"):
        load_pose_model(checkpoint, runtime="onnxruntime")
    assert len(fake_onnx_export) == 1 and os.path.isfile(planted_path)
    # Where the export can go elsewhere (beside a writable checkpoint), it does.
    monkeypatch.setattr(cache, "_writable", lambda d: d.startswith(checkpoint))
    assert load_pose_model(checkpoint, runtime="onnxruntime").path.startswith(checkpoint)


@POSIX
def test_a_file_at_the_temporary_folders_name_is_refused(checkpoint, read_only,
                                                         fake_onnx_export):
    """It kept every export out ("none of ... is writable")."""
    os.makedirs(os.path.dirname(read_only))
    with open(read_only, "w"):
        pass
    with pytest.raises(NotWritableError, match=f"{read_only}: it is not a folder"):
        load_pose_model(checkpoint, runtime="onnxruntime")
    assert fake_onnx_export == []


def test_without_user_ids_the_temporary_folder_serves_as_before(
        checkpoint, read_only, fake_onnx_export, monkeypatch):
    monkeypatch.delattr(os, "getuid", raising=False)  # Windows.
    os.makedirs(read_only, 0o777)
    os.chmod(read_only, 0o777)
    assert load_pose_model(checkpoint, runtime="onnxruntime").path.startswith(read_only)


@pytest.mark.parametrize("bad", ["a file", "under a file", "a link to nothing"])
def test_a_bad_keras_pose_cache_is_named(checkpoint, fake_onnx_export, tmp_path, monkeypatch,
                                         bad):
    """Was "... is a file where a folder is needed" or "No such file or
    directory: .../exports", not naming KERAS_POSE_CACHE."""
    (tmp_path / "afile").write_text("")
    os.symlink(tmp_path / "gone", tmp_path / "link")
    value, what = {"a file": ("afile", "afile is a file, not a folder"),
                   "under a file": ("afile/cache", "afile is a file, not a folder"),
                   "a link to nothing": ("link", f"link is a link to {tmp_path / 'gone'}, "
                                                 "which does not exist")}[bad]
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / value))
    monkeypatch.setattr(cache, "_writable", lambda d: not d.startswith(checkpoint))
    with pytest.raises(NotWritableError, match=rf"cannot use the cache .* \(KERAS_POSE_CACHE="
                                               rf".*{value}\) for exports: .*{what}; set "
                                               r"KERAS_POSE_CACHE to a folder you can write$"):
        load_pose_model(checkpoint, runtime="onnxruntime")
    monkeypatch.setattr(cache, "_writable", lambda d: True)  # Beside it: the cache unused.
    assert load_pose_model(checkpoint, runtime="onnxruntime").path.startswith(checkpoint)


def test_a_checkpoint_touched_during_its_export_is_not_said_replaced(
        checkpoint, fake_onnx_export, monkeypatch):
    """The same weights with a new time (a touch, a copy of the same file):
    the export's own error was hidden behind "was replaced while it was
    exported ...: run again"."""
    weights = os.path.join(checkpoint, WEIGHTS_FILE)

    def touch_then_fail(*args, **kwargs):
        st = os.stat(weights)
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(runtimes, "export_network", touch_then_fail)
    with pytest.raises(OSError, match="Input/output error"):
        load_pose_model(checkpoint, runtime="onnxruntime")

    def rewrite_then_fail(*args, **kwargs):  # Other weights, in the same file.
        with open(weights, "r+b") as f:
            f.seek(-8, os.SEEK_END)
            f.write(b"\x01" * 8)
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(runtimes, "export_network", rewrite_then_fail)
    with pytest.raises(CheckpointError, match="ckpt was replaced while it was exported"):
        load_pose_model(checkpoint, runtime="onnxruntime")


def _stale(path):
    """Marks the export at ``path`` as of other weights (or of a digest of
    an earlier version of keras-pose)."""
    sidecar = runtimes.read_sidecar(path)
    sidecar["source"]["digest"] = "0" * 64
    with open(runtimes.sidecar_path(path), "w") as f:
        json.dump(sidecar, f)


@pytest.mark.parametrize("unfit", ["stale", "damaged"])
def test_an_unfit_export_beside_a_read_only_checkpoint_is_said_passed_over(
        checkpoint, fake_onnx_export, tmp_path, monkeypatch, caplog, unfit):
    """Every run said "exporting (it) again", then used the cache's copy; an
    export made again said "First use of ..."."""
    caplog.set_level(logging.INFO, logger="absl")
    beside = load_pose_model(checkpoint, runtime="onnxruntime").path
    if unfit == "stale":
        _stale(beside)
        why = re.escape(f"{beside} was exported from another version of the checkpoint or "
                        "by another version of keras-pose")
    else:
        with open(beside, "r+b") as f:
            f.truncate(os.path.getsize(beside) // 2)
        why = re.escape(f"{beside}: onnxruntime cannot load it") + (
            r" .*\(a file cut short or missing\)")  # After the runtime's own words.
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_writable", lambda d: not d.startswith(checkpoint))
    caplog.clear()
    in_cache = load_pose_model(checkpoint, runtime="onnxruntime").path
    assert in_cache.startswith(str(tmp_path / "cache")) and len(fake_onnx_export) == 2
    assert re.search(f"{why}: exporting it again into {re.escape(os.path.dirname(in_cache))}\n",
                     caplog.text)
    assert "First use" not in caplog.text
    caplog.clear()
    assert load_pose_model(checkpoint, runtime="onnxruntime").path == in_cache
    assert len(fake_onnx_export) == 2
    assert re.search(f"{why}; using {re.escape(in_cache)} instead\n", caplog.text)
    assert "exporting" not in caplog.text


def test_the_export_cache_is_not_part_of_the_evaluated_model(coco_dir, tmp_path, caplog):
    """A plain evaluation after a --runtime one found "the model's files
    changed" (exports/ had been hashed with the checkpoint) and moved the
    earlier results aside; a temporary of another process's export,
    removed as it was hashed, raised FileNotFoundError."""
    from keras_pose.evaluation import runner
    from tests.test_evaluate_cli import _checkpoint, _tiny_config
    root = tmp_path / "coco"
    os.makedirs(root / "annotations")
    shutil.copy(os.path.join(coco_dir, "test_coco.json"),
                root / "annotations" / "person_keypoints_val2017.json")
    shutil.copytree(coco_dir, root / "images" / "val2017",
                    ignore=lambda folder, names: [n for n in names if not n.endswith(".jpg")])
    checkpoint = _checkpoint(tmp_path / "run" / "best", _tiny_config("coco", root, 17))
    out = tmp_path / "out"

    def evaluate():
        runner.run_evaluation(checkpoint=checkpoint, dataset="coco", data_dir=str(root),
                              flip=False, use_gt_boxes=True, output_dir=str(out),
                              progress=False)
        with open(out / "metrics.json") as f:
            return json.load(f)["model_sha256"]
    first = evaluate()
    exports = os.path.join(checkpoint, "exports")
    for folder in ("onnxruntime-fp32", "openvino-int8.tmp-host-123"):  # Made; being made.
        os.makedirs(os.path.join(exports, folder))
        np.save(os.path.join(exports, folder, "heatmaps.npy"), np.zeros(3))
    caplog.set_level(logging.WARNING, logger="absl")
    assert evaluate() == first
    assert not os.path.exists(out / "earlier.1"), caplog.text


@POSIX
def test_a_user_id_without_a_name_has_a_temporary_folder(monkeypatch, tmp_path):
    """docker run --user 1234: no passwd entry, no USER or LOGNAME; was
    getpass's KeyError (a traceback) when the checkpoint and the cache
    could not be written."""
    from keras_pose.export import cache_places

    import pwd

    def no_name(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert cache_places.temp_folder() == str(tmp_path / f"keras_pose-{os.getuid()}")


@POSIX
def test_the_temporary_folder_is_named_after_the_user_id_not_user(monkeypatch, tmp_path):
    """``sudo -u nobody`` / setpriv keep USER=root: the folder was
    keras_pose-root, refused as "another user's" though the run needed none."""
    import pwd
    monkeypatch.setenv("USER", "someone_else")
    monkeypatch.setenv("LOGNAME", "someone_else")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    from keras_pose.export import cache_places
    name = pwd.getpwuid(os.getuid()).pw_name
    assert cache_places.temp_folder() == str(tmp_path / f"keras_pose-{name}")


@POSIX
def test_a_temporary_folder_its_group_can_write_in_is_refused(monkeypatch, tmp_path):
    """Our folder open to our group's writes (mode 770) is refused: they could
    plant an export."""
    from keras_pose.export import cache_places
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "shared"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    folder = cache_places.temp_folder()
    os.makedirs(folder)
    os.chmod(folder, 0o770)  # Ours (made by this user), group-writable.
    why = cache_places.refusal(os.path.join(folder, "exports", "0123456789abcdef", "onnx-fp32"))
    assert why is not None and f"{folder}: others can write in it (mode 770)" in why
    assert why.endswith(f"chmod go-w {folder}")
