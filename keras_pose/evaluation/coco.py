"""COCO keypoint evaluation: rescoring, OKS NMS, results JSON, COCOeval.

The steps and their constants are the official code's
(``lib/dataset/coco.py`` ``evaluate`` and ``lib/nms/nms.py``):

1. Rescoring: the keypoint score of a person is the mean of its keypoint
   scores (heatmap maxima) strictly above ``in_vis_thre`` = 0.2, or 0 when
   none is; the final score is box score x keypoint score (box score 1 for
   ground-truth boxes).
2. Greedy OKS NMS per image at 0.9 on the final scores, with the COCO
   sigmas (or the data set's own), over *all* K joints (no visibility
   filter) and with the padded crop area ``(scale[0]*200) * (scale[1]*200)``
   as the object area, as the reference calls it.
3. One result per kept person (``image_id``, ``category_id``, ``keypoints``
   as K x (x, y, score), ``score``) and pycocotools' ``COCOeval`` with
   ``iouType="keypoints"``; ``params.kpt_oks_sigmas`` is set to the data set's
   sigmas so that custom K works.

Everything is vectorised: rescoring is one NumPy expression, the OKS of all
pairs of an image is one broadcast, and the greedy loop only does O(1) work
per person on boolean rows.

Shapes: N people, K keypoints, M people of one image.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from absl import logging

from keras_pose.configs.keypoints import COCO_OKS_SIGMAS
from keras_pose.evaluation.tables import format_table

# The ten numbers of COCOeval's keypoint summary, in the order of ``stats``.
# (The official code names the second one "Ap .5"; the README says "AP .5".)
STATS_NAMES: tuple[str, ...] = (
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)",
    "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")

_EPS = np.spacing(1)  # The reference's eps in the OKS denominator.


def _sigmas(sigmas: Optional[Sequence[float]], num_keypoints: int) -> np.ndarray:
    if sigmas is None or len(sigmas) == 0:
        sigmas = COCO_OKS_SIGMAS
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.shape != (num_keypoints,):
        raise ValueError(
            f"OKS sigmas have {sigmas.shape[0]} values for {num_keypoints} "
            "keypoints; give data.oks_sigmas for this data set")
    return sigmas


def rescore(box_scores: np.ndarray, keypoint_scores: np.ndarray,
            in_vis_threshold: float = 0.2) -> np.ndarray:
    """The reference's person score: box score x mean confident keypoint score.

    Args:
      box_scores: (N,) detection scores (1 for ground-truth boxes).
      keypoint_scores: (N, K) heatmap maxima.
      in_vis_threshold: only scores strictly above it are averaged.

    Returns:
      (N,) float64 scores; 0 for people with no keypoint above the threshold.
    """
    keypoint_scores = np.asarray(keypoint_scores, dtype=np.float64)
    box_scores = np.asarray(box_scores, dtype=np.float64)
    confident = keypoint_scores > in_vis_threshold
    count = confident.sum(axis=1)
    total = np.where(confident, keypoint_scores, 0.0).sum(axis=1)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return box_scores * mean


def pairwise_oks(keypoints: np.ndarray, areas: np.ndarray,
                 sigmas: Optional[Sequence[float]] = None) -> np.ndarray:
    """OKS between every pair of people, as the reference's ``oks_iou``.

    OKS(i, j) = mean over all K joints of
    exp(-d^2 / (2 (2 sigma_k)^2 ((a_i + a_j) / 2 + eps))).

    Args:
      keypoints: (M, K, 2) or (M, K, 3) (only x, y are used).
      areas: (M,) object areas.
      sigmas: K OKS sigmas (default: COCO's).

    Returns:
      (M, M) float64 symmetric matrix with ones on the diagonal.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    areas = np.asarray(areas, dtype=np.float64)
    variances = (2.0 * _sigmas(sigmas, keypoints.shape[1])) ** 2
    delta = keypoints[:, None, :, :2] - keypoints[None, :, :, :2]
    sq_dist = (delta ** 2).sum(axis=-1)                         # (M, M, K)
    mean_area = (areas[:, None] + areas[None, :]) / 2.0 + _EPS  # (M, M)
    e = sq_dist / variances / mean_area[:, :, None] / 2.0
    return np.exp(-e).mean(axis=-1)


def oks_iou(g: np.ndarray, d: np.ndarray, area_g: float, areas_d: np.ndarray,
            sigmas: Optional[Sequence[float]] = None) -> np.ndarray:
    """OKS between one person and many (the reference's ``oks_iou`` without
    its unused visibility filter).

    Args:
      g: (K, 2) or (K, 3) keypoints of one person.
      d: (M, K, 2) or (M, K, 3) keypoints of M others.
      area_g: area of ``g``.
      areas_d: (M,) areas of ``d``.
      sigmas: K OKS sigmas (default: COCO's).

    Returns:
      (M,) OKS values.
    """
    g = np.asarray(g, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    variances = (2.0 * _sigmas(sigmas, g.shape[0])) ** 2
    sq_dist = ((d[:, :, :2] - g[None, :, :2]) ** 2).sum(axis=-1)  # (M, K)
    mean_area = (area_g + np.asarray(areas_d, dtype=np.float64)) / 2.0 + _EPS
    e = sq_dist / variances / mean_area[:, None] / 2.0
    return np.exp(-e).mean(axis=-1)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray,
            threshold: float = 0.9,
            sigmas: Optional[Sequence[float]] = None) -> np.ndarray:
    """Greedy OKS non-maximum suppression over the people of one image.

    Repeatedly keeps the highest-scoring remaining person and drops every
    remaining person whose OKS with it is not <= ``threshold`` (as the
    reference, a NaN OKS also drops). Ties in score are visited with the
    later index first: the reference's ``argsort()[::-1]``, made stable.

    Args:
      keypoints: (M, K, 3) or (M, K, 2) keypoints (x, y[, score]).
      scores: (M,) person scores.
      areas: (M,) areas (the reference: padded crop area).
      threshold: OKS above which a lower-scoring person is suppressed.
      sigmas: K OKS sigmas (default: COCO's for K=17).

    Returns:
      (P,) int64 indices into the M people, in the order they were kept
      (descending score). If nothing were kept, all indices (the reference's
      fallback; cannot happen for M >= 1 with finite scores).
    """
    keypoints = np.asarray(keypoints)
    scores = np.asarray(scores, dtype=np.float64)
    count = scores.shape[0]
    if count == 0:
        return np.zeros((0,), np.int64)
    if keypoints.ndim != 3 or keypoints.shape[0] != count:
        raise ValueError(
            f"keypoints must be (M, K, 2|3) with M = {count}, got {keypoints.shape}")
    order = np.argsort(scores, kind="stable")[::-1]
    oks = pairwise_oks(keypoints[order], np.asarray(areas)[order], sigmas)
    return order[_greedy(oks, threshold)]


def _greedy(oks: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy suppression on an OKS matrix whose rows are in score order."""
    drop = ~(oks <= threshold)  # NaN drops, as in the reference.
    suppressed = np.zeros(oks.shape[0], bool)
    keep = []
    for i in range(oks.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= drop[i]
    if not keep:
        return np.arange(oks.shape[0])
    return np.asarray(keep, np.int64)


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


def rescore_and_nms(image_ids: np.ndarray, keypoints: np.ndarray,
                    keypoint_scores: np.ndarray, box_scores: np.ndarray,
                    areas: np.ndarray, in_vis_threshold: float = 0.2,
                    oks_threshold: float = 0.9,
                    sigmas: Optional[Sequence[float]] = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Rescoring then greedy OKS NMS in each image, as the reference.

    Args:
      image_ids: (N,) image of each person.
      keypoints: (N, K, 2) predicted coordinates in the original image.
      keypoint_scores: (N, K) heatmap maxima.
      box_scores: (N,) box scores.
      areas: (N,) OKS areas (padded crop area).
      in_vis_threshold: rescoring threshold (``in_vis_thre``).
      oks_threshold: NMS threshold (``oks_thre``).
      sigmas: K OKS sigmas (default: COCO's).

    Returns:
      (kept, scores): kept (P,) int64 row indices, grouped by image in order
      of first appearance and by descending score within an image; scores
      (N,) the rescored person scores of all rows.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = rescore(box_scores, keypoint_scores, in_vis_threshold)
    areas = np.asarray(areas, dtype=np.float64)
    _sigmas(sigmas, keypoints.shape[1])  # Fail early on a K mismatch.
    kept = []
    for rows in group_by_image(image_ids):
        kept.append(rows[oks_nms(keypoints[rows], scores[rows], areas[rows],
                                 oks_threshold, sigmas)])
    if not kept:
        return np.zeros((0,), np.int64), scores
    return np.concatenate(kept), scores


def make_results(image_ids: np.ndarray, keypoints: np.ndarray,
                 keypoint_scores: np.ndarray, scores: np.ndarray,
                 category_id: int = 1,
                 centers: Optional[np.ndarray] = None,
                 scales: Optional[np.ndarray] = None) -> list[dict[str, Any]]:
    """COCO keypoint results, one dict per person (the given rows).

    Args:
      image_ids: (P,) image ids.
      keypoints: (P, K, 2) coordinates in the original image.
      keypoint_scores: (P, K) heatmap maxima (the third value of each joint).
      scores: (P,) person scores.
      category_id: the person category of the annotation file.
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
    person_scores = np.asarray(scores, dtype=np.float64).tolist()
    centers_list = None if centers is None else np.asarray(centers, np.float64).tolist()
    scales_list = None if scales is None else np.asarray(scales, np.float64).tolist()
    results = []
    for i, (image_id, kpts, score) in enumerate(zip(ids, flat, person_scores)):
        result = {"image_id": image_id, "category_id": int(category_id),
                  "keypoints": kpts, "score": score}
        if centers_list is not None:
            result["center"] = centers_list[i]
        if scales_list is not None:
            result["scale"] = scales_list[i]
        results.append(result)
    return results


def write_results(path: str, results: Sequence[Mapping[str, Any]]) -> None:
    """Writes COCO results JSON atomically (a list of result dicts)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(list(results), f)
    os.replace(tmp, path)


def load_coco_gt(annotation_file: str):
    """Loads a COCO annotation file with pycocotools, quietly.

    Raises:
      FileNotFoundError: naming the file when it does not exist.
      ValueError: naming the file when it is not COCO JSON.
    """
    from pycocotools.coco import COCO  # Heavy import, only when evaluating.
    if not os.path.isfile(annotation_file):
        raise FileNotFoundError(
            f"COCO annotation file {annotation_file} does not exist")
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return COCO(annotation_file)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            raise ValueError(
                f"{annotation_file} is not a COCO annotation file: {e!r}") from e


def keypoint_category_id(coco_gt, num_keypoints: int) -> int:
    """The id of the category with ``num_keypoints`` keypoint names (the
    person category of COCO: 1)."""
    for cat in coco_gt.loadCats(coco_gt.getCatIds()):
        if len(cat.get("keypoints", ())) == num_keypoints:
            return int(cat["id"])
    raise ValueError(
        f"the annotation file has no category with {num_keypoints} keypoints "
        "(the model's K); categories: "
        + ", ".join(f"{c['id']}:{c.get('name')}({len(c.get('keypoints', ()))})"
                    for c in coco_gt.loadCats(coco_gt.getCatIds())))


def run_cocoeval(coco_gt: Union[str, Any],
                 results: Union[str, Sequence[Mapping[str, Any]]],
                 sigmas: Optional[Sequence[float]] = None) -> dict[str, float]:
    """Runs pycocotools' keypoint COCOeval and returns the ten numbers.

    Args:
      coco_gt: a ``pycocotools.coco.COCO`` object or an annotation file.
      results: result dicts (see :func:`make_results`) or a results JSON path.
      sigmas: K OKS sigmas; default COCO's (required for K != 17).

    Returns:
      ``{name: value}`` for :data:`STATS_NAMES` (values in [0, 1], -1 when a
      category has no ground truth, COCOeval's convention). With no results
      at all every number is 0.0 (logged), since pycocotools cannot load an
      empty result list.
    """
    from pycocotools.cocoeval import COCOeval
    if isinstance(coco_gt, str):
        coco_gt = load_coco_gt(coco_gt)
    if isinstance(results, str):
        with open(results) as f:
            results = json.load(f)
    results = list(results)
    if not results:
        logging.warning("No keypoint results to evaluate: every COCO metric is 0.")
        return {name: 0.0 for name in STATS_NAMES}
    num_keypoints = len(results[0]["keypoints"]) // 3
    sigmas_array = _sigmas(sigmas, num_keypoints)
    known = set(coco_gt.getImgIds())
    unknown = {r["image_id"] for r in results} - known
    if unknown:
        raise ValueError(
            f"{len(unknown)} result image ids are not in the annotation file "
            f"(e.g. {sorted(unknown)[:5]})")
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        coco_dt = coco_gt.loadRes(results)
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
