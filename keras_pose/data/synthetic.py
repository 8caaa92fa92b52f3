"""An embedded synthetic COCO-format keypoint data set.

Stick-and-blob people with the 17 COCO keypoints, one to three per image, in
varied poses and sizes, overlapping one another and cut by the image border,
on random textured backgrounds. Everyone faces the camera (their left side is
on the image's right), so left and right are learnable from the image, as
they are in COCO. Generated from a seed, deterministically (the same seed
gives byte-identical files), in a few seconds, into the COCO layout::

    <root>/annotations/person_keypoints_{train,val}.json
    <root>/images/{train,val}/<id>.jpg
    <root>/person_detection_results/synthetic_val_detections.json

It lets a fresh machine run training, COCO evaluation and export end to end
with no download, through exactly the code paths of real COCO.

Visibility follows COCO: v=2 visible, v=1 labelled but hidden by a person
drawn in front, v=0 (with x = y = 0) outside the image.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
from typing import Optional

import cv2
import numpy as np

from keras_pose import log as logging
from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from keras_pose.errors import UserError
from keras_pose.files import dangling_link, write_directory_atomically

FORMAT_VERSION = 2
_MARKER = "SYNTHETIC_COMPLETE.json"

# Limbs drawn as thick lines: (joint a, joint b, side) with side L/R/C.
_LIMBS = (
    (5, 7, "L"), (7, 9, "L"), (6, 8, "R"), (8, 10, "R"),
    (11, 13, "L"), (13, 15, "L"), (12, 14, "R"), (14, 16, "R"),
)


def _rot(angle: float) -> np.ndarray:
    return np.array([np.sin(angle), np.cos(angle)])  # 0 rad points down (+y)


def make_pose(rng: np.random.Generator, height: float, center_x: float,
              feet_y: float) -> np.ndarray:
    """17 COCO joints (x, y) of a person facing the camera.

    The person's left is on the image's right. ``height`` is head top to
    feet in pixels.
    """
    h = height
    tilt = rng.normal(0, 0.12)
    hip = np.array([center_x, feet_y - 0.48 * h])
    up = -_rot(tilt)  # unit vector from hips to neck
    neck = hip + up * 0.30 * h
    side = np.array([-up[1], up[0]])  # unit vector toward the image right
    joints = np.zeros((17, 2))
    joints[5] = neck + side * 0.12 * h  # left shoulder (image right)
    joints[6] = neck - side * 0.12 * h
    joints[11] = hip + side * 0.09 * h
    joints[12] = hip - side * 0.09 * h
    head = neck + up * 0.11 * h
    turn = rng.uniform(-0.3, 0.3)  # head turn shifts the face sideways
    joints[0] = head + side * turn * 0.04 * h
    joints[1] = joints[0] + side * 0.032 * h + up * 0.03 * h
    joints[2] = joints[0] - side * 0.032 * h + up * 0.03 * h
    joints[3] = head + side * 0.075 * h + up * 0.01 * h
    joints[4] = head - side * 0.075 * h + up * 0.01 * h
    for shoulder, elbow, wrist, sign in ((5, 7, 9, 1), (6, 8, 10, -1)):
        a = tilt + sign * rng.uniform(-0.3, 2.2)  # away from the body
        joints[elbow] = joints[shoulder] + _rot(a) * 0.17 * h
        b = a + sign * rng.uniform(-0.2, 1.8)
        joints[wrist] = joints[elbow] + _rot(b) * 0.15 * h
    for hip_j, knee, ankle, sign in ((11, 13, 15, 1), (12, 14, 16, -1)):
        a = tilt + sign * rng.uniform(-0.15, 0.6)
        joints[knee] = joints[hip_j] + _rot(a) * 0.24 * h
        b = a - sign * rng.uniform(0.0, 0.9) * (1 if rng.random() < 0.5 else -0.3)
        joints[ankle] = joints[knee] + _rot(b) * 0.23 * h
    return joints


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    c0, c1 = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    t = np.linspace(0, 1, width if rng.random() < 0.5 else height)
    ramp = c0[None] * (1 - t[:, None]) + c1[None] * t[:, None]
    if len(t) == width:
        image = np.broadcast_to(ramp[None], (height, width, 3)).copy()
    else:
        image = np.broadcast_to(ramp[:, None], (height, width, 3)).copy()
    for _ in range(rng.integers(3, 9)):
        color = rng.uniform(0, 255, 3).tolist()
        if rng.random() < 0.5:
            p = rng.integers(0, [width, height])
            q = p + rng.integers(10, 80, 2)
            cv2.rectangle(image, tuple(int(v) for v in p), tuple(int(v) for v in q), color, -1)
        else:
            p = rng.integers(0, [width, height])
            cv2.circle(image, tuple(int(v) for v in p), int(rng.integers(5, 40)), color, -1)
    noise = rng.normal(0, 8, (height, width, 1))
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _draw_person(image: np.ndarray, mask: np.ndarray, joints: np.ndarray, height: float,
                 rng: np.random.Generator) -> None:
    """Draws one person on ``image`` and its silhouette on ``mask``."""
    pt = lambda p: (int(round(p[0] * 4)), int(round(p[1] * 4)))  # noqa: E731  (shift=2)
    body = rng.uniform(40, 220, 3)
    left = np.clip(body + np.array([90, -60, -60]) * rng.choice([-1, 1]), 0, 255)
    right = np.clip(body + np.array([-60, -60, 90]) * rng.choice([-1, 1]), 0, 255)
    skin = rng.uniform(120, 240, 3)
    limb_w = max(3, int(0.08 * height))
    torso = np.array([joints[5], joints[6], joints[12], joints[11]])
    for canvas, colors in ((image, None), (mask, 255)):
        def col(c):
            return colors if colors is not None else [float(v) for v in c]
        cv2.fillConvexPoly(canvas, (torso * 4).round().astype(np.int32), col(body),
                           lineType=cv2.LINE_AA, shift=2)
        for a, b, side in _LIMBS:
            color = left if side == "L" else right
            cv2.line(canvas, pt(joints[a]), pt(joints[b]), col(color), limb_w,
                     lineType=cv2.LINE_AA, shift=2)
        neck = (joints[5] + joints[6]) / 2
        cv2.line(canvas, pt(neck), pt(joints[0]), col(skin), max(2, limb_w // 2), cv2.LINE_AA, 2)
        head_c = (joints[3] + joints[4]) / 2
        cv2.circle(canvas, pt(head_c), int(0.085 * height * 4), col(skin), -1, cv2.LINE_AA, 2)
        for j, c in ((9, left), (10, right), (15, left), (16, right)):
            cv2.circle(canvas, pt(joints[j]), int(limb_w * 0.8 * 4), col(c * 0.6), -1,
                       cv2.LINE_AA, 2)
    r = max(1, int(0.014 * height))
    cv2.circle(image, pt(joints[0]), r * 4, (200, 40, 40), -1, cv2.LINE_AA, 2)
    for j in (1, 2):
        cv2.circle(image, pt(joints[j]), r * 4, (20, 20, 20), -1, cv2.LINE_AA, 2)
    for j, c in ((3, left), (4, right)):
        cv2.circle(image, pt(joints[j]), int(r * 1.5 * 4), [float(v) for v in c], -1,
                   cv2.LINE_AA, 2)


def generate_image(rng: np.random.Generator, width: int = 320, height: int = 240
                   ) -> tuple[np.ndarray, list[dict]]:
    """One RGB image with 1-3 people and their COCO annotations (no ids)."""
    image = _background(rng, width, height)
    count = int(rng.integers(1, 4))
    people = []
    for i in range(count):
        ph = float(rng.uniform(0.55, 1.0) * height)
        # One horizontal slot each, with jitter: people overlap partly.
        cx = float((i + 0.5 + rng.uniform(-0.45, 0.45)) / count * width)
        feet = float(rng.uniform(0.8, 1.05) * height)
        people.append((ph, make_pose(rng, ph, cx, feet)))
    people.sort(key=lambda p: p[1][:, 1].max())  # nearer (lower feet) drawn last
    masks = []
    for ph, joints in people:
        mask = np.zeros((height, width), np.uint8)
        _draw_person(image, mask, joints, ph, rng)
        masks.append(mask)
    annotations = []
    for i, (ph, joints) in enumerate(people):
        visible_mask = masks[i].copy()
        for later in masks[i + 1:]:
            visible_mask[later > 0] = 0
        ys, xs = np.nonzero(visible_mask)
        if len(xs) < 30:
            continue  # hidden behind others: not annotated (as in COCO)
        keypoints = []
        for x, y in joints:
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
                keypoints += [0, 0, 0]
                continue
            occluded = any(m[yi, xi] > 0 for m in masks[i + 1:])
            keypoints += [round(float(x), 2), round(float(y), 2), 1 if occluded else 2]
        num = sum(1 for v in keypoints[2::3] if v > 0)
        if num == 0:
            continue
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
        annotations.append({
            "bbox": [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)],
            "area": float(len(xs)), "keypoints": keypoints, "num_keypoints": num,
            "iscrowd": 0, "category_id": 1,
        })
    return image, annotations


def _category() -> dict:
    return {"id": 1, "name": "person", "supercategory": "person",
            "keypoints": list(COCO_KEYPOINT_NAMES),
            "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}


def _write_jpeg(path: str, image: np.ndarray) -> None:
    """``image`` (H, W, 3) uint8 RGB as a JPEG file at ``path``. Encoded by
    OpenCV, written by Python: ``cv2.imwrite`` crashed (a segmentation
    fault) on a ``--data_dir`` whose name is not UTF-8, and reported no
    write error (a full disk)."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:  # Never for a uint8 RGB image; said rather than an empty file.
        raise RuntimeError(f"OpenCV could not encode {path} as JPEG")
    with open(path, "wb") as f:
        f.write(encoded.tobytes())


def write_split(root: str, split: str, num_images: int, seed: int,
                first_id: int) -> list[dict]:
    """Writes one split (images + annotation JSON); returns its annotations."""
    rng = np.random.default_rng(seed)
    image_dir = os.path.join(root, "images", split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        image_id = first_id + i
        image, anns = generate_image(rng)
        name = f"{image_id:012d}.jpg"
        _write_jpeg(os.path.join(image_dir, name), image)
        images.append({"id": image_id, "file_name": name, "width": image.shape[1],
                       "height": image.shape[0]})
        for ann in anns:
            ann.update(id=len(annotations) + first_id * 10 + 1, image_id=image_id)
            annotations.append(ann)
    data = {"info": {"description": "keras-pose synthetic keypoints", "version": FORMAT_VERSION,
                     "seed": seed},
            "licenses": [], "images": images, "annotations": annotations,
            "categories": [_category()]}
    with open(os.path.join(root, "annotations", f"person_keypoints_{split}.json"), "w") as f:
        json.dump(data, f)
    return annotations


def write_detections(root: str, annotations: list[dict], image_ids: list[int],
                     seed: int) -> str:
    """Detection-style boxes for a split: jittered true boxes with scores,
    plus a few low-scoring false positives, in COCO results format."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in annotations:
        x, y, w, h = ann["bbox"]
        jitter = rng.normal(0, 0.05, 4) * [w, h, w, h]
        results.append({"image_id": ann["image_id"], "category_id": 1,
                        "bbox": [round(float(v), 2) for v in np.array([x, y, w, h]) + jitter],
                        "score": round(float(rng.uniform(0.6, 1.0)), 4)})
    for image_id in image_ids:
        if rng.random() < 0.3:
            box = rng.uniform([0, 0, 20, 40], [250, 150, 70, 120])
            results.append({"image_id": image_id, "category_id": 1,
                            "bbox": [round(float(v), 2) for v in box],
                            "score": round(float(rng.uniform(0.05, 0.4)), 4)})
    path = detections_file(root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f)
    return path


def detections_file(root: str) -> str:
    """The set's detections of its validation people (as the ``tiny``
    experiment's ``test.detection_file`` names them, under ``root``)."""
    return os.path.join(root, "person_detection_results", "synthetic_val_detections.json")


def generate(root: str, num_train: int = 400, num_val: int = 50, seed: int = 0,
             train_split: str = "train", val_split: str = "val") -> None:
    """Writes the whole data set into ``root`` (replaced atomically)."""
    def write(tmp: str) -> None:
        write_split(tmp, train_split, num_train, seed, first_id=1)
        val_anns = write_split(tmp, val_split, num_val, seed + 1, first_id=100_000)
        write_detections(tmp, val_anns, list(range(100_000, 100_000 + num_val)), seed + 2)
        with open(os.path.join(tmp, _MARKER), "w") as f:
            json.dump(_params(num_train, num_val, seed, train_split, val_split), f)

    # No fsync: the set is regenerated whenever its marker does not match.
    write_directory_atomically(root, write, fsync=False)


def _read_marker(path: str) -> Optional[dict]:
    """The settings a marker records; None when it is not a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _generated_paths(params: dict) -> set[str]:
    """Every file and folder :func:`generate` writes with ``params``, relative
    to its root."""
    train, val = params["train_split"], params["val_split"]
    paths = {_MARKER, "images", "annotations", "person_detection_results",
             f"images/{train}", f"images/{val}",
             f"annotations/person_keypoints_{train}.json",
             f"annotations/person_keypoints_{val}.json",
             os.path.relpath(detections_file("."), ".")}
    paths.update(f"images/{train}/{1 + i:012d}.jpg" for i in range(int(params["num_train"])))
    paths.update(f"images/{val}/{100_000 + i:012d}.jpg" for i in range(int(params["num_val"])))
    return paths


def _refuse_if_foreign_files(root: str, earlier: Optional[dict], wanted: dict) -> None:
    """Stops before a synthetic data set of other settings is generated again
    over files it did not write: the whole folder is replaced (a user's
    image-info file, detections or linked images were deleted).

    Raises:
      FileExistsError: naming the settings that differ and a foreign file.
    """
    try:
        generated = _generated_paths(earlier) if earlier else set()
    except (KeyError, TypeError, ValueError):
        generated = set()
    foreign = []
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            if rel not in generated:
                foreign.append(rel)
        dirs[:] = [d for d in dirs if os.path.relpath(os.path.join(folder, d), root)
                   .replace(os.sep, "/") in generated]
    if not foreign:
        return
    foreign.sort()
    changed = ", ".join(f"{k} {(earlier or {}).get(k)!r} -> {v!r}" for k, v in wanted.items()
                        if (earlier or {}).get(k) != v)
    raise FileExistsError(
        errno.EEXIST, f"{root} is a synthetic data set of other settings ({changed}) that also "
        f"holds files it did not generate ({', '.join(foreign[:3])}"
        f"{' ...' if len(foreign) > 3 else ''}): generating the one asked for replaces the "
        "whole folder; give another data.root / --data_dir, or move those files out", root)


def _params(num_train, num_val, seed, train_split, val_split) -> dict:
    return {"version": FORMAT_VERSION, "num_train": num_train, "num_val": num_val,
            "seed": seed, "train_split": train_split, "val_split": val_split}


class SplitsError(UserError, ValueError):
    """Splits the synthetic data set cannot be generated with."""


def _holds_splits(earlier: Optional[dict], wanted: dict) -> bool:
    """Whether the data set ``earlier`` made holds the splits ``wanted`` asks
    for, under either role (evaluating its train split: ``data.test_set=train``
    generated the set again, both splits of val's images into ``train``)."""
    if not earlier:
        return False
    same = all(earlier.get(k) == wanted[k] for k in ("version", "num_train", "num_val", "seed"))
    return same and {wanted["train_split"], wanted["val_split"]} <= {
        earlier.get("train_split"), earlier.get("val_split")}


def ensure_dataset(root: str, num_train: int = 400, num_val: int = 50, seed: int = 0,
                   train_split: str = "train", val_split: str = "val") -> bool:
    """Generates the data set unless ``root`` already holds this exact one.

    Returns:
      True when it generated the data set.

    Raises:
      FileExistsError: when ``root`` holds something that is not a synthetic
        data set (nothing of the user's is overwritten).
    """
    if os.path.exists(root) and not os.path.isdir(root):  # It was moved aside, then deleted.
        raise FileExistsError(errno.ENOTDIR, f"{root} is a file, not a folder: give another "
                              "data.root / --data_dir for --dataset synthetic (the file is left "
                              "alone)", root)
    link = dangling_link(root)
    if link:  # Was "Not a directory: ROOT" (or "File exists: LINK" below it).
        raise FileNotFoundError(errno.ENOENT, f"{link} is a link to {os.readlink(link)}, which "
                                "does not exist: create that folder, or give another data.root "
                                "/ --data_dir for --dataset synthetic (the link is left alone)",
                                root)
    marker = os.path.join(root, _MARKER)
    wanted = _params(num_train, num_val, seed, train_split, val_split)
    marked = os.path.isfile(marker)
    earlier = _read_marker(marker) if marked else None
    there = marked and (earlier == wanted or _holds_splits(earlier, wanted))
    if marked and not there:
        _refuse_if_foreign_files(root, earlier, wanted)
    elif not marked and os.path.isdir(root) and os.listdir(root):
        # errno and filename: a user's problem, one line (was a traceback).
        raise FileExistsError(
            errno.EEXIST, f"{root} exists and is not a synthetic data set; give another "
            "data.root / --data_dir for --dataset synthetic (its files are left alone)", root)
    reader = _reader_lock(os.path.realpath(root))  # This process reads the set from here on.
    if there:
        return False
    if train_split == val_split:  # generate() would write both into one split.
        raise SplitsError(f"data.train_set and data.test_set are both {train_split!r}: the "
                         f"synthetic data set in {root} is generated with two splits of "
                         "different names (its train split can be evaluated once it exists)")
    if marked:  # Another set of these files: none may read them now.
        _take_alone(reader, root, earlier, wanted)
    logging.info("Generating the synthetic data set (%d train, %d val images) in %s",
                 num_train, num_val, root)
    try:
        generate(root, num_train, num_val, seed, train_split, val_split)
    finally:
        _share(reader)
    return True


@functools.cache
def _reader_lock(real_root: str):
    """This process's shared lock (flock) on ``.<name>.readers`` beside the
    set, held to the process's end: the set is read by it (train.py,
    evaluate.py, ...). None where no lock can be taken (no flock, a folder
    that cannot be written): the set is then not guarded."""
    try:
        import fcntl
        parent, name = os.path.split(real_root)
        os.makedirs(parent, exist_ok=True)  # Generating the set makes it anyway.
        lock = open(os.path.join(parent, f".{name}.readers"), "a")
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
    except OSError:
        lock.close()
        return None
    return lock


def _take_alone(reader, root: str, earlier: Optional[dict], wanted: dict) -> None:
    """This process's lock on the set made exclusive before its files are
    replaced, or FileExistsError: another process reads them (a running
    train.py lost half its images, its validations the rest, exit code 0)."""
    if reader is None:
        return
    import fcntl
    try:
        fcntl.flock(reader, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        changed = ", ".join(f"{k} {(earlier or {}).get(k)!r} -> {v!r}" for k, v in
                            wanted.items() if (earlier or {}).get(k) != v)
        raise FileExistsError(
            errno.EBUSY, f"{root} is read by another run (a train.py or evaluate.py still "
            f"running): generating it again with other settings ({changed}) would replace its "
            "images under it; give another --data_dir, or run again once it ends", root) from None


def _share(reader) -> None:
    if reader is not None:
        import fcntl
        with contextlib.suppress(OSError):
            fcntl.flock(reader, fcntl.LOCK_SH)
