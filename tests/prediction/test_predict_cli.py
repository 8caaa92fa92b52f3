"""predict.py as users run it: folders of frames, boxes files, videos,
tracking, the detector, and outputs that are never silently lost."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def checkpoint(tiny_exported):
    return tiny_exported[2]


def _images(coco_dir, root, names):
    sources = sorted(f for f in os.listdir(coco_dir) if f.endswith(".jpg"))
    for name, source in zip(names, sources * 3):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        image = cv2.imread(os.path.join(coco_dir, source))
        cv2.imwrite(path, image if not name.endswith(".png") else image[:150, :200])
    return root


@pytest.fixture
def run_predict(run_script):
    return run_script("predict.py")


@pytest.mark.slow  # predict.py in a subprocess
def test_a_folder_tree_keeps_every_output_and_reports_what_failed(checkpoint, coco_dir,
                                                                  tmp_path):
    inputs = _images(coco_dir, str(tmp_path / "in"),
                     ["a/000000.jpg", "b/000000.jpg", "x.jpg", "x.png", "c/d/deep.jpg"])
    data = open(os.path.join(coco_dir, "000000000785.jpg"), "rb").read()
    (tmp_path / "in" / "broken.jpg").write_bytes(data[:len(data) // 3])  # truncated
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a/000000.jpg": [[100, 50, 200, 300]],
                                 "b/000000.jpg": [[10, 10, 100, 200], [150, 20, 80, 250, 0.7]],
                                 "x.png": [[1, 2, 3, float("nan")], [5, 5, 40, 60]],
                                 "c/d/deep.jpg": [[1, 2, 3]]}))
    out = tmp_path / "out"
    os.makedirs(out)
    (out / "c").write_text("a file where a folder must go")  # one write will fail
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", checkpoint, "--input",
                           inputs, "--boxes", str(boxes), "--output_dir", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the failed write
    assert "NOT WRITTEN" in proc.stderr and "deep.pose.jpg" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "'x.png' box 0" in proc.stderr and "'c/d/deep.jpg' box 0" in proc.stderr
    assert "5 input(s) processed, 1 unreadable skipped" in proc.stdout
    assert "broken.jpg" in proc.stdout
    for name in ("a/000000.pose.jpg", "b/000000.pose.jpg", "x.pose.jpg", "x.pose.png"):
        assert (out / name).is_file(), name  # mirrored, nothing overwritten
    assert cv2.imread(str(out / "x.pose.png")).shape[:2] == (150, 200)
    predictions = json.load(open(out / "predictions.json"))  # complete JSON
    people = {}
    for entry in predictions:
        people[entry["file_name"]] = people.get(entry["file_name"], 0) + 1
        assert len(entry["keypoints"]) == 17 * 3
    assert people == {"a/000000.jpg": 1, "b/000000.jpg": 2, "x.png": 1}
    ids = {e["file_name"]: e["image_id"] for e in predictions}
    assert ids["a/000000.jpg"] != ids["b/000000.jpg"]  # stable per-path indices


@pytest.mark.slow  # predict.py in a subprocess
def test_an_input_that_is_not_an_image_is_an_error_when_it_is_all_there_is(checkpoint, coco_dir,
                                                                            tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    annotations = os.path.join(coco_dir, "test_coco.json")  # a file the user mistook for images
    proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", checkpoint, "--input",
                           annotations, "--detector", "none", "--output_dir", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "0 input(s) processed, 1 unreadable skipped" in proc.stdout
    assert f"none of the 1 input(s) under --input {annotations} could be read" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_tracked_folder_of_unreadable_frames_only_is_an_unreadable_input(
        run_predict, checkpoint, coco_dir, tmp_path):
    """--track over a folder none of whose frames could be read: exit 0,
    "1 input(s) processed", outputs of empty frames. Skipped as an
    unreadable video is: no outputs, exit 1 when nothing else was read."""
    inputs = tmp_path / "in"
    (inputs / "bad").mkdir(parents=True)
    for i in range(3):
        (inputs / "bad" / f"{i:06d}.jpg").write_bytes(b"not a jpeg" * 50)
    out = tmp_path / "out"
    flags = ["--checkpoint", checkpoint, "--track", "--detector", "none", "--output_dir",
             str(out)]
    code, stdout, err = run_predict(flags + ["--input", str(inputs)])
    assert code == 1, err[-2000:]
    assert "0 input(s) processed, 1 unreadable skipped" in stdout
    assert f"skipped: {inputs / 'bad'}: none of its 3 frame(s) could be read" in stdout
    assert "frame without people in every output" not in stdout
    assert not os.path.exists(out / "bad.frames.json")
    _frames(coco_dir, inputs / "good", 2)  # Beside a readable folder: said, exit 0.
    code, stdout, err = run_predict(flags + ["--input", str(inputs)])
    assert code == 0 and "1 input(s) processed, 1 unreadable skipped" in stdout, err[-2000:]
    assert len(json.load(open(out / "good.frames.json"))) == 2


def test_bare_names_that_fit_several_inputs_are_an_error(run_predict, checkpoint, coco_dir,
                                                         tmp_path):
    inputs = _images(coco_dir, str(tmp_path / "in"), ["s1/000000.jpg", "s2/000000.jpg"])
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"000000.jpg": [[1, 2, 30, 40]]}))
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                   str(boxes), "--output_dir", str(tmp_path / "out")])
    assert code == 1 and "ambiguous" in err and "s1/000000.jpg" in err and "s2/000000.jpg" in err


@pytest.mark.slow  # several predict.py runs
def test_image_ids_come_from_the_annotation_file(run_predict, checkpoint, coco_dir, tmp_path,
                                                 caplog):
    inputs = _images(coco_dir, str(tmp_path / "in"), ["27002.jpg", "27003.jpg"])
    annotations = tmp_path / "ann.json"
    annotations.write_text(json.dumps({"images": [{"id": 1, "file_name": "27002.jpg"},
                                                  {"id": 2, "file_name": "27003.jpg"}]}))
    detections = tmp_path / "det.json"
    detections.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.9,
                                       "bbox": [10, 20, 100, 200]},
                                      {"image_id": 27003, "category_id": 1, "score": 0.9,
                                       "bbox": [10, 20, 100, 200]}]))
    out = tmp_path / "out"
    code, out_text, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                       str(detections), "--annotations", str(annotations),
                                       "--output_dir", str(out)])
    assert code == 0, err[-2000:]
    predictions = json.load(open(out / "predictions.json"))
    # Image 1 is 27002.jpg by the annotation file (not the digits of its
    # name); 27003 names no image of it, so 27003.jpg has no boxes, and the
    # summary says so.
    assert [(p["file_name"], p["image_id"]) for p in predictions] == [("27002.jpg", 1)]
    assert f"1 input(s) have no boxes in {detections} (0 people): 27003.jpg" in out_text
    assert f"27003.jpg: no boxes in {detections}" in caplog.text  # as it happened


def test_an_annotation_file_that_cannot_be_read_is_said_so(run_predict, checkpoint, coco_dir,
                                                           tmp_path):
    """A folder (or a file without read permission) as --annotations was
    "not a COCO annotation file": it was never read."""
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg"])
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--annotations",
                                str(tmp_path), "--output_dir", str(tmp_path / "out")])
    assert code == 1
    assert err.rstrip().splitlines()[-1] == (
        f"predict.py: error: --annotations {tmp_path}: cannot be read (Is a directory)")


def test_an_unwritable_output_directory_stops_before_any_work(run_predict, checkpoint,
                                                              tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", str(blocked),
                                   "--detector", "none", "--output_dir",
                                   str(blocked / "out")])
    assert code == 1 and f"--output_dir {blocked}/out cannot be made: {blocked} is a file" in err


@pytest.mark.slow  # D-FINE
def test_video_tracking_with_the_detector_class_offline(run_predict, checkpoint, tmp_path):
    """The default path (a keras-hub D-FINE finds the people) with the real
    detector class, tiny and random, saved as a local preset: nothing is
    downloaded; then the tracker over a video."""
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE
    keras.utils.set_random_seed(0)
    build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                         num_queries=TINY_QUERIES).backbone.save_to_preset(
        str(tmp_path / "preset"))
    video = str(tmp_path / "in" / "clip.avi")
    os.makedirs(os.path.dirname(video))
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 5, (96, 80))
    for i in range(3):
        frame = np.full((80, 96, 3), 60, np.uint8)
        cv2.rectangle(frame, (20 + 5 * i, 10), (50 + 5 * i, 70), (200, 180, 160), -1)
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    code, stdout, err = run_predict(
        ["--checkpoint", checkpoint, "--input", video, "--detector", str(tmp_path / "preset"),
         "--box_threshold", "0", "--track", "--set", "track.detection_threshold=0",
         "--set", "track.keypoint_threshold=0", "--output_dir", str(out)])
    assert code == 0, err[-3000:]
    frames = json.load(open(out / "clip.avi.frames.json"))
    assert len(frames) == 3 and all(len(f["people"]) > 0 for f in frames)
    tracks = json.load(open(out / "clip.avi.posetrack.json"))
    assert len(tracks["images"]) == 3 and tracks["annotations"]
    assert all("track_id" in a for a in tracks["annotations"])
    capture = cv2.VideoCapture(str(out / "clip.avi.pose.avi"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    shutil.rmtree(out)


def _frames(coco_dir, folder, count):
    """``count`` frames of one size (one COCO image) in ``folder``."""
    os.makedirs(folder)
    for i in range(count):
        shutil.copy(os.path.join(coco_dir, "000000000785.jpg"), folder / f"{i:06d}.jpg")
    return str(folder.parent)


def test_tracking_folders_of_frames_takes_each_frames_boxes(run_predict, checkpoint, coco_dir,
                                                           tmp_path):
    """The PoseTrack workflow: frames in a folder per sequence, boxes per
    frame. Each frame finds the boxes of its own key, not the folder's."""
    inputs = _frames(coco_dir, tmp_path / "in" / "seq", 3)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({f"seq/{i:06d}.jpg": [[10, 20, 100, 200], [150, 20, 80, 200]]
                                 for i in range(3)}))
    out = tmp_path / "out"
    code, _, err = run_predict(
        ["--checkpoint", checkpoint, "--input", inputs, "--boxes", str(boxes), "--track",
         "--set", "track.detection_threshold=0", "--set", "track.keypoint_threshold=0",
         "--frames_fps", "30", "--output_dir", str(out)])
    assert code == 0, err[-3000:]
    video = cv2.VideoCapture(str(out / "seq.pose.avi"))  # frames carry no rate: the flag's
    assert video.get(cv2.CAP_PROP_FPS) == 30 and video.get(cv2.CAP_PROP_FRAME_COUNT) == 3
    video.release()
    frames = json.load(open(out / "seq.frames.json"))
    # The first frame has its 2 boxes; later frames add the boxes
    # propagated by flow from the frame before (the paper's unification).
    counts = [len(f["people"]) for f in frames]
    assert counts[0] == 2 and min(counts) >= 2, counts
    tracks = json.load(open(out / "seq.posetrack.json"))
    assert len(tracks["annotations"]) == sum(counts)


def test_a_bug_deep_in_the_run_keeps_its_traceback(run_predict, checkpoint, coco_dir, tmp_path,
                                                   monkeypatch):
    """A ValueError from a bug (here planted where results become COCO
    entries) is not turned into a one-line 'error': cli.run lets it through
    to absl, which prints its traceback."""
    from keras_pose.prediction import runner

    def buggy(*args):
        raise ValueError("operands could not be broadcast together")
    monkeypatch.setattr(runner, "coco_entries", buggy)
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg"])
    with pytest.raises(ValueError, match="broadcast"):
        run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector", "none",
                     "--output_dir", str(tmp_path / "out")])


def test_user_errors_stay_one_line_naming_the_file(run_predict, checkpoint, coco_dir, tmp_path):
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg"])
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                str(tmp_path / "nothere.json"), "--output_dir",
                                str(tmp_path / "out")])
    assert code == 1 and err.count("\n") == 1 and "nothere.json does not exist" in err
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                str(tmp_path / "nothere.json"), "--detector", "none",
                                "--output_dir", str(tmp_path / "out")])
    assert code == 1 and err.count("\n") == 1 and "--detector none and --boxes" in err


def _posetrack_checkpoint(tiny_exported, path):
    """tiny_exported's network with PoseTrack18's 17 keypoint names (as a
    model fine-tuned on PoseTrack18 from COCO has)."""
    import dataclasses

    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.configs.keypoints import flip_pairs_from_names
    from keras_pose.tracking.posetrack_format import POSETRACK18_KEYPOINT_NAMES
    model, config, _, _ = tiny_exported
    names = POSETRACK18_KEYPOINT_NAMES
    config = config.replace(data=dataclasses.replace(
        config.data, dataset="custom", keypoint_names=names,
        flip_pairs=flip_pairs_from_names(names, log=False)))
    save_model_checkpoint(model, config, str(path))
    return str(path)


def _posetrack_ground_truth(path, sequence, count):
    """A PoseTrack18 ground-truth file: 2 people in each of ``count`` frames."""
    from keras_pose.tracking.posetrack_format import POSETRACK18_KEYPOINT_NAMES
    images, annotations = [], []
    for i in range(count):
        images.append({"id": 10003420000 + i, "file_name": f"images/val/{sequence}/{i:06d}.jpg",
                       "frame_id": 10003420000 + i, "vid_id": "000342", "is_labeled": True})
        for n, (x, y) in enumerate([(60, 120), (190, 120)]):
            points = [[x + 3 * k, y + 10 * k, 1] for k in range(17)]
            annotations.append({"id": 10 * i + n, "image_id": 10003420000 + i, "track_id": n,
                                "keypoints": [v for p in points for v in p],
                                "bbox_head": [x - 10, y - 20, 20, 25]})
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [
        {"id": 1, "name": "person", "keypoints": list(POSETRACK18_KEYPOINT_NAMES)}]}))


def test_posetrack_workflow_predict_then_evaluate(run_predict, tiny_exported, coco_dir,
                                                  tmp_path, caplog):
    """Frames in a folder per sequence, boxes per frame, a model with
    PoseTrack18's keypoints: predict.py --track, then the PoseTrack
    evaluator on its output, sequences paired by name."""
    sequence = "000342_mpii_test"
    inputs = _frames(coco_dir, tmp_path / "in" / sequence, 3)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({f"{sequence}/{i:06d}.jpg": [[10, 20, 100, 200],
                                                             [150, 20, 80, 200]]
                                 for i in range(3)}))
    out = tmp_path / "out"
    checkpoint = _posetrack_checkpoint(tiny_exported, tmp_path / "posetrack_ckpt")
    code, _, err = run_predict(
        ["--checkpoint", checkpoint, "--input", inputs, "--boxes", str(boxes), "--track",
         "--set", "track.detection_threshold=0", "--set", "track.keypoint_threshold=0",
         "--output_dir", str(out)])
    assert code == 0, err[-3000:]
    assert "PoseTrack18" not in caplog.text  # No warning: the keypoints are right.
    predicted = json.load(open(out / f"{sequence}.posetrack.json"))
    people = [sum(a["image_id"] == im["id"] for a in predicted["annotations"])
              for im in predicted["images"]]
    assert len(people) == 3 and min(people) >= 2, people
    gt = tmp_path / "gt"
    gt.mkdir()
    _posetrack_ground_truth(gt / f"{sequence}.json", sequence, 3)
    proc = subprocess.run([sys.executable, "scripts/evaluate_posetrack.py", "--gt", str(gt),
                           "--pred", str(out), "--output_dir", str(tmp_path / "eval")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 sequences, 3 evaluated frames" in proc.stdout
    report = json.load(open(tmp_path / "eval" / "metrics.json"))
    assert report["num_sequences"] == 1 and report["num_frames"] == 3
    for name in ("AP/Total", "MOTA/Total", "MOTP/Total", "Precision/Total", "Recall/Total"):
        assert report["metrics"][name] is not None, name


def test_posetrack_output_of_a_coco_model_is_flagged_before_and_refused_after(
        run_predict, checkpoint, coco_dir, tmp_path, caplog, monkeypatch):
    """A COCO-keypoint model: predict.py --track says before any frame that
    PoseTrack evaluation needs PoseTrack18's keypoints, and the evaluator's
    refusal names the mismatch and the way out."""
    from keras_pose.prediction import runner
    said_before = []
    sequence_of = runner.PredictionRun._sequence

    def spy(self, *args, **kwargs):  # Was it said before the frames run?
        said_before.append(any("PoseTrack18" in r.getMessage() for r in caplog.records))
        return sequence_of(self, *args, **kwargs)
    monkeypatch.setattr(runner.PredictionRun, "_sequence", spy)
    sequence = "000342_mpii_test"
    inputs = _frames(coco_dir, tmp_path / "in" / sequence, 2)
    out = tmp_path / "out"
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--track", "--output_dir", str(out)])
    assert code == 0, err[-3000:]
    warnings = [r.getMessage() for r in caplog.records if "PoseTrack18" in r.getMessage()]
    assert warnings and "head_bottom" in warnings[0] and "fine-tun" in warnings[0]
    assert said_before == [True]
    gt = tmp_path / "gt"
    gt.mkdir()
    _posetrack_ground_truth(gt / f"{sequence}.json", sequence, 2)
    proc = subprocess.run([sys.executable, "scripts/evaluate_posetrack.py", "--gt", str(gt),
                           "--pred", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "left_eye" in proc.stderr and "head_bottom" in proc.stderr
    assert "PoseTrack18" in proc.stderr and "fine-tun" in proc.stderr


@pytest.mark.slow  # several predict.py runs
def test_annotation_ids_match_by_path_relative_to_the_input(run_predict, checkpoint, coco_dir,
                                                            tmp_path):
    """a/x.jpg, b/x.jpg and x.jpg are three images: each takes the id of the
    file_name equal to its path; a bare name that stays ambiguous is refused."""
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a/x.jpg", "b/x.jpg", "x.jpg"])
    annotations = tmp_path / "ann.json"
    annotations.write_text(json.dumps({"images": [
        {"id": 1, "file_name": "a/x.jpg"}, {"id": 2, "file_name": "b/x.jpg"},
        {"id": 3, "file_name": "x.jpg"}]}))
    out = tmp_path / "out"
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--annotations", str(annotations), "--output_dir",
                                str(out)])
    assert code == 0, err[-2000:]
    ids = {p["file_name"]: p["image_id"] for p in json.load(open(out / "predictions.json"))}
    assert ids == {"a/x.jpg": 1, "b/x.jpg": 2, "x.jpg": 3}
    # Only x.jpg is in the file: a/x.jpg and b/x.jpg are other images.
    annotations.write_text(json.dumps({"images": [{"id": 3, "file_name": "x.jpg"}]}))
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--annotations", str(annotations), "--output_dir",
                                str(tmp_path / "out1")])
    assert code == 0, err[-2000:]
    ids = {p["file_name"]: p["image_id"] for p in json.load(open(tmp_path / "out1" /
                                                                  "predictions.json"))}
    assert ids["x.jpg"] == 3 and 3 not in (ids["a/x.jpg"], ids["b/x.jpg"])
    annotations.write_text(json.dumps({"images": [
        {"id": 1, "file_name": "s1/x.jpg"}, {"id": 2, "file_name": "s2/x.jpg"}]}))
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--annotations", str(annotations), "--output_dir",
                                str(tmp_path / "out2")])
    assert code == 1 and "ambiguous" in err and "a/x.jpg" in err and "b/x.jpg" in err


def test_boxes_of_the_models_keypoint_category_are_kept(run_predict, tiny_exported, coco_dir,
                                                       tmp_path, caplog):
    """An animal model (its checkpoint records keypoint category 2): the
    boxes file's category-2 boxes are used, the others dropped and counted,
    and predictions.json says category 2."""
    import dataclasses

    from keras_pose.checkpoint import save_model_checkpoint
    model, config, _, _ = tiny_exported
    checkpoint = str(tmp_path / "animal_ckpt")
    save_model_checkpoint(model, config.replace(data=dataclasses.replace(
        config.data, category_ids=(2,))), checkpoint)
    inputs = _images(coco_dir, str(tmp_path / "in"), ["cat.jpg"])
    boxes = tmp_path / "det.json"
    boxes.write_text(json.dumps(
        [{"file_name": "cat.jpg", "category_id": 2, "bbox": [10, 20, 100, 200], "score": 0.9},
         {"file_name": "cat.jpg", "category_id": 2, "bbox": [150, 20, 80, 200], "score": 0.8},
         {"file_name": "cat.jpg", "category_id": 1, "bbox": [5, 5, 50, 50], "score": 0.9},
         {"file_name": "cat.jpg", "category_id": 3, "bbox": [5, 5, 50, 50], "score": 0.9}]))
    out = tmp_path / "out"
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                str(boxes), "--output_dir", str(out)])
    assert code == 0, err[-2000:]
    predictions = json.load(open(out / "predictions.json"))
    assert len(predictions) == 2 and {p["category_id"] for p in predictions} == {2}
    assert "2 boxes of other categories than [2] dropped (category 1: 1, category 3: 1)" \
        in caplog.text


def test_poses_the_tracker_drops_are_reported(run_predict, checkpoint, coco_dir, tmp_path):
    """Every pose below the tracker's thresholds: 0 people, and the summary
    says why and which settings decide (not a silent empty result)."""
    inputs = _frames(coco_dir, tmp_path / "in" / "seq", 3)
    code, out, _ = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--track", "--set", "track.min_keypoints=17",
                                "--set", "track.keypoint_threshold=1.0",
                                "--output_dir", str(tmp_path / "out")])
    assert code == 0 and "  0 people in 3 frame(s) of videos and frame folders" in out
    assert ("--track dropped 3 pose(s) of detected boxes with fewer than 17 joints "
            "(track.min_keypoints=17, at most the model's 17) scoring at least "
            "track.keypoint_threshold=1.0 (the tracker's rules; to keep more, e.g. "
            "--set track.keypoint_threshold=0.5 --set track.min_keypoints=2)") in out
    frames = json.load(open(tmp_path / "out" / "seq.frames.json"))
    assert [f["people"] for f in frames] == [[], [], []]


def test_tracker_sigmas_that_do_not_fit_are_one_line(run_predict, checkpoint, coco_dir, tmp_path):
    inputs = _frames(coco_dir, tmp_path / "in" / "seq", 1)
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--track", "--set", "data.oks_sigmas=[0.1,0.2]",
                                "--output_dir", str(tmp_path / "out")])
    assert code == 1 and err.count("\n") == 1 and "data.oks_sigmas" in err


def test_int8_without_people_to_calibrate_on_is_one_line(run_predict, checkpoint, coco_dir,
                                                        tmp_path):
    code, _, err = run_predict([
        "--checkpoint", checkpoint, "--runtime", "openvino", "--precision", "int8",
        "--input", os.path.join(coco_dir, "000000000785.jpg"), "--detector", "none",
        "--set", "data.root=/nonexistent", "--output_dir", str(tmp_path / "out")])
    assert code == 1 and "Traceback" not in err, err[-2000:]
    assert "predict.py: error: --precision int8:" in err and "at least 16" in err


def test_an_official_checkpoint_not_yet_placed_is_one_line(run_predict, coco_dir, tmp_path,
                                                          monkeypatch):
    """The official files cannot be fetched by a program: the error says
    where to get pose_resnet_50_256x192.pth.tar and where to put it."""
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_predict(["--checkpoint", "pose_resnet_50_256x192", "--input", coco_dir,
                                "--detector", "none", "--output_dir", str(tmp_path / "out")])
    assert code == 1 and err.count("\n") == 1, err[-2000:]
    assert "pose_resnet_50_256x192.pth.tar is not on this machine" in err
    assert str(tmp_path / "cache" / "pose_resnet_50_256x192.pth.tar") in err


def test_detector_runtime_needs_the_detector(run_predict, checkpoint, coco_dir, tmp_path):
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", coco_dir,
                                "--detector", "none", "--detector_runtime", "openvino",
                                "--output_dir", str(tmp_path / "out")])
    assert code == 1 and "--detector_runtime openvino" in err and "drop" in err
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", coco_dir,
                                "--detector_precision", "int8",
                                "--output_dir", str(tmp_path / "out")])
    assert code == 1 and err.count("\n") == 1, err[-2000:]
    assert "--detector_precision int8 runs with --detector_runtime onnxruntime or openvino" in err


def test_runtime_choices_are_refused_before_the_detector_loads(run_predict, checkpoint,
                                                               tiny_exported, coco_dir, tmp_path):
    """A SavedModel with --precision int8 was refused only after the default
    detector loaded: offline, the user was told it could not be downloaded;
    online, it was downloaded first. (--detector_precision int8 alone is a
    detector refusal: whichever comes first is seen.)"""
    for model, flags, message in (
            (tiny_exported[3], ["--precision", "int8"], "is a fp32 SavedModel: it runs in tf "
             "at fp32; --precision int8 exports a checkpoint's Keras weights"),
            (checkpoint, ["--runtime", "tf", "--precision", "int8"], "no int8 convolution")):
        code, _, err = run_predict(["--checkpoint", model, "--input", coco_dir, *flags,
                                    "--detector_precision", "int8",
                                    "--output_dir", str(tmp_path / "out")])
        assert code == 1 and message in err, err[-2000:]


def _tiny_dfine_preset(path):
    """A tiny random D-FINE saved as a local preset (nothing downloads)."""
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE
    keras.utils.set_random_seed(0)
    build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                         num_queries=TINY_QUERIES).backbone.save_to_preset(str(path))
    return str(path)


@pytest.mark.slow
def test_the_detector_in_onnxruntime_exports_once_into_the_cache(run_predict, checkpoint,
                                                                 coco_dir, tmp_path,
                                                                 monkeypatch):
    """A tiny random D-FINE saved as a local preset runs in ONNX Runtime: the
    first run exports it into $KERAS_POSE_CACHE/detectors, the second reuses it."""
    pytest.importorskip("onnxruntime", reason="the onnxruntime detector needs onnxruntime")
    pytest.importorskip("tf2onnx", reason="the onnxruntime detector export needs tf2onnx")
    from keras_pose.detection import runtimes
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    args = ["--checkpoint", checkpoint, "--input", coco_dir, "--detector",
            _tiny_dfine_preset(tmp_path / "preset"), "--detector_runtime", "onnxruntime",
            "--box_threshold", "0", "--output_dir", str(tmp_path / "out")]
    code, _, err = run_predict(args)
    assert code == 0, err[-3000:]
    (export,) = os.listdir(tmp_path / "cache" / "detectors")
    assert export.startswith("preset-onnxruntime-fp32-")
    assert json.load(open(tmp_path / "out" / "predictions.json"))
    monkeypatch.setattr(runtimes, "export_network", None)  # a second export would fail
    code, _, err = run_predict(args)
    assert code == 0, err[-3000:]
    assert os.listdir(tmp_path / "cache" / "detectors") == [export]


@pytest.mark.slow
def test_the_detector_at_bf16_is_judged_on_the_inputs(run_predict, checkpoint, coco_dir,
                                                      tmp_path, monkeypatch, caplog):
    """--detector_precision bf16: the OpenVINO export of a local preset, its
    guard run on the first images of --input (the 4 COCO images), the
    verdict said (random weights may fail it: then fp32 runs, with a warning)."""
    pytest.importorskip("openvino", reason="the openvino detector needs openvino")
    from keras_pose.detection import runtimes
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    code, _, err = run_predict([
        "--checkpoint", checkpoint, "--input", coco_dir, "--detector",
        _tiny_dfine_preset(tmp_path / "preset"), "--detector_runtime", "openvino",
        "--detector_precision", "bf16", "--box_threshold", "0",
        "--output_dir", str(tmp_path / "out")])
    assert code == 0, err[-3000:]
    cache = tmp_path / "cache" / "detectors"
    (judged,) = [d for d in os.listdir(cache) if d.startswith("bf16-")]
    (export,) = os.listdir(cache / judged)
    assert export.startswith("preset-openvino-bf16-")
    guard = runtimes.read_sidecar(str(cache / judged / export))["guard"]
    assert guard["images"] == 4
    refused = "bf16 openvino detector refused on the 4 calibration images" in caplog.text
    assert refused != guard["passed"], caplog.text[-3000:]
    assert len(json.load(open(tmp_path / "out" / "predictions.json"))) > 0


def _clip(path, frames=6):
    """A short .mp4 of a stick figure walking right (tests/tracking/scenes.py)."""
    from tests.tracking.scenes import HEIGHT, WIDTH, Person, render
    from keras_pose.data.synthetic import _background
    person = Person(80, 50, 105, lambda t: (6 * t, 0))
    background = _background(np.random.default_rng(0), WIDTH, HEIGHT)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (WIDTH, HEIGHT))
    assert writer.isOpened(), "OpenCV cannot write .mp4 here"
    for t in range(frames):
        writer.write(np.ascontiguousarray(render([person], t, background)[..., ::-1]))
    writer.release()
    return str(path)


def track_keypoints(run_predict, checkpoint, video, out, *extra):
    """predict.py --track on ``video`` (each frame one person): (F, K, 2)."""
    code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input", video, "--track",
                                     "--detector", "none", "--set", "track.keypoint_threshold=0",
                                     "--output_dir", str(out), *extra])
    assert code == 0, err[-3000:]
    frames = json.load(open(out / (os.path.basename(video) + ".frames.json")))
    people = sum(len(f["people"]) for f in frames)
    assert (f"  {people} people in {len(frames)} frame(s) of videos and frame folders: "
            f"<path>.frames.json in {out}") in stdout
    assert json.load(open(out / (os.path.basename(video) + ".posetrack.json")))["annotations"]
    return np.array([np.reshape(f["people"][0]["keypoints"], (-1, 3))[:, :2] for f in frames])


def test_tracking_a_video_with_an_onnx_export(run_predict, tiny_exported, tiny_onnx, tmp_path):
    """predict.py --checkpoint <.onnx> --track: the export in the tracker,
    with the SavedModel's keypoints (predictions.json rounds to 0.01 px)."""
    video = _clip(tmp_path / "clip.mp4")
    expected = track_keypoints(run_predict, tiny_exported[3], video, tmp_path / "saved")
    got = track_keypoints(run_predict, tiny_onnx, video, tmp_path / "onnx")
    assert got.shape == expected.shape == (6, 17, 2)
    np.testing.assert_allclose(got, expected, atol=1e-3 + 0.005)


@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory):
    """A 64x64 tiny model trained for 4 short epochs on 40 synthetic images
    (about 30 s): peaked heatmaps, as a trained model's, which int8 keeps (a
    random network's flat heatmaps have no argmax to keep). Returns
    (checkpoint whose data set is on disk, the same weights with no data
    set on disk, its SavedModel, an int8 OpenVINO export of it)."""
    from tests.export.runtime_checks import skip_unless_installed
    skip_unless_installed("openvino", "int8")
    from keras_pose.checkpoint import load_model, save_model_checkpoint
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.data.datasets import resolve_dataset_config
    from keras_pose.export import export_saved_model, runtimes
    from keras_pose.export.calibration import calibration_crops
    from keras_pose.training.trainer import train
    root = tmp_path_factory.mktemp("trained_tiny")
    config = apply_overrides(get_experiment("tiny"), [
        "model.image_size=64,64", "model.heatmap_size=16,16", "model.blocks_per_stage=1,1,1,1",
        "model.deconv_filters=32,32,32", "model.pretrained=none", "train.epochs=4",
        "train.lr_steps=100,200", "train.batch_size_per_replica=16", "train.validate_every=0",
        "train.image_summary_every=0", f"data.root={root / 'data'}",
        "data.synthetic_train_images=40", "data.synthetic_val_images=8"])
    train(config, str(root / "run"), export=False, progress=False)
    model, config = load_model(str(root / "run"))
    save_model_checkpoint(model, apply_overrides(config, ["data.root=/nonexistent"]),
                          str(root / "no_data"))
    export_saved_model(model, config, str(root / "saved_model"))
    crops = calibration_crops(resolve_dataset_config(config), 300, split="train")
    int8 = runtimes.export_network(model, config, str(root / "openvino" / "int8.xml"),
                                   "openvino", "int8", calibration=crops)
    return str(root / "run"), str(root / "no_data"), str(root / "saved_model"), int8


def assert_within_the_guard(got, expected, image_size=(160, 120)):
    """int8 keypoints against fp32's by the guard's rule (guard.guard_on_crops):
    at least 95% within one heatmap pixel; here each frame is one person in a
    whole-frame box, whose heatmap pixel is scale_x * 200 / W image pixels."""
    from keras_pose.data.transforms import box_to_center_scale
    from keras_pose.export.guard import AGREEMENT_PIXELS, MIN_AGREEMENT
    _, scale = box_to_center_scale([0, 0, *image_size], 1.0, 1.25)
    pixel = scale[0] * 200 / 16
    agreement = np.mean(np.linalg.norm(got - expected, axis=-1) <= AGREEMENT_PIXELS * pixel)
    assert agreement >= MIN_AGREEMENT, f"{agreement:.1%} of the keypoints agree"
    assert not np.array_equal(got, expected)  # Really another network.


@pytest.mark.slow  # Training and an int8 export: test_cache.py covers the path fast.
def test_tracking_with_an_int8_openvino_export(run_predict, trained_tiny, tmp_path):
    _, _, saved, int8 = trained_tiny
    video = _clip(tmp_path / "clip.mp4")
    expected = track_keypoints(run_predict, saved, video, tmp_path / "saved")
    got = track_keypoints(run_predict, int8, video, tmp_path / "int8")
    assert_within_the_guard(got, expected)


@pytest.mark.slow  # As above.
def test_runtime_openvino_int8_calibrates_on_the_inputs_without_the_data_set(
        run_predict, trained_tiny, tmp_path):
    """--runtime openvino --precision int8 on a checkpoint whose data set is
    absent: exported on first use, calibrated and guarded on the 20 people
    of the video, kept beside the checkpoint and reused."""
    from keras_pose.export import runtimes
    _, no_data, saved, _ = trained_tiny
    video = _clip(tmp_path / "clip.mp4", frames=20)
    expected = track_keypoints(run_predict, saved, video, tmp_path / "saved")
    args = ("--runtime", "openvino", "--precision", "int8")
    got = track_keypoints(run_predict, no_data, video, tmp_path / "int8", *args)
    assert_within_the_guard(got, expected)
    export = os.path.join(no_data, "exports", "openvino-int8", "heatmaps.xml")
    side = runtimes.read_sidecar(export)
    assert side["calibration"] == "20 people of the inputs"
    assert side["guard"]["agreement"] >= 0.95 and side["guard"]["people"] == 20
    written = os.stat(export).st_mtime_ns
    again = track_keypoints(run_predict, no_data, video, tmp_path / "again", *args)
    assert os.stat(export).st_mtime_ns == written  # Reused, not exported again.
    np.testing.assert_array_equal(again, got)


def test_a_preset_name_and_the_default_preset(run_predict, tiny_preset, coco_dir, tmp_path,
                                              monkeypatch):
    inputs = _images(coco_dir, str(tmp_path / "in"), ["x.jpg"])
    code, out, err = run_predict(["--checkpoint", tiny_preset.name, "--input", inputs,
                                  "--detector", "none", "--output_dir", str(tmp_path / "a")])
    assert code == 0, err
    assert f"pose model: preset {tiny_preset.name}\n" in out
    assert "1 people in" in out and len(tiny_preset.conversions) == 1
    # No --checkpoint: the default preset, named (the real default is a COCO
    # preset, tests/presets/test_table.py); converted once, reused after.
    from keras_pose import presets
    monkeypatch.setattr(presets, "DEFAULT_PRESET", tiny_preset.name)
    code, out, err = run_predict(["--input", inputs, "--detector", "none",
                                  "--output_dir", str(tmp_path / "b")])
    assert code == 0, err
    assert f"pose model: preset {tiny_preset.name} (the default" in out
    assert len(tiny_preset.conversions) == 1
    assert json.load(open(tmp_path / "b" / "predictions.json"))[0]["keypoints"]


def test_list_presets_and_unknown_names(run_predict):
    code, out, _ = run_predict(["--list_presets"])
    assert code == 0
    assert "simplebaseline_resnet50_coco_256x192_dark (default)" in out and "84 preset(s)" in out
    code, _, err = run_predict(["--checkpoint", "simplebaseline_resnet50_coco_256x129",
                                "--input", "x.jpg"])
    assert code == 1 and "Traceback" not in err
    assert ("checkpoint simplebaseline_resnet50_coco_256x129 does not exist; close preset "
            "names: simplebaseline_resnet50_coco_256x192") in err
    code, _, err = run_predict([])
    assert code == 1 and "--input is required" in err


def test_a_phones_photo_is_turned_upright_unless_boxes_give_stored_pixels(
        run_predict, checkpoint, coco_dir, tmp_path):
    """A phone stores a portrait photo lying, with EXIF orientation 6 to turn
    it back. predict.py sees it as viewers do, except when a boxes file
    gives the stored pixels' coordinates (COCO's rule); the report says so."""
    from PIL import Image
    photo = Image.open(os.path.join(coco_dir, "000000000785.jpg"))  # 640 x 425, landscape
    exif = Image.Exif()
    exif[0x0112] = 6
    os.makedirs(tmp_path / "in")
    photo.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "in" / "IMG_1.jpg", exif=exif)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"IMG_1.jpg": [[10, 20, 300, 400]]}))
    runs = {"auto": [], "boxes": ["--boxes", str(boxes)],
            "boxes_apply": ["--boxes", str(boxes), "--exif_orientation", "apply"],
            "ignore": ["--exif_orientation", "ignore"]}
    for name, args in runs.items():
        out = tmp_path / name
        code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input",
                                         str(tmp_path / "in"), "--output_dir", str(out),
                                         *(args if "--boxes" in args else
                                           ["--detector", "none", *args])])
        assert code == 0, err[-3000:]
        turned = name in ("auto", "boxes_apply")
        height, width = cv2.imread(str(out / "IMG_1.pose.jpg")).shape[:2]
        # Turned back: the landscape original; as stored: lying, portrait.
        assert (height, width) == ((425, 640) if turned else (640, 425)), name
        entry, = json.load(open(out / "predictions.json"))
        if "--boxes" not in args:  # The whole (shown) image is the box.
            assert entry["bbox"] == [0.0, 0.0, float(width), float(height)], name
        assert ("1 photo(s) or video(s) turned upright" in stdout) == turned, stdout
        assert ("not applied (as --boxes is given" in stdout) == (name == "boxes"), stdout
        # predict.py's own predictions.json given back as --boxes is upright: said.
        assert ("is needed when the boxes are of the upright photos, such as predict.py's "
                "predictions.json" in stdout) == (name in ("boxes", "ignore")), stdout
        assert ("not applied (--exif_orientation ignore" in stdout) == (name == "ignore")


def test_a_second_run_does_not_take_the_first_runs_outputs_as_inputs(
        run_predict, checkpoint, coco_dir, tmp_path):
    """``predict.py --input .`` writes into ./predictions: run again, it
    must not run its own annotated copies (``a.pose.pose.jpg``)."""
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg", "b/c.jpg"])
    args = ["--checkpoint", checkpoint, "--input", inputs, "--detector", "none",
            "--output_dir", os.path.join(inputs, "predictions")]
    for run in range(2):
        code, out, err = run_predict(args)
        assert code == 0, err[-3000:]
        assert "2 input(s) processed" in out, out
        assert ("2 file(s) under --input are predict.py's own outputs" in out) == (run == 1)
        entries = json.load(open(tmp_path / "in" / "predictions" / "predictions.json"))
        assert [(e["file_name"], e["image_id"]) for e in entries] == [("a.jpg", 0),
                                                                      ("b/c.jpg", 1)]
    found = sorted(os.path.relpath(os.path.join(d, f), inputs)
                   for d, _, files in os.walk(inputs) for f in files)
    assert found == ["a.jpg", "b/c.jpg", "predictions/.inputs.json", "predictions/.lock",
                     "predictions/a.pose.jpg", "predictions/b/c.pose.jpg",
                     "predictions/predictions.json"]


def test_a_second_run_on_the_same_output_directory_is_refused(run_predict, checkpoint,
                                                              coco_dir, tmp_path):
    """Two runs writing one predictions.json at once interleaved their bytes
    (invalid JSON, both exiting 0): the second now stops at once."""
    from keras_pose.locks import DirectoryLock
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg"])
    out = tmp_path / "out"
    with DirectoryLock(str(out), run="predict.py run", flag="--output_dir"):  # The first run.
        (out / "predictions.json").write_text("[]\n")
        code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs,
                                    "--detector", "none", "--output_dir", str(out)])
        assert code == 1, err[-3000:]
        assert f"{out} is in use by the predict.py run (pid {os.getpid()}" in err
        assert "use another --output_dir" in err and "Traceback" not in err
        assert (out / "predictions.json").read_text() == "[]\n"
        assert sorted(os.listdir(out)) == [".lock", "predictions.json"]
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--detector",
                                "none", "--output_dir", str(out)])  # Released: runs.
    assert code == 0, err[-3000:]
    assert len(json.load(open(out / "predictions.json"))) == 1


def test_an_unquoted_pattern_is_named_not_half_run(coco_dir, tmp_path):
    """``--input photos/*.jpg`` unquoted: the shell passes the first file to
    --input and the rest as arguments. One line saying so, not absl's usage
    screen, and nothing run on the first file alone."""
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg", "b.jpg", "c.jpg"])
    files = [os.path.join(inputs, name) for name in ("a.jpg", "b.jpg", "c.jpg")]
    proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", "x", "--input", *files,
                           "--output_dir", str(tmp_path / "out")], cwd=REPO,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1
    assert f"predict.py: error: 2 file(s) after --input {files[0]}" in proc.stderr
    assert "quote it (--input 'photos/*.jpg')" in proc.stderr
    assert "--[no]track" not in proc.stderr + proc.stdout  # not the whole usage screen
    assert not os.path.exists(tmp_path / "out")


def test_a_run_over_other_inputs_keeps_the_earlier_predictions(run_predict, checkpoint, coco_dir,
                                                               tmp_path):
    """``predict.py --input a.jpg``, then ``--input b.jpg`` into the same
    (default) output folder: a.jpg's results must not be overwritten."""
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg", "b.jpg"])
    out = tmp_path / "out"
    names = []
    for name in ("a.jpg", "b.jpg", "b.jpg"):
        code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input",
                                         os.path.join(inputs, name), "--detector", "none",
                                         "--output_dir", str(out)])
        assert code == 0, err[-3000:]
        names.append(stdout)
    assert "kept as" not in names[0] and "kept as" not in names[2]  # a re-run replaces
    assert (f"note: {out / 'predictions.json'} of an earlier run, with results of other inputs, "
            f"is kept as {out / 'predictions.1.json'}") in names[1]
    assert [e["file_name"] for e in json.load(open(out / "predictions.1.json"))] == ["a.jpg"]
    assert [(e["file_name"], e["path"]) for e in json.load(open(out / "predictions.json"))] == [
        ("b.jpg", os.path.join(inputs, "b.jpg"))]
    assert sorted(os.listdir(out)) == [".inputs.json", ".lock", "a.pose.jpg", "b.pose.jpg",
                                       "predictions.1.json", "predictions.json"]


def test_set_test_flip_test_is_the_flip_default(run_predict, checkpoint, coco_dir, tmp_path):
    """`--set test.flip_test=false` ran the flip test anyway, in silence:
    the config's test.flip_test decides unless --flip/--noflip is given
    (as in evaluate.py); both of them, disagreeing, are refused."""
    inputs = _images(coco_dir, str(tmp_path / "in"), ["a.jpg"])
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a.jpg": [[60, 40, 220, 300]]}))

    def keypoints(name, *flags):
        out = tmp_path / name
        code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                    str(boxes), "--output_dir", str(out), *flags])
        assert code == 0, err[-2000:]
        return [p["keypoints"] for p in json.load(open(out / "predictions.json"))]
    flipped, plain = keypoints("default"), keypoints("noflip", "--noflip")
    assert flipped != plain
    assert keypoints("set", "--set", "test.flip_test=false") == plain
    assert keypoints("same", "--set", "test.flip_test=false", "--noflip") == plain
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--output_dir",
                                str(tmp_path / "both"), "--set", "test.flip_test=false",
                                "--flip"])
    assert code == 1 and "give test.flip_test two values" in err


def _moving_box_clip(path, frames):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (96, 80))
    for i in range(frames):
        frame = np.full((80, 96, 3), 60, np.uint8)
        cv2.rectangle(frame, (20 + 5 * i, 10), (50 + 5 * i, 70), (200, 180, 160), -1)
        writer.write(frame)
    writer.release()
    return str(path)


def test_an_earlier_runs_video_of_the_same_name_keeps_its_outputs(run_predict, checkpoint,
                                                                  tmp_path):
    """A run over other/a.avi after one over in/a.avi, into the same
    --output_dir, replaced the first one's tracking results in silence (for
    photos, predictions.json was kept); a run over the same video again
    replaces its own."""
    out = tmp_path / "out"

    def track(video):
        code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input", video,
                                         "--track", "--detector", "none",
                                         "--output_dir", str(out)])
        assert code == 0, err[-2000:]
        return stdout
    first = _moving_box_clip(tmp_path / "in" / "a.avi", 4)
    track(first)
    track(first)  # The same video again: its own outputs replaced, nothing kept.
    assert sorted(os.listdir(out)) == [".inputs.json", ".lock", "a.avi.frames.json",
                                       "a.avi.pose.avi", "a.avi.posetrack.json",
                                       "predictions.json"]
    stdout = track(_moving_box_clip(tmp_path / "other" / "a.avi", 2))
    assert f"a.avi: {out / 'a.avi.1.frames.json'}" in stdout
    kept = json.load(open(out / "a.avi.1.frames.json"))
    assert len(kept) == 4 and {f["source"] for f in kept} == {first}
    assert len(json.load(open(out / "a.avi.1.posetrack.json"))["images"]) == 4
    assert os.path.isfile(out / "a.avi.1.pose.avi")
    assert len(json.load(open(out / "a.avi.frames.json"))) == 2


def test_an_untracked_run_keeps_an_earlier_tracked_runs_outputs(run_predict, checkpoint,
                                                                 tmp_path):
    """A video tracked, then run again without --track into the same
    --output_dir: the tracked run's PoseTrack JSON was deleted and its
    frames.json (with track ids) replaced, in silence. They are kept as
    a.avi.1.*; an untracked or tracked run after an untracked one replaces it."""
    out, video = tmp_path / "out", _moving_box_clip(tmp_path / "in" / "a.avi", 3)

    def run(*flags):
        code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input", video,
                                         "--detector", "none", "--output_dir", str(out),
                                         *flags])
        assert code == 0, err[-2000:]
        return stdout
    run("--track")
    tracked = json.load(open(out / "a.avi.frames.json"))
    stdout = run()
    assert f"a.avi: {out / 'a.avi.1.frames.json'} (tracked, this run is not)" in stdout
    assert json.load(open(out / "a.avi.1.frames.json")) == tracked
    assert len(json.load(open(out / "a.avi.1.posetrack.json"))["images"]) == 3
    assert os.path.isfile(out / "a.avi.1.pose.avi")
    assert not os.path.exists(out / "a.avi.posetrack.json")
    assert "track_id" not in json.load(open(out / "a.avi.frames.json"))[0]["people"][0]
    run()
    run("--track")
    assert not os.path.exists(out / "a.avi.2.frames.json")
    assert os.path.isfile(out / "a.avi.posetrack.json")


def test_tracking_other_frames_of_a_folder_keeps_the_earlier_frames_outputs(
        run_predict, checkpoint, coco_dir, tmp_path):
    """Frames 0-1 of a folder tracked, then frames 2-3 (a glob) into the same
    --output_dir: the second run replaced the first one's results in
    silence (the same folder was taken for the same input). A run over all
    four frames then replaces the second run's own outputs."""
    folder = tmp_path / "in" / "seq"
    _frames(coco_dir, folder, 4)
    out = tmp_path / "out"

    def track(pattern):
        code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input",
                                         str(folder / pattern), "--track", "--detector",
                                         "none", "--output_dir", str(out)])
        assert code == 0, err[-2000:]
        return stdout

    def names(path):
        return [entry["file_name"] for entry in json.load(open(path))]
    track("00000[01].jpg")
    stdout = track("00000[23].jpg")
    assert f"seq: {out / 'seq.1.frames.json'}" in stdout
    assert names(out / "seq.1.frames.json") == ["000000.jpg", "000001.jpg"]
    assert len(json.load(open(out / "seq.1.posetrack.json"))["images"]) == 2
    assert os.path.isfile(out / "seq.1.pose.avi")
    assert names(out / "seq.frames.json") == ["000002.jpg", "000003.jpg"]
    track("*.jpg")
    assert names(out / "seq.frames.json") == [f"00000{i}.jpg" for i in range(4)]
    assert not os.path.exists(out / "seq.2.frames.json")


def test_a_model_that_cannot_be_tracked_is_refused_before_any_file_moves(
        run_predict, coco_dir, tmp_path):
    """A 1-keypoint model with --track: refused in one line before the first
    frame, and the earlier run's predictions.json stays where it was (it was
    moved to predictions.1.json first)."""
    import tensorflow as tf

    from keras_pose.checkpoint import save_model_checkpoint
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.models import build_model_from_config
    config = apply_overrides(get_experiment("tiny"), [
        "model.image_size=64,64", "model.heatmap_size=16,16", "model.deconv_filters=16,16,16",
        "model.num_keypoints=1", 'data.keypoint_names=["head"]', "data.flip_pairs=[]",
        "data.skeleton=[]", "data.oks_sigmas=[]", "data.upper_body_ids=[0]"])
    tf.keras.utils.set_random_seed(0)
    save_model_checkpoint(build_model_from_config(config.model), config, str(tmp_path / "k1"))
    inputs = _frames(coco_dir, tmp_path / "in" / "seq", 2)
    out = tmp_path / "out"
    out.mkdir()
    earlier = '[{"image_id": 0, "file_name": "mine.jpg"}]'
    (out / "predictions.json").write_text(earlier)
    code, _, err = run_predict(["--checkpoint", str(tmp_path / "k1"), "--input", inputs,
                                "--detector", "none", "--track", "--output_dir", str(out)])
    assert code == 1 and err.count("\n") == 1
    assert "this one has 1: predict without --track" in err
    assert sorted(set(os.listdir(out)) - {".lock"}) == ["predictions.json"]
    assert (out / "predictions.json").read_text() == earlier


def test_a_run_that_reads_no_input_leaves_the_folder_as_it_was(run_predict, checkpoint,
                                                               tmp_path):
    """No input could be read: the earlier run's predictions.json had been
    moved to predictions.1.json and an empty list written in its place; a
    new --output_dir stayed, holding that empty list."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_text("garbage")
    out = tmp_path / "out"
    out.mkdir()
    earlier = '[{"image_id": 0, "file_name": "mine.jpg"}]'
    (out / "predictions.json").write_text(earlier)
    code, stdout, err = run_predict(["--checkpoint", checkpoint, "--input",
                                     str(tmp_path / "in"), "--detector", "none",
                                     "--output_dir", str(out)])
    assert code == 1 and "none of the 1 input(s)" in err
    assert "1 unreadable skipped; nothing written" in stdout
    assert sorted(set(os.listdir(out)) - {".lock"}) == ["predictions.json"]
    assert (out / "predictions.json").read_text() == earlier
    code, _, _ = run_predict(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"),
                              "--detector", "none", "--output_dir", str(tmp_path / "new")])
    assert code == 1 and not (tmp_path / "new").exists()


def test_a_home_folder_in_any_path_flag_is_the_users(run_predict, checkpoint, coco_dir,
                                                     tmp_path, monkeypatch):
    """--output_dir=~/out (no shell expands ~ after '=') wrote into a folder
    named '~' under the working directory; --checkpoint=~/... and --input
    were refused as missing."""
    home = tmp_path / "home"
    shutil.copytree(checkpoint, home / "model")
    _images(coco_dir, home / "photos", ["a.jpg"])
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_predict(["--checkpoint=~/model", "--input=~/photos", "--detector",
                                "none", "--output_dir=~/out"])
    assert code == 0, err[-2000:]
    assert (home / "out" / "a.pose.jpg").is_file() and not (tmp_path / "~").exists()


def test_a_rerun_stopped_before_its_first_image_leaves_the_earlier_results(
        run_predict, checkpoint, coco_dir, tmp_path, monkeypatch):
    """predictions.json was left as [] beside predictions.previous.json: the
    put-back ran only when the run ended normally."""
    from keras_pose.prediction.runner import PredictionRun
    _images(coco_dir, tmp_path / "in", ["a.jpg", "b.jpg"])
    args = ["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--detector", "none",
            "--output_dir", str(tmp_path / "out")]
    assert run_predict(args)[0] == 0
    earlier = (tmp_path / "out" / "predictions.json").read_text()

    def stop(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(PredictionRun, "_poses", stop)
    code, _, err = run_predict(args)
    assert code == 130, err[-2000:]
    assert (tmp_path / "out" / "predictions.json").read_text() == earlier
    assert not (tmp_path / "out" / "predictions.previous.json").exists()


def test_partial_outputs_name_the_model_with_its_runtime_and_precision(script_module,
                                                                      tmp_path):
    """The model line of a partial-output mark: a checkpoint by its real path
    (a symlink resolved), a preset by its name, then the runtime and
    precision given; two runs differing only in --precision are two models."""
    module = script_module(os.path.join(REPO, "predict.py"), "predict_model_name")
    (tmp_path / "ckpt").mkdir()
    os.symlink(tmp_path / "ckpt", tmp_path / "link")
    module.FLAGS.unparse_flags()
    module.FLAGS(["predict.py", "--runtime", "openvino", "--precision", "int8"])
    assert module._model_name(str(tmp_path / "link")) == (
        f"{tmp_path / 'ckpt'} --runtime openvino --precision int8")
    assert module._model_name("simplebaseline_resnet50_coco_256x192") == (
        "simplebaseline_resnet50_coco_256x192 --runtime openvino --precision int8")
    module.FLAGS.unparse_flags()
    module.FLAGS(["predict.py"])
    assert module._model_name(str(tmp_path / "ckpt")) == str(tmp_path / "ckpt")


@pytest.mark.parametrize("flag, value", [
    ("score_threshold", "nan"), ("score_threshold", "inf"), ("score_threshold", "-inf"),
    ("box_threshold", "nan")])
def test_a_threshold_that_is_not_finite_is_refused_before_any_work(flag, value, tmp_path):
    """--score_threshold=nan was a traceback from the drawing, after the
    model loaded and the first image was predicted (predictions.json "[]"
    and predictions.incomplete left); --box_threshold=nan passed absl's
    [0, 1] check (NaN compares false) and failed in the detector."""
    (tmp_path / "in").mkdir()
    proc = subprocess.run([sys.executable, os.path.join(REPO, "predict.py"), "--checkpoint",
                           "ckpt", "--detector", "none", "--input", "in", "--output_dir", "o",
                           f"--{flag}={value}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"--{flag}: {value} is not a finite number: give a number" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert os.listdir(tmp_path) == ["in"]  # No output folder.


@pytest.mark.parametrize("args, named", [
    (["--frames_fps", "5"], "--frames_fps"),
    (["--set", "track.similarity_threshold=0.9"], "--set track.similarity_threshold"),
])
def test_tracker_settings_without_track_are_refused(run_predict, tmp_path, args, named):
    """Without --track they were taken and did nothing, unsaid."""
    code, _, err = run_predict(["--input", str(tmp_path), "--output_dir", str(tmp_path / "o")]
                               + args)
    assert code == 1 and "Traceback" not in err
    assert f"{named}: used by the tracker only; give --track too" in err
