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


@pytest.fixture
def server():
    """A web server on 127.0.0.1 answering every GET with ``server.body``,
    announcing ``server.length`` bytes (then closing the connection)."""
    import http.server
    import socketserver
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(httpd.length))
            self.end_headers()
            self.wfile.write(httpd.body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    httpd.body, httpd.length = b"", 0
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_download_cut_short_is_not_kept(server, cache):
    # A name without a hash (timm's model.safetensors): only the announced
    # length can tell that the connection ended early.
    server.body, server.length = b"w" * 3000, 7000
    with pytest.raises(download.DownloadError, match="after 3000 of the 7000 bytes.*run again"):
        download.fetch(server.url + "/resnet50.tv_in1k/model.safetensors")
    assert [files for _, _, files in os.walk(cache) if files] == []  # no file, no temporary
    server.length = 3000  # Complete: kept, and the cached copy serves the next call.
    path = download.fetch(server.url + "/resnet50.tv_in1k/model.safetensors")
    assert open(path, "rb").read() == b"w" * 3000
    server.body = b"changed"
    assert open(download.fetch(server.url + "/resnet50.tv_in1k/model.safetensors"),
                "rb").read() == b"w" * 3000


def test_a_full_disk_says_so_and_keeps_nothing(server, cache, monkeypatch):
    import errno
    server.body, server.length = b"w" * 3000, 3000

    def full(url, out):
        out.write(b"w" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(download, "_copy_url", full)
    with pytest.raises(download.DownloadError) as info:
        download.fetch(server.url + "/model.safetensors")
    assert f"the disk holding {cache}" in str(info.value) and "is full" in str(info.value)
    assert "Without network access" not in str(info.value)
    assert [files for _, _, files in os.walk(cache) if files] == []


def test_a_cache_that_cannot_be_created_names_it_and_the_setting(server, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder must go")
    monkeypatch.setenv(download.CACHE_ENV, str(blocked / "cache"))
    monkeypatch.delenv(download.OFFLINE_ENV, raising=False)
    server.body, server.length = b"w", 1
    with pytest.raises(download.DownloadError) as info:
        download.fetch(server.url + "/model.safetensors")
    message = str(info.value)
    assert f"the download cache {blocked / 'cache'}" in message and "cannot be created" in message
    assert "set KERAS_POSE_CACHE to a folder you can write" in message
    assert "Without network access" not in message


@pytest.mark.parametrize("value,offline", [("", False), ("0", False), ("false", False),
                                           ("No", False), ("off", False), ("1", True),
                                           ("true", True), ("yes", True)])
def test_keras_pose_offline_reads_false_as_false(value, offline, monkeypatch):
    # "false", "no" and "off" forbade downloads ("downloads are disabled by ...").
    monkeypatch.setenv(download.OFFLINE_ENV, value)
    assert download.offline() is offline


def test_a_read_only_cache_says_so_not_offline(server, cache, monkeypatch):
    import errno
    server.body, server.length = b"w" * 10, 10

    def read_only(url, out):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(download, "_copy_url", read_only)
    with pytest.raises(download.DownloadError) as info:
        download.fetch(server.url + "/model.safetensors")
    message = str(info.value)
    assert f"the download cache {cache}" in message
    assert "is not writable (Read-only file system)" in message
    assert "KERAS_POSE_CACHE" in message and "Without network access" not in message


def test_a_killed_downloads_partial_file_is_removed_by_the_next(tmp_path, cache):
    """kill -9 during a download left its temporary file (a preset's is
    hundreds of MB) in the cache for good: only folders were cleaned. A live
    process's, or another host's, is not touched."""
    import socket
    import subprocess
    import sys
    payload = b"weights" * 1000
    source = tmp_path / f"preset-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    source.write_bytes(payload)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    cache.mkdir()
    killed = cache / f"{source.name}.tmp-{host}-{dead.pid}"
    killed.write_bytes(payload[:100])
    # Another file's: it was found only when that same file came again.
    (cache / f"other-preset-0123abcd.pth.tmp-{host}-{dead.pid}").write_bytes(b"part")
    others = [cache / f"{source.name}.tmp-{host}-{os.getppid()}",  # a live process
              cache / f"{source.name}.tmp-elsewhere-{dead.pid}"]  # another host's
    for path in others:
        path.write_bytes(b"x")
    assert download.fetch(source.as_uri()) == str(cache / source.name)
    assert sorted(os.listdir(cache)) == sorted([source.name] + [p.name for p in others])
