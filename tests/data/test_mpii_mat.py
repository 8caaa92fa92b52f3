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
