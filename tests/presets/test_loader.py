"""A preset name to a checkpoint: download, hash check, conversion into the
cache, reuse, the offline and hash errors, interrupted conversions, the
official files' places. The tiny preset (tests/conftest.py) keeps it fast;
real file formats: test_real_files.py."""

import os
import socket

import numpy as np
import pytest

from keras_pose import presets
from keras_pose.checkpoint import CheckpointError, resolve_checkpoint
from keras_pose.convert import download
from keras_pose.presets import loader


def _no_download(monkeypatch):
    calls = []
    real = download.fetch
    monkeypatch.setattr(download, "fetch", lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_first_use_downloads_and_converts_the_second_does_neither(tiny_preset, monkeypatch):
    fetches = _no_download(monkeypatch)
    path = presets.preset_checkpoint(tiny_preset.name)
    assert path == str(tiny_preset.cache / "presets" / tiny_preset.name)
    assert sorted(os.listdir(path)) == ["COMPLETE", "config.json", "model.weights.h5"]
    # The download is kept under its own name (hash-checked), beside presets/.
    assert sorted(os.listdir(tiny_preset.cache)) == ["presets", tiny_preset.served.name]
    assert len(fetches) == 1 and len(tiny_preset.conversions) == 1
    assert tiny_preset.conversions[0][0] == str(tiny_preset.cache / tiny_preset.served.name)
    os.remove(tiny_preset.served)  # A second use cannot download.
    assert presets.preset_checkpoint(tiny_preset.name) == path
    assert resolve_checkpoint(tiny_preset.name).path == path
    assert len(fetches) == 1 and len(tiny_preset.conversions) == 1


def test_load_pose_model_and_the_predictor_take_a_name(tiny_preset, tiny_exported):
    from keras_pose.inference import Predictor, load_pose_model
    model, config, _, _ = tiny_exported
    loaded = load_pose_model(tiny_preset.name)
    assert loaded.config.name == tiny_preset.name and loaded.config.model == config.model
    for a, b in zip(model.weights, loaded.keras_model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    predictor = Predictor.from_checkpoint(tiny_preset.name, ["test.flip_test=false"])
    result = predictor.predict(np.zeros((64, 64, 3), np.uint8))
    assert result.keypoints.shape == (1, 17, 2) and predictor.config.test.flip_test is False


def test_a_folder_named_like_the_preset_holding_no_model_does_not_hide_it(
        tiny_preset, tmp_path, monkeypatch):
    # predict.py --output_dir <preset name> made the folder before the model
    # loaded: "<name> is not a checkpoint" on the first run.
    monkeypatch.chdir(tmp_path)
    (tmp_path / tiny_preset.name).mkdir()
    (tmp_path / tiny_preset.name / ".lock").write_text("predict.py run")
    assert resolve_checkpoint(tiny_preset.name).path == str(
        tiny_preset.cache / "presets" / tiny_preset.name)
    (tmp_path / "other").mkdir()  # Not a preset's name: still an error.
    with pytest.raises(CheckpointError, match="other is not a checkpoint"):
        resolve_checkpoint("other")


def test_offline_the_error_names_the_url_and_where_to_put_the_file(tiny_preset, monkeypatch):
    monkeypatch.setenv(download.OFFLINE_ENV, "1")
    with pytest.raises(download.DownloadError) as info:
        resolve_checkpoint(tiny_preset.name)
    message = str(info.value)
    assert tiny_preset.url in message
    assert f"put it at {tiny_preset.cache / tiny_preset.served.name}" in message
    # Not "--checkpoint": train.py's flag is --init_checkpoint, the API has none.
    assert "or give a checkpoint directory in place of the preset name" in message
    assert not (tiny_preset.cache / "presets").exists() and not tiny_preset.conversions


def test_a_file_that_is_not_the_published_one_is_refused_and_not_kept(tiny_preset):
    tiny_preset.served.write_bytes(b"not the published weights")  # Same name, other bytes.
    with pytest.raises(download.HashMismatchError, match="does not start with.*not kept"):
        presets.preset_checkpoint(tiny_preset.name)
    assert not tiny_preset.cache.exists() or os.listdir(tiny_preset.cache) == []
    assert not tiny_preset.conversions


def test_an_interrupted_conversion_leaves_nothing_under_the_name(tiny_preset, monkeypatch):
    import sys
    fake = sys.modules["keras_pose.convert.mmpose"]
    real = fake.convert_mmpose_checkpoint

    def failing(input_path, output_dir, config):
        real(input_path, output_dir, config)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fake, "convert_mmpose_checkpoint", failing)
    with pytest.raises(OSError, match=r"cannot write the converted preset test_tiny_preset into "
                       r"the cache .*: the disk is full; nothing was kept: free space there or "
                       r"set KERAS_POSE_CACHE to a folder on another disk, and copy .*"
                       rf"{tiny_preset.served.name} into that folder \(the conversion looks "):
        presets.preset_checkpoint(tiny_preset.name)
    assert os.listdir(tiny_preset.cache / "presets") == []  # Neither the name nor a temporary.
    # A conversion killed outright (kill -9) leaves its temporary: removed by
    # the next conversion on this host once its process is gone.
    stale = tiny_preset.cache / "presets" / f"{tiny_preset.name}.tmp-{socket.gethostname()}-999999"
    (stale / "converted").mkdir(parents=True)
    other = tiny_preset.cache / "presets" / f"another_preset.tmp-{socket.gethostname()}-999999"
    other.mkdir()  # Another preset's: left until that preset was converted again.
    monkeypatch.setattr(fake, "convert_mmpose_checkpoint", real)
    path = presets.preset_checkpoint(tiny_preset.name)
    assert os.listdir(tiny_preset.cache / "presets") == [tiny_preset.name]
    assert os.path.isfile(os.path.join(path, "COMPLETE"))


def test_ctrl_c_during_a_conversion_stops_it_at_once_and_keeps_nothing(tiny_preset,
                                                                       monkeypatch):
    # The whole conversion ran with Ctrl-C deferred: 9.5 s of silence for a
    # ResNet-152 before "interrupted".
    import signal
    import sys
    import time
    fake = sys.modules["keras_pose.convert.mmpose"]
    real, went_on = fake.convert_mmpose_checkpoint, []

    def interrupted(input_path, output_dir, config):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # A KeyboardInterrupt ends this at once.
        went_on.append(True)
        return real(input_path, output_dir, config)

    monkeypatch.setattr(fake, "convert_mmpose_checkpoint", interrupted)
    # Python's own Ctrl-C handler, as in a terminal (a shell's background job
    # starts with SIGINT ignored).
    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            presets.preset_checkpoint(tiny_preset.name)
    finally:
        signal.signal(signal.SIGINT, earlier)
    assert not went_on and time.monotonic() - started < 4
    presets_dir = tiny_preset.cache / "presets"
    assert not presets_dir.exists() or os.listdir(presets_dir) == []


def test_a_cached_config_follows_the_table(tiny_preset, monkeypatch):
    import dataclasses
    from keras_pose.configs import load_config
    path = presets.preset_checkpoint(tiny_preset.name)
    corrected = tiny_preset.config.replace(test=dataclasses.replace(
        tiny_preset.config.test, blur_kernel=17))
    real = loader.preset_config
    monkeypatch.setattr(loader, "preset_config", lambda name: corrected if getattr(
        name, "name", name) == tiny_preset.name else real(name))
    assert presets.preset_checkpoint(tiny_preset.name) == path
    assert load_config(os.path.join(path, "config.json")).test.blur_kernel == 17
    assert len(tiny_preset.conversions) == 1  # The same model: no new conversion.


def test_a_damaged_cached_copy_is_converted_or_written_again(tiny_preset, caplog):
    """A cached preset whose weights were cut short said "does not fit the
    model (depth ...)", and one whose config.json was cut short "is not valid
    JSON", each with no way out, while the listing said it was cached. The
    weights are converted again from the kept download; the config is the
    table's."""
    from keras_pose.configs import load_config
    from keras_pose.inference import load_pose_model
    path = presets.preset_checkpoint(tiny_preset.name)
    weights = os.path.join(path, "model.weights.h5")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    assert presets.preset_checkpoint(tiny_preset.name) == path
    assert len(tiny_preset.conversions) == 2
    assert "the cached copy" in caplog.text and "is damaged" in caplog.text
    load_pose_model(tiny_preset.name)  # Whole again.
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write('{"model": ')
    assert presets.preset_checkpoint(tiny_preset.name) == path
    assert load_config(os.path.join(path, "config.json")) == tiny_preset.config
    assert len(tiny_preset.conversions) == 2


def _overwrite_a_dataset_header(weights: str) -> None:
    """2400 bytes of 0xff over the object header of the file's last dataset
    (past the HDF5 superblock: the file still opens)."""
    import h5py
    with h5py.File(weights, "r") as f:
        found = []
        f.visititems(lambda _, item: found.append(h5py.h5o.get_info(item.id).addr)
                     if isinstance(item, h5py.Dataset) else None)
    with open(weights, "r+b") as f:
        f.seek(found[-1])
        f.write(b"\xff" * 2400)
    with h5py.File(weights, "r"):  # Still opens: the check before only opened it.
        pass


def test_a_cached_copy_damaged_inside_is_converted_again(tiny_preset, caplog):
    """Overwritten past its header (h5py still opens it), a cached copy was
    served and failed "does not fit the model (...): 'Unable to
    synchronously open object (bad object header version number)'" on
    every use, though the kept download could convert it again."""
    import logging
    from keras_pose.inference import load_pose_model
    caplog.set_level(logging.INFO, logger="absl")
    path = presets.preset_checkpoint(tiny_preset.name)
    _overwrite_a_dataset_header(os.path.join(path, "model.weights.h5"))
    assert presets.preset_checkpoint(tiny_preset.name) == path
    assert len(tiny_preset.conversions) == 2
    assert (f"Preset {tiny_preset.name}: the cached copy {path} is damaged (") in caplog.text
    assert "bad object header" in caplog.text
    assert f"into {path} (again)" in caplog.text
    load_pose_model(tiny_preset.name)  # Whole again.
    assert len(tiny_preset.conversions) == 2


def test_a_read_only_cache_behind_the_table_still_serves_the_preset(tiny_preset, monkeypatch):
    """A shared cache mounted read-only, its config older than the table
    (corrected since): "cannot write ... set KERAS_POSE_CACHE", which meant
    converting again (offline, from a file that may be gone). The run takes
    the cached weights with the table's config; the cache is untouched."""
    import dataclasses
    import errno
    from keras_pose.configs import load_config
    from keras_pose.inference import load_pose_model
    path = presets.preset_checkpoint(tiny_preset.name)
    before = open(os.path.join(path, "config.json")).read()
    corrected = tiny_preset.config.replace(test=dataclasses.replace(
        tiny_preset.config.test, blur_kernel=17))
    real, save = loader.preset_config, loader.save_config
    monkeypatch.setattr(loader, "preset_config", lambda name: corrected if getattr(
        name, "name", name) == tiny_preset.name else real(name))

    def read_only(config, target):
        if target.startswith(str(tiny_preset.cache)):
            raise OSError(errno.EROFS, "Read-only file system", target)
        save(config, target)
    monkeypatch.setattr(loader, "save_config", read_only)
    private = presets.preset_checkpoint(tiny_preset.name)
    assert private != path and load_config(os.path.join(private, "config.json")) == corrected
    assert load_pose_model(tiny_preset.name).config.test.blur_kernel == 17
    assert open(os.path.join(path, "config.json")).read() == before
    assert len(tiny_preset.conversions) == 1


def test_a_name_that_is_neither_a_path_nor_a_preset(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint simplebaseline_resnet50_coco_265x192 "
                       "does not exist; close preset names: simplebaseline_resnet50_coco_256x192"):
        resolve_checkpoint("simplebaseline_resnet50_coco_265x192")
    with pytest.raises(CheckpointError, match="not a preset name either"):
        resolve_checkpoint(str(tmp_path / "runs" / "r50"))


def test_source_config_needs_no_download(tiny_preset, monkeypatch):
    monkeypatch.setenv(download.OFFLINE_ENV, "1")
    config = presets.source_config("simplebaseline_resnet50_ap10k_256x256")
    assert config.model.num_keypoints == 17 and config.data.root == "data/ap10k"
    assert presets.source_config(tiny_preset.name) == tiny_preset.config
    with pytest.raises(CheckpointError, match="close preset names"):
        presets.source_config("pose_resnet_50_256x19")


@pytest.fixture
def official_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_official_files_are_looked_for_in_the_cache_and_the_official_layout(official_cache):
    preset = presets.get_preset("pose_resnet_50_256x256")
    with pytest.raises(presets.PresetError) as info:
        presets.weights_file(preset)
    message = str(info.value)
    assert "1drv.ms/f/s!AhIXJn_J-blW0D5ZE4ArK9wk_fvw" in message
    assert "drive.google.com/drive/folders/13_wJ6nC7my1KKouMkQMqyr9r1ZnLnukP" in message
    assert "pose_mpii/pose_resnet_50_256x256.pth.tar" in message
    assert str(official_cache / "cache" / "pose_resnet_50_256x256.pth.tar") in message
    layout = official_cache / "models" / "pytorch" / "pose_mpii"
    layout.mkdir(parents=True)
    (layout / "pose_resnet_50_256x256.pth").write_bytes(b"x")  # The HRNet copies' name.
    assert presets.weights_file(preset) == os.path.join("models", "pytorch", "pose_mpii",
                                                        "pose_resnet_50_256x256.pth")
    (official_cache / "cache").mkdir()
    (official_cache / "cache" / "pose_resnet_50_256x256.pth.tar").write_bytes(b"x")
    assert presets.weights_file(preset) == str(
        official_cache / "cache" / "pose_resnet_50_256x256.pth.tar")


def test_a_cache_the_user_cannot_write_is_one_line_naming_it(tiny_preset, monkeypatch):
    """A read-only cache (or KERAS_POSE_CACHE naming a file) said
    'Read-only file system: .../presets/<name>.tmp-<host>-<pid>', a
    temporary folder and no way out."""
    import errno

    from keras_pose.errors import NotWritableError
    from keras_pose import files
    presets.preset_checkpoint(tiny_preset.name)  # the download, in place
    import shutil
    shutil.rmtree(tiny_preset.cache / "presets")

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(files.os, "makedirs", read_only)
    with pytest.raises(NotWritableError) as info:
        presets.preset_checkpoint(tiny_preset.name)
    # The next run, offline, asked for the download in the new folder: its
    # copy here is named.
    assert str(info.value) == (
        f"cannot write the converted preset {tiny_preset.name} into the cache "
        f"{tiny_preset.cache} (Read-only file system): set KERAS_POSE_CACHE to a folder "
        f"you can write, and copy {tiny_preset.cache / tiny_preset.served.name} into that "
        "folder (the conversion looks for it there)")


def test_a_cached_copy_of_another_model_than_the_table_is_converted_again(
        tiny_preset, monkeypatch, caplog):
    """A table entry corrected in its model (here its sigma) is converted
    again, not served from the old model's cached weights under the new config."""
    import dataclasses
    import logging
    from keras_pose.configs import load_config
    caplog.set_level(logging.WARNING, logger="absl")
    path = presets.preset_checkpoint(tiny_preset.name)
    other = tiny_preset.config.replace(model=dataclasses.replace(
        tiny_preset.config.model, sigma=tiny_preset.config.model.sigma + 1.0))
    real = loader.preset_config
    monkeypatch.setattr(loader, "preset_config", lambda name: other if getattr(
        name, "name", name) == tiny_preset.name else real(name))
    assert presets.preset_checkpoint(tiny_preset.name) == path
    assert len(tiny_preset.conversions) == 2
    assert (f"Preset {tiny_preset.name}: {path} holds another model than the table describes; "
            "converting again") in caplog.text
    assert load_config(os.path.join(path, "config.json")) == other
