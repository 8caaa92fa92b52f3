"""A JSON file saved with a UTF-8 byte-order mark (Notepad and other
Windows editors write one) is read as the same file without it: it was
"not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)", Python's
advice rather than a way out. One test per reader of a user's JSON."""

import json

BOM = b"\xef\xbb\xbf"


def _with_bom(path, value):
    path.write_bytes(BOM + json.dumps(value).encode())
    return str(path)


def test_annotation_and_mpii_files(tmp_path):
    from keras_pose.data.coco_files import read_json
    assert read_json(_with_bom(tmp_path / "a.json", {"images": []})) == {"images": []}


def test_boxes_files(tmp_path):
    from keras_pose.detection.box_files import _read_json
    assert _read_json(_with_bom(tmp_path / "boxes.json", {"a.jpg": [[1, 2, 3, 4]]})) == {
        "a.jpg": [[1, 2, 3, 4]]}


def test_config_files(tmp_path):
    from keras_pose.configs import ExperimentConfig
    from keras_pose.configs.conversion import config_to_dict, load_config
    assert load_config(_with_bom(tmp_path / "c.json", config_to_dict(ExperimentConfig()))) == (
        ExperimentConfig())


def test_posetrack_files(tmp_path):
    import glob
    import os
    from keras_pose.evaluation.posetrack.reader import load_sequence
    path = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "data", "posetrack_poseval",
                                         "perfect", "gt", "*.json")))[0]
    with open(path) as f:
        sequence = json.load(f)
    want = load_sequence(path)
    got = load_sequence(_with_bom(tmp_path / "seq.json", sequence))
    assert len(got.frames) == len(want.frames) > 1
    assert [f.image_id for f in got.frames] == [f.image_id for f in want.frames]


def test_predict_annotations_and_mpii_validation_lists(tmp_path, script_module):
    """predict.py --annotations, and convert_mpii_mat.py --valid_list, whose
    first name carried the mark and matched no image."""
    import os
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    predict = script_module(os.path.join(repo, "predict.py"), "predict_script")
    path = _with_bom(tmp_path / "ann.json", {"images": [{"file_name": "a.jpg", "id": 7}]})
    assert predict._image_ids(path) == {"a.jpg": 7}
    from tests.data.test_mpii_mat import _write_release
    from keras_pose.data import mpii_mat
    person = {"joints": {0: (5, 6)}, "scale": 1.0, "center": (10, 10)}
    mat = str(tmp_path / "release.mat")
    _write_release(mat, [("a.jpg", [person]), ("b.jpg", [person])], [1, 1])
    (tmp_path / "valid.txt").write_bytes(BOM + b"a.jpg\n")
    assert mpii_mat.convert(mat, str(tmp_path / "annot"), str(tmp_path / "valid.txt")) == {
        "train.json": 1, "valid.json": 1, "gt_valid.mat": 1}
