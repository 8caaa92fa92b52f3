"""Boxes from files, the whole-image fallback and make_detector."""

import json
import os

import numpy as np
import pytest

from keras_pose.detection import (DetectionFileError, FileDetector, WholeImageDetector,
                                  make_detector)

IMAGE = np.zeros((40, 60, 3), np.uint8)


def _reference_boxes(path, image_id):
    """The file's person entries of one image, best first (read directly)."""
    with open(path) as f:
        entries = [d for d in json.load(f) if d["image_id"] == image_id and d["category_id"] == 1]
    entries.sort(key=lambda d: -d["score"])
    return np.array([d["bbox"] for d in entries]), np.array([d["score"] for d in entries])


def _bound(path, keys, image_ids=None, **settings):
    detector = FileDetector(str(path), **settings)
    detector.bind(keys, image_ids)
    return detector


def test_coco_results_file_matched_by_the_number_in_the_name(coco_dir, coco_images):
    det_file = os.path.join(coco_dir, "test_coco_det_AP_H_56.json")
    detector = _bound(det_file, ["000000000785.jpg", "other/no_number.jpg"])
    boxes, scores = _reference_boxes(det_file, 785)
    found = detector.detect(coco_images[0][1], "000000000785.jpg")
    assert len(found) == len(boxes) == 22
    np.testing.assert_allclose(found.boxes, boxes, rtol=1e-6)
    np.testing.assert_allclose(found.scores, scores, rtol=1e-6)
    assert detector.image_id("000000000785.jpg") == 785
    assert len(detector.detect(IMAGE, "other/no_number.jpg")) == 0


def test_threshold_and_max_detections_apply_to_file_boxes(coco_dir, coco_images):
    det_file = os.path.join(coco_dir, "test_coco_det_AP_H_56.json")
    _, scores = _reference_boxes(det_file, 785)
    detector = _bound(det_file, ["785.jpg"], score_threshold=0.5)
    found = detector.detect(coco_images[0][1], "785.jpg")
    assert len(found) == np.sum(scores >= 0.5) and found.scores.min() >= 0.5
    # Counted for predict.py's summary (the user's boxes, not run, said so).
    assert detector.below_threshold == np.sum(scores < 0.5) > 0
    found = _bound(det_file, ["785.jpg"], max_detections=3).detect(coco_images[0][1], "785.jpg")
    np.testing.assert_allclose(found.scores, scores[:3], rtol=1e-6)


def test_relative_paths_first_then_unambiguous_names_then_ids(tmp_path):
    path = tmp_path / "det.json"
    path.write_text(json.dumps([
        {"file_name": "a/photo_7.jpg", "bbox": [1, 2, 3, 4], "score": 0.4, "category_id": 1},
        {"file_name": "a/photo_7.jpg", "bbox": [5, 6, 7, 8], "score": 0.9, "category_id": 3},
        {"file_name": "solo.jpg", "bbox": [2, 2, 2, 2], "score": 0.5},
        {"image_id": 9, "bbox": [9, 9, 9, 9], "score": 0.8}]))
    keys = ["a/photo_7.jpg", "b/photo_7.jpg", "deep/solo.jpg", "frame_0009.png"]
    detector = _bound(path, keys)
    np.testing.assert_array_equal(detector.detect(IMAGE, "a/photo_7.jpg").boxes, [[1, 2, 3, 4]])
    assert len(detector.detect(IMAGE, "b/photo_7.jpg")) == 0  # another file, same name
    np.testing.assert_array_equal(detector.detect(IMAGE, "deep/solo.jpg").boxes, [[2, 2, 2, 2]])
    np.testing.assert_array_equal(detector.detect(IMAGE, "frame_0009.png").boxes, [[9, 9, 9, 9]])
    # With an annotation file, ids come from it, not from the digits: image
    # 9 is a/photo_7.jpg, whose boxes are its path's and image 9's, best first.
    detector = _bound(path, keys, image_ids={"a/photo_7.jpg": 9})
    assert len(detector.detect(IMAGE, "frame_0009.png")) == 0
    np.testing.assert_array_equal(detector.detect(IMAGE, "a/photo_7.jpg").boxes,
                                  [[9, 9, 9, 9], [1, 2, 3, 4]])
    assert detector.image_id("a/photo_7.jpg") == 9
    assert _bound(path, keys).image_id("a/photo_7.jpg") is None  # keyed by its path only


def test_entries_naming_the_files_by_absolute_or_current_folder_paths(tmp_path, monkeypatch):
    """A boxes file written by another tool keyed by full paths used to
    match no input (every image ran with 0 people)."""
    root = tmp_path / "photos"
    keys = ["a/000000.jpg", "b/000000.jpg", "c.jpg"]
    paths = {key: str(root / key) for key in keys}
    for path in paths.values():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()
    monkeypatch.chdir(tmp_path)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(root / "a" / "000000.jpg"): [[1, 2, 3, 4]],
                                 "photos/b/000000.jpg": [[5, 6, 7, 8]],
                                 "./photos/../photos/c.jpg": [[9, 9, 9, 9]],
                                 str(root / "elsewhere.jpg"): [[1, 1, 1, 1]]}))
    detector = FileDetector(str(boxes))
    matched = detector.bind(keys, None, paths)
    assert sorted(matched) == keys  # The file that is no input's matches none.
    for key, box in zip(keys, ([1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9])):
        np.testing.assert_array_equal(detector.detect(IMAGE, key).boxes, [box])


def test_a_file_matching_no_input_says_how_entries_match(tmp_path, caplog):
    # --input clips/seq1 with entries keyed seq1/000003.jpg: every frame had
    # no boxes, the warning not saying why.
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"seq1/000003.jpg": [[5, 5, 10, 20]]}))
    _bound(path, ["000003.jpg"])
    assert ("1 of its 1 images match no input: 'seq1/000003.jpg' (an entry names an input by "
            "its path relative to --input, by a file's path, or by its bare file name, an "
            "image also by its number, a video's frame as <video>#<n>: entry "
            "'seq1/000003.jpg', input '000003.jpg')") in caplog.text


def test_ambiguous_names_and_ids_are_errors_listing_the_inputs(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"000000.jpg": [[5, 5, 10, 20]]}))
    with pytest.raises(DetectionFileError, match="s1/000000.jpg.*s2/000000.jpg"):
        _bound(path, ["s1/000000.jpg", "s2/000000.jpg"])
    path.write_text(json.dumps([{"image_id": 3, "bbox": [1, 1, 5, 5]}]))
    with pytest.raises(DetectionFileError, match="image id 3"):
        _bound(path, ["a/3.jpg", "b/0003.png"])


def test_mapping_file_keeps_box_order_and_skips_bad_boxes(tmp_path, caplog):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({
        "dir/x.jpg": [[5, 5, 10, 20], [1, 1, 2, 2, 0.3], [1, 2, "a", 4], [1, 2, 3],
                      [1, 2, float("inf"), 4], [1, 2, 0, 4]],
        "y.jpg": []}))
    detector = _bound(path, ["dir/x.jpg", "y.jpg"])
    found = detector.detect(IMAGE, "dir/x.jpg")
    np.testing.assert_array_equal(found.boxes, [[5, 5, 10, 20], [1, 1, 2, 2]])
    np.testing.assert_allclose(found.scores, [1, 0.3])
    assert len(detector.detect(IMAGE, "y.jpg")) == 0
    assert "4 entries skipped" in caplog.text and "'dir/x.jpg' box 2" in caplog.text


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"), ("42", "expected COCO detection results"),
    # A COCO annotation file given as --boxes: every key was 'a box' skipped, 0 people.
    ('{"images": [], "annotations": [], "categories": []}',
     r"is a COCO annotation file .*not boxes: --boxes takes COCO detection results .* give it "
     r"as --annotations")])
def test_unreadable_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DetectionFileError, match=message):
        FileDetector(str(path))


def test_bad_results_entries_are_skipped_and_named(tmp_path, caplog):
    path = tmp_path / "det.json"
    path.write_text(json.dumps([{"bbox": [1, 2, 3, 4]}, {"image_id": 1, "bbox": [1, 2, 3]},
                                {"image_id": 1, "bbox": [1, 2, 3, 4], "score": "high"},
                                {"image_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    detector = _bound(path, ["1.jpg"])
    assert len(detector.detect(IMAGE, "1.jpg")) == 1
    assert "entry 0" in caplog.text and "entry 1" in caplog.text and "entry 2" in caplog.text


def test_a_file_without_one_box_is_refused(tmp_path, mpii_dir):
    # An MPII annotation file as --boxes ran every image with 0 people, its
    # warning saying its entries had no image_id (they have no bbox).
    with pytest.raises(DetectionFileError, match=r"test_mpii.json: none of its 5 entries is a "
                       r"box \(entry 0 .*\): it is an MPII annotation file; --boxes takes"):
        FileDetector(os.path.join(mpii_dir, "test_mpii.json"))
    path = tmp_path / "det.json"
    path.write_text(json.dumps({"a.jpg": [[1, 2, 0, 4]], "b.jpg": [[1, 2, 3]]}))
    with pytest.raises(DetectionFileError, match=r"det.json: none of its 2 entries is a box "
                       r"\('a.jpg' box 0, 'b.jpg' box 0\); --boxes takes"):
        FileDetector(str(path))
    path.write_text(json.dumps({"a.jpg": [], "b.jpg": [[1, 2, 3, 4]]}))  # Legal: still read.
    assert len(_bound(path, ["a.jpg", "b.jpg"]).detect(IMAGE, "b.jpg")) == 1


def test_missing_file(tmp_path):
    with pytest.raises(DetectionFileError, match="does not exist"):
        FileDetector(str(tmp_path / "none.json"))
    with pytest.raises(DetectionFileError, match=f"boxes file {tmp_path} is a folder: .*--boxes"):
        FileDetector(str(tmp_path))  # Was "Is a directory: PATH", no flag named.


def test_whole_image_detector():
    found = WholeImageDetector().detect(IMAGE)
    np.testing.assert_array_equal(found.boxes, [[0, 0, 60, 40]])
    np.testing.assert_array_equal(found.scores, [1])
    assert [len(d) for d in WholeImageDetector().detect_batch([IMAGE, IMAGE])] == [1, 1]
    with pytest.raises(ValueError, match="RGB"):
        WholeImageDetector().detect(np.zeros((4, 4), np.uint8))


def test_make_detector_from_command_line_settings(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"x.jpg": [[5, 5, 10, 20]]}))
    assert isinstance(make_detector("none"), WholeImageDetector)
    assert isinstance(make_detector("NONE"), WholeImageDetector)
    for detector in (make_detector(str(path)), make_detector(boxes=str(path))):
        assert isinstance(detector, FileDetector)
        detector.bind(["x.jpg"])
        np.testing.assert_array_equal(detector.detect(IMAGE, "x.jpg").boxes, [[5, 5, 10, 20]])
    assert make_detector(boxes=str(path), max_detections=3).max_detections == 3
    with pytest.raises(ValueError, match="conflict"):
        make_detector("none", boxes=str(path))


def test_keys_with_a_leading_dot_or_backslashes_match_the_inputs(tmp_path, caplog):
    path = tmp_path / "det.json"
    path.write_text(json.dumps({"./a/x.jpg": [[1, 2, 3, 4]], "b\\y.jpg": [[5, 6, 7, 8]]}))
    detector = _bound(path, ["a/x.jpg", "b/y.jpg"])
    np.testing.assert_array_equal(detector.detect(IMAGE, "a/x.jpg").boxes, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(detector.detect(IMAGE, "b/y.jpg").boxes, [[5, 6, 7, 8]])
    path.write_text(json.dumps([{"file_name": "./a/x.jpg", "bbox": [1, 2, 3, 4], "score": 1,
                                 "category_id": "1"}]))
    FileDetector(str(path))
    assert "boxes of other categories than [1] dropped (category '1': 1)" in caplog.text


def test_boxes_off_their_image_are_not_run_and_counted(tmp_path):
    # IMAGE is 40x60: a box at x 5000 (another image's pixels, say) was run
    # into a "person" with keypoints near (5025, 4988).
    path = tmp_path / "det.json"
    path.write_text(json.dumps({"x.jpg": [[1, 2, 3, 4], [5000, 5000, 50, 50], [0, 0, 1e5, 1e5],
                                          [-10, -10, 20, 20]]}))
    detector = _bound(path, ["x.jpg"])
    np.testing.assert_array_equal(detector.detect(IMAGE, "x.jpg").boxes,
                                  [[1, 2, 3, 4], [-10, -10, 20, 20]])
    assert detector.off_image == 2
    # The inputs that calibrate an int8 export are detected again by the run itself:
    # each source is counted once (the summary said 2 such boxes for 1).
    detector.detect(IMAGE, "x.jpg")
    assert detector.off_image == 2


def test_the_predictor_refuses_boxes_off_the_image_as_the_saved_model_does():
    from keras_pose.inference.predictor import check_boxes
    np.testing.assert_array_equal(check_boxes([[-10, -10, 20, 20]], image_size=(40, 60)),
                                  [[-10, -10, 20, 20]])
    for box in ([5000, 5000, 50, 50], [0, 0, 1e5, 1e5], [60, 0, 5, 5]):
        with pytest.raises(ValueError, match=r"boxes: box 0 .* does not overlap the image of "
                                             r"\(height, width\) \(40, 60\)"):
            check_boxes([box], image_size=(40, 60))


def test_an_explicit_empty_entry_is_an_entry_with_nobody(tmp_path):
    """{"clip.avi#10": []} (the detector found nobody there) was taken for a
    missing entry: a warning per frame, and counted as "no boxes in" the file."""
    path = tmp_path / "det.json"
    path.write_text(json.dumps({"a.jpg": [], "b.jpg": [[1, 2, 3, 4]]}))
    detector = _bound(path, ["a.jpg", "b.jpg", "c.jpg"])
    assert detector.has_entry("a.jpg") and detector.has_entry("b.jpg")
    assert not detector.has_entry("c.jpg")
    found = detector.detect(IMAGE, "a.jpg")
    assert len(found) == 0 and found.boxes.shape == (0, 4)


def test_a_table_in_the_boxes_files_own_form_is_taken():
    """FileDetector({"a.jpg": [[x, y, w, h], ...]}) (the boxes file's form,
    as json.load gives it) failed with "only integer scalar arrays can be
    converted to a scalar index" or "too many values to unpack"."""
    given = {"a.jpg": [[1, 2, 10, 20], [5, 5, 8, 8]], "b.jpg": [[3, 4, 5, 6]], "c.jpg": []}
    detector = FileDetector(given)
    detector.bind(["a.jpg", "b.jpg", "c.jpg"])
    found = detector.detect(IMAGE, "a.jpg")
    np.testing.assert_array_equal(found.boxes, [[1, 2, 10, 20], [5, 5, 8, 8]])
    assert len(detector.detect(IMAGE, "b.jpg")) == 1 and len(detector.detect(IMAGE, "c.jpg")) == 0
    loaded = FileDetector({"a.jpg": (np.array([[1.0, 2, 10, 20]]), np.array([0.7]))})
    loaded.bind(["a.jpg"])
    np.testing.assert_allclose(loaded.detect(IMAGE, "a.jpg").scores, [0.7])
    # Arrays in that form ("operands could not be broadcast together").
    arrays = FileDetector({"a.jpg": np.array([[1.0, 2, 10, 20, 0.6], [5, 5, 8, 8, 0.9]]),
                           "c.jpg": np.zeros((0, 4))})
    arrays.bind(["a.jpg", "c.jpg"])
    found = arrays.detect(IMAGE, "a.jpg")
    np.testing.assert_allclose(found.boxes, [[5, 5, 8, 8], [1, 2, 10, 20]])  # best first
    np.testing.assert_allclose(found.scores, [0.9, 0.6])
    assert len(arrays.detect(IMAGE, "c.jpg")) == 0


def test_names_match_whatever_their_unicode_normalisation(tmp_path, caplog):
    """A boxes file's 'café.jpg' as typed (NFC) and the file macOS wrote
    (NFD, e plus a combining accent): the image ran with 0 people, the hint
    showing two names that print the same."""
    import unicodedata

    from keras_pose.detection.file_detectors import match_entries
    nfc, nfd = (unicodedata.normalize(form, "café.jpg") for form in ("NFC", "NFD"))
    path = tmp_path / "det.json"
    path.write_text(json.dumps({nfc: [[1, 2, 30, 20]], f"a/{nfd}": [[3, 4, 5, 6]],
                                f"b/{nfc}": [[7, 8, 9, 10]]}), encoding="utf-8")
    inputs = [nfd, f"a/{nfc}", f"b/{nfd}", "other.jpg"]
    detector = _bound(path, inputs)
    np.testing.assert_allclose(detector.detect(IMAGE, nfd).boxes, [[1, 2, 30, 20]])
    np.testing.assert_allclose(detector.detect(IMAGE, f"a/{nfc}").boxes, [[3, 4, 5, 6]])
    np.testing.assert_allclose(detector.detect(IMAGE, f"b/{nfd}").boxes, [[7, 8, 9, 10]])
    assert "match no input" not in caplog.text
    # The inputs keep their own keys (the names of their outputs).
    assert set(detector.matched) == {nfd, f"a/{nfc}", f"b/{nfd}"}
    # An exact name first; two inputs only the form tells apart are
    # ambiguous for an entry in neither form ("éé.jpg" half composed).
    assert match_entries({nfd: None, f"x/{nfd}": None}, [nfd, nfc, f"x/{nfc}"],
                         "det.json") == {nfd: (nfd,), f"x/{nfc}": (f"x/{nfd}",)}
    both = [unicodedata.normalize(form, "s/éé.jpg") for form in ("NFC", "NFD")]
    mixed = "s/\u00e9e\u0301.jpg"
    assert mixed not in both
    with pytest.raises(DetectionFileError, match="could be any of"):
        match_entries({mixed: None}, both, "det.json")


def test_a_video_is_never_matched_by_the_number_in_its_name():
    """A COCO results file's image id 785 took every frame of clip785.mp4
    (and clashed with 000000000785.jpg): a video is keyed by its name or
    its frames' keys (clip785.mp4#n), never by an image id."""
    from keras_pose.detection.file_detectors import match_entries
    table = {785: None, 40083: None}
    assert match_entries(table, ["000000040083.jpg", "clip785.mp4"], "det.json") == {
        "000000040083.jpg": (40083,)}
    # No clash with the image of that id: it takes the entry.
    assert match_entries(table, ["000000000785.jpg", "CLIP785.MP4"], "det.json") == {
        "000000000785.jpg": (785,)}
    # Its own name and its frames' keys still match.
    assert match_entries({"clip785.mp4": None, "clip785.mp4#2": None},
                         ["clip785.mp4"], "det.json") == {"clip785.mp4": ("clip785.mp4",),
                                                           "clip785.mp4#2": ("clip785.mp4#2",)}


def test_a_coco_file_name_is_matched_by_its_last_number_not_the_year(tmp_path):
    """COCO_val2014_000000000785.jpg takes image 785's boxes (its last number), not 2014's."""
    path = tmp_path / "det.json"
    path.write_text(json.dumps([{"image_id": 785, "bbox": [1, 2, 3, 4], "score": 0.9},
                                {"image_id": 2014, "bbox": [7, 7, 7, 7], "score": 0.8}]))
    detector = _bound(path, ["COCO_val2014_000000000785.jpg"])
    # The image id is the name's last number: 000000000785 -> 785.
    assert detector.image_id("COCO_val2014_000000000785.jpg") == 785
    np.testing.assert_array_equal(detector.detect(IMAGE, "COCO_val2014_000000000785.jpg").boxes,
                                  [[1, 2, 3, 4]])


def test_an_entry_keyed_by_an_inputs_own_path_wins_over_one_with_its_bare_name():
    """sub/x.jpg runs on its own entry's boxes, not on an entry "x.jpg" listed
    first: beside sub/x.jpg, the file's x.jpg is another file."""
    detector = FileDetector({"x.jpg": [[0, 0, 10, 10]], "sub/x.jpg": [[5, 5, 20, 20]]})
    assert detector.bind(["sub/x.jpg"]) == {"sub/x.jpg": ("sub/x.jpg",)}
    np.testing.assert_array_equal(detector.detect(IMAGE, "sub/x.jpg").boxes, [[5, 5, 20, 20]])


def test_a_box_scoring_exactly_the_threshold_is_kept_and_not_counted_below_it():
    """A box at the threshold is run and not counted among the boxes below it."""
    detector = FileDetector({"a.jpg": [[1, 1, 10, 10, 0.5], [30, 20, 10, 10, 0.4]]},
                            score_threshold=0.5)
    detector.bind(["a.jpg"])
    found = detector.detect(IMAGE, "a.jpg")
    # Kept: score >= 0.5 -> only the 0.5 box; below: score < 0.5 -> only the 0.4 box.
    np.testing.assert_allclose(found.scores, [0.5])
    assert detector.below_threshold == 1


def test_an_upper_case_json_extension_is_a_boxes_file_not_a_preset(tmp_path):
    """--detector BOXES.JSON is a boxes file, as .json is, not a D-FINE preset name."""
    path = tmp_path / "B.JSON"
    path.write_text(json.dumps([{"image_id": 785, "category_id": 1, "bbox": [5, 5, 10, 20],
                                 "score": 0.9}]))
    detector = make_detector(str(path))
    assert isinstance(detector, FileDetector)
    detector.bind(["000000000785.jpg"])
    found = detector.detect(IMAGE, "000000000785.jpg")
    np.testing.assert_array_equal(found.boxes, [[5, 5, 10, 20]])
    np.testing.assert_allclose(found.scores, [0.9])


def test_a_boxes_file_given_as_a_path_object(tmp_path):
    """The docstring's "a boxes file path": a pathlib.Path was an
    AttributeError; anything else names ``boxes``."""
    import pathlib
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"x.jpg": [[5, 5, 10, 20]]}))
    assert isinstance(path, pathlib.Path)
    detector = FileDetector(path)
    assert detector.path == str(path)
    np.testing.assert_array_equal(detector.detect(IMAGE, "x.jpg").boxes, [[5, 5, 10, 20]])
    for wrong in (3, [[5, 5, 10, 20]]):
        with pytest.raises(TypeError, match="^boxes: expected a file path or a mapping"):
            FileDetector(wrong)


def test_a_loaded_table_skips_and_names_what_a_file_would(caplog):
    """Loaded {name: (boxes, scores[, categories])} entries were kept as
    given: a negative width ran, a NaN score was dropped uncounted."""
    boxes = np.array([[5, 5, 10, 20], [30, 5, -10, 20], [np.nan, 5, 10, 20], [1, 1, 8, 8]])
    detector = FileDetector({"x.jpg": (boxes, np.array([0.9, 0.8, 0.7, np.nan]),
                                       np.array([1, 2, 3, 4])),
                             "y.jpg": (np.zeros((0, 4)), np.zeros(0))})
    found = detector.detect(IMAGE, "x.jpg")
    np.testing.assert_array_equal(found.boxes, [[5, 5, 10, 20]])
    np.testing.assert_allclose(found.scores, [0.9])
    np.testing.assert_array_equal(found.categories, [1])
    assert len(detector.detect(IMAGE, "y.jpg")) == 0 and detector.has_entry("y.jpg")
    assert ("boxes: 3 entries skipped (not 4 finite numbers with a positive size, within "
            "float32, or a bad score or image key): 'x.jpg' box 1, 'x.jpg' box 2, 'x.jpg' box 3") in caplog.text
