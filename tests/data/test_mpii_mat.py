"""The MPII .mat converter on a small .mat written like the official release."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from keras_pose.data import mpii, mpii_mat

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _struct(**fields):
    dtype = [(k, "O") for k in fields]
    out = np.empty((1, 1), dtype=dtype)
    for k, v in fields.items():
        out[0, 0][k] = v
    return out


def _struct_array(items):
    keys = list(items[0].keys())
    out = np.empty((1, len(items)), dtype=[(k, "O") for k in keys])
    for i, item in enumerate(items):
        for k in keys:
            out[0, i][k] = item[k]
    return out


def _write_release(path, people_per_image, train_flags):
    annolist = []
    for name, people in people_per_image:
        rects = []
        for person in people:
            points = _struct_array([{"x": float(x), "y": float(y), "id": j, "is_visible": 1}
                                    for j, (x, y) in person["joints"].items()])
            rects.append({"x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0,
                          "annopoints": _struct(point=points), "scale": person["scale"],
                          "objpos": _struct(x=person["center"][0], y=person["center"][1])})
        annolist.append({"image": _struct(name=name), "annorect": _struct_array(rects)})
    release = _struct(annolist=_struct_array(annolist),
                      img_train=np.array([train_flags], dtype=float))
    scipy.io.savemat(path, {"RELEASE": release})


def test_converts_the_release_and_reads_back(tmp_path, mpii_dir):
    official = json.load(open(os.path.join(mpii_dir, "test_mpii.json")))
    images = []
    for person in official:
        joints = {j: xy for j, (xy, v) in enumerate(zip(person["joints"], person["joints_vis"]))
                  if v}
        images.append((person["image"], [{"joints": joints, "scale": person["scale"],
                                          "center": person["center"]}]))
    images.append(("test_image.jpg", [{"joints": {0: (5, 6)}, "scale": 1.0,
                                       "center": (10, 10)}]))
    mat = str(tmp_path / "release.mat")
    _write_release(mat, images, [1] * len(official) + [0])
    valid_list = tmp_path / "valid.txt"
    valid_list.write_text(official[0]["image"] + "\n")
    out = str(tmp_path / "annot")
    counts = mpii_mat.convert(mat, out, str(valid_list))
    assert counts == {"train.json": len(official) - 1, "valid.json": 1}  # test image skipped
    converted = json.load(open(os.path.join(out, "train.json"))) + json.load(
        open(os.path.join(out, "valid.json")))
    by_image = {p["image"]: p for p in converted}
    for person in official:
        got = by_image[person["image"]]
        assert got["joints_vis"] == person["joints_vis"]
        for xy, v, g in zip(person["joints"], person["joints_vis"], got["joints"]):
            if v:
                np.testing.assert_allclose(g, xy)
            else:
                assert g == [-1, -1]
        assert got["scale"] == pytest.approx(person["scale"])
        # objpos (x, y) of the release is the entry's center [x, y].
        assert got["center"] == pytest.approx(person["center"])
    records = mpii.load_mpii(os.path.join(out, "train.json"), mpii_dir)
    assert len(records) == len(official) - 1


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        mpii_mat.people_from_release(str(tmp_path / "nothere.mat"))
    other = str(tmp_path / "other.mat")
    scipy.io.savemat(other, {"x": np.ones(3)})
    with pytest.raises(mpii_mat.MatFormatError, match="other.mat.*RELEASE"):
        mpii_mat.people_from_release(other)
    proc = subprocess.run([sys.executable, "scripts/convert_mpii_mat.py", "--mat", other,
                           "--output", str(tmp_path / "out")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "RELEASE" in proc.stderr and "Traceback" not in proc.stderr


def test_files_scipy_cannot_read_are_one_line(tmp_path):
    """An empty file, a cut one and a MATLAB -v7.3 file were tracebacks."""
    good = str(tmp_path / "good.mat")
    _write_release(good, [("a.jpg", [{"joints": {0: (5, 6)}, "scale": 1.0,
                                      "center": (10, 10)}])], [1])
    data = open(good, "rb").read()
    cases = {"empty.mat": b"", "cut.mat": data[:100],
             # The version field of the header: 0x0200 is -v7.3 (HDF5).
             "v73.mat": data[:124] + b"\x00\x02" + data[126:]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(mpii_mat.MatFormatError, match=name) as info:
            mpii_mat.people_from_release(str(tmp_path / name))
        if name == "v73.mat":
            assert "-v7.3 (HDF5)" in str(info.value)
    with pytest.raises(FileNotFoundError, match="is a folder"):
        mpii_mat.people_from_release(str(tmp_path))


def test_people_with_non_finite_values_are_left_out_and_named(tmp_path, caplog):
    """A NaN or zero scale, an empty objpos or point coordinate were a
    traceback, or were written (NaN is not JSON; the reader then refused
    the whole file)."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")

    def rect(scale=1.0, x=10.0, point_x=5.0):
        points = _struct_array([{"x": point_x, "y": 6.0, "id": 0, "is_visible": 1},
                                {"x": 7.0, "y": 8.0, "id": 1, "is_visible": 1}])
        return {"annopoints": _struct(point=points), "scale": scale,
                "objpos": _struct(x=x, y=10.0)}

    rects = [rect(), rect(scale=np.nan), rect(scale=0.0), rect(x=np.zeros(0)),
             rect(point_x=np.zeros(0))]
    release = _struct(annolist=_struct_array([{"image": _struct(name="a.jpg"),
                                                "annorect": _struct_array(rects)}]),
                      img_train=np.array([[1.0]]))
    mat = str(tmp_path / "odd.mat")
    scipy.io.savemat(mat, {"RELEASE": release})
    out = tmp_path / "annot"
    assert mpii_mat.convert(mat, str(out)) == {"train.json": 2}
    people = json.load(open(out / "train.json"))  # strict JSON: no NaN
    assert [p["joints_vis"][:2] for p in people] == [[1, 1], [0, 1]]
    assert ("odd.mat: 3 person(s) left out: a.jpg person 2: scale not a finite number > 0; "
            "a.jpg person 3: scale not a finite number > 0; a.jpg person 4: objpos without a "
            "finite x and y") in caplog.text
    assert len(mpii.load_mpii(str(out / "train.json"), str(tmp_path))) == 2


def test_a_conversion_without_the_list_moves_an_earlier_valid_json_aside(tmp_path):
    """Converting again without --valid_list left the earlier valid.json,
    whose images were now in train.json too."""
    mat = str(tmp_path / "release.mat")
    person = {"joints": {0: (5, 6)}, "scale": 1.0, "center": (10, 10)}
    _write_release(mat, [("a.jpg", [person]), ("b.jpg", [person])], [1, 1])
    (tmp_path / "valid.txt").write_text("b.jpg\n")
    out = tmp_path / "annot"
    assert mpii_mat.convert(mat, str(out), str(tmp_path / "valid.txt")) == {
        "train.json": 1, "valid.json": 1}
    assert mpii_mat.convert(mat, str(out)) == {"train.json": 2}
    assert sorted(os.listdir(out)) == ["train.json", "valid.json.earlier"]
    (tmp_path / "other.txt").write_text("c.jpg\n")  # names no image: refused
    with pytest.raises(mpii_mat.MatFormatError, match="other.txt: none of its 1 image names"):
        mpii_mat.convert(mat, str(out), str(tmp_path / "other.txt"))


def test_names_of_the_validation_list_that_match_no_image_are_said(tmp_path, caplog):
    """A typo (b.jgp) left b.jpg's people in training, in silence."""
    mat = str(tmp_path / "release.mat")
    person = {"joints": {0: (5, 6)}, "scale": 1.0, "center": (10, 10)}
    _write_release(mat, [("a.jpg", [person]), ("b.jpg", [person])], [1, 1])
    (tmp_path / "valid.txt").write_text("a.jpg\nb.jgp\n")
    assert mpii_mat.convert(mat, str(tmp_path / "annot"), str(tmp_path / "valid.txt")) == {
        "train.json": 1, "valid.json": 1}
    assert (f"valid.txt: 1 of its 2 image names are no annotated training image of {mat} "
            "(e.g. b.jgp): they name no person of valid.json") in caplog.text
