"""Reading and checking COCO-format JSON files: :func:`read_annotation_file`
reads, validates and normalises a whole keypoint annotation file once, before
any training (every error names the file, the annotation id and the field;
``area``, ``num_keypoints`` and ``iscrowd`` are filled in as pycocotools
computes them). Detection results: :mod:`keras_pose.data.detection_results`;
person records: :mod:`keras_pose.data.coco`.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from typing import Any, Callable, Optional, Sequence

from keras_pose import log as logging
from keras_pose.configs import keypoints as kp
from keras_pose.errors import MissingFileError, UserError
from keras_pose.special_files import gib, not_a_file, not_text
from keras_pose.json_values import NUMBER_TYPES, all_finite, fits_int64, is_int

META_KEY = "keras_pose"  # Where read_annotation_file puts what it derived.


class AnnotationError(UserError, ValueError):
    """An annotation file that cannot be used; names the file and problem."""


def read_json(path: str) -> Any:
    """Reads a JSON file whole, with errors that name it."""
    problem = not_a_file(path)  # A FIFO's open waited forever; /dev/zero filled the memory.
    if not problem and not os.path.isfile(path):
        raise MissingFileError(f"annotation file {path} does not exist")
    problem = problem or not_text(path)  # 20 GB of a sparse file's zeros: a MemoryError.
    if problem:
        raise AnnotationError(f"{path} {problem}")
    try:
        with open(path, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path} is not valid JSON: {e}") from e
    except MemoryError:  # Raised below, once the text read is freed.
        size = gib(os.path.getsize(path))
    raise AnnotationError(f"{path} ({size}) holds more JSON than this machine's memory can "
                          "read: is it the right file?")


# ---------------------------------------------------------------------------
# Validation helpers.


def numbers_problem(values: Any, length: Optional[int], what: str,
                     finite: bool = True) -> Optional[str]:
    """Why ``values`` is not a list of ``length`` (finite) numbers (None: it is)."""
    if not isinstance(values, list):
        return f"{what} must be a list of numbers, got {type(values).__name__} {values!r:.60}"
    if length is not None and len(values) != length:
        return f"{what} has {len(values)} values, expected {length}"
    if not set(map(type, values)) <= NUMBER_TYPES:
        bad = next(v for v in values if type(v) not in NUMBER_TYPES)
        return f"{what} has a non-number {bad!r} ({type(bad).__name__})"
    if finite and not all_finite(values):
        return f"{what} has a non-finite value ({values!r:.120})"
    return None


def _check_top_level(data: Any, path: str) -> None:
    if not isinstance(data, dict):
        raise AnnotationError(f"{path} is not a COCO annotation file (top level is "
                              f"a {type(data).__name__}, expected an object)")
    for key in ("images", "categories"):
        if key not in data:
            raise AnnotationError(f"{path} is not a COCO annotation file: no '{key}' entry")
        if not isinstance(data[key], list):
            raise AnnotationError(f"{path}: '{key}' must be a list")
    _check_category_ids(data["categories"], path)
    if "annotations" in data and not isinstance(data["annotations"], list):
        raise AnnotationError(f"{path}: 'annotations' must be a list")


def _index_images(images: list, path: str) -> dict[int, dict]:
    """Images by id; each needs an integer id, a file name and a size."""
    by_id: dict[int, dict] = {}
    for number, image in enumerate(images):
        where = f"{path}: image #{number}"
        if not isinstance(image, dict):
            raise AnnotationError(f"{where} is not an object: {image!r:.80}")
        if not is_int(image.get("id")):  # The value shown: 785.0 or "img785" is the fix.
            raise AnnotationError(f"{where} ({image.get('file_name')!r:.80}) has no integer "
                                  f"'id': {image.get('id')!r:.80} (ids are integers, as each "
                                  "annotation's 'image_id')")
        where = f"{path}: image id {image['id']}"
        if not fits_int64(image["id"]):
            raise AnnotationError(f"{where} does not fit a 64-bit integer (ids are kept as "
                                  "int64): renumber the images (and their annotations' image_id)")
        if image["id"] in by_id:
            raise AnnotationError(f"{where} appears twice in 'images'")
        if not isinstance(image.get("file_name"), str):
            raise AnnotationError(f"{where} has no 'file_name' string")
        for field in ("width", "height"):
            value = image.get(field)
            if value is None:
                raise AnnotationError(f"{where} has no '{field}' (the image's size in pixels, "
                                      "required: boxes are clipped to it)")
            if type(value) not in NUMBER_TYPES or not math.isfinite(value) or value <= 0:
                raise AnnotationError(f"{where}: '{field}' must be a number > 0, got {value!r}")
        by_id[image["id"]] = image
    return by_id


# ---------------------------------------------------------------------------
# Categories.


def _category_name(cat: dict) -> str:
    return f"category {cat.get('id')} ({cat.get('name', '?')!r})"


def _normalise_category(cat: dict, path: str, skeleton: bool = True) -> dict:
    """Checks a keypoint category; returns names, 0-based skeleton, flip pairs.

    The category's ``skeleton`` is rewritten 1-based (COCO's convention) in
    place, so that tools reading the normalised dict as COCO see it right.
    With ``skeleton`` False it is not read (the config gives the limbs) and
    the returned skeleton is empty.
    """
    where = f"{path}: {_category_name(cat)}"
    names = cat["keypoints"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise AnnotationError(f"{where}: 'keypoints' must be a list of names")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # Flip pairs, sigmas and evaluation go by name: one per keypoint.
        raise AnnotationError(f"{where}: 'keypoints' names {twice[0]!r} more than once "
                              f"(at {[i for i, n in enumerate(names) if n == twice[0]]}); "
                              "every keypoint needs a name of its own")
    limbs = _file_skeleton(cat, names, where) if skeleton else ()
    try:
        flip_entry = cat.get("flip_pairs", cat.get("swap"))  # []: none, not "absent".
        flip_pairs = None if flip_entry is None else kp.flip_pairs_from_entry(
            flip_entry, names, f"{where} '{'flip_pairs' if 'flip_pairs' in cat else 'swap'}'")
    except ValueError as e:
        raise AnnotationError(str(e)) from e
    if skeleton:
        cat["skeleton"] = [[a + 1, b + 1] for a, b in limbs]
    return {"keypoint_names": tuple(names), "skeleton": limbs, "flip_pairs": flip_pairs}


def _file_skeleton(cat: dict, names: Sequence[str], where: str) -> tuple:
    """The category's skeleton, 0-based; an error naming the limb and the
    override that wins over it when it does not fit the K keypoints. Indices
    that fit both bases are read in the one the names settle, else 1-based."""
    pairs = cat.get("skeleton") or []
    try:
        by_names = kp.skeleton_base_from_names(pairs, names, f"{where} 'skeleton'")
        return kp.zero_based_pairs(
            pairs, len(names), f"{where} 'skeleton'", 1 if by_names is None else by_names,
            "COCO's 1-based convention; the keypoint names do not settle it"
            if by_names is None else "the reading that joins no left and right keypoints "
            "of different parts, by the keypoint names")
    except ValueError as e:
        raise AnnotationError(
            f"{e}. The skeleton only draws the people: give yours, 0-based, with --set "
            "data.skeleton=[[0,1],...], or none with --set data.skeleton=[]; either wins "
            "over the file's") from e


def category_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` cannot be a category id (None: it can). Ids are kept as
    int64 (records, results); negative ones are refused, so that -1 marks a
    box without category (``keras_pose.detection.results.NO_CATEGORY``)."""
    if is_int(value) and 0 <= value and fits_int64(value):
        return None
    return f"{value!r:.80} is not an integer from 0 to 2**63 - 1 (ids are kept as int64)"


def _check_category_ids(categories: list, path: str) -> None:
    """Every category has an id of its own (:func:`category_id_problem`)."""
    seen: set[int] = set()
    for cat in categories:
        where = _category_name(cat) if isinstance(cat, dict) else f"category {cat!r:.80}"
        problem = category_id_problem(cat.get("id") if isinstance(cat, dict) else None)
        if problem or cat["id"] in seen:  # 2**64 was an OverflowError in the records.
            raise AnnotationError(f"{path}: {where}: its 'id' {problem or 'appears twice'}; "
                                  "renumber it (and its annotations' category_id)")
        seen.add(cat["id"])


def _select_categories(categories: list, category_ids: Sequence[int], counts: Counter,
                       path: str, warn: Callable = logging.warning) -> list[dict]:
    """The keypoint categories to use (see :func:`read_annotation_file`)."""
    keypoint_cats = [c for c in categories if c.get("keypoints")]
    listing = ", ".join(f"{c['id']} ({c.get('name')!r}, {len(c['keypoints'])} keypoints, "
                        f"{counts[c['id']]} annotations)" for c in keypoint_cats)
    if category_ids:
        by_id = {c["id"]: c for c in keypoint_cats}
        unknown = [i for i in category_ids if i not in by_id]
        if len(unknown) == len(category_ids):
            raise AnnotationError(f"{path}: data.category_ids {unknown} are not keypoint "
                                  f"categories of this file; its keypoint categories: {listing}")
        if unknown:  # A validation file may lack a category of the training file's.
            warn("%s: data.category_ids %s are not categories of this file; its people of %s "
                 "are used", path, unknown, [i for i in category_ids if i in by_id])
        selected = [by_id[i] for i in category_ids if i in by_id]
        if len({len(c["keypoints"]) for c in selected}) > 1:
            raise AnnotationError(f"{path}: data.category_ids {list(category_ids)} have "
                                  f"different numbers of keypoints ({listing})")
    else:
        selected = [c for c in keypoint_cats if c["keypoints"] == keypoint_cats[0]["keypoints"]]
    for cat in selected[1:]:
        if cat["keypoints"] != selected[0]["keypoints"]:
            warn("%s: %s has other keypoint names than %s; the first's are used",
                            path, _category_name(cat), _category_name(selected[0]))
    others = [c for c in keypoint_cats if c["id"] not in {s["id"] for s in selected}]
    if others:
        warn("%s: keypoint categories not used (%s); used: %s. Choose with "
             "--set data.category_ids=...", path, "; ".join(
                f"{_category_name(c)}: {len(c['keypoints'])} keypoints, {counts[c['id']]} "
                "annotations" for c in others), ", ".join(_category_name(c) for c in selected))
    return selected


def person_category_ids(categories: list) -> tuple[int, ...]:
    """Image-info files (COCO test-dev) list categories without keypoints:
    the person class is the one named "person" (ids checked by the reader)."""
    return tuple(c["id"] for c in categories if str(c.get("name", "")).lower() == "person")


# ---------------------------------------------------------------------------
# Annotations.


def _annotation_problem(ann: dict, num_keypoints: int) -> Optional[str]:
    """What is wrong with a keypoint annotation (None: nothing)."""
    for field in ("bbox", "keypoints"):
        if field not in ann:
            return f"has no '{field}' (required in COCO keypoint annotations)"
    problem = (numbers_problem(ann["bbox"], 4, "'bbox' ([x, y, w, h])") or numbers_problem(
        ann["keypoints"], 3 * num_keypoints, f"'keypoints' (3 x {num_keypoints} keypoints)"))
    if problem:
        return problem
    visibility = next(((i, v) for i, v in enumerate(ann["keypoints"][2::3])
                       if v not in (0, 1, 2)), None)
    if visibility is not None:
        return (f"'keypoints': keypoint {visibility[0]}'s visibility must be 0 (not labelled), "
                f"1 (labelled, not visible) or 2 (visible), got {visibility[1]!r}")
    area = ann.get("area", 0.0)
    if type(area) not in NUMBER_TYPES or not all_finite([area]) or area < 0:
        return f"'area' must be a finite number >= 0, got {area!r}"
    count = ann.get("num_keypoints", 0)
    if not is_int(count) or count < 0:
        return f"'num_keypoints' must be an integer >= 0, got {count!r}"
    if ann.get("iscrowd", 0) not in (0, 1):
        return f"'iscrowd' must be 0 or 1, got {ann.get('iscrowd')!r}"
    return None


def _check_annotations(anns: list, k_of: dict[int, int], path: str) -> None:
    """Validates every annotation; one error naming the first bad one."""
    problems: list[str] = []
    seen: set[int] = set()
    for number, ann in enumerate(anns):
        if not isinstance(ann, dict):
            problems.append(f"annotation #{number} is not an object")
            continue
        where = f"annotation id {ann.get('id')} (#{number}, image {ann.get('image_id')})"
        missing = [f for f in ("id", "image_id", "category_id") if not is_int(ann.get(f))]
        if missing:
            problems.append(f"{where}: '{missing[0]}' is missing or not an integer")
        elif ann["id"] in seen:
            problems.append(f"{where}: the id is used twice")
        elif ann["category_id"] in k_of:
            problem = _annotation_problem(ann, k_of[ann["category_id"]])
            if problem:
                problems.append(f"{where}: {problem}")
        if is_int(ann.get("id")):
            seen.add(ann["id"])
    if problems:
        more = f" ({len(problems) - 1} more annotations have problems)" if len(problems) > 1 else ""
        raise AnnotationError(f"{path}: {problems[0]}{more}")


def _segmentation_area(ann: dict, image: Optional[dict], path: str) -> Optional[float]:
    """pycocotools' area of the annotation's polygons or RLE; None if it has none."""
    segm = ann.get("segmentation")
    if not segm or image is None:
        return None
    from pycocotools import mask as mask_utils  # Only when an area is missing.
    height, width = int(image["height"]), int(image["width"])
    try:
        if isinstance(segm, list):
            for polygon in segm:
                problem = numbers_problem(polygon, None, "a polygon")
                if problem or len(polygon) < 6 or len(polygon) % 2:
                    raise ValueError(problem or f"a polygon has {len(polygon)} values "
                                     "(needs an even number >= 6)")
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
        elif isinstance(segm, dict) and "counts" in segm and "size" in segm:
            rle = (mask_utils.frPyObjects(segm, height, width)
                   if isinstance(segm["counts"], list) else segm)
        else:
            raise ValueError("neither a list of polygons nor an RLE {counts, size}")
        return float(mask_utils.area(rle))
    except (ValueError, TypeError, KeyError) as e:
        raise AnnotationError(
            f"{path}: annotation id {ann.get('id')} (image {ann.get('image_id')}): "
            f"'segmentation' cannot give the missing 'area': {e}") from e


def _fill_missing_fields(anns: list, images: dict[int, dict], path: str,
                         warn: Callable = logging.warning) -> dict:
    """Fills ``iscrowd`` (0), ``num_keypoints`` (labelled keypoints) and
    ``area`` (segmentation, else box) where missing; logs the counts once."""
    filled: Counter = Counter()
    recounted: list = []
    for ann in anns:
        if "iscrowd" not in ann:
            ann["iscrowd"] = 0
            filled["iscrowd = 0"] += 1
        labelled = sum(1 for v in ann["keypoints"][2::3] if v > 0)
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = labelled
            filled["num_keypoints from the visibilities"] += 1
        elif ann["num_keypoints"] != labelled:
            # COCOeval ignores the people with num_keypoints 0, the readers
            # those without a labelled keypoint: one count for both.
            recounted.append(ann.get("id"))
            ann["num_keypoints"] = labelled
        if "area" not in ann:
            area = _segmentation_area(ann, images.get(ann["image_id"]), path)
            how = "segmentation"
            if area is None:
                area, how = max(0.0, ann["bbox"][2]) * max(0.0, ann["bbox"][3]), "box"
            ann["area"] = float(area)
            filled[f"area from the {how}"] += 1
    if filled:
        warn("%s: filled in missing fields of %d annotations: %s", path, len(anns),
                        ", ".join(f"{what}: {n}" for what, n in sorted(filled.items())))
    if recounted:
        warn("%s: %d annotations give a 'num_keypoints' other than their labelled "
                        "keypoints (visibility > 0), e.g. annotation ids %s; recounted from the "
                        "visibilities", path, len(recounted), recounted[:5])
        filled["num_keypoints recounted"] = len(recounted)
    return dict(filled)


def _image_info_meta(data: dict, category_ids: Sequence[int], path: str) -> dict:
    """Metadata of a file without keypoint categories (an image-info file)."""
    known = {c.get("id") for c in data["categories"] if isinstance(c, dict)}
    unknown = [i for i in category_ids if i not in known]
    if unknown:
        raise AnnotationError(f"{path}: data.category_ids {unknown} are not categories of "
                              f"this file (it has {sorted(known, key=str)})")
    return {"keypoint_names": (), "skeleton": (), "flip_pairs": None,
            "category_ids": tuple(category_ids) or person_category_ids(data["categories"])}


def _keypoint_meta(categories: list, category_ids: Sequence[int], counts: Counter, path: str,
                   skeleton: bool = True, warn: Callable = logging.warning) -> tuple[dict, list]:
    """The chosen keypoint categories (normalised) and their metadata
    (``keypoint_names``, ``skeleton``, ``flip_pairs``, ``category_ids``)."""
    selected = _select_categories(categories, tuple(category_ids), counts, path, warn)
    if not selected:
        raise AnnotationError(f"{path}: no category has 'keypoints'; not a COCO keypoint "
                              "annotation file (K and keypoint names unknown)")
    meta = _normalise_category(selected[0], path, skeleton)
    for cat in selected[1:]:
        _normalise_category(cat, path, skeleton)
    meta["category_ids"] = tuple(c["id"] for c in selected)
    # What --set data.category_ids could name instead: the file's keypoint
    # categories with people, of the chosen ones' K.
    k = len(meta["keypoint_names"])
    meta["keypoint_category_ids"] = tuple(
        c["id"] for c in categories
        if isinstance(c.get("keypoints"), list) and len(c["keypoints"]) == k and counts[c["id"]])
    return meta, selected


def read_annotation_file(path: str, category_ids: Sequence[int] = (),
                         skeleton: bool = True, warn: bool = True) -> dict:
    """Reads, validates and normalises a COCO keypoint annotation file.

    The whole file is checked at once: ``images`` (integer ids, file names,
    sizes), the keypoint categories (names, 0- or 1-based skeletons and flip
    pairs, see :func:`keras_pose.configs.keypoints.zero_based_pairs`) and
    every annotation (integer ``id``/``image_id``/``category_id``; ``bbox``
    of 4 and ``keypoints`` of 3K finite numbers; ``area``, ``num_keypoints``,
    ``iscrowd`` of the right types). Then missing fields are filled in as
    pycocotools computes them: ``area`` from the segmentation (polygons or
    RLE, ``pycocotools.mask.area``), else the box; ``num_keypoints`` from the
    visibilities; ``iscrowd`` 0.

    Categories: those of ``category_ids``, or by default every keypoint
    category with the same keypoint names as the first one. Other keypoint
    categories are reported in a warning with their annotation counts. Only
    the chosen categories and their annotations stay in the result, so that
    pycocotools' COCOeval sees exactly them. A file without ``annotations``
    (COCO's ``image_info_test-dev2017.json``) is accepted: empty
    ``annotations``, and its "person" category chosen.

    Args:
      path: the JSON file.
      category_ids: keypoint categories to use (``data.category_ids``).
      skeleton: read and check the categories' skeletons; False where the
        config gives the limbs (reading people does not need them).
      warn: log what was filled in or left out (False for a second reading
        of a file whose reader already said it: each was logged twice).

    Returns:
      The COCO dict (``images``, ``categories``, ``annotations``, other
      top-level entries as read) plus ``dict[META_KEY]``: ``source``,
      ``keypoint_names``, ``num_keypoints``, ``skeleton`` (0-based),
      ``flip_pairs`` (0-based; None without the entry, () for ``[]``),
      ``category_ids``, ``has_annotations``, ``skipped`` (annotations left
      out, by reason) and ``filled`` (fields filled in, by kind). Usable as
      ``COCO().dataset`` followed by ``createIndex()``.

    Raises:
      AnnotationError: naming the file, the annotation (or image or
        category) id and the field; FileNotFoundError.
    """
    log = logging.warning if warn else (lambda *args: None)
    data = read_json(path)
    _check_top_level(data, path)
    images = _index_images(data["images"], path)
    has_annotations = "annotations" in data
    anns = data.get("annotations", [])
    counts = Counter(a.get("category_id") for a in anns if isinstance(a, dict))
    categories = data["categories"]
    if not has_annotations and not any(isinstance(c, dict) and c.get("keypoints")
                                       for c in categories):
        meta = _image_info_meta(data, category_ids, path)
    else:
        meta, data["categories"] = _keypoint_meta(categories, category_ids, counts, path,
                                                  skeleton, log)
    k_of = {c["id"]: len(c["keypoints"]) for c in categories
            if isinstance(c, dict) and c.get("keypoints")}
    _check_annotations(anns, k_of, path)
    data["annotations"] = [a for a in anns if a["category_id"] in meta["category_ids"]]
    orphans = [a["id"] for a in data["annotations"] if a["image_id"] not in images]
    if orphans:
        log("%s: %d annotations name an image_id that 'images' does not list "
                        "(annotation ids %s%s); they are not used", path, len(orphans),
                        orphans[:5], " ..." if len(orphans) > 5 else "")
    meta.update(source=path, num_keypoints=len(meta["keypoint_names"]),
                has_annotations=has_annotations,
                skipped=_left_out(anns, meta["category_ids"], k_of, categories, path, log),
                filled=_fill_missing_fields(data["annotations"], images, path, log))
    data[META_KEY] = meta
    return data


def _left_out(anns: list, chosen: Sequence[int], k_of: dict[int, int], categories: list,
              path: str, warn: Callable = logging.warning) -> dict[str, int]:
    """Counts the annotations of categories not chosen, by reason."""
    known = {c["id"] for c in categories if isinstance(c, dict)}
    reasons: Counter = Counter()
    unknown = []
    for ann in anns:
        cat = ann["category_id"]
        if cat not in chosen:
            reasons["another keypoint category" if cat in k_of else
                    "a category without keypoints" if cat in known else
                    "unknown category id"] += 1
            if cat not in known:
                unknown.append(ann["id"])
    if unknown:
        warn("%s: %d annotations have a category_id that 'categories' does not "
                        "list (annotation ids %s%s); they are not used", path, len(unknown),
                        unknown[:5], " ..." if len(unknown) > 5 else "")
    return dict(reasons)


def keypoint_category_names(path: str) -> dict[int, tuple[str, ...]]:
    """A file's keypoint categories, ``{id: keypoint names}`` (ids checked)."""
    data = read_json(path)
    _check_top_level(data, path)
    return {c["id"]: tuple(c["keypoints"]) for c in data["categories"]
            if isinstance(c.get("keypoints"), list) and c["keypoints"]}


def dataset_metadata(path: str, category_ids: Sequence[int] = (), skeleton: bool = True) -> dict:
    """K, keypoint names, 0-based skeleton and the file's flip pairs.

    Reads only the categories (checked as :func:`read_annotation_file` does;
    the annotations are checked when the records are read).

    Returns:
      ``num_keypoints``, ``keypoint_names``, ``skeleton`` (0-based),
      ``flip_pairs`` (0-based; None without the entry, () for ``[]``),
      ``category_id`` (the first chosen) and ``category_ids``.
    """
    data = read_json(path)
    _check_top_level(data, path)
    anns = data.get("annotations", [])
    counts = Counter(a.get("category_id") for a in anns if isinstance(a, dict))
    meta, selected = _keypoint_meta(data["categories"], category_ids, counts, path, skeleton)
    meta.update(num_keypoints=len(meta["keypoint_names"]), category_id=selected[0]["id"])
    return meta
