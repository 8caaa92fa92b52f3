"""Fixtures of the weight-file tests."""

import pytest

from keras_pose.convert import download


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty download cache in tmp_path, downloads allowed (file:// URLs)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(download.CACHE_ENV, str(folder))
    monkeypatch.delenv(download.OFFLINE_ENV, raising=False)
    return folder
