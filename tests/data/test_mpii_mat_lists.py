"""The MPII converter's validation list (its encodings, a file that is no
list) and an earlier split's files kept together when the split changes."""

import json
import logging
import os

import pytest

from keras_pose.data import mpii_mat
from tests.data.test_mpii_mat import _validation_release


def _images(path) -> list[str]:
    return [row["image"] for row in json.load(open(path))]


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # a JPEG given by mistake
    "v2.jpg\nv1.jpg\n".encode("utf-16-le"),  # UTF-16 without its byte-order mark
], ids=["jpeg", "utf16_without_mark"])
def test_a_file_that_is_no_utf8_list_is_one_error_naming_it(tmp_path, data):
    """Was a UnicodeDecodeError's traceback (or, for UTF-16 without its mark,
    names with a NUL in them, none matching)."""
    mat, _ = _validation_release(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(data)
    with pytest.raises(mpii_mat.MatFormatError,
                       match=r"photo.jpg is not a UTF-8 text list of image names, one per line"):
        mpii_mat.convert(mat, str(tmp_path / "annot"), str(tmp_path / "photo.jpg"))
    assert not (tmp_path / "annot").exists()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])  # Python's utf-16 writes a BOM.
def test_a_list_with_a_byte_order_mark_is_read(tmp_path, encoding):
    mat, _ = _validation_release(tmp_path)
    (tmp_path / "list.txt").write_bytes("v2.jpg\r\nv1.jpg\r\n".encode(encoding))
    out = tmp_path / "annot"
    mpii_mat.convert(mat, str(out), str(tmp_path / "list.txt"))
    assert _images(out / "valid.json") == ["v1.jpg", "v1.jpg", "v2.jpg"]
    assert _images(out / "train.json") == ["train.jpg"]


def test_a_second_split_keeps_the_earlier_valid_json_with_its_gt_valid_mat(tmp_path, caplog):
    """gt_valid.mat went to .earlier with a warning, but the valid.json it
    scores was overwritten in silence: the pair could not be restored."""
    caplog.set_level(logging.WARNING, logger="absl")
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"
    mpii_mat.convert(mat, str(out), valid_list)  # v1 and v2
    first_gt = (out / "gt_valid.mat").read_bytes()
    (out / "gt_valid.mat.earlier").write_bytes(b"kept from before")  # .earlier is taken
    (tmp_path / "v1.txt").write_text("v1.jpg\n")
    mpii_mat.convert(mat, str(out), str(tmp_path / "v1.txt"))
    assert _images(out / "valid.json.earlier.2") == ["v1.jpg", "v1.jpg", "v2.jpg"]
    assert (out / "gt_valid.mat.earlier.2").read_bytes()[128:] == first_gt[128:]
    assert not (out / "valid.json.earlier").exists()  # One name for the pair.
    assert _images(out / "valid.json") == ["v1.jpg", "v1.jpg"]
    assert _images(out / "train.json") == ["train.jpg", "v2.jpg"]  # Replaced, and said:
    assert ("both are moved to gt_valid.mat.earlier.2 and valid.json.earlier.2; train.json "
            "is replaced" in caplog.text)
    caplog.clear()
    mpii_mat.convert(mat, str(out), str(tmp_path / "v1.txt"))  # The same split: nothing moved.
    assert "moved" not in caplog.text
    assert sorted(os.listdir(out)) == ["gt_valid.mat", "gt_valid.mat.earlier",
                                       "gt_valid.mat.earlier.2", "train.json", "valid.json",
                                       "valid.json.earlier.2"]


def test_an_earlier_valid_json_without_gt_valid_mat_is_kept_too(tmp_path):
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"
    out.mkdir()
    (out / "valid.json").write_text('[{"image": "official.jpg"}]')
    mpii_mat.convert(mat, str(out), valid_list)
    assert (out / "valid.json.earlier").read_text() == '[{"image": "official.jpg"}]'
    assert _images(out / "valid.json") == ["v1.jpg", "v1.jpg", "v2.jpg"]


def test_without_a_list_the_pair_goes_aside_under_one_name(tmp_path):
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"
    mpii_mat.convert(mat, str(out), valid_list)
    (out / "valid.json.earlier").write_text("[]")  # an older valid.json kept alone
    mpii_mat.convert(mat, str(out))
    assert sorted(os.listdir(out)) == ["gt_valid.mat.earlier.2", "train.json",
                                       "valid.json.earlier", "valid.json.earlier.2"]
