"""COCO keypoint evaluation: OKS NMS, results JSON, COCOeval.

The steps and their constants are the official code's
(``lib/dataset/coco.py`` ``evaluate`` and ``lib/nms/nms.py``). The person
scores arrive rescored by the inference path
(``keras_pose.inference.person_scores``: box score x mean keypoint score
above 0.2); then:

1. Greedy OKS NMS per image at 0.9 on those scores, with the data set's
   sigmas, over *all* K joints (no visibility filter) and with the padded
   crop area ``(scale[0]*200) * (scale[1]*200)`` as the object area, as the
   reference calls it.
2. One result per kept person (``image_id``, ``category_id``, ``keypoints``
   as K x (x, y, score), ``score``) and pycocotools' ``COCOeval`` with
   ``iouType="keypoints"``; ``params.kpt_oks_sigmas`` is set to the data
   set's sigmas so that custom K works.

:class:`CocoKeypointMetric` wraps the steps behind the metric interface of
``keras_pose.evaluation.metrics``. Everything is vectorised: the OKS of all
pairs of an image is one broadcast, and the greedy loop only does O(1) work
per person on boolean rows.

Shapes: N people, K keypoints, M people of one image.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from keras_pose import log as logging
from keras_pose.evaluation.tables import format_table
from keras_pose.files import write_json
from keras_pose.json_values import nonfinite_people
from keras_pose.oks import check_sigmas, oks_nms

# The ten numbers of COCOeval's keypoint summary, in the order of ``stats``.
# (The official code names the second one "Ap .5"; the README says "AP .5".)
STATS_NAMES: tuple[str, ...] = (
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)",
    "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")

def group_by_image(image_ids: np.ndarray) -> list[np.ndarray]:
    """Indices of the people of each image, images in order of first
    appearance (the reference's dict insertion order), people in input order.

    Args:
      image_ids: (N,) image ids.

    Returns:
      A list with one int64 index array per distinct image.
    """
    image_ids = np.asarray(image_ids)
    if image_ids.size == 0:
        return []
    order = np.argsort(image_ids, kind="stable")
    sorted_ids = image_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    groups = np.split(order, starts[1:])
    firsts = np.asarray([g[0] for g in groups])
    return [groups[i] for i in np.argsort(firsts, kind="stable")]


def nms_per_image(image_ids: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                  areas: np.ndarray, threshold: float = 0.9,
                  sigmas: Optional[Sequence[float]] = None) -> np.ndarray:
    """Greedy OKS NMS in each image, as the reference.

    Args:
      image_ids: (N,) image of each person.
      keypoints: (N, K, 2) predicted coordinates in the original image.
      scores: (N,) person scores (rescored).
      areas: (N,) OKS areas (padded crop area).
      threshold: NMS threshold (``oks_thre``).
      sigmas: K OKS sigmas (default: COCO's).

    Returns:
      kept (P,) int64 row indices, grouped by image in order of first
      appearance and by descending score within an image.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    areas = np.asarray(areas, dtype=np.float64)
    check_sigmas(sigmas, keypoints.shape[1])  # Fail early on a K mismatch.
    kept = [rows[oks_nms(keypoints[rows], scores[rows], areas[rows], threshold, sigmas)]
            for rows in group_by_image(image_ids)]
    return np.concatenate(kept) if kept else np.zeros((0,), np.int64)


def make_results(image_ids: np.ndarray, keypoints: np.ndarray,
                 keypoint_scores: np.ndarray, scores: np.ndarray,
                 category_ids: Union[int, np.ndarray] = 1,
                 centers: Optional[np.ndarray] = None,
                 scales: Optional[np.ndarray] = None) -> list[dict[str, Any]]:
    """COCO keypoint results, one dict per person (the given rows).

    Args:
      image_ids: (P,) image ids.
      keypoints: (P, K, 2) coordinates in the original image.
      keypoint_scores: (P, K) heatmap maxima (the third value of each joint).
      scores: (P,) person scores.
      category_ids: the category of each person (P,), or one for all.
      centers, scales: optional (P, 2) crop parameters, written as the
        reference writes them (COCOeval ignores them).

    Returns:
      A list of ``{"image_id", "category_id", "keypoints", "score"[, "center",
      "scale"]}`` dicts with plain Python numbers.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    flat = np.concatenate(
        [keypoints[..., :2], np.asarray(keypoint_scores, np.float64)[..., None]],
        axis=-1).reshape(len(keypoints), -1).tolist()
    ids = np.asarray(image_ids).astype(np.int64).tolist()
    categories = np.broadcast_to(np.asarray(category_ids, np.int64), (len(ids),)).tolist()
    person_scores = np.asarray(scores, dtype=np.float64).tolist()
    extra = {"center": centers, "scale": scales}
    extra = {k: np.asarray(v, np.float64).tolist() for k, v in extra.items() if v is not None}
    results = []
    for i, (image_id, kpts, score) in enumerate(zip(ids, flat, person_scores)):
        result = {"image_id": image_id, "category_id": categories[i], "keypoints": kpts,
                  "score": score}
        result.update({k: v[i] for k, v in extra.items()})
        results.append(result)
    return results


def write_results(path: str, results: Sequence[Mapping[str, Any]]) -> None:
    """Writes COCO results JSON atomically (a list of result dicts)."""
    write_json(path, list(results))


def load_coco_ground_truth(annotation_file: str, category_ids: Sequence[int] = ()) -> Any:
    """A pycocotools ``COCO`` of an annotation file, read and checked by the
    project's reader (``keras_pose.data.coco_files.read_annotation_file``: every
    field filled in the way the format documents, the chosen keypoint
    categories only), quietly."""
    from pycocotools.coco import COCO  # Heavy import, only when evaluating.

    from keras_pose.data import coco_files
    gt = COCO()
    # COCOeval needs no skeleton: a file's that does not fit K stops nothing here.
    # The records reader reads (and reports on) the same file: said once.
    gt.dataset = coco_files.read_annotation_file(annotation_file, category_ids, skeleton=False,
                                                 warn=False)
    anns = gt.dataset["annotations"]
    if any(ann["id"] == 0 for ann in anns):
        # COCOeval marks an unmatched person with id 0: a person whose id
        # is 0 would count as never found. Ids are internal to it: 1..N.
        for number, ann in enumerate(anns):
            ann["id"] = number + 1
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def people_to_score(coco_gt: Any) -> tuple[int, dict[str, int]]:
    """How many people of the ground truth COCOeval scores, and why the
    others are not scored, by reason (the person readers' words). COCOeval
    ignores crowds and people with ``num_keypoints`` 0 (the reader recounts
    it from the visibilities) and sees only the images listed; with no
    person left every number is -1. The annotations of other categories the
    reader left out count too.

    Args:
      coco_gt: a ``pycocotools.coco.COCO`` (:func:`load_coco_ground_truth`).

    Returns:
      (the number of people scored, {reason: count} of those not scored).
    """
    from keras_pose.data.coco_files import META_KEY
    reasons = Counter((coco_gt.dataset.get(META_KEY) or {}).get("skipped") or {})
    images, scored = set(coco_gt.getImgIds()), 0
    for ann in coco_gt.dataset["annotations"]:
        reason = _not_scored(ann, images)
        scored += not reason
        if reason:
            reasons[reason] += 1
    return scored, dict(reasons)


def _not_scored(ann: Mapping[str, Any], images: set) -> str:
    """Why COCOeval does not score a person ("" when it does), tested in the
    order of the ground-truth boxes' reader (``keras_pose.data.coco``)."""
    if ann["iscrowd"]:
        return "crowd"
    if ann["image_id"] not in images:
        return "unknown image id"
    return "" if ann["num_keypoints"] > 0 else "no labelled keypoints"


def run_cocoeval(coco_gt: Any, results: Union[str, Sequence[Mapping[str, Any]]],
                 sigmas: Optional[Sequence[float]] = None) -> dict[str, float]:
    """Runs pycocotools' keypoint COCOeval and returns the ten numbers.

    Args:
      coco_gt: a ``pycocotools.coco.COCO`` (:func:`load_coco_ground_truth`).
      results: result dicts (see :func:`make_results`) or a results JSON path.
      sigmas: K OKS sigmas; default COCO's (required for K != 17).

    Returns:
      ``{name: value}`` for :data:`STATS_NAMES` (values in [0, 1], -1 when a
      category has no ground truth, COCOeval's convention). With no results
      at all every number is 0.0 (logged), since pycocotools cannot load an
      empty result list.
    """
    from pycocotools.cocoeval import COCOeval
    if isinstance(results, str):
        with open(results, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
            results = json.load(f)
    results = list(results)
    if not results:
        logging.warning("No keypoint results to evaluate: every COCO metric is 0.")
        return {name: 0.0 for name in STATS_NAMES}
    num_keypoints = len(results[0]["keypoints"]) // 3
    sigmas_array = check_sigmas(sigmas, num_keypoints)
    known = set(coco_gt.getImgIds())
    unknown = {r["image_id"] for r in results} - known
    if unknown:
        raise ValueError(
            f"{len(unknown)} result image ids are not in the annotation file "
            f"(e.g. {sorted(unknown)[:5]})")
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        # loadRes adds 'bbox', 'area' and 'id' to the dicts it is given: copies,
        # or the results file written after this holds them (the reference's
        # has only the fields of make_results).
        coco_dt = coco_gt.loadRes([dict(r) for r in results])
        coco_eval = COCOeval(coco_gt, coco_dt, "keypoints")
        coco_eval.params.kpt_oks_sigmas = sigmas_array
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    logging.info("COCOeval summary:\n%s", summary.getvalue())
    return {name: float(value) for name, value in zip(STATS_NAMES, coco_eval.stats)}


def format_coco_table(metrics: Mapping[str, float], arch_name: str,
                      title: str = "") -> str:
    """The ten COCO numbers as the official README's markdown table."""
    return format_table(metrics, STATS_NAMES, arch_name, title)


class CocoKeypointMetric:
    """COCO keypoint AP of predictions on person records (the metric of the
    COCO-format data sets: COCO, the synthetic set, custom sets).

    Args:
      coco_gt: the split's ground truth (a ``pycocotools.coco.COCO``), or
        None for a split without public ground truth (COCO test-dev): the
        results are then only written.
      sigmas: K OKS sigmas (None: COCO's).
      oks_threshold: the OKS NMS threshold.
      results_name: file name of the results JSON under ``results/``.
    """

    primary = "AP"
    primary_name = "AP"
    primary_scale = 1.0  # COCOeval's AP is in [0, 1].

    def __init__(self, coco_gt: Any, *, sigmas: Optional[Sequence[float]] = None,
                 oks_threshold: float = 0.9,
                 results_name: str = "keypoints_results.json"):
        self.coco_gt = coco_gt
        self.sigmas = tuple(sigmas) if sigmas else None
        self.oks_threshold = oks_threshold
        self.results_name = results_name
        self.reset()

    def restrict(self, records: Any, people: np.ndarray) -> None:
        """From now on scores only the images of ``people`` (a bool mask or
        indices over ``records``, every person of the split): a guard on
        some images of a large split must not count the other images' people
        as missed, which would shrink every AP and hide a drop."""
        if self.coco_gt is None:
            return
        from pycocotools.coco import COCO
        keep = {int(i) for i in np.asarray(records.image_id)[np.asarray(people)]}
        gt = self.coco_gt.dataset
        subset = COCO()
        subset.dataset = {**gt, "images": [im for im in gt["images"] if im["id"] in keep],
                          "annotations": [a for a in gt["annotations"]
                                          if a["image_id"] in keep]}
        with contextlib.redirect_stdout(io.StringIO()):  # Its "creating index...".
            subset.createIndex()
        self.coco_gt = subset

    def reset(self) -> None:
        """Forgets every prediction (between validations)."""
        self._parts: list[tuple[Any, Any]] = []
        self._results: Optional[list[dict[str, Any]]] = None
        self._nonfinite = (0, 0)  # (people, keypoints) of the results with NaN or inf.

    def update(self, predictions: Any, records: Any) -> None:
        """Adds the predictions (``keras_pose.inference.records.Predictions``)
        of the people ``records`` (``PersonRecords``), row for row."""
        if len(predictions) != len(records):
            raise ValueError(f"{len(predictions)} predictions for {len(records)} people")
        self._parts.append((predictions, records))
        self._results = None

    def results(self) -> list[dict[str, Any]]:
        """The COCO results of the people kept by OKS NMS."""
        if self._results is None:
            self._results = []
            for p, r in self._parts:
                kept = nms_per_image(r.image_id, p.keypoints, p.scores, r.area,
                                     self.oks_threshold, self.sigmas)
                logging.info("OKS NMS kept %d of %d people.", len(kept), len(r))
                categories = getattr(r, "category_id", None)
                self._results += make_results(
                    r.image_id[kept], p.keypoints[kept], p.keypoint_scores[kept],
                    p.scores[kept], 1 if categories is None else categories[kept],
                    centers=r.center[kept], scales=r.scale[kept])
            self._nonfinite = nonfinite_people(self._results)
            if self._nonfinite[0]:
                logging.warning("%s", self.nonfinite_note())
        return self._results

    def nonfinite_note(self) -> str:
        """"" or what to know when the model gave NaN or infinite numbers
        (were written as bare NaN, not JSON, and scored without a word)."""
        people, keypoints = self._nonfinite
        if not people:
            return ""
        return (f"Note: {people} of the {len(self._results)} people ({keypoints} keypoints) have "
                f"NaN or infinite numbers from the model, written as null in {self.results_name}"
                + (" and scored as they are" if self.coco_gt is not None else "")
                + ": heatmaps that hold NaN or inf come from the model's weights (corrupted, or "
                "badly converted? check the checkpoint).")

    def result(self) -> dict[str, float]:
        """The ten COCOeval numbers (none without ground truth) and
        ``num_results``."""
        results = self.results()
        metrics = {} if self.coco_gt is None else run_cocoeval(self.coco_gt, results,
                                                               self.sigmas)
        metrics["num_results"] = float(len(results))
        return metrics

    def write(self, output_dir: str) -> str:
        """Writes the results JSON under ``output_dir/results``; its path."""
        path = os.path.join(output_dir, "results", self.results_name)
        write_results(path, self.results())
        return path

    def table(self, metrics: Mapping[str, float], arch_name: str, title: str = "") -> str:
        """The official table (with a note when the ground truth's areas
        were filled in from boxes), or "" when there is no ground truth."""
        if "AP" not in metrics:
            return ""
        notes = "".join(f"\n{n}\n" for n in (self.filled_areas_note(), self.nonfinite_note())
                        if n)
        return format_coco_table(metrics, arch_name, title) + notes

    def filled_areas_note(self) -> str:
        """"" or what to know when people of the ground truth had no
        'area' and no segmentation: their box area stands in, larger than
        the segment area COCO gives (OKS more lenient, AP higher)."""
        from keras_pose.data.coco_files import META_KEY
        filled = ((self.coco_gt.dataset.get(META_KEY) or {}).get("filled") or {}
                  if self.coco_gt is not None else {})
        n = filled.get("area from the box", 0)
        if not n:
            return ""
        return (f"Note: {n} ground-truth people have no 'area' (nor segmentation); their box "
                "area stands in for it, larger than the segment area COCO's files give: OKS is "
                "more lenient and this AP is not comparable with one on COCO-style areas.")

    def describe(self, in_vis_threshold: float) -> str:
        """How the numbers were obtained (for metrics.json)."""
        if self.coco_gt is None:
            note = self.nonfinite_note()
            return ("no ground truth for a test split: results written only"
                    + (f". {note}" if note else ""))
        note = " ".join(n for n in (self.filled_areas_note(), self.nonfinite_note()) if n)
        return ("pycocotools COCOeval('keypoints') after the official rescoring (box score "
                f"x mean keypoint score > {in_vis_threshold}) and greedy OKS NMS per image "
                f"at {self.oks_threshold} with the padded crop area" + (f". {note}" if note
                                                                         else ""))
