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
    """A person's "head" is its head box ((x1, y1), (x2, y2)); None: MATLAB's []."""
    annolist = []
    for name, people in people_per_image:
        rects = []
        for person in people:
            points = _struct_array([{"x": float(x), "y": float(y), "id": j, "is_visible": 1}
                                    for j, (x, y) in person["joints"].items()])
            head = person.get("head", ((1.0, 2.0), (30.0, 40.0)))
            x1, y1, x2, y2 = ([np.zeros(0)] * 4 if head is None
                              else [float(v) for corner in head for v in corner])
            rects.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2,
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
    assert counts == {"train.json": len(official) - 1, "valid.json": 1,  # test image skipped
                      "gt_valid.mat": 1}
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
        "train.json": 1, "valid.json": 1, "gt_valid.mat": 1}
    assert mpii_mat.convert(mat, str(out)) == {"train.json": 2}
    assert sorted(os.listdir(out)) == ["gt_valid.mat.earlier", "train.json",
                                       "valid.json.earlier"]
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
        "train.json": 1, "valid.json": 1, "gt_valid.mat": 1}
    assert (f"valid.txt: 1 of its 2 image names are no annotated training image of {mat} "
            "(e.g. b.jgp): they name no person of valid.json") in caplog.text


# gt_valid.mat: the validation people's ground truth for PCKh.

# The official gt_valid.mat's joint names, in the MPII channel order (written out
# here, not taken from the code under test).
OFFICIAL_JOINT_NAMES = ["rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
                        "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri"]
HEAD_TOP = 9


def _validation_release(tmp_path, b_head=((100.0, 50.0), (130.0, 90.0))):
    """A release of train.jpg (one person), v1.jpg (A: 16 joints; B: no
    thorax) and v2.jpg (C: 16 joints), and a list naming v2 before v1. Every
    head box shown has a 30 x 40 diagonal of 50 px: a head size of 30 px."""
    def joints(offset, skip=()):
        return {j: (offset + 10.5 + j, offset + 20.25 + j) for j in range(16) if j not in skip}

    people = [("train.jpg", [{"joints": joints(0), "scale": 1.0, "center": (10, 10)}]),
              ("v1.jpg", [{"joints": joints(0), "scale": 2.0, "center": (20, 30),
                           "head": ((10.0, 20.0), (40.0, 60.0))},
                          {"joints": joints(100, skip=(7,)), "scale": 1.5, "center": (60, 70),
                           "head": b_head}]),
              ("v2.jpg", [{"joints": joints(200), "scale": 1.0, "center": (30, 40),
                           "head": ((5.0, 5.0), (35.0, 45.0))}])]
    tmp_path.mkdir(exist_ok=True)
    mat = str(tmp_path / "release.mat")
    _write_release(mat, people, [1, 1, 1])
    valid_list = tmp_path / "valid.txt"
    valid_list.write_text("v2.jpg\nv1.jpg\n")
    return mat, str(valid_list)


def test_gt_valid_mat_holds_the_people_of_valid_json_in_its_order(tmp_path):
    """The converter wrote no gt_valid.mat: a converted release could not be
    evaluated (evaluate.py --dataset mpii needs it)."""
    from keras_pose.evaluation.mpii import MpiiPckhMetric, load_gt_mat
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"
    proc = subprocess.run([sys.executable, "scripts/convert_mpii_mat.py", "--mat", mat,
                           "--output", str(out), "--valid_list", valid_list], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{out}/gt_valid.mat: 3 people" in proc.stdout
    gt = load_gt_mat(str(out / "gt_valid.mat"))
    rows = json.load(open(out / "valid.json"))
    assert [row["image"] for row in rows] == ["v1.jpg", "v1.jpg", "v2.jpg"]  # file order
    assert all(sorted(row) == ["center", "image", "joints", "joints_vis", "scale"]
               for row in rows)  # the head box is not a field of valid.json
    assert gt["joint_names"] == OFFICIAL_JOINT_NAMES
    assert gt["pos_gt_src"].shape == (16, 2, 3) and gt["headboxes_src"].shape == (2, 2, 3)
    # A's head-top is (10.5 + 9, 20.25 + 9) in the release (1-based); the reader
    # makes it 0-based: 18.5, 28.25.
    np.testing.assert_array_equal(gt["pos_gt_src"][HEAD_TOP, :, 0], [19.5, 29.25])
    records = mpii.load_mpii(str(out / "valid.json"), str(tmp_path))
    np.testing.assert_array_equal(records.joints[0, HEAD_TOP], [18.5, 28.25])
    np.testing.assert_array_equal(gt["pos_gt_src"][:, :, 2][HEAD_TOP], [219.5, 229.25])
    # Every joint of each person: the reader's 0-based joints + 1.
    visible = records.joints_vis > 0  # (3, 16)
    np.testing.assert_array_equal(visible.T, gt["jnt_missing"] == 0)
    np.testing.assert_array_equal((records.joints + 1)[visible],
                                  np.transpose(gt["pos_gt_src"], (2, 0, 1))[visible])
    # 1 = missing: only B's thorax.
    assert gt["jnt_missing"].sum() == 1 and gt["jnt_missing"][7, 1] == 1
    np.testing.assert_array_equal(gt["headboxes_src"][:, :, 0], [[10, 20], [40, 60]])
    np.testing.assert_array_equal(gt["headboxes_src"][:, :, 1], [[100, 50], [130, 90]])
    np.testing.assert_array_equal(gt["headboxes_src"][:, :, 2], [[5, 5], [35, 45]])
    # evaluate.py's check that the two files are one split in one order passes.
    MpiiPckhMetric(str(out / "gt_valid.mat")).check_records(records, "valid.json")


def test_gt_valid_mat_scores_the_ground_truth_100_and_a_far_joint_as_a_miss(tmp_path):
    from keras_pose.evaluation.mpii import evaluate_pckh
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"
    mpii_mat.convert(mat, str(out), valid_list)
    gt_mat = str(out / "gt_valid.mat")
    preds = mpii.load_mpii(str(out / "valid.json"), str(tmp_path)).joints.astype(np.float64)
    assert evaluate_pckh(preds, gt_mat) == pytest.approx(
        dict.fromkeys(["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean",
                       "Mean@0.1", "PCKh@0.1"], 100.0))
    # Head size 0.6 x 50 = 30 px, so 15 px at 0.5 and 3.3 px at the legacy 0.11:
    # A's head-top 15.5 px away misses, C's 14.5 px away counts (at 0.5 only).
    preds[0, HEAD_TOP, 0] += 15.5
    preds[2, HEAD_TOP, 1] -= 14.5
    got = evaluate_pckh(preds, gt_mat)
    assert got["Head"] == pytest.approx(200 / 3)
    # Mean: 14 pooled joints (all but pelvis and thorax) x 3 people = 42.
    assert got["Mean"] == pytest.approx(100 * 41 / 42)
    assert got["Mean@0.1"] == pytest.approx(100 * 40 / 42)
    assert got["Wrist"] == 100.0


def test_a_validation_person_without_a_head_box_is_left_out_and_named(tmp_path, caplog):
    """PCKh divides by the head size: a person without a head box (MATLAB's
    []) or with both corners at one point cannot be scored."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    from keras_pose.evaluation.mpii import load_gt_mat
    for name, head in (("none", None), ("point", ((7.0, 7.0), (7.0, 7.0)))):
        mat, valid_list = _validation_release(tmp_path / name, b_head=head)
        out = tmp_path / name / "annot"
        assert mpii_mat.convert(mat, str(out), valid_list) == {
            "train.json": 1, "valid.json": 2, "gt_valid.mat": 2}
        rows = json.load(open(out / "valid.json"))
        assert [(row["image"], row["scale"]) for row in rows] == [("v1.jpg", 2.0),
                                                                  ("v2.jpg", 1.0)]
        assert [row["image"] for row in json.load(open(out / "train.json"))] == ["train.jpg"]
        gt = load_gt_mat(str(out / "gt_valid.mat"))
        np.testing.assert_array_equal(gt["pos_gt_src"][HEAD_TOP, :, 1], [219.5, 229.25])
        assert ("release.mat: 1 person(s) of the validation images left out of valid.json "
                "and gt_valid.mat: v1.jpg person 2: no head box") in caplog.text
        caplog.clear()
    # A training person needs no head box.
    mat = str(tmp_path / "train_only.mat")
    _write_release(mat, [("a.jpg", [{"joints": {0: (5, 6)}, "scale": 1.0, "center": (10, 10),
                                     "head": None}])], [1])
    assert mpii_mat.convert(mat, str(tmp_path / "t")) == {"train.json": 1}
    (tmp_path / "a.txt").write_text("a.jpg\n")
    with pytest.raises(mpii_mat.MatFormatError, match="a.txt has a head box"):
        mpii_mat.convert(mat, str(tmp_path / "none_scored"), str(tmp_path / "a.txt"))
    assert not (tmp_path / "none_scored").exists()  # refused before any file is written


def test_an_earlier_gt_valid_mat_is_moved_aside_never_overwritten(tmp_path, caplog):
    """Another gt_valid.mat (the official one, which no program can download,
    or an earlier split's) is kept under a free name before this one is
    written; without --valid_list none is written and an earlier one is moved
    aside like valid.json (it scores people now in train.json)."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"
    out.mkdir()
    (out / "gt_valid.mat").write_bytes(b"the official file")
    mpii_mat.convert(mat, str(out), valid_list)
    assert (out / "gt_valid.mat.earlier").read_bytes() == b"the official file"
    assert (f"{out}/gt_valid.mat holds other people than this conversion's valid.json"
            in caplog.text and "moved to gt_valid.mat.earlier" in caplog.text)
    first = (out / "gt_valid.mat").read_bytes()
    mpii_mat.convert(mat, str(out), valid_list)  # the same people: replaced, not kept
    assert not (out / "gt_valid.mat.earlier.2").exists()
    (tmp_path / "v1.txt").write_text("v1.jpg\n")
    mpii_mat.convert(mat, str(out), str(tmp_path / "v1.txt"))
    assert (out / "gt_valid.mat.earlier").read_bytes() == b"the official file"
    assert (out / "gt_valid.mat.earlier.2").read_bytes()[128:] == first[128:]  # past the date
    assert mpii_mat.convert(mat, str(out)) == {"train.json": 4}
    assert not (out / "gt_valid.mat").exists()
    assert (out / "gt_valid.mat.earlier.3").is_file()
    assert (f"{out}/gt_valid.mat scores a validation split, and this conversion has none"
            in caplog.text)
    assert mpii_mat.convert(mat, str(out)) == {"train.json": 4}  # nothing more to move
    assert sorted(os.listdir(out)) == [  # Each valid.json kept with its gt_valid.mat.
        "gt_valid.mat.earlier", "gt_valid.mat.earlier.2", "gt_valid.mat.earlier.3",
        "train.json", "valid.json.earlier.2", "valid.json.earlier.3"]


def test_a_failed_write_of_gt_valid_mat_leaves_no_part(tmp_path, monkeypatch):
    """A full disk during the write: no cut gt_valid.mat (PCKh of fewer
    people), no temporary file, the error names gt_valid.mat."""
    import errno
    mat, valid_list = _validation_release(tmp_path)
    out = tmp_path / "annot"

    def full_disk(f, arrays):
        f.write(b"MATLAB 5.0 MAT-file, cut")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(scipy.io, "savemat", full_disk)
    with pytest.raises(OSError, match="gt_valid.mat"):
        mpii_mat.convert(mat, str(out), valid_list)
    assert sorted(os.listdir(out)) == ["train.json", "valid.json"]
