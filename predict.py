"""Keypoints for the people in your images or videos.

    python predict.py --checkpoint output/tiny --input photo.jpg --output_dir out
    python predict.py --checkpoint model/saved_model --input 'photos/*.jpg' \
        --boxes detections.json --output_dir out
    python predict.py --checkpoint output/tiny --input clip.mp4 --output_dir out

Top-down: people need boxes from a person detector. ``--boxes`` takes a COCO
detection-results JSON (a list of {image_id or file_name, bbox, score},
matched by file name or by the number in it) or a JSON object mapping file
names to lists of [x, y, w, h] boxes; without boxes every image (or frame) is
one person. Outputs: an annotated image per input and ``predictions.json``
(COCO results plus ``file_name``); for a video, an annotated video and
``<name>.frames.json``.
"""

import glob
import json
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Checkpoint, model directory or SavedModel.")
flags.DEFINE_string("input", None, "An image, a folder, a glob pattern or a video.")
flags.DEFINE_string("output_dir", "predictions", "Where the outputs go.")
flags.DEFINE_string("boxes", None, "Person boxes: COCO detection results or {file: boxes}.")
flags.DEFINE_boolean("flip", True, "Flip test.")
flags.DEFINE_float("score_threshold", 0.2, "Keypoints drawn above this score.")
flags.DEFINE_float("box_threshold", 0.0, "Detections below this score are ignored.")
flags.DEFINE_multi_string("set", [], "Config override section.field=value of the checkpoint's "
                          "config, e.g. test.shift_heatmap=false (repeatable).")
flags.mark_flags_as_required(["checkpoint", "input"])

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")


class InputError(ValueError):
    pass


def list_inputs(spec: str) -> list[str]:
    if os.path.isdir(spec):
        files = sorted(os.path.join(spec, f) for f in os.listdir(spec)
                       if f.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS))
    elif os.path.isfile(spec):
        files = [spec]
    else:
        files = sorted(glob.glob(spec))
    if not files:
        raise InputError(f"--input {spec}: no image or video found")
    return files


def load_boxes(path: str) -> dict:
    """{key: [(box, score), ...]} keyed by file name and by image id."""
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError as e:
        raise InputError(f"boxes file {path} does not exist") from e
    except json.JSONDecodeError as e:
        raise InputError(f"boxes file {path} is not valid JSON: {e}") from e
    table: dict = {}
    if isinstance(data, dict):
        for name, boxes in data.items():
            try:
                table[os.path.basename(name)] = [([float(v) for v in b[:4]], 1.0) for b in boxes]
            except (TypeError, ValueError, IndexError) as e:
                raise InputError(f"{path}: boxes of {name!r} are not [x, y, w, h] lists") from e
        return table
    if not isinstance(data, list):
        raise InputError(f"{path}: expected COCO detection results (a list) or "
                         "{file name: [[x, y, w, h], ...]}")
    for i, det in enumerate(data):
        if not isinstance(det, dict) or "bbox" not in det or not (
                "image_id" in det or "file_name" in det):
            raise InputError(f"{path}: entry {i} is not a detection with bbox and "
                             "image_id or file_name")
        if det.get("category_id", 1) != 1 or det.get("score", 1.0) < FLAGS.box_threshold:
            continue
        key = os.path.basename(det["file_name"]) if "file_name" in det else int(det["image_id"])
        table.setdefault(key, []).append(([float(v) for v in det["bbox"]],
                                          float(det.get("score", 1.0))))
    return table


def boxes_for(table, path):
    if table is None:
        return None, None
    name = os.path.basename(path)
    entries = table.get(name)
    if entries is None:
        digits = re.findall(r"\d+", os.path.splitext(name)[0])
        entries = table.get(int(digits[-1])) if digits else None
    entries = entries or []
    return [b for b, _ in entries], [s for _, s in entries]


def coco_results(result, image_id, file_name):
    out = []
    for kp, ks, score, box in zip(result.keypoints, result.keypoint_scores, result.scores,
                                  result.boxes):
        flat = [round(float(v), 2) for xy, s in zip(kp, ks) for v in (*xy, s)]
        out.append({"image_id": image_id, "file_name": file_name, "category_id": 1,
                    "keypoints": flat, "score": round(float(score), 4),
                    "bbox": [round(float(v), 2) for v in box]})
    return out


def run_video(predictor, path, table, tqdm):
    import cv2
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise InputError(f"{path}: cannot be opened as a video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    stem = os.path.splitext(os.path.basename(path))[0]
    out_path = os.path.join(FLAGS.output_dir, f"{stem}.annotated.avi")
    writer, frames = None, []
    boxes, scores = boxes_for(table, path)
    for index in tqdm(range(total) if total else iter(int, 1), desc=os.path.basename(path)):
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        result = predictor.predict(rgb, boxes=boxes or None, flip=FLAGS.flip,
                                   box_scores=scores or None)
        drawn = predictor.draw(rgb, result, FLAGS.score_threshold)
        if writer is None:
            writer = cv2.VideoWriter(out_path, cv2.VideoWriter_fourcc(*"MJPG"), fps,
                                     (frame.shape[1], frame.shape[0]))
        writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        frames.append({"frame": index, "people": coco_results(result, index, path)})
    capture.release()
    if writer is not None:
        writer.release()
    with open(os.path.join(FLAGS.output_dir, f"{stem}.frames.json"), "w") as f:
        json.dump(frames, f)
    return len(frames)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import cv2
    from tqdm import tqdm
    from keras_pose.data.images import ImageReadError, read_image
    from keras_pose.predictor import Predictor
    try:
        inputs = list_inputs(FLAGS.input)
        table = load_boxes(FLAGS.boxes) if FLAGS.boxes else None
        predictor = Predictor.from_checkpoint(FLAGS.checkpoint, FLAGS.set)
    except (ValueError, OSError) as e:
        print(f"predict.py: error: {e}", file=sys.stderr)
        return 1
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    results, failed, done = [], [], 0
    for index, path in enumerate(tqdm(inputs, desc="images", disable=len(inputs) < 2)):
        try:
            if path.lower().endswith(VIDEO_EXTENSIONS):
                frames = run_video(predictor, path, table, tqdm)
                logging.info("%s: %d frames", path, frames)
                done += 1
                continue
            image = read_image(path)
        except (ImageReadError, InputError) as e:
            logging.error("skipping %s", e)
            failed.append(str(e))
            continue
        boxes, scores = boxes_for(table, path)
        if table is not None and not boxes:
            logging.warning("%s: no boxes in %s; using the whole image", path, FLAGS.boxes)
        result = predictor.predict(image, boxes=boxes or None, flip=FLAGS.flip,
                                   box_scores=scores or None)
        drawn = predictor.draw(image, result, FLAGS.score_threshold)
        stem = os.path.splitext(os.path.basename(path))[0]
        cv2.imwrite(os.path.join(FLAGS.output_dir, f"{stem}.pose.jpg"),
                    cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        digits = re.findall(r"\d+", stem)
        image_id = int(digits[-1]) if digits else index
        results += coco_results(result, image_id, os.path.basename(path))
        done += 1
    with open(os.path.join(FLAGS.output_dir, "predictions.json"), "w") as f:
        json.dump(results, f)
    print(f"{done} input(s) processed, {len(failed)} unreadable skipped; "
          f"{len(results)} people in {os.path.join(FLAGS.output_dir, 'predictions.json')}")
    for message in failed:
        print(f"  skipped: {message}")
    return 0


if __name__ == "__main__":
    app.run(main)
