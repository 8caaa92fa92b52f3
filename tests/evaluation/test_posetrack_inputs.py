"""PoseTrack input files that were mis-read or refused with an unclear
message: frames in another order, PoseTrack 2017 files, file names, id
types, a ground-truth folder with a prediction file, single-frame sequences.

The sequences are test_posetrack's: two people, 30 px head size.
"""

import json
import logging
import math

import pytest

from keras_pose.errors import FlagError, MissingFileError
from keras_pose.evaluation.posetrack import PoseTrackFormatError, PoseTrackMetric, sequence_pairs
from tests.evaluation.test_posetrack import (assert_groups, evaluate, run_cli, sequence,
                                             two_people, write)


def _reordered(gt, order):
    """``gt``'s frames listed in ``order``, each given the id of its new
    position (as a tracker numbering the frames it reads)."""
    pred = sequence([[] for _ in order])
    for k, i in enumerate(order):
        pred["images"][k]["file_name"] = gt["images"][i]["file_name"]
        pred["annotations"] += [dict(a, image_id=100 + k) for a in gt["annotations"]
                                if a["image_id"] == 100 + i]
    return pred


def _refused(tmp_path, gt, pred, message):
    """Evaluating ``pred`` against ``gt`` (written as files) is refused with
    a PoseTrackFormatError matching ``message``."""
    with pytest.raises(PoseTrackFormatError, match=message):
        PoseTrackMetric().update(write(tmp_path / "gt.json", gt),
                                 write(tmp_path / "pred.json", pred))


def test_frames_in_another_order_with_the_same_ids_are_refused(tmp_path):
    """The ids agree by position but the file names are other frames' of
    the ground truth: was accepted on the ids, every frame scored against
    another one (AP 11.1 / MOTA 0 for perfect predictions, in silence)."""
    gt = sequence(two_people(3))
    pred = _reordered(gt, [0, 2, 1])  # e.g. frame_1, frame_2, frame_10 vs frame_1, 10, 2
    _refused(tmp_path, gt, pred, (
            r"pred\.json: images\[1\]: id 101 is that of ground-truth image '.*000001\.jpg', "
            r"but its file name '.*000002\.jpg' is that of ground-truth images\[2\].*list "
            r"the frames in the ground truth's order"))
    # The same order as the ground truth: perfect.
    assert_groups(evaluate((gt, _reordered(gt, [0, 1, 2]))), "MOTA", 100.0)


def test_frames_in_another_order_with_their_own_ids_are_said_reordered(tmp_path):
    """Each frame with its own ground-truth id and file name, listed in
    another order: was "is neither the id nor the file name ... (name the
    frames as the ground truth does, or give its image ids)", both done."""
    gt = sequence(two_people(3))
    pred = json.loads(json.dumps(gt))
    pred["images"] = [gt["images"][i] for i in (0, 2, 1)]
    _refused(tmp_path, gt, pred, (
            r"images\[1\]: '.*000002\.jpg' \(id 102\) is ground-truth images\[2\], not the "
            r"frame at this position .*listed in another order"))


def test_own_frame_names_with_the_ground_truths_ids_are_still_paired():
    """Names that are no ground-truth frame's (predict.py's video frames)
    with the ids of the ground truth: paired by position, as poseval."""
    gt = sequence(two_people())
    pred = sequence(two_people(ids=(11, 12)))
    for i, image in enumerate(pred["images"]):
        image["file_name"] = f"clip.mp4/frame_{i:04d}.jpg"
    assert_groups(evaluate((gt, pred)), "MOTA", 100.0)


def test_a_posetrack_2017_file_is_named_so_with_the_way_out(tmp_path):
    """Was "missing key 'categories'"."""
    old = {"annolist": [{"image": [{"name": "images/bonn/000001_bonn/00001.jpg"}],
                         "annorect": []}]}
    pred = write(tmp_path / "pred.json", sequence(two_people()))
    with pytest.raises(PoseTrackFormatError, match=(
            r"gt\.json: this is the PoseTrack 2017 layout \('annolist'\), which is not read; "
            r"convert it to the PoseTrack 2018 layout .*poseval's py/convert\.py")):
        PoseTrackMetric().update(write(tmp_path / "gt.json", old), pred)


def test_an_id_of_another_type_says_the_types_differ(tmp_path):
    """The same id as a string and as a number: was only "is not the id"."""
    gt = write(tmp_path / "gt.json", sequence(two_people()))
    data = sequence(two_people(ids=(11, 12)))
    for image in data["images"]:
        image.update(id=str(image["id"]), file_name="other/" + image["file_name"][-10:-4]
                     + ".png")
    for ann in data["annotations"]:
        ann["image_id"] = str(ann["image_id"])
    with pytest.raises(PoseTrackFormatError, match=(
            r"pred\.json: images\[0\]: .*the types differ, '100' is a string and the ground "
            r"truth's id 100 is a number")):
        PoseTrackMetric().update(gt, write(tmp_path / "pred.json", data))
    data = sequence(two_people())
    data["annotations"][2]["image_id"] = "101"  # Within one file.
    with pytest.raises(PoseTrackFormatError, match=(
            r"gt\.json: annotations\[2\]: 'image_id' '101' is not the id of an image: the "
            r"types differ, '101' is a string and the image's 'id' 101 is a number")):
        PoseTrackMetric().update(write(tmp_path / "gt.json", data), gt)


def test_json_extension_in_any_case_and_folders_named_json(tmp_path, caplog):
    """clip2.JSON was skipped in silence; a folder zz.json was taken for a
    sequence (and failed to open)."""
    caplog.set_level(logging.WARNING, logger="absl")
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for name in ("a.json", "clip2.JSON"):
        write(gt / name, sequence(two_people()))
    (gt / "zz.json").mkdir()
    write(pred / "a.Json", sequence(two_people()))
    write(pred / "clip2.posetrack.json", sequence(two_people()))
    pairs = sequence_pairs(str(gt), str(pred))
    assert pairs == [(str(gt / "a.json"), str(pred / "a.Json")),
                     (str(gt / "clip2.JSON"), str(pred / "clip2.posetrack.json"))]
    assert f"--gt {gt}: zz.json named like JSON files but not files; left out" in caplog.text
    assert "have no ground-truth sequence" not in caplog.text
    write(pred / "clip2.json", sequence(two_people()))  # Two predictions of clip2.
    with pytest.raises(FlagError, match=r"two predictions of sequence clip2\.JSON: .*clip2\.json "
                       r"and .*clip2\.posetrack\.json"):
        sequence_pairs(str(gt), str(pred))


def test_predict_pys_own_files_are_not_called_unpaired_sequences(tmp_path, caplog):
    """--pred being predict.py --track's folder: its .inputs.json (and the
    results it keeps of earlier runs) were warned of as prediction files
    without a ground-truth sequence."""
    caplog.set_level(logging.WARNING, logger="absl")
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    write(gt / "seq1.json", sequence(two_people()))
    write(pred / "seq1.posetrack.json", sequence(two_people()))
    for name in (".inputs.json", "predictions.json", "predictions.1.json",
                 "predictions.previous.json", "seq1.frames.json", "seq1.previous.frames.json",
                 "metrics.json", "other.json"):
        (pred / name).write_text("[]")
    assert sequence_pairs(str(gt), str(pred)) == [(str(gt / "seq1.json"),
                                                   str(pred / "seq1.posetrack.json"))]
    assert "1 prediction file(s) have no ground-truth sequence of their name and are not " \
           "evaluated: other.json" in caplog.text


def test_a_ground_truth_folder_with_a_prediction_file_is_refused(tmp_path):
    """Was "predictions <file> is not a directory"."""
    (tmp_path / "gt").mkdir()
    write(tmp_path / "gt" / "a.json", sequence(two_people()))
    pred = write(tmp_path / "a.json", sequence(two_people()))
    with pytest.raises(FlagError, match=r"--gt .*gt is a folder of sequences but --pred .*a\.json "
                       r"is a file: a ground-truth folder needs a predictions folder"):
        sequence_pairs(str(tmp_path / "gt"), pred)
    proc = run_cli("--gt", str(tmp_path / "gt"), "--pred", pred)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "needs a predictions folder" in proc.stderr


def test_single_labelled_frame_sequences_say_why_tracking_is_nan(caplog):
    """MOTA was NaN without a word: poseval leaves the last labelled frame
    of each sequence out of tracking."""
    caplog.set_level(logging.WARNING, logger="absl")
    one = sequence(two_people(1))
    metrics = evaluate((one, sequence(two_people(1, ids=(11, 12)))))
    assert math.isnan(metrics["MOTA/Total"]) and metrics["AP/Total"] == 100.0
    assert caplog.text.count("single labelled frame") == 1
    assert ("1 sequence(s) have a single labelled frame (<ground truth>): the last labelled "
            "frame of each sequence is not scored for tracking (as in poseval), so a sequence "
            "needs at least 2 labelled frames") in caplog.text
    assert "so MOTA, precision and recall are NaN" in caplog.text
    caplog.clear()
    evaluate((one, sequence(two_people(1))), (sequence(two_people()), sequence(two_people())))
    assert "1 sequence(s) have a single labelled frame" in caplog.text
    assert "are NaN" not in caplog.text
    caplog.clear()
    evaluate((sequence(two_people()), sequence(two_people())))
    assert "single labelled frame" not in caplog.text


def test_predictions_of_another_sequence_are_refused_naming_both(tmp_path):
    """PoseTrack numbers every sequence's frames from 000000.jpg: a
    prediction file holding sequence 000522's frames, given for 000342, was
    paired by its bare names and scored (AP 100 here), in silence."""
    gt = sequence(two_people())
    pred = sequence(two_people(ids=(11, 12)))
    for image in pred["images"]:
        image["file_name"] = image["file_name"].replace("000342", "000522")
        image["id"] += 1000
    for annotation in pred["annotations"]:
        annotation["image_id"] += 1000
    _refused(tmp_path, gt, pred, (
            r"pred\.json: its frames are of sequence 000522 \('images/val/000522_mpii_test/"
            r"000000\.jpg'\), the ground truth .*gt\.json is sequence 000342 .*give the "
            r"predictions of sequence 000342"))


def test_a_frame_missing_from_the_predictions_is_named(tmp_path):
    """Was only "3 images, but the ground truth has 4": on a 150-frame
    sequence the user searched for the missing frame by hand."""
    gt = sequence(two_people())
    pred = sequence(two_people(ids=(11, 12)))
    pred["images"].pop(2)
    pred["annotations"] = [a for a in pred["annotations"] if a["image_id"] != 102]
    _refused(tmp_path, gt, pred, (
            r"3 images, but the ground truth .*gt\.json has 4; frames are paired by position "
            r"\(missing: 000002\.jpg\)$"))


def _numbered_from(gt, numbers, folder="000342_mpii_test"):
    """``gt``'s people in frames named ``<folder>/<number>.jpg`` with ids
    from 0, as predict.py --track names a folder of frames."""
    pred = json.loads(json.dumps(gt))
    for k, (image, number) in enumerate(zip(pred["images"], numbers)):
        for a in pred["annotations"]:
            a["image_id"] = k if a["image_id"] == image["id"] else a["image_id"]
        image.update(id=k, file_name=f"{folder}/{number:06d}.jpg")
    return pred


def test_frames_numbered_from_1_for_a_ground_truth_from_0_say_so_with_the_fix(tmp_path):
    """ffmpeg numbers frames from 000001.jpg: the error said they were
    "listed in another order" and to reorder them, which predict.py cannot."""
    gt = sequence(two_people(3))  # 000000.jpg, 000001.jpg, 000002.jpg
    _refused(tmp_path, gt, _numbered_from(gt, [1, 2, 3]), (
            r"pred\.json: images\[0\]: every frame's number is 1 above that of the ground "
            r"truth's frame at its position \('000342_mpii_test/000001\.jpg' is paired with "
            r"'images/val/000342_mpii_test/000000\.jpg': frames pair by position\): the frames "
            r"are numbered from 1 \(ffmpeg numbers from 1 unless given -start_number\), the "
            r"ground truth's from 0\. Name the frames as the ground truth does, from "
            r"000000\.jpg \(e\.g\. ffmpeg -i VIDEO -start_number 0 %06d\.jpg, or rename "
            r"them\), and rerun predict\.py --track$"))
    _refused(tmp_path, gt, _numbered_from(gt, [0, 2, 1]), "listed in another order")
    _refused(tmp_path, gt, _numbered_from(gt, [1, 2, 4]), "listed in another order")
    # The same names from 0: paired, perfect.
    assert_groups(evaluate((gt, _numbered_from(gt, [0, 1, 2]))), "MOTA", 100.0)


COCO_NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
              "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def test_a_ground_truth_of_coco_keypoints_is_told_to_label_posetracks(tmp_path):
    """Was the model's advice ("fine-tune a COCO model on PoseTrack18") for
    a ground-truth file; a prediction file of COCO keypoints keeps it."""
    coco = sequence(two_people())
    coco["categories"][0]["keypoints"] = COCO_NAMES
    with pytest.raises(PoseTrackFormatError) as error:
        PoseTrackMetric().update(write(tmp_path / "gt.json", coco),
                                 write(tmp_path / "pred.json", sequence(two_people())))
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'gt.json'}: categories[0]: the keypoints ")
    assert message.endswith(
        "are not PoseTrack18's: ['head_bottom', 'head_top'] are missing (these are COCO "
        "keypoints). A ground-truth file must label PoseTrack18's keypoints, ['head_bottom', "
        "'head_top'] among them: give the sequence's PoseTrack18 annotation file "
        "(annotations/val/<sequence>.json), or label those keypoints in it")
    with pytest.raises(PoseTrackFormatError, match=r"pred\.json: .*fine-tune a COCO model"):
        PoseTrackMetric().update(write(tmp_path / "gt.json", sequence(two_people())),
                                 write(tmp_path / "pred.json", coco))


def test_a_missing_prediction_names_both_names_and_the_subfolder_holding_it(tmp_path):
    """Was only "<pred>/<name>.json", while predict.py --track writes
    <name>.posetrack.json, under val/ for --input images (out/val/...)."""
    gt, pred = tmp_path / "gt", tmp_path / "out"
    (pred / "val").mkdir(parents=True)
    gt.mkdir()
    for name in ("seq1", "seq2"):
        write(gt / f"{name}.json", sequence(two_people()))
    write(pred / "val" / "seq1.posetrack.json", sequence(two_people()))
    (pred / "val.txt").write_text("")  # A file beside: not a folder to search.
    with pytest.raises(MissingFileError) as error:
        sequence_pairs(str(gt), str(pred))
    assert str(error.value) == (
        f"no prediction file for 2 ground-truth sequence(s): {pred / 'seq1'}.json (or "
        f"seq1.posetrack.json, predict.py --track's name), {pred / 'seq2'}.json (or "
        f"seq2.posetrack.json, predict.py --track's name); 1 of them found in val/: pass "
        f"--pred {pred / 'val'}")
    write(pred / "val" / "seq2.json", sequence(two_people()))
    with pytest.raises(MissingFileError, match=r"\.posetrack\.json, predict\.py --track's "
                       r"name\); found in val/: pass --pred .*out/val$"):
        sequence_pairs(str(gt), str(pred))
    assert [p for _, p in sequence_pairs(str(gt), str(pred / "val"))] == [
        str(pred / "val" / "seq1.posetrack.json"), str(pred / "val" / "seq2.json")]
    (pred / "other").mkdir()  # Found nowhere: nothing more said.
    with pytest.raises(MissingFileError, match=r"predict\.py --track's name\)$"):
        sequence_pairs(str(gt), str(pred / "other"))
