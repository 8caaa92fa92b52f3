"""One entry point from an experiment config to person records.

``resolve_dataset_config`` completes a config from its data set (the
synthetic set is generated on first use; a custom COCO-format set gives K,
names, skeleton and flip pairs), and ``load_records`` reads the split.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Optional, Sequence

import numpy as np

from keras_pose import log as logging
from keras_pose.configs import DataConfig, ExperimentConfig
from keras_pose.configs.base import COCO_FORMAT_DATASETS
from keras_pose.configs.keypoints import (describe_moves, keypoint_keys, moved_keypoints,
                                         resolve_flip_pairs, upper_body_from_names)
from keras_pose.configs.sigmas import resolve_sigmas
from keras_pose.data import coco, coco_files, mpii, pipeline
from keras_pose.data.coco import other_splits  # Also read as datasets.other_splits.
from keras_pose.data.records import PersonRecords
from keras_pose.errors import MissingFileError, UserError
from keras_pose.special_files import not_a_file


class DatasetError(UserError, ValueError):
    """A data set that cannot be used; the message names the path."""


def _split_name(config: ExperimentConfig, split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return config.data.train_set if split == "train" else config.data.test_set


def _under_root(config: ExperimentConfig, path: str) -> str:
    path = os.path.expanduser(path)  # ~/dets.json was looked for as <root>/~/dets.json.
    return path if os.path.isabs(path) else os.path.join(config.data.root, path)


def _check_root(config: ExperimentConfig) -> None:
    root, layout = config.data.root, _LAYOUTS.get(config.data.dataset, _LAYOUTS["coco"])
    if os.path.isfile(root):  # Was "does not exist" for a file that does.
        up = os.path.dirname(os.path.abspath(root))  # <set>/annotations/<file>: <set>.
        above = f", {os.path.dirname(up)}" if os.path.basename(up).startswith("annot") else ""
        raise DatasetError(f"data directory {root} is a file (data.root / --data_dir): give the "
                           f"data set's folder{above}, which holds {layout}")
    if not os.path.isdir(root):
        raise DatasetError(f"data directory {root} does not exist (data.root / --data_dir; "
                           f"expected {layout}, as the README's Data layout shows)")


# What a data set's folder holds, as the errors name it.
_LAYOUTS = {
    "coco": "the COCO layout: annotations/person_keypoints_<split>.json and images/<split>/",
    "mpii": "the MPII layout: annot/{train,valid}.json, annot/gt_valid.mat and images/",
}


def resolve_dataset_config(config: ExperimentConfig) -> ExperimentConfig:
    """Completes ``config`` from its data set.

    - ``synthetic``: generates the data set into ``data.root`` if absent.
    - COCO-format sets with empty ``data.keypoint_names`` (custom sets): K,
      names and skeleton (0- or 1-based in the file, checked) from the
      annotation file's keypoint categories (``data.category_ids``, else the
      first and those with the same names); ``model.num_keypoints`` = K.
    - COCO-format sets: flip pairs ``data.flip_pairs`` unless None (``()``:
      none), else the file's (``flip_pairs``/``swap``; ``[]``: none), else by
      the names (:func:`keras_pose.configs.keypoints.keypoint_keys`); OKS
      sigmas ``data.oks_sigmas`` if given, else COCO's by keypoint name and the
      default for other names (with a warning;
      :func:`keras_pose.configs.sigmas.resolve_sigmas`). Both are logged.

    Raises:
      DatasetError: for a missing data directory or annotation file, bad
        category ids, or flip pairs / skeleton / sigmas that do not fit K.
      AnnotationError: for an annotation file that cannot be used.
    """
    data = config.data
    if data.dataset == "synthetic":
        from keras_pose.data import synthetic
        synthetic.ensure_dataset(data.root, num_train=data.synthetic_train_images,
                                 num_val=data.synthetic_val_images,
                                 train_split=data.train_set, val_split=data.test_set)
    if data.dataset not in COCO_FORMAT_DATASETS and data.dataset != "mpii":
        raise DatasetError(f"unknown data.dataset {data.dataset!r}; expected coco, mpii, "
                           "synthetic or custom")
    names, skeleton, file_pairs, source = data.keypoint_names, data.skeleton or (), None, ""
    if data.dataset not in COCO_FORMAT_DATASETS:  # MPII; unset pairs (None): by the names.
        pairs = data.flip_pairs if data.flip_pairs is not None else resolve_flip_pairs(names)
        return config.replace(data=dataclasses.replace(data, skeleton=skeleton, flip_pairs=pairs))
    category_ids = _checked_category_ids(data.category_ids)
    if not names:
        source = _metadata_file(config)
        # data.skeleton, () included, wins over the file's (None: the file's).
        from_file = data.skeleton is None
        meta = coco_files.dataset_metadata(source, data.category_ids, skeleton=from_file)
        category_ids = _recorded_category_ids(config, source, meta)  # Of the run's checkpoints.
        names, file_pairs = meta["keypoint_names"], meta["flip_pairs"]
        skeleton = meta["skeleton"] if from_file else data.skeleton
        logging.info("%s: %d keypoints %s (categories %s), skeleton %s", source, len(names),
                     list(names), list(category_ids), list(skeleton))
        config = config.replace(model=dataclasses.replace(config.model,
                                                          num_keypoints=len(names)))
    try:
        if any(not (0 <= i < len(names)) for limb in skeleton for i in limb):
            raise ValueError(f"data.skeleton {list(skeleton)} is out of range for "
                             f"{len(names)} keypoints (0-based limbs)")
        flip_pairs = resolve_flip_pairs(names, data.flip_pairs, file_pairs, source)
        sigmas = resolve_sigmas(data.oks_sigmas, names)
        upper_body = _upper_body(data, names)
    except ValueError as e:
        raise DatasetError(f"data set {data.root}: {e}") from e
    return config.replace(data=dataclasses.replace(
        data, keypoint_names=tuple(names), skeleton=tuple(map(tuple, skeleton)),
        flip_pairs=flip_pairs, oks_sigmas=sigmas, category_ids=category_ids,
        upper_body_ids=upper_body))


def _checked_category_ids(ids: Sequence[int]) -> tuple[int, ...]:
    """``data.category_ids``, checked (2**64 was an OverflowError in the records)."""
    for problem in filter(None, map(coco_files.category_id_problem, ids)):
        raise DatasetError(f"data.category_ids {list(ids)}: {problem}; give keypoint category "
                           "ids of the annotation files (--set data.category_ids=1,2)")
    return tuple(ids)


def _recorded_category_ids(config: ExperimentConfig, source: str, meta: dict) -> tuple:
    """The categories a custom set's run records: those given, whole, each a
    keypoint category of the training file (``source``, its chosen ones
    ``meta["category_ids"]``) or the validation file (else a DatasetError);
    else the training file's and the validation file's of the same keypoint
    names. Was the training file's: a validation split of its own category
    id was never read."""
    data, chosen = config.data, tuple(meta["category_ids"])
    other, theirs, problem = coco.annotation_path(data.root, data.test_set), {}, "none"
    try:  # Unreadable (a missing file too), the validation's reading says why.
        theirs = coco_files.keypoint_category_names(other) if other != source else {}
    except UserError as e:
        problem = str(e)
    if data.category_ids:
        missing = [i for i in data.category_ids if i not in chosen and i not in theirs]
        if missing:
            raise DatasetError(f"data.category_ids {list(data.category_ids)}: {missing} are "
                               f"keypoint categories of neither split: {source} has "
                               f"{list(coco_files.keypoint_category_names(source))}, {other} "
                               f"has {list(theirs) or problem}; give ids of theirs")
        return tuple(data.category_ids)
    extra = tuple(i for i, n in theirs.items() if i not in chosen and n == meta["keypoint_names"])
    if extra:
        logging.warning("%s: keypoint categories %s have the keypoint names of %s's %s: their "
                        "people are validated too, data.category_ids=%s recorded (--set "
                        "data.category_ids=... chooses)", other, list(extra), source,
                        list(chosen), ",".join(map(str, chosen + extra)))
    return chosen + extra


def _upper_body(data: DataConfig, names: Sequence[str]) -> tuple[int, ...]:
    """``data.upper_body_ids``, checked against the K names; for half-body
    without them, the upper body by keypoint name (COCO's, MPII's, ... tables),
    else a warning: with none, half-body cropped around every visible joint.

    Raises:
      ValueError: for an id outside the K keypoints (was an IndexError
        inside the input pipeline).
    """
    ids = tuple(data.upper_body_ids)
    outside = [i for i in ids if not 0 <= i < len(names)]
    if outside:
        raise ValueError(f"data.upper_body_ids {list(ids)}: {outside} outside the "
                         f"{len(names)} keypoints (0-based)")
    if ids or data.half_body_prob <= 0:
        return ids
    derived = upper_body_from_names(names)
    if derived:
        logging.info("Half-body upper body (data.upper_body_ids, from the keypoint names): %s",
                     [names[i] for i in derived])
        return derived
    logging.warning("data.half_body_prob=%g without data.upper_body_ids: half-body crops "
                    "around all the visible keypoints; give the upper body's keypoint indices "
                    "(0-based), e.g. --set data.upper_body_ids=[0,1,2]", data.half_body_prob)
    return ids


def _metadata_file(config: ExperimentConfig) -> str:
    """The annotation file that defines the keypoints: the training split's,
    else the test split's."""
    _check_root(config)
    data = config.data
    candidates = [coco.annotation_path(data.root, s) for s in (data.train_set, data.test_set)]
    for special in filter(not_a_file, candidates):  # Was "no annotation file ... name its splits".
        raise DatasetError(f"annotation file {special} {not_a_file(special)}")
    existing = [p for p in candidates if os.path.isfile(p)]
    if not existing:
        raise DatasetError(f"no annotation file for data set {data.root}: expected "
                           f"{' or '.join(candidates)}{other_splits(data.root)}")
    return existing[0]


def is_test_split(config: ExperimentConfig) -> bool:
    """The evaluation split has no public ground truth (COCO test-dev, MPII
    test): as the reference decides, its name contains "test"."""
    return coco.is_test_split(config.data.test_set, config.data.root)


def annotation_file(config: ExperimentConfig, split: str) -> str:
    """The annotation file of a split in the reference layout (for COCO-format
    test splits the image-info file)."""
    name = _split_name(config, split)
    if config.data.dataset == "mpii":
        return mpii.annotation_path(config.data.root, name)
    return coco.annotation_path(config.data.root, name)


def mpii_gt_file(config: ExperimentConfig) -> str:
    """The MPII ``gt_valid.mat`` of the config (``test.gt_mat``)."""
    return _under_root(config, config.test.gt_mat)


@dataclasses.dataclass(frozen=True)
class BoxMode:
    """Which person boxes an evaluation uses.

    Attributes:
      use_gt_boxes: True for ground-truth boxes (MPII: its annotated people).
      detection_file: the detections file (detected boxes), else None.
    """

    use_gt_boxes: bool
    detection_file: Optional[str] = None

    @property
    def name(self) -> str:
        return "ground_truth" if self.use_gt_boxes else "detected"

    def describe(self) -> str:
        if self.use_gt_boxes:
            return "ground-truth boxes"
        return f"detected boxes ({self.detection_file})"


def resolve_box_mode(config: ExperimentConfig, use_gt_boxes: Optional[bool] = None,
                     detection_file: Optional[str] = None) -> BoxMode:
    """Decides between ground-truth and detected boxes (the one place).

    Precedence: an explicit ``detection_file``, then ``use_gt_boxes``, then
    ``config.test.use_gt_boxes`` (None: the config's detection file when it
    exists, else ground truth). MPII always uses its annotated people; a test
    split (no ground truth) always uses detections.

    Raises:
      DatasetError: for both a detection file and ground-truth boxes, a
        detection file that does not exist, or MPII with detections.
    """
    if config.data.dataset == "mpii":
        if detection_file or use_gt_boxes is False:  # --nouse_gt_boxes was ignored.
            raise DatasetError("MPII is evaluated on its annotated people (their center and "
                               "scale, as the reference); --detections and --nouse_gt_boxes "
                               "do not apply")
        return BoxMode(True)
    if detection_file and use_gt_boxes:
        raise DatasetError("give either ground-truth boxes or a detections file, not both")
    if use_gt_boxes and is_test_split(config):  # Was dropped in silence for the detections.
        raise DatasetError(
            f"split {config.data.test_set} is a test split: it has no ground-truth boxes, so "
            "--use_gt_boxes cannot apply; drop it (its people come from --detections or "
            "test.detection_file)")
    wanted = config.test.use_gt_boxes if use_gt_boxes is None else use_gt_boxes
    path = detection_file or (config.test.detection_file
                              and _under_root(config, config.test.detection_file))
    needed = detection_file or wanted is False or is_test_split(config)
    if path and (needed or wanted is None):  # A pipe read once (was "does not exist").
        path = coco.detections_from_pipe(path)
    exists = bool(path) and os.path.isfile(path)
    if needed:
        if not exists:
            raise DatasetError(_no_detections_file(config, path))
        return BoxMode(False, path)
    if wanted is None and exists and config.test.detection_file:
        return BoxMode(False, path)
    if wanted is None:
        logging.info("No detection file %s: evaluating with ground-truth boxes.",
                     f"at {path}" if path else "given")
    return BoxMode(True)


def _no_detections_file(config: ExperimentConfig, path: Optional[str]) -> str:
    """Why the detections file at ``path`` cannot be read, and the fix."""
    if not path:  # Was "detections file  does not exist".
        return ("no detections file given: test.detection_file is empty; give one with "
                "--detections FILE.json, or evaluate with --use_gt_boxes")
    if os.path.isdir(path):  # Was "does not exist" for a folder that does.
        return (f"detections file {path} is a folder (--detections / test.detection_file): give "
                "the JSON file of COCO detection results in it")
    relative = config.test.detection_file and not os.path.isabs(
        os.path.expanduser(config.test.detection_file))
    where = (f" (a relative test.detection_file, {config.test.detection_file}, is read under "
             f"data.root {config.data.root})"
             if relative and path == _under_root(config, config.test.detection_file) else "")
    return (f"detections file {path} does not exist (--detections / test.detection_file)"
            + where + _own_detections_hint(config, path))


def _own_detections_hint(config: ExperimentConfig, missing: str) -> str:
    """The synthetic set's own detections, when a checkpoint's config names
    COCO's (checkpoints of earlier versions did): ``--detections`` with it."""
    if config.data.dataset != "synthetic":
        return ""
    from keras_pose.data.synthetic import detections_file
    own = detections_file(config.data.root)
    if os.path.abspath(own) == os.path.abspath(missing) or not os.path.isfile(own):
        return ""
    return (f"; the synthetic set's own detections are {own} (evaluate.py --detections {own}, "
            f"or --set test.detection_file={own})")


def load_records(config: ExperimentConfig, split: str,
                 box_mode: Optional[BoxMode] = None, owner: str = "the model") -> PersonRecords:
    """Reads the people of a split.

    Args:
      config: the (resolved) experiment.
      split: "train" (``data.train_set``) or "test" (``data.test_set``).
      box_mode: for test splits, which boxes (None: :func:`resolve_box_mode`
        of the config).
      owner: what the config's model is, for messages (evaluate.py: the
        checkpoint).

    Returns:
      PersonRecords. Training records whose image file is missing are
      dropped, counted and logged; for evaluation a missing image is an error.

    Raises:
      DatasetError, AnnotationError, FileNotFoundError: naming the path.
    """
    _check_root(config)
    data = config.data
    name = _split_name(config, split)
    if data.dataset == "mpii":
        records = mpii.load_mpii(annotation_file(config, split),
                                 os.path.join(data.root, "images"), with_joints=name != "test")
    else:
        ann, images = annotation_file(config, split), coco.image_dir(data.root, name)
        aspect, padding = config.model.aspect_ratio, data.box_padding
        box_mode = box_mode or (resolve_box_mode(config) if split == "test" else BoxMode(True))
        if box_mode.use_gt_boxes:
            records = coco.load_coco_gt(ann, images, aspect, padding, data.category_ids,
                                        box_rule=data.gt_box_rule)
        else:
            records = coco.load_coco_detections(
                box_mode.detection_file, ann, images, aspect, data.image_threshold, padding,
                category_ids=data.category_ids, keypoint_names=data.keypoint_names)
    if len(records) and records.num_keypoints != config.model.num_keypoints:
        hint = ""
        if len(data.keypoint_names) == records.num_keypoints and split == "train":
            hint = (f"; with data.keypoint_names given, K is not read from the file: add "
                    f"--set model.num_keypoints={records.num_keypoints}")
        raise DatasetError(
            f"{records.source} has {records.num_keypoints} keypoints but {owner} has "
            f"model.num_keypoints={config.model.num_keypoints}{hint}")
    if not len(records):
        raise DatasetError(_no_people(records, name, split, data.dataset))
    return _check_images(records, drop=split == "train")


def _no_people(records: PersonRecords, name: str, split: str, dataset: str) -> str:
    """Why a split gave no person (:func:`no_people_message` of its records)."""
    return no_people_message(records.source, records.skipped_reasons, name, split, dataset)


def no_people_message(source: str, reasons: Mapping[str, int], name: str, split: str,
                      dataset: str) -> str:
    """Why a split's file ``source`` gave no person (``reasons``: people
    skipped, by reason), and what to do. Also the evaluation's ground truth
    with no person to score says it so (``keras_pose.evaluation.metrics``)."""
    why = (", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items()))
           or "it has no annotations")
    hint = ("; people of another keypoint category are left out: choose the categories with "
            "--set data.category_ids=<ids>" if "another keypoint category" in reasons else "")
    if split == "train":
        return f"{source}: no usable person in the training split ({why}){hint}"
    if dataset == "mpii":  # COCO's test-dev advice misleads there.
        return (f"{source}: no person to evaluate in split {name!r} ({why}); it must "
                "list the split's people with their joints (scripts/convert_mpii_mat.py "
                "writes it from the MPII release)")
    return (f"{source}: no person to evaluate in split {name!r} ({why}){hint}; evaluation "
            "needs annotated people with keypoints (a split without ground truth is named "
            "with 'test', e.g. test-dev2017, and evaluated on --detections)")


def check_metadata(config: ExperimentConfig, records: PersonRecords, owner: str,
                   use: str = "evaluate it on") -> None:
    """A data set whose keypoints differ from the model's (another K, other
    names, another order) is an error that names both. Names compare in any
    naming style (``L_Eye`` is ``left_eye``): a preset's metadata spells
    them as its source did.

    Args:
      config: the evaluation config (its metadata is the checkpoint's).
      records: the people read from the data set.
      owner, use: for the message, whose metadata it is and what the data is for.
    """
    ours, theirs = tuple(config.data.keypoint_names), tuple(records.keypoint_names)
    k = config.model.num_keypoints
    renamed = ours and theirs and ours != theirs and keypoint_keys(ours) != keypoint_keys(theirs)
    if records.num_keypoints != k or renamed:
        moved = moved_keypoints(ours, theirs)
        if moved:  # Renaming them would pair each channel with another keypoint.
            hint = (f" ({describe_moves(moved, 'the data', 'the model')}): write each "
                    "annotation's keypoints in the model's order")
        elif records.num_keypoints == k:
            hint = ("; if they are the same keypoints spelt otherwise, pass --set "
                    "data.keypoint_names=<the data's names>")
        else:
            hint = ""
        raise DatasetError(
            f"{records.source} has keypoints {list(theirs)} (K={records.num_keypoints}) but "
            f"{owner} was trained on {list(ours)} (K={k}); {use} data with the same "
            f"keypoints in the same order{hint}")


def check_validation_keypoints(config: ExperimentConfig, records: PersonRecords,
                               train: PersonRecords, owner: str) -> None:
    """The validation people of a training run against its training people:
    :func:`check_metadata`, except that when ``data.keypoint_names`` renames
    the training file's keypoints (given with --set), it renames the
    validation file's too, which must then spell them as the training file
    does. Was: the validation split was held to the new names, and refused
    with the advice to pass the flag the user had given.
    """
    ours, train_names = tuple(config.data.keypoint_names), tuple(train.keypoint_names)
    if not train_names or keypoint_keys(train_names) == keypoint_keys(ours):
        check_metadata(config, records, owner)
        return
    theirs = tuple(records.keypoint_names)
    if records.num_keypoints == train.num_keypoints and (
            not theirs or keypoint_keys(theirs) == keypoint_keys(train_names)):
        return
    raise DatasetError(
        f"{records.source} has keypoints {list(theirs)} (K={records.num_keypoints}) but the "
        f"training split {train.source} has {list(train_names)} (K={train.num_keypoints}), "
        f"which data.keypoint_names renames {list(ours)}: it renames the keypoints of both "
        "splits, which must list the same keypoints in the same order")


def check_order(config: ExperimentConfig, records: PersonRecords) -> None:
    """Training people whose file lists ``data.keypoint_names`` (given with
    --set) in another order: the names would be put on the wrong channels
    (flip pairs, sigmas and the checkpoint's metadata all wrong, in silence).

    Raises:
      DatasetError: naming the file, the keypoints moved and the way out.
    """
    moved = moved_keypoints(records.keypoint_names, config.data.keypoint_names)
    if moved:
        raise DatasetError(
            f"data.keypoint_names {list(config.data.keypoint_names)} lists the keypoints of "
            f"{records.source} ({list(records.keypoint_names)}) in another order "
            f"({describe_moves(moved, 'data.keypoint_names', 'the file')}); it names the "
            "file's keypoints in the file's order: "
            "drop it, or give them in that order")


def _check_images(records: PersonRecords, drop: bool) -> PersonRecords:
    """Drops (training) or reports (evaluation) people whose image file
    tf.data must not read (:func:`pipeline.image_file_problems`: missing, a
    FIFO or device, over 1 GiB), before anything opens it."""
    unique = np.unique(records.image_path) if len(records) else np.array([], str)
    problems = pipeline.image_file_problems(unique)
    if not problems:
        return records
    missing = all(reason == "image file missing" for reason, _ in problems.values())
    what = "are missing" if missing else "cannot be read"
    examples = ", ".join(sorted(problems)[:5]) if missing else "; ".join(
        f"{path}: {problems[path][1]}" for path in sorted(problems)[:5])
    if not drop and missing:
        raise MissingFileError(f"{len(problems)} of {len(unique)} images named in "
                               f"{records.source} are missing, e.g. {examples}")
    if not drop:
        raise DatasetError(f"{len(problems)} of {len(unique)} images named in {records.source} "
                           f"cannot be read ({examples}): replace them, or remove their entries")
    keep = np.array([p not in problems for p in records.image_path])
    logging.warning("%s: %d of %d images %s; %d people skipped (e.g. %s)", records.source,
                    len(problems), len(unique), what, int((~keep).sum()), examples)
    reasons = dict(records.skipped_reasons)
    for path in records.image_path[~keep]:  # People counted by their image's reason.
        reasons[problems[str(path)][0]] = reasons.get(problems[str(path)][0], 0) + 1
    kept = records.select(keep)
    kept = dataclasses.replace(kept, num_skipped=records.num_skipped + int((~keep).sum()),
                               skipped_reasons=reasons)
    if not len(kept):
        raise DatasetError(f"{records.source}: "
                           f"{'every image is missing' if missing else 'no image can be read'} "
                           f"(e.g. {examples})")
    return kept
