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

from keras_pose import cli

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
def run_predict(script_module, capsys):
    """predict.py's main in this process (no second TensorFlow start-up):
    args -> (exit code, stdout, stderr)."""
    predict = script_module(os.path.join(REPO, "predict.py"), "predict_script")

    def run(args):
        predict.FLAGS.unparse_flags()
        predict.FLAGS(["predict.py", *args])
        code = cli.run("predict.py", predict.work)
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


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


def test_bare_names_that_fit_several_inputs_are_an_error(run_predict, checkpoint, coco_dir,
                                                         tmp_path):
    inputs = _images(coco_dir, str(tmp_path / "in"), ["s1/000000.jpg", "s2/000000.jpg"])
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"000000.jpg": [[1, 2, 30, 40]]}))
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                   str(boxes), "--output_dir", str(tmp_path / "out")])
    assert code == 1 and "ambiguous" in err and "s1/000000.jpg" in err and "s2/000000.jpg" in err


def test_image_ids_come_from_the_annotation_file(run_predict, checkpoint, coco_dir, tmp_path):
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
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", inputs, "--boxes",
                                   str(detections), "--annotations", str(annotations),
                                   "--output_dir", str(out)])
    assert code == 0, err[-2000:]
    predictions = json.load(open(out / "predictions.json"))
    # Image 1 is 27002.jpg by the annotation file (not the digits of its
    # name); 27003 names no image of it, so 27003.jpg has no boxes.
    assert [(p["file_name"], p["image_id"]) for p in predictions] == [("27002.jpg", 1)]


def test_an_unwritable_output_directory_stops_before_any_work(run_predict, checkpoint,
                                                              tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code, _, err = run_predict(["--checkpoint", checkpoint, "--input", str(blocked),
                                   "--detector", "none", "--output_dir",
                                   str(blocked / "out")])
    assert code == 1 and "--output_dir" in err and "not writable" in err


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
