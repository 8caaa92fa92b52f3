"""The MPII converter's validation split by people (Tompson's detections.mat,
``image_name,person_index`` lines), by the rule of the generator of the
reference's valid.json (genJSON.m): a listed person is validation, the people
of an image with no listed person are training, an unlisted person of an
image with listed people is in neither. The expected splits are written out
by hand from that rule."""

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from keras_pose.data import mpii_mat
from tests.data.test_mpii_mat import REPO, _struct, _struct_array

EMPTY = np.zeros((0, 0))  # MATLAB's []


def _rect(center, annotated=True):
    """A person at ``center``, its one joint there and a head box around it;
    not annotated: objpos and scale only (as the release's test people and
    its people without joints), which keeps its place in annorect."""
    x, y = center
    points = _struct_array([{"x": float(x), "y": float(y), "id": 0, "is_visible": 1}])
    return {"x1": x - 5.0, "y1": y - 5.0, "x2": x + 5.0, "y2": y + 5.0, "scale": 1.0,
            "annopoints": _struct(point=points) if annotated else EMPTY,
            "objpos": _struct(x=float(x), y=float(y))}


# annolist, 1-based: (name, its annorects by centre; None: not annotated, training image).
IMAGES = [("t1.jpg", [(10, 10)], True),                                     # 1: A
          ("x.jpg", [None], False),                                         # 2: a test image
          ("m.jpg", [(31, 31), None, (33, 33), (34, 34)], True),            # 3: B, -, D, E
          ("w.jpg", [(41, 41), (42, 42)], True),                            # 4: F, G
          ("n.jpg", [(50, 50)], True)]                                      # 5: H


def _release(tmp_path) -> str:
    annolist = []
    for name, centers, _ in IMAGES:
        rects = [_rect(c) if c else _rect((300, 300), annotated=False) for c in centers]
        annolist.append({"image": _struct(name=name), "annorect": _struct_array(rects)})
    release = _struct(annolist=_struct_array(annolist),
                      img_train=np.array([[float(train) for _, _, train in IMAGES]]))
    path = str(tmp_path / "release.mat")
    scipy.io.savemat(path, {"RELEASE": release})
    return path


def _detections(tmp_path, images, people, column=False, name="detections.mat") -> str:
    shape = (-1, 1) if column else (1, -1)
    path = str(tmp_path / name)
    scipy.io.savemat(path, {"RELEASE_img_index": np.array(images, float).reshape(shape),
                            "RELEASE_person_index": np.array(people, float).reshape(shape),
                            "annolist": EMPTY})
    return path


def _centers(path) -> list[tuple]:
    return [tuple(row["center"]) for row in json.load(open(path))]


A, B, D, E, F, G, H = (10, 10), (31, 31), (33, 33), (34, 34), (41, 41), (42, 42), (50, 50)


def _convert(tmp_path, valid_list, caplog):
    caplog.set_level(logging.WARNING, logger="absl")
    out = tmp_path / "annot"
    counts = mpii_mat.convert(_release(tmp_path), str(out), valid_list)
    return counts, _centers(out / "train.json"), _centers(out / "valid.json"), out


@pytest.mark.parametrize("column", [False, True], ids=["row_1xN", "column_Nx1"])
def test_tompsons_detections_mat_lists_people(tmp_path, caplog, column):
    """Was: a .mat given as --valid_list was refused as no UTF-8 list. m.jpg
    person 3 is D: its 2nd annorect (not annotated) keeps its number."""
    valid_list = _detections(tmp_path, [3, 4, 4], [3, 1, 2], column)
    counts, train, valid, out = _convert(tmp_path, valid_list, caplog)
    assert valid == [D, F, G]  # release order
    assert train == [A, H]  # B and E: of m.jpg, which has a listed person
    assert counts == {"train.json": 2, "valid.json": 3, "gt_valid.mat": 3}
    boxes = scipy.io.loadmat(str(out / "gt_valid.mat"))["headboxes_src"]
    np.testing.assert_array_equal(boxes[0, :, :], [[28, 36, 37], [28, 36, 37]])  # x1, y1
    assert ("detections.mat: 2 person(s) not on the list, of images with people on it, left "
            "out of train.json and valid.json (the reference's split trains on no person of "
            "a validation image): m.jpg person 1; m.jpg person 4") in caplog.text


def test_a_text_list_of_people_is_the_same_split(tmp_path, caplog):
    """Was: 'm.jpg,3' read as an image name, of no image: refused."""
    (tmp_path / "people.txt").write_text("m.jpg,3\r\nw.jpg, 1\n\nw.jpg,2\n")
    _, train, valid, _ = _convert(tmp_path, str(tmp_path / "people.txt"), caplog)
    assert (valid, train) == ([D, F, G], [A, H])
    assert "people.txt: 2 person(s) not on the list" in caplog.text


def test_names_still_take_every_person_of_their_images(tmp_path, caplog):
    (tmp_path / "names.txt").write_text("m.jpg\n")
    _, train, valid, _ = _convert(tmp_path, str(tmp_path / "names.txt"), caplog)
    assert (valid, train) == ([B, D, E], [A, F, G, H])
    assert "not on the list" not in caplog.text


def test_names_and_people_mixed(tmp_path, caplog):
    (tmp_path / "mixed.txt").write_text("w.jpg\nm.jpg,4\n")
    _, train, valid, _ = _convert(tmp_path, str(tmp_path / "mixed.txt"), caplog)
    assert (valid, train) == ([E, F, G], [A, H])
    assert "mixed.txt: 2 person(s) not on the list" in caplog.text
    assert "m.jpg person 1; m.jpg person 3" in caplog.text


def test_listed_people_that_are_not_annotated_are_said(tmp_path, caplog):
    """m.jpg person 2 has no joints and x.jpg is a test image: neither is in
    valid.json, and m.jpg's other people still train on nothing."""
    valid_list = _detections(tmp_path, [3, 2, 4], [2, 1, 1])
    _, train, valid, _ = _convert(tmp_path, valid_list, caplog)
    assert (valid, train) == ([F], [A, H])
    assert ("detections.mat: 2 of its 3 entries are no annotated person of a training image "
            "of ") in caplog.text
    assert "(e.g. entry 1: m.jpg (image 3) person 2)" in caplog.text
    assert "m.jpg person 1; m.jpg person 3; m.jpg person 4; w.jpg person 2" in caplog.text


@pytest.mark.parametrize("content, message", [
    ("w.jpg,1\nm.jpg,5\n", r"list.txt line 2: person 5 of m.jpg \(image 3\) is beyond its 4 "
                           r"annorect\(s\) in .*release.mat: the person index counts"),
    ("w.jpg,1\nm.jpg,x\n", r"list.txt line 2: 'm.jpg,x' is not image_name,person_index"),
    ("w.jpg,0\n", r"list.txt line 1: 'w.jpg,0' is not image_name,person_index"),
    ("w.jpg,1\ntypo.jpg,1\n", None),  # an unknown name: said, not refused (below)
], ids=["beyond_people", "not_a_number", "zero", "unknown_name"])
def test_bad_text_lines_name_the_file_and_line(tmp_path, caplog, content, message):
    (tmp_path / "list.txt").write_text(content)
    if message is None:
        _, _, valid, _ = _convert(tmp_path, str(tmp_path / "list.txt"), caplog)
        assert valid == [F]
        assert "(e.g. line 2: typo.jpg person 1)" in caplog.text
        return
    with pytest.raises(mpii_mat.MatFormatError, match=message):
        mpii_mat.convert(_release(tmp_path), str(tmp_path / "annot"), str(tmp_path / "list.txt"))
    assert not (tmp_path / "annot").exists()  # refused before any file is written


@pytest.mark.parametrize("images, people, message", [
    ([4, 3], [1, 5], r"detections.mat entry 2: person 5 of m.jpg \(image 3\) is beyond its 4 "
                     r"annorect\(s\)"),
    ([4, 6], [1, 1], r"detections.mat entry 2: RELEASE_img_index 6 is beyond the 5 images of "
                     r".*release.mat: give the detections.mat of this release"),
    ([4, 0], [1, 1], r"detections.mat: RELEASE_img_index entry 2 is 0, not a whole number"),
    ([4, 3], [1], r"RELEASE_img_index has 2 entries and RELEASE_person_index 1"),
], ids=["beyond_people", "beyond_images", "zero", "lengths"])
def test_bad_detections_entries_name_the_file_and_entry(tmp_path, images, people, message):
    valid_list = _detections(tmp_path, images, people)
    with pytest.raises(mpii_mat.MatFormatError, match=message):
        mpii_mat.convert(_release(tmp_path), str(tmp_path / "annot"), valid_list)
    assert not (tmp_path / "annot").exists()


def test_a_mat_without_the_arrays_is_one_error_naming_them(tmp_path):
    """Was: 'not a UTF-8 text list of image names' for any .mat."""
    other = str(tmp_path / "other.mat")
    scipy.io.savemat(other, {"RELEASE_img_index": np.array([[4.0]])})
    proc = subprocess.run([sys.executable, "scripts/convert_mpii_mat.py", "--mat",
                           _release(tmp_path), "--output", str(tmp_path / "out"),
                           "--valid_list", other], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert ("other.mat: a .mat file without RELEASE_person_index, so no validation list: give "
            "Tompson's detections.mat (mpii_predictions/data/detections.mat of "
            "mpii_valid_pred.zip)") in proc.stderr
