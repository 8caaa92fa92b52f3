"""An mmpose file recognised as its preset by its contents, and the config
the converter gives it (keras_pose/presets/recognize.py)."""

import dataclasses
import hashlib

import pytest

from keras_pose import log as library_log
from keras_pose.errors import FlagError
from keras_pose.presets import PRESETS, preset_config
from keras_pose.presets.recognize import mmpose_file_config, preset_of_file

# A 1.x DARK file whose published kernel (11) is not the experiments' default at sigma 3 (17).
DARK_384 = "simplebaseline_resnet50_coco_384x288_dark"


def _file(path, payload: bytes) -> str:
    path.write_bytes(payload)
    return str(path)


def _table_for(path: str, name: str = DARK_384) -> dict:
    """The real preset ``name``, its published file standing for ``path``:
    same entry, the file name carrying the SHA-256 prefix of ``path``."""
    with open(path, "rb") as f:
        prefix = hashlib.sha256(f.read()).hexdigest()[:8]
    preset = PRESETS[name]
    file_name = preset.file_name.replace(preset.sha256_prefix, prefix)
    url = preset.url.replace(preset.file_name, file_name)
    return {name: dataclasses.replace(preset, file_name=file_name, url=url)}


def test_a_renamed_published_file_is_its_preset(tmp_path):
    path = _file(tmp_path / "my_download.pth", b"published weights")
    table = _table_for(path)
    assert preset_of_file(path, table) is table[DARK_384]
    other = _file(tmp_path / "other.pth", b"other weights")
    assert preset_of_file(other, table) is None
    assert preset_of_file(other) is None  # The real table: no file of it has these bytes.


def test_a_file_named_as_a_preset_but_other_contents_is_not_it(tmp_path, monkeypatch):
    published = _file(tmp_path / "published.pth", b"published weights")
    table = _table_for(published)
    fake = tmp_path / "fake"
    fake.mkdir()
    impostor = _file(fake / table[DARK_384].file_name, b"fine-tuned weights")
    warnings = []
    monkeypatch.setattr(library_log, "warning", lambda msg, *a: warnings.append(msg % a))
    assert preset_of_file(impostor, table) is None
    assert len(warnings) == 1 and f"named as preset {DARK_384}'s file" in warnings[0]


def test_a_published_file_converts_with_its_presets_settings(tmp_path):
    path = _file(tmp_path / "renamed.pth", b"published weights")
    table = _table_for(path)
    config = mmpose_file_config(path, "1.x", None, presets=table)
    assert config == preset_config(table[DARK_384])
    # What the experiment route would have lost: mmpose's box rule and DARK kernel.
    assert config.data.gt_box_rule == "mmpose" and config.test.blur_kernel == 11
    assert config.model.codec == "dark" and config.model.image_size == (288, 384)
    changed = mmpose_file_config(path, "1.x", None, ["test.blur_kernel=17"], presets=table)
    assert changed.test.blur_kernel == 17 and changed.data.gt_box_rule == "mmpose"
    # One string is one override (it read as its characters: "override 't' ...").
    one = mmpose_file_config(path, "1.x", None, "test.blur_kernel=17", presets=table)
    assert one.test.blur_kernel == 17


def test_an_experiment_given_for_a_published_file_wins(tmp_path):
    path = _file(tmp_path / "renamed.pth", b"published weights")
    table = _table_for(path)
    config = mmpose_file_config(path, "1.x", "coco_resnet50_256x192", presets=table)
    assert config.name == "coco_resnet50_256x192_mmpose"
    assert config.model.image_size == (192, 256) and config.data.gt_box_rule == "mmpose"


@pytest.mark.parametrize("release, rule", [("1.x", "mmpose"), ("0.x", "mmpose_0x"),
                                           (None, "official")])
def test_an_unknown_file_takes_its_generations_box_rule(tmp_path, release, rule):
    path = _file(tmp_path / "td-hm_res50_mine.pth", b"my own mmpose training")
    config = mmpose_file_config(path, release, "coco_resnet50_256x192",
                                ["model.codec=dark"])
    assert config.data.gt_box_rule == rule and config.model.codec == "dark"
    own = mmpose_file_config(path, release, "coco_resnet50_256x192",
                             ["data.gt_box_rule=official"])
    assert own.data.gt_box_rule == "official"  # The user's --set wins.


def test_an_unknown_file_without_experiment_names_the_fix(tmp_path):
    path = _file(tmp_path / "td-hm_res50_mine.pth", b"my own mmpose training")
    with pytest.raises(FlagError, match=r"td-hm_res50_mine\.pth needs --experiment .*"
                                        r"python -m keras_pose\.presets"):
        mmpose_file_config(path, "1.x", None)
