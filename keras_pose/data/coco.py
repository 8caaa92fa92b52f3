"""COCO-format keypoint data: ground-truth boxes and detection results.

Layout (the reference's, also for custom COCO-format data sets)::

    <root>/annotations/person_keypoints_<split>.json
    <root>/annotations/image_info_<split>.json      test splits ("test" in the name)
    <root>/images/<split>/<file_name>               (test-dev<year>: images/test<year>)
    <root>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json

Any COCO-format keypoint set works (CrowdPose, AIC, OCHuman, animals...): K,
the keypoint names and the skeleton come from the categories entry that has
``keypoints``. The files are read and checked by
:mod:`keras_pose.data.coco_files` (every error names the file, the
annotation id and the field); this module builds the person records from
them: ground-truth people with the reference's box cleaning, and detections.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from keras_pose import log as logging
from keras_pose.configs import keypoints as kp
from keras_pose.data.coco_files import (META_KEY, AnnotationError, person_category_ids,
                                        read_annotation_file)
from keras_pose.data.detection_checks import known_size, warn_detection_problems
from keras_pose.data.detection_results import read_detections
from keras_pose.data.records import ARRAY_FIELDS, PersonRecords
from keras_pose.data.transforms import MAX_BOX_TO_IMAGE, box_to_center_scale, boxes_too_large
from keras_pose.json_values import fits_float32
from keras_pose.special_files import FIFO, file_problem, not_a_file, saved_pipe, special_kind

__all__ = ["is_test_split", "annotation_path", "image_dir", "clean_box", "load_coco_gt",
           "load_coco_detections", "detections_from_pipe", "other_splits"]


def is_test_split(split: str, root: Optional[str] = None) -> bool:
    """The reference's rule: a split whose name contains "test" has no public
    ground truth (COCO test-dev2017, test2017). Under ``root``, a split with
    a ``person_keypoints_<split>.json`` and no ``image_info_<split>.json``
    (a data set of one's own with a labelled "test" split) has it."""
    if "test" not in split:
        return False
    if root is None:
        return True
    annotations = os.path.join(root, "annotations")
    return (os.path.isfile(os.path.join(annotations, f"image_info_{split}.json"))
            # exists: a FIFO is read (and named) as the split's annotation file.
            or not os.path.exists(os.path.join(annotations, f"person_keypoints_{split}.json")))


def annotation_path(root: str, split: str) -> str:
    """``person_keypoints_<split>.json``; ``image_info_<split>.json`` for
    test splits (the reference's ``_get_ann_file_keypoint``)."""
    prefix = "image_info" if is_test_split(split, root) else "person_keypoints"
    return os.path.join(root, "annotations", f"{prefix}_{split}.json")


def image_dir(root: str, split: str) -> str:
    """``images/<split>``; COCO's test-dev images live in ``images/test<year>``
    (the reference reads every test split from ``test2017``), used when the
    split's own directory does not exist."""
    own = os.path.join(root, "images", split)
    if split.startswith("test-dev") and not os.path.isdir(own):
        return os.path.join(root, "images", "test" + split[len("test-dev"):])
    return own


def other_splits(root: str) -> str:
    """What the annotation folder holds instead, and the settings that name
    it (``person_keypoints_train.json`` -> ``--set data.train_set=train``)."""
    folder = os.path.join(root, "annotations")
    found = sorted(f for f in os.listdir(folder) if f.endswith(".json")) \
        if os.path.isdir(folder) else []
    if not found:
        return f"; {folder} holds no .json file"
    for name in found:  # The split's file is there, as a pipe: "name its splits" misled.
        special = not_a_file(os.path.join(folder, name))
        if special:
            return f"; {os.path.join(folder, name)} {special}"
    splits = [f[len("person_keypoints_"):-len(".json")] for f in found
              if f.startswith("person_keypoints_")]
    text = f"; {folder} holds {', '.join(found[:10])}"
    if splits:
        train = next((x for x in splits if "train" in x), splits[0])
        test = next((x for x in splits if x != train and "test" not in x), train)
        text += (f": name its splits, e.g. --set data.train_set={train} "
                 f"--set data.test_set={test} (images in images/<split>/)")
    return text


def clean_box(box, width: int, height: int, rule: str = "official"
              ) -> Optional[list[float]]:
    """A ground-truth box cleaned by ``rule`` (``data.gt_box_rule``); None
    when the box is empty.

    - "official" (the reference, lib/dataset/coco.py): x1 = max(0, x),
      x2 = min(W - 1, x1 + max(0, w - 1)), kept if x2 >= x1 (y likewise).
      Quirks kept: a box with x < 0 is shifted right rather than cropped,
      and every box shrinks by one pixel.
    - "mmpose" (mmpose 1.x, base_coco_style_dataset.py): x1 = clip(x, 0,
      W - 1), x2 = clip(x + w, 0, W - 1), kept if x2 - x1 > 0: full size,
      cropped at the border.
    - "mmpose_0x" (mmpose 0.x, topdown_coco_dataset.py): x1 = max(0, x),
      x2 = min(W - 1, x1 + max(0, w)), kept if x2 > x1: full size.

    Returns:
      (x1, y1, x2 - x1, y2 - y1).
    """
    x, y, w, h = (float(v) for v in box)
    if rule == "mmpose":
        x1, y1 = min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0)
        x2, y2 = min(max(x + w, 0.0), width - 1.0), min(max(y + h, 0.0), height - 1.0)
        keep = x2 > x1 and y2 > y1
    elif rule in ("official", "mmpose_0x"):
        shrink = 1.0 if rule == "official" else 0.0
        x1, y1 = max(0.0, x), max(0.0, y)
        x2 = min(width - 1.0, x1 + max(0.0, w - shrink))
        y2 = min(height - 1.0, y1 + max(0.0, h - shrink))
        keep = (x2 >= x1 and y2 >= y1) if rule == "official" else (x2 > x1 and y2 > y1)
    else:
        raise ValueError(f"unknown ground-truth box rule {rule!r}")
    return [x1, y1, x2 - x1, y2 - y1] if keep else None


# ---------------------------------------------------------------------------
# Person records.


def _gt_person(ann: dict, image: Optional[dict], k: int, rule: str
               ) -> tuple[Optional[dict], str]:
    """The kept fields of one annotation, or (None, why it is skipped)."""
    if ann["iscrowd"]:
        return None, "crowd"
    if image is None:
        return None, "unknown image id"
    area_ok = ann["area"] > 0 or rule == "mmpose"  # mmpose 1.x tests no area.
    box = clean_box(ann["bbox"], image["width"], image["height"], rule) if area_ok else None
    if box is None:
        return None, "zero area or empty box"
    keypoints = np.asarray(ann["keypoints"], np.float32).reshape(k, 3)
    if keypoints.max() == 0:
        return None, "no labelled keypoints"
    return {"box": box, "joints": keypoints[:, :2],
            "joints_vis": np.minimum(keypoints[:, 2], 1.0)}, ""


def load_coco_gt(ann_file: str, images_root: str, aspect_ratio: float,
                 padding: float = 1.25, category_ids: Sequence[int] = (),
                 box_rule: str = "official") -> PersonRecords:
    """Ground-truth person records with the reference's cleaning.

    Kept: non-crowd annotations of the chosen keypoint categories (see
    :func:`~keras_pose.data.coco_files.read_annotation_file`) with area > 0
    (not tested by the "mmpose" rule), a non-empty cleaned box and at least
    one labelled keypoint. Every
    dropped annotation is counted by reason and logged.

    Args:
      ann_file: ``person_keypoints_<split>.json``.
      images_root: directory of the split's images.
      aspect_ratio: network input width / height.
      padding: box enlargement (1.25).
      category_ids: keypoint categories to use (empty: the default rule).
      box_rule: how boxes are cleaned (:func:`clean_box`, ``data.gt_box_rule``).

    Raises:
      AnnotationError: see
        :func:`~keras_pose.data.coco_files.read_annotation_file`; also for a
        file without annotations (an image-info file: use detections).
    """
    data = read_annotation_file(ann_file, category_ids, skeleton=False)  # The config's draws.
    meta = data[META_KEY]
    if not meta["has_annotations"]:
        raise AnnotationError(
            f"{ann_file} has no 'annotations' entry: an image-info file (a test split such "
            "as test-dev) has no ground truth; evaluate it with detections "
            "(test.detection_file / --detections)")
    k = meta["num_keypoints"]
    images = {img["id"]: img for img in data["images"]}
    rows: dict[str, list] = {f: [] for f in ARRAY_FIELDS}
    skipped: Counter = Counter(meta["skipped"])
    for ann in data["annotations"]:
        person, reason = _gt_person(ann, images.get(ann["image_id"]), k, box_rule)
        if person is None:
            skipped[reason] += 1
            continue
        image = images[ann["image_id"]]
        center, scale = box_to_center_scale(person["box"], aspect_ratio, padding)
        _append(rows, image_path=os.path.abspath(os.path.join(images_root, image["file_name"])),
                image_id=int(image["id"]), center=center, scale=scale, joints=person["joints"],
                joints_vis=person["joints_vis"], score=1.0,
                area=float(np.prod(scale * 200.0)), box=person["box"],
                category_id=int(ann["category_id"]))
    _warn_degenerate_boxes(ann_file, data["annotations"], images)
    _warn_keypoints_off_image(ann_file, data["annotations"], images, k)
    annotated = sorted({a["image_id"] for a in data["annotations"]} & set(images))
    check_image_sizes([images[i] for i in annotated], images_root, ann_file)
    return _records(rows, meta, meta["keypoint_names"], skipped, ann_file)


def _warn_degenerate_boxes(ann_file: str, annotations: Sequence[dict],
                           images: Mapping[Any, dict]) -> None:
    """Names the annotations whose box has no width or height, or lies
    outside its image. The reference's cleaning keeps the first (a box of
    width 0 at x: a crop that misses the person) and drops the second; both
    were only counted, without an id to find them by."""
    def problem(ann: dict) -> str:
        x, y, w, h = (float(v) for v in ann["bbox"])
        image = images.get(ann["image_id"])
        if w <= 0 or h <= 0:
            return "of no width or height"
        if image is not None and (x >= image["width"] or y >= image["height"]
                                  or x + w <= 0 or y + h <= 0):
            return "outside its image"
        return ""
    found: dict[str, list] = {}
    for ann in annotations:
        if not ann["iscrowd"] and (why := problem(ann)):
            found.setdefault(why, []).append(ann)
    for why, anns in sorted(found.items()):
        logging.warning("%s: %d annotation(s) have a box %s (e.g. annotation id %s, bbox "
                        "%s): cleaned as the reference does (kept as an empty box, or "
                        "dropped); correct the boxes, [x, y, width, height] in pixels",
                        ann_file, len(anns), why, anns[0]["id"], anns[0]["bbox"])


def _warn_keypoints_off_image(ann_file: str, annotations: Sequence[dict],
                              images: Mapping[Any, dict], k: int) -> None:
    """Names the annotations with labelled keypoints outside their image,
    which train as targets no crop holds (all of them: a loss of 0 and
    nothing learnt, in silence), and keypoints all within 0..1 (normalised
    coordinates, not pixels)."""
    off, labelled, largest = [], 0, 0.0
    for ann in annotations:
        image = images.get(ann["image_id"])
        if ann["iscrowd"] or image is None:
            continue
        points = np.asarray(ann["keypoints"], np.float64).reshape(k, 3)
        points = points[points[:, 2] > 0, :2]
        labelled += len(points)
        largest = max(largest, float(np.abs(points).max(initial=0.0)))
        if ((points < 0) | (points > [image["width"], image["height"]])).any():
            off.append(ann)
    if off:
        logging.warning("%s: %d annotation(s) have labelled keypoints outside their image (e.g. "
                        "annotation id %s, image %s): their crops never hold them; keypoints "
                        "are [x, y, visibility] in the image's pixels", ann_file, len(off),
                        off[0]["id"], off[0]["image_id"])
    if labelled and largest <= 1.0:
        logging.warning("%s: all %d labelled keypoints lie within 0..1: normalised coordinates? "
                        "keypoints are in the image's pixels", ann_file, labelled)


def check_image_sizes(images: Sequence[dict], images_root: str, source: str,
                      sample: int = 500) -> int:
    """Warns when image files are not the size their entries give (up to
    ``sample`` of them, spread over the list, headers only); returns how
    many differ. Boxes are clipped to the entry's size, so a wrong size cuts
    or drops people in silence; swapped sizes are what a tool that showed
    EXIF-turned photos writes (its keypoints are then in the turned frame)."""
    from PIL import Image  # Headers only: 0.02 ms an image (cached JPEGs, Zen 5 machine).
    step = max(1, len(images) // sample)
    wrong = []
    for image in images[::step][:sample]:
        path = os.path.join(images_root, image["file_name"])
        if file_problem(path):  # Opened only if a regular file: a FIFO's open waited
            continue  # forever for a writer (the data set's check of its images names it).
        try:
            with Image.open(path) as f:
                width, height = f.size
        except (OSError, ValueError, Image.DecompressionBombError):
            # Missing or unreadable (a header of 900 megapixels was Pillow's
            # traceback out of train.py and evaluate.py): reported elsewhere.
            continue
        if abs(width - image["width"]) > 1 or abs(height - image["height"]) > 1:
            wrong.append(f"{image['file_name']}: entry {image['width']:g}x{image['height']:g}, "
                         f"file {width}x{height}")
    if wrong:
        logging.warning(
            "%s: %d of %d images checked are not the width x height their 'images' entry "
            "gives (%s); boxes are clipped to the entry's size, so people are cut or dropped. "
            "Swapped sizes come from a tool that showed photos turned by their EXIF tag: "
            "save such photos upright (tag removed) and annotate them again, or correct the "
            "entries", source, len(wrong), min(sample, len(images[::step])), "; ".join(wrong[:3]))
    return len(wrong)


def _append(rows: dict[str, list], **values: Any) -> None:
    for name, value in values.items():
        rows[name].append(value)


def _detection_keypoint_names(meta: dict, data: dict, keypoint_names: Sequence[str],
                              ann_file: str) -> tuple[str, ...]:
    """K names for detections: the file's, else the caller's, else COCO's when
    the file is COCO's image info (it has a "person" category)."""
    if meta["keypoint_names"]:
        return meta["keypoint_names"]
    if keypoint_names:
        return tuple(keypoint_names)
    if person_category_ids(data["categories"]):
        return kp.COCO_KEYPOINT_NAMES
    raise AnnotationError(f"{ann_file} has no keypoint category: the keypoint names are "
                          "unknown (give data.keypoint_names)")


# The most a piped detections file may give: COCO results take about 90
# bytes a box, so 1 GiB is over ten million boxes; a writer that never ends
# (cat /dev/zero) stops there, not at a full disk.
MAX_PIPED_DETECTIONS = 2 ** 30


def detections_from_pipe(path: str) -> str:
    """``path``; for a pipe (``--detections <(...)``, a FIFO) a file of what
    it gives, read once: an evaluation reads its detections file twice (the
    boxes, then its digest) and a pipe gives its data once (a FIFO's second
    open waited for another writer). A device or a socket is refused
    (``/dev/zero`` never ends; ``/dev/null`` is no detections).

    Raises:
      AnnotationError: naming the file and its kind, or why it was not read.
    """
    kind = special_kind(path)
    if kind is None:
        return path
    where = f"detections file {path} (--detections / test.detection_file)"
    if kind != FIFO:
        raise AnnotationError(f"{where} {not_a_file(path)}")
    logging.info("Reading the detections of %s, %s, until its writer closes it", path, kind)
    try:
        saved = saved_pipe(path, MAX_PIPED_DETECTIONS, ".json")
    except (OSError, ValueError) as e:
        raise AnnotationError(f"{where}, {kind}: {e}; save the detections into a file") from e
    logging.info("%s read once into %s, which the evaluation's records name", path, saved)
    return saved


def load_coco_detections(det_file: str, ann_file: str, images_root: str,
                         aspect_ratio: float, image_threshold: float = 0.0,
                         padding: float = 1.25, category_ids: Sequence[int] = (),
                         keypoint_names: Sequence[str] = ()) -> PersonRecords:
    """Person records from a COCO detection-results file.

    Boxes are used exactly as given (no cleaning), chosen categories only,
    and dropped below ``image_threshold`` (the reference's ``image_thre``).
    Detections with a box or score not finite (as float32), or a box more
    than ``MAX_BOX_TO_IMAGE`` times its image or as far off it, are dropped
    and counted. Boxes that look like another format than [x, y, w, h] in
    pixels, and images with people but no detection, are warned of
    (:mod:`keras_pose.data.detection_checks`).

    Args:
      det_file: a JSON list of {image_id, category_id, bbox, score}.
      ann_file: the annotation (or image-info) file naming the images.
      images_root: directory of the images.
      aspect_ratio: network input width / height.
      image_threshold: minimum detection score.
      padding: box enlargement (1.25).
      category_ids: categories to use (empty: the file's keypoint categories
        by the default rule, or "person" for an image-info file).
      keypoint_names: K names when ``ann_file`` has no keypoint category
        (default there: COCO's, as the reference).

    Raises:
      AnnotationError: an empty file, a file that is not detection results,
        a malformed entry, or detections of images the annotation file does
        not list.
    """
    detections, dropped = read_detections(det_file)
    data = read_annotation_file(ann_file, category_ids, skeleton=False)  # The config's draws.
    meta = data[META_KEY]
    names = _detection_keypoint_names(meta, data, keypoint_names, ann_file)
    k = len(names)
    images = {img["id"]: img for img in data["images"]}
    rows: dict[str, list] = {f: [] for f in ARRAY_FIELDS}
    skipped: Counter = Counter(dropped)
    for det in detections:
        image = images.get(det["image_id"])
        reason = _detection_skip_reason(det, image, meta["category_ids"], image_threshold)
        if reason:
            skipped[reason] += 1
        else:
            center, scale = box_to_center_scale(det["bbox"], aspect_ratio, padding)
            _append(rows, image_path=os.path.abspath(os.path.join(images_root,
                                                                  image["file_name"])),
                    image_id=int(det["image_id"]), center=center, scale=scale,
                    joints=np.zeros((k, 2), np.float32), joints_vis=np.zeros((k,), np.float32),
                    score=float(det["score"]), area=float(np.prod(scale * 200.0)),
                    box=[float(v) for v in det["bbox"]], category_id=int(det["category_id"]))
    if skipped["image not in the annotation file"] and not rows["image_path"]:
        raise AnnotationError(
            f"{det_file}: none of its {len(detections)} detections is of an image "
            f"listed in {ann_file} (a detections file for other images? --detections, or "
            "test.detection_file, names the detections of the evaluated split)")
    if not rows["image_path"]:
        found = sorted({int(d["category_id"]) for d in detections})
        # Only categories the annotation file has people of can be chosen instead.
        choosable = [c for c in found if c in meta.get("keypoint_category_ids", ())]
        choose = (f", or choose theirs with --set data.category_ids={choosable[0]}"
                  if choosable else
                  f" ({ann_file} has no people of category {found[0]} with these keypoints)")
        other = (f"; its detections are of categories {found[:5]}, the chosen keypoint "
                 f"categories {sorted(meta['category_ids'])}: give detections of those (their "
                 f"category_id){choose}"
                 if skipped["not a chosen keypoint category"] else "")
        raise AnnotationError(
            f"{det_file}: no usable person detection (" + ", ".join(
                f"{reason}: {count}" for reason, count in sorted(skipped.items()))
            + f"); data.image_threshold is {image_threshold}{other}")
    warn_detection_problems(det_file, ann_file, data, rows)
    return _records(rows, meta, names, skipped, det_file)


def _detection_skip_reason(det: dict, image: Optional[dict], category_ids: Sequence[int],
                           image_threshold: float) -> Optional[str]:
    """Why a (well-formed) detection is not evaluated, or None. Garbage is
    dropped and counted: numbers beyond float32 (NaN and Infinity in the
    results JSON), a box more than ``MAX_BOX_TO_IMAGE`` times its image
    (1e30: the reference overflowed into a pose of infinities) or further
    than that off it. Other boxes are used as given, off the image too, as
    the reference does."""
    if det["category_id"] not in category_ids:
        return "not a chosen keypoint category"
    if image is None:
        return "image not in the annotation file"
    if not fits_float32(det["score"]):
        return "score beyond float32"
    if det["score"] < image_threshold:
        return "below image_thre"
    if not all(map(fits_float32, det["bbox"])):
        return "bbox beyond float32"
    size = known_size(image)
    if size is None:
        return None
    width, height = size
    if boxes_too_large(det["bbox"], height, width)[0]:
        return f"box over {MAX_BOX_TO_IMAGE:g} times its image's size"
    x, y = det["bbox"][:2]
    limit = MAX_BOX_TO_IMAGE * max(width, height)
    if not (-limit <= x <= width + limit and -limit <= y <= height + limit):
        return f"box over {MAX_BOX_TO_IMAGE:g} image sizes off its image"
    return None


def _records(rows: dict, meta: dict, names: Sequence[str], skipped: Counter,
             source: str) -> PersonRecords:
    """Logs what was kept and skipped, and builds the records."""
    logging.info("%s: %d people kept, %d skipped%s", source, len(rows["image_path"]),
                 sum(skipped.values()), "" if not skipped else " (" + ", ".join(
                     f"{reason}: {count}" for reason, count in sorted(skipped.items())) + ")")
    names = tuple(names)
    skeleton = meta["skeleton"] or (kp.COCO_SKELETON if names == kp.COCO_KEYPOINT_NAMES else ())
    flip_pairs = meta["flip_pairs"]
    if flip_pairs is None:
        try:  # data.flip_pairs decides in the end; here a quiet best effort.
            flip_pairs = kp.flip_pairs_from_names(names, log=False)
        except ValueError:
            flip_pairs = ()
    return PersonRecords.from_lists(
        rows, len(names), keypoint_names=names, skeleton=tuple(skeleton),
        flip_pairs=tuple(flip_pairs), num_skipped=sum(skipped.values()),
        skipped_reasons=dict(skipped), source=source)
