"""The readers' keep/drop rules and value checks, one rule a test, on
hand-written COCO and MPII files (expected values from the reference's
rules in docs REFERENCE: boxes, COCO person selection, MPII centre)."""

import json

import numpy as np
import pytest

from keras_pose.data import coco, coco_files, mpii
from keras_pose.data.coco import clean_box
from keras_pose.data.coco_files import AnnotationError

NAMES = ("nose", "left_eye", "right_eye")


def _ann(ann_id, **fields):
    """A well-formed person of the 100x80 image 1: box inside, 3 labelled keypoints."""
    return {"id": ann_id, "image_id": 1, "category_id": 1, "bbox": [5.0, 5.0, 40.0, 50.0],
            "area": 1500.0, "iscrowd": 0, "num_keypoints": 3,
            "keypoints": [10.0, 20.0, 2, 11.0, 21.0, 2, 12.0, 22.0, 2], **fields}


def _file(tmp_path, anns, name="ann.json", width=100, height=80):
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": width, "height": height}],
            "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(NAMES)}]}
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_crowd_annotations_are_not_people(tmp_path):
    """A crowd region (iscrowd 1) with keypoints would train as one person
    (the reference keeps non-crowd annotations only)."""
    path = _file(tmp_path, [_ann(100), _ann(101, iscrowd=1)])
    records = coco.load_coco_gt(path, str(tmp_path), 0.75)
    assert len(records) == 1
    assert records.skipped_reasons == {"crowd": 1}


@pytest.mark.parametrize("rule,expected", [
    # REFERENCE: x1 = max(0, x) = 5, y1 = max(0, -10) = 0 (shifted down, not cut),
    # x2 = min(639, 5 + (50 - 1)) = 54, y2 = min(479, 0 + (20 - 1)) = 19.
    ("official", [5.0, 0.0, 49.0, 19.0]),
    # mmpose 0.x: the same without the one-pixel shrink: x2 = 5 + 50, y2 = 0 + 20.
    ("mmpose_0x", [5.0, 0.0, 50.0, 20.0]),
    # mmpose 1.x: clipped corners, y1 = clip(-10) = 0, y2 = clip(-10 + 20) = 10.
    ("mmpose", [5.0, 0.0, 50.0, 10.0]),
])
def test_a_box_above_the_image_starts_at_row_0(rule, expected):
    """A box with y < 0 starts at row 0 (a negative top would centre the crop
    above the person)."""
    assert clean_box([5, -10, 50, 20], 640, 480, rule) == expected


def test_an_annotation_of_area_0_is_dropped_by_the_reference_rule(tmp_path):
    """The reference keeps area > 0 only; mmpose 1.x tests no area."""
    path = _file(tmp_path, [_ann(100), _ann(101, area=0.0)])
    official = coco.load_coco_gt(path, str(tmp_path), 0.75)
    assert len(official) == 1 and official.skipped_reasons == {"zero area or empty box": 1}
    assert len(coco.load_coco_gt(path, str(tmp_path), 0.75, box_rule="mmpose")) == 2


def test_a_negative_box_without_area_gets_area_0_and_is_dropped(tmp_path):
    """A missing area filled from a box of width and height -10 must be 0, not (-10) * (-10) = 100, which would keep a person of an
    empty box."""
    anns = [_ann(100), _ann(101, bbox=[5.0, 5.0, -10.0, -10.0])]
    del anns[1]["area"]
    path = _file(tmp_path, anns)
    filled = {a["id"]: a["area"] for a in coco_files.read_annotation_file(path)["annotations"]}
    assert filled[101] == 0.0  # max(0, -10) * max(0, -10)
    records = coco.load_coco_gt(path, str(tmp_path), 0.75)
    assert len(records) == 1 and records.skipped_reasons.get("zero area or empty box") == 1


def test_an_image_of_width_0_is_refused_naming_file_image_and_field(tmp_path):
    """A width of 0 is refused (it would clip every box of the image to
    nothing, in silence)."""
    path = _file(tmp_path, [_ann(100)], name="zero.json", width=0)
    with pytest.raises(AnnotationError, match=r"zero.json: image id 1: 'width' must be a "
                                              r"number > 0, got 0"):
        coco_files.read_annotation_file(path)


def test_a_detection_scoring_exactly_the_threshold_is_kept(tmp_path):
    """The reference drops detections below image_thre only (score < thre)."""
    ann = _file(tmp_path, [_ann(100)])
    det = tmp_path / "det.json"
    det.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [5, 5, 40, 50],
                                "score": s} for s in (0.25, 0.5, 0.75)]))
    records = coco.load_coco_detections(str(det), ann, str(tmp_path), 0.75,
                                        image_threshold=0.5)
    assert sorted(records.score.tolist()) == [0.5, 0.75]
    assert records.skipped_reasons == {"below image_thre": 1}


def _mpii_entry(center, scale=2.0, image="a.jpg"):
    return {"image": image, "center": list(center), "scale": scale,
            "joints": [[10.0 + j, 20.0 + j] for j in range(16)], "joints_vis": [1] * 16}


def _mpii_file(tmp_path, entries, name="mpii.json"):
    path = tmp_path / name
    path.write_text(json.dumps(entries))
    return str(path)


def test_mpii_centre_adjustment_is_decided_by_x_alone(tmp_path):
    """REFERENCE MPII rule: only a centre x of -1 (the legacy marker) skips
    y += 15 s and s x 1.25; a y of -1 is an ordinary value."""
    path = _mpii_file(tmp_path, [_mpii_entry([-1.0, 100.0]), _mpii_entry([50.0, -1.0])])
    records = mpii.load_mpii(path, str(tmp_path))
    # x = -1: kept as is, then 1-based -> 0-based: (-2, 99), scale 2.
    np.testing.assert_allclose(records.center[0], [-2.0, 99.0])
    np.testing.assert_allclose(records.scale[0], [2.0, 2.0])
    # y = -1 (x valid): y = -1 + 15 * 2 = 29, s = 2 * 1.25 = 2.5; then -1: (49, 28).
    np.testing.assert_allclose(records.center[1], [49.0, 28.0])
    np.testing.assert_allclose(records.scale[1], [2.5, 2.5])


def test_an_mpii_scale_of_0_is_refused_naming_file_entry_and_field(tmp_path):
    """A scale of 0 is refused (a crop of no size: every target off the map)."""
    path = _mpii_file(tmp_path, [_mpii_entry([50.0, 60.0]), _mpii_entry([50.0, 60.0], 0)])
    with pytest.raises(AnnotationError, match=r"mpii.json: entry 1 \(image 'a.jpg'\): "
                                              r"'scale' must be a finite number > 0, got 0"):
        mpii.load_mpii(path, str(tmp_path))
