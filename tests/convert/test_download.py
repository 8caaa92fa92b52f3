"""The download cache: cache folder, one entry per URL, hash in the name,
the offline error. No network: file:// URLs and KERAS_POSE_OFFLINE."""

import hashlib
import os

import pytest

from keras_pose.convert import download


def test_same_file_name_from_two_urls_are_two_cache_entries(tmp_path, cache):
    # As timm's Hub repositories all name their file model.safetensors.
    paths = []
    for repo in ("resnet50.tv_in1k", "resnet50.a1_in1k"):
        source = tmp_path / repo / "model.safetensors"
        source.parent.mkdir()
        source.write_bytes(repo.encode())
        paths.append(download.fetch(source.as_uri()))
    assert paths[0] != paths[1]
    assert [open(p, "rb").read() for p in paths] == [b"resnet50.tv_in1k", b"resnet50.a1_in1k"]
    assert all(os.path.basename(p) == "model.safetensors" for p in paths)


def test_cache_folder_follows_keras(monkeypatch, tmp_path):
    monkeypatch.delenv(download.CACHE_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert download.cache_dir() == str(tmp_path / "kh" / "keras_pose")
    monkeypatch.delenv("KERAS_HOME")
    assert download.cache_dir() == os.path.join(os.path.expanduser("~"), ".keras",
                                                "keras_pose")
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "mine"))
    assert download.cache_dir() == str(tmp_path / "mine")


def test_hashed_names_are_checked_and_bad_downloads_not_kept(tmp_path, cache):
    payload = b"any weights"
    digest = hashlib.sha256(payload).hexdigest()
    good = tmp_path / f"preset-{digest[:8]}.weights.h5"
    good.write_bytes(payload)
    assert download.fetch(good.as_uri()) == str(cache / good.name)
    bad = tmp_path / "preset-00000000.weights.h5"
    bad.write_bytes(payload)
    with pytest.raises(download.HashMismatchError, match="preset-00000000.*not kept"):
        download.fetch(bad.as_uri())
    assert os.listdir(cache) == [good.name]


def test_offline_error_names_url_destination_and_only_the_callers_alternatives(
        cache, monkeypatch):
    monkeypatch.setenv(download.OFFLINE_ENV, "1")
    url = "https://example.org/presets/pose-0123abcd.weights.h5"
    with pytest.raises(download.DownloadError) as info:
        download.fetch(url)
    message = str(info.value)
    assert url in message and "disabled by KERAS_POSE_OFFLINE" in message
    assert f"put it at {cache / 'pose-0123abcd.weights.h5'}" in message
    assert message.endswith("to a folder that holds it)")  # nothing about model.pretrained
    with pytest.raises(download.DownloadError, match=r"holds it\); or pass --weights PATH$"):
        download.fetch(url, alternatives="or pass --weights PATH")


def test_hash_prefixes_of_torchvision_and_mmpose_names():
    assert download.hash_prefix("resnet50-19c8e357.pth") == "19c8e357"
    # mmpose's publish_model.py: <name>-<sha256[:8]>_<date>.pth
    assert download.hash_prefix(
        "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth") == "04af38ce"
    assert download.hash_prefix("res50_coco_256x192_dark-43379d20_20200709.pth") == "43379d20"
    assert download.hash_prefix("pose_resnet_50_256x192.pth.tar") is None
    assert download.hash_prefix("td-hm_res50_8xb64-210e_coco-256x192.pth") is None
