"""Which inputs a boxes file's entries go to: several entries naming one
input, COCO records with both keys, symlinks, entries matching no input."""

import json
import os

import numpy as np
import pytest

from keras_pose.detection import DetectionFileError, FileDetector

IMAGE = np.zeros((400, 500, 3), np.uint8)


def _results(tmp_path, records):
    path = tmp_path / "det.json"
    path.write_text(json.dumps([{"category_id": 1, **record} for record in records]))
    return str(path)


def test_every_entry_naming_an_input_gives_it_its_boxes(tmp_path, caplog):
    """Records of one image under image_id and file_name, or a dict keying
    it by its key and by its absolute path: one set was dropped, and the
    warning said that entry matched no input."""
    path = _results(tmp_path, [{"image_id": 785, "bbox": [280, 40, 160, 360], "score": 0.9},
                               {"file_name": "000000000785.jpg", "bbox": [10, 10, 100, 200],
                                "score": 0.8}])
    for key in ("000000000785.jpg", "val/000000000785.jpg"):  # its key, its bare name
        detector = FileDetector(path)
        detector.bind([key])
        found = detector.detect(IMAGE, key)
        np.testing.assert_array_equal(found.boxes, [[280, 40, 160, 360], [10, 10, 100, 200]])
        np.testing.assert_array_equal(found.categories, [1, 1])
        assert detector.image_id(key) == 785
    own = tmp_path / "bx" / "a.jpg"
    detector = FileDetector({"a.jpg": [[280, 40, 160, 360, 0.9]],
                             str(own): [[10, 10, 100, 200, 0.8]]})
    detector.bind(["a.jpg"], None, {"a.jpg": str(own)})
    np.testing.assert_array_equal(detector.detect(IMAGE, "a.jpg").boxes,
                                  [[280, 40, 160, 360], [10, 10, 100, 200]])
    assert "match no input" not in caplog.text


def test_a_video_frame_keyed_twice_gets_both_entries():
    """clip.mp4#3 and clip.mp4#03 are frame 3: one of them was dropped."""
    detector = FileDetector({"clip.mp4#3": [[1, 1, 10, 10, 0.9]],
                             "clip.mp4#03": [[20, 20, 10, 10, 0.8]]})
    detector.bind(["clip.mp4"])
    np.testing.assert_array_equal(detector.detect(IMAGE, "clip.mp4#3").boxes,
                                  [[1, 1, 10, 10], [20, 20, 10, 10]])
    assert detector.frames_beyond("clip.mp4", 3) == ["clip.mp4#03", "clip.mp4#3"]


def test_a_record_whose_file_name_names_no_input_is_matched_by_its_image_id(tmp_path):
    """file_name "val2017/..." (no input has that path) and image_id "40083"
    (a string): both matched nothing, every image ran with 0 people."""
    path = _results(tmp_path, [
        {"image_id": 785, "file_name": "val2017/000000000785.jpg", "bbox": [1, 2, 3, 4],
         "score": 0.9},
        {"image_id": "40083", "bbox": [5, 6, 7, 8], "score": 0.9},
        {"image_id": 7, "file_name": "b.jpg", "bbox": [9, 9, 9, 9], "score": 0.9}])
    keys = ["000000000785.jpg", "000000040083.jpg", "b.jpg", "7.jpg"]
    detector = FileDetector(path)
    detector.bind(keys)
    for key, box, image_id in (("000000000785.jpg", [1, 2, 3, 4], 785),
                               ("000000040083.jpg", [5, 6, 7, 8], 40083),
                               ("b.jpg", [9, 9, 9, 9], 7)):  # its name first, its id said
        np.testing.assert_array_equal(detector.detect(IMAGE, key).boxes, [box])
        assert detector.image_id(key) == image_id
    assert len(detector.detect(IMAGE, "7.jpg")) == 0


def test_an_absolute_path_names_that_input_not_a_symlink_to_it(tmp_path):
    """v/sub/zz.jpg -> ../a.jpg took the boxes keyed by v/a.jpg's own path."""
    root = tmp_path / "v"
    (root / "sub").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        (root / name).write_bytes(b"")
    os.symlink("../a.jpg", root / "sub" / "zz.jpg")
    os.symlink(root, tmp_path / "w")
    keys = ["a.jpg", "b.jpg", "sub/zz.jpg"]
    paths = {key: str(root / key) for key in keys}
    detector = FileDetector({str(root / "a.jpg"): [[1, 2, 3, 4]],
                             str(root / "sub" / "zz.jpg"): [[5, 6, 7, 8]],
                             str(tmp_path / "w" / "b.jpg"): [[9, 9, 9, 9]]})
    detector.bind(keys, None, paths)
    for key, box in zip(keys, ([1, 2, 3, 4], [9, 9, 9, 9], [5, 6, 7, 8])):
        np.testing.assert_array_equal(detector.detect(IMAGE, key).boxes, [box])
    # The file two inputs are, named by neither's path: an error naming both.
    with pytest.raises(DetectionFileError, match=r"w/a.jpg' could be any of \['a.jpg', "
                                                 r"'sub/zz.jpg'\]"):
        FileDetector({str(tmp_path / "w" / "a.jpg"): [[1, 2, 3, 4]]}).bind(keys, None, paths)


def test_entries_matching_no_input_are_named(caplog):
    """The warning gave a count only: which entries to fix was left to guess."""
    detector = FileDetector({**{f"n{i}.jpg": [[1, 2, 3, 4]] for i in range(8)},
                             "a.jpg": [[1, 2, 3, 4]]})
    detector.bind(["a.jpg"])
    assert ("boxes: 8 of its 9 images match no input: 'n0.jpg', 'n1.jpg', 'n2.jpg', 'n3.jpg', "
            "'n4.jpg' and 3 more") in caplog.text
