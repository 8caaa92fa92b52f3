"""The accuracy guard: a lowered network (bf16, int8, another runtime) must
keep the fp32 network's primary metric within 0.5 point (COCO AP x 100, MPII
PCKh Mean in percent: each metric's number is taken on a [0, 1] scale,
``primary_scale``, so that one limit means the same points everywhere).

Every candidate runs the one inference path (``TopDownEstimator`` through
``predict_records``: the same crops, flip test, decoding and rescoring) with
only the network swapped, on the same people; the data set's metric
(``metric_for``) scores each, and the keypoints are compared person by
person with the fp32 reference's (:func:`guard_on_dataset`).

Without a data set (a user with photos only) there is no AP to compare:
:func:`guard_on_crops` asks instead that the candidate's keypoints agree
with fp32's on the user's own people: at least ``MIN_AGREEMENT`` of them
within ``AGREEMENT_PIXELS`` heatmap pixel (the decoder's grid). Measured
2026-12-03 on the demo model (``train.py --dataset synthetic``, epoch 5 of
8, AP 55.1) over the 104 validation people: OpenVINO / ONNX Runtime int8
put 99.9% / 99.3% of the keypoints within one heatmap pixel of fp32's (mean
0.04 / 0.08 heatmap pixel); after 2 epochs (AP 18.9) 95.9%; random networks,
whose heatmaps have no peak to keep, 84-95%.

Shapes: N people, K keypoints, h x w crops.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional

import numpy as np
import tensorflow as tf

from keras_pose import log as logging
from keras_pose.configs import ExperimentConfig
from keras_pose.errors import UserError
from keras_pose.evaluation.metrics import check_records, metric_for
from keras_pose.inference.estimator import Network, TopDownEstimator
from keras_pose.inference.records import Predictions, predict_records

MAX_AP_DROP = 0.005  # 0.5 point of the primary metric on its [0, 1] scale.
AGREEMENT_PIXELS = 1.0  # Heatmap pixels: one step of the decoder's grid.
MIN_AGREEMENT = 0.95


class AccuracyGuardError(UserError, RuntimeError):
    """A candidate lost more accuracy than allowed; the message has the table."""


@dataclasses.dataclass(frozen=True)
class GuardRow:
    """One candidate against the fp32 reference.

    Attributes:
      name: e.g. ``onnx int8``.
      ap: the metric's primary number on a [0, 1] scale (COCO AP; MPII
        PCKh Mean / 100).
      ap_drop: the reference's - ``ap`` (positive: worse), same scale.
      mean_px: mean keypoint displacement from the reference, image pixels.
      p99_px: its 99th percentile.
      moved: fraction of keypoints displaced by more than 0.5 pixel.
      metric: the primary number's name (``primary_name``: AP, PCKh Mean).
    """

    name: str
    ap: float
    ap_drop: float
    mean_px: float
    p99_px: float
    moved: float
    metric: str = "AP"


def displacement(candidate: Predictions, reference: Predictions) -> np.ndarray:
    """(N * K,) distances in image pixels between the two keypoint sets."""
    return np.linalg.norm(candidate.keypoints - reference.keypoints, axis=-1).ravel()


def _score(metric, predictions: Predictions, records) -> float:
    """The primary number on a [0, 1] scale: MPII's PCKh (percent) counted
    as COCO's AP (a fraction), so that one limit is the same points for both."""
    metric.reset()
    metric.update(predictions, records)
    return float(metric.result()[metric.primary]) / metric.primary_scale


def compare_networks(reference: Network, candidates: Mapping[str, Network],
                     config: ExperimentConfig, records, *, flip: Optional[bool] = None,
                     batch_size: int = 32, people: Optional[np.ndarray] = None
                     ) -> tuple[float, list[GuardRow]]:
    """Evaluates the fp32 reference and each candidate on ``records``
    (or on ``people`` of them).

    Args:
      reference: the fp32 network (crops -> heatmaps).
      candidates: name -> network (``keras_pose.export.runtimes.numpy_network`` for runtimes).
      config: the checkpoint's config (metric, flip pairs, decoding).
      records: every person of the config's evaluation split
        (``PersonRecords``; ``metric_for`` loads its ground truth).
      flip: the flip test (None: ``test.flip_test``).
      batch_size: people per batch.
      people: a bool mask or indices over ``records`` of the people to run
        (:func:`whole_images`); the metric scores only their ground truth
        (``restrict``). None: all.

    Returns:
      (the reference's primary number on a [0, 1] scale, one
      :class:`GuardRow` per candidate).
    """
    def run(network: Network) -> Predictions:
        return predict_records(TopDownEstimator(network, config, flip), records,
                               batch_size=batch_size)

    metric = metric_for(config)
    check_records(metric, records, config)  # MPII: the .mat pairs people by position.
    if people is not None:
        metric.restrict(records, people)
        records = records.select(people)
    expected = run(reference)
    reference_ap = _score(metric, expected, records)
    rows = []
    for name, network in candidates.items():
        got = run(network)
        ap = _score(metric, got, records)
        dist = displacement(got, expected)
        rows.append(GuardRow(name, ap, reference_ap - ap, float(dist.mean()),
                             float(np.percentile(dist, 99)), float(np.mean(dist > 0.5)),
                             metric.primary_name))
        logging.info("accuracy guard: %s %s %.2f (fp32 %.2f), keypoints moved %.3f px on "
                     "average, 99th percentile %.3f px", name, metric.primary_name, 100 * ap,
                     100 * reference_ap, rows[-1].mean_px, rows[-1].p99_px)
    return reference_ap, rows


def _metric_name(rows: list[GuardRow]) -> str:
    return rows[0].metric if rows else "AP"


def format_table(reference_ap: float, rows: list[GuardRow]) -> str:
    """A Markdown table of the comparison, the metric named and in points
    (x 100 of its [0, 1] scale: AP as COCO reports it, PCKh in percent)."""
    name = _metric_name(rows)
    lines = [f"| network | {name} | {name} - fp32 | mean displacement (px) | 99th pct (px) "
             "| moved > 0.5 px |", "| --- | --- | --- | --- | --- | --- |",
             f"| fp32 reference | {100 * reference_ap:.2f} | | | | |"]
    lines += [f"| {r.name} | {100 * r.ap:.2f} | {0.0 - 100 * r.ap_drop:+.2f} | {r.mean_px:.3f} "
              f"| {r.p99_px:.3f} | {100 * r.moved:.1f}% |" for r in rows]
    return "\n".join(lines)


def could_judge(reference_ap: float, mean_px: float, max_drop: float = MAX_AP_DROP) -> bool:
    """Whether a comparison of the metric (both on its [0, 1] scale) can
    tell a worse export: the fp32 model scores above what an export may
    lose, or the export moved nothing."""
    return reference_ap > max_drop or mean_px <= 0.05


def check_guard(reference_ap: float, rows: list[GuardRow], max_drop: float = MAX_AP_DROP,
                force: bool = False) -> None:
    """Refuses candidates that lost more than ``max_drop`` of the primary
    metric (both on its [0, 1] scale: 0.005 is 0.5 AP or PCKh point).

    Raises:
      AccuracyGuardError: naming them, with the table (unless ``force``:
        then an error-level log says the same and the export goes on).
    """
    name = _metric_name(rows)
    # No candidate could lose more: said, not passed in silence (unless none
    # moved: an fp32 export of the same numbers needs no judging).
    if not all(could_judge(reference_ap, r.mean_px, max_drop) for r in rows):
        logging.warning(
            "accuracy guard: the fp32 model's %s here is %.2f, not above the %g points an "
            "export may lose, so the %s cannot tell a worse export (keypoints of %s moved %s "
            "px on average from fp32's); a model that scores on this data set makes the guard "
            "work", name, 100 * reference_ap, 100 * max_drop, name,
            ", ".join(r.name for r in rows), ", ".join(f"{r.mean_px:.3g}" for r in rows))
    bad = [r for r in rows if r.ap_drop > max_drop]
    if not bad:
        return
    message = (f"accuracy guard: {', '.join(r.name for r in bad)} lost more than "
               f"{100 * max_drop:g} {name} point against fp32:\n"
               f"{format_table(reference_ap, rows)}")
    if not force:  # The way out depends on the tool: each caller adds its own.
        raise AccuracyGuardError(message)
    logging.error("%s\nexported anyway (forced)", message)


def whole_images(records, max_people: int) -> Optional[np.ndarray]:
    """The people of the first images (in id order) up to about
    ``max_people``: a subset that keeps every person of each image it
    takes, so that the subset's AP is meaningful.

    Returns:
      (N,) bool mask over ``records`` of the people kept, or None for all
      (``max_people`` <= 0, or no more people than that).
    """
    if max_people <= 0 or len(records) <= max_people:
        return None
    ids = np.unique(records.image_id)
    counts = np.cumsum([np.sum(records.image_id == i) for i in ids])
    keep = ids[:max(1, int(np.searchsorted(counts, max_people, side="right")))]
    return np.isin(records.image_id, keep)


def guard_records(config: ExperimentConfig, owner: str = "the model"):
    """The people of ``config``'s evaluation split that guard an export,
    read before any export is made: a data set whose keypoints differ from
    the model's (another K, other names, another order) is refused there.
    Was: only another K was; the same K with other keypoints was scored,
    passed and the export cached.

    Args:
      config: the resolved config of the data set; its metadata (names,
        K) is the checkpoint's.
      owner: the model, for messages (e.g. ``checkpoint out/m5``).

    Returns:
      ``PersonRecords`` of the split.

    Raises:
      DatasetError: naming both sets of keypoints (``datasets.check_metadata``).
    """
    from keras_pose.data import datasets
    records = datasets.load_records(config, "test", owner=owner)
    datasets.check_metadata(config, records, owner, use="guard its export on")
    return records


def guard_on_dataset(reference: Network, candidate: Network, name: str,
                     config: ExperimentConfig, *, max_drop: float = MAX_AP_DROP,
                     people: int = 0, force: bool = False, owner: str = "the model",
                     records=None) -> dict:
    """The guard of every export: ``candidate`` against the fp32
    ``reference`` on the evaluation split of ``config``'s data set.

    Args:
      reference, candidate: crops -> heatmaps networks.
      name: the candidate's name in the table (e.g. ``openvino int8``).
      config: the resolved config of the data set.
      max_drop: the limit, on the primary metric's [0, 1] scale (0.005:
        0.5 AP point for COCO, 0.5 PCKh point for MPII).
      people: the people of the first images up to this many
        (:func:`whole_images`; 0: the whole split).
      force: log a failure instead of raising it.
      owner: the model, for messages (:func:`guard_records`).
      records: the split's people from :func:`guard_records` (read before
        the export was made); None: read here.

    Returns:
      What was measured, for the export's sidecar (``table``: Markdown).

    Raises:
      AccuracyGuardError: the candidate lost more than ``max_drop``.
      DatasetError: the data set's keypoints are not the model's.
    """
    if records is None:
        records = guard_records(config, owner)
    kept = whole_images(records, people)
    reference_ap, (row,) = compare_networks(reference, {name: candidate}, config, records,
                                            people=kept)
    guarded = len(records) if kept is None else int(np.sum(kept))
    table = format_table(reference_ap, [row])
    logging.info("accuracy guard on %d people of %s:\n%s", guarded, config.data.test_set,
                 table)
    check_guard(reference_ap, [row], max_drop=max_drop, force=force)
    # fp32_ap and ap on the metric's [0, 1] scale (could_judge reads them).
    return {"data": guarded_data(config), "people": guarded, "metric": row.metric,
            "rule": f"{row.metric} drop <= {100 * max_drop:.2f} point",
            "fp32_ap": reference_ap, "ap": row.ap, "mean_px": row.mean_px, "table": table}


def guarded_data(config: ExperimentConfig) -> str:
    """The data set a guard ran on, as its sidecar records it."""
    return f"{config.data.root} {config.data.test_set}"


def heatmap_keypoints(network: Network, config: ExperimentConfig, crops: np.ndarray,
                      batch_size: int = 32) -> np.ndarray:
    """(M, K, 2) keypoints in heatmap pixels of pixel crops (M, h, w, 3):
    the estimator's normalisation, network, flip test and decoding."""
    estimator = TopDownEstimator(network, config)
    out = []
    for start in range(0, len(crops), batch_size):
        coords, _ = estimator.codec.decode_tf(
            estimator.heatmaps(tf.constant(crops[start:start + batch_size], tf.float32)))
        out.append(coords.numpy())
    return np.concatenate(out) if out else np.zeros((0, estimator.num_keypoints, 2))


def guard_on_crops(reference: Network, candidate: Network, name: str,
                   config: ExperimentConfig, crops: np.ndarray, *,
                   min_agreement: float = MIN_AGREEMENT) -> dict:
    """The guard without a data set: keypoint agreement with fp32 on the
    user's own people (pixel crops (M, h, w, 3) as the estimator cuts them).

    Returns:
      What was measured, for the export's sidecar.

    Raises:
      AccuracyGuardError: fewer than ``min_agreement`` of the keypoints
        within ``AGREEMENT_PIXELS`` heatmap pixel of fp32's.
    """
    dist = np.linalg.norm(heatmap_keypoints(candidate, config, crops)
                          - heatmap_keypoints(reference, config, crops), axis=-1)
    agreement = float(np.mean(dist <= AGREEMENT_PIXELS))
    summary = (f"{name}: {100 * agreement:.1f}% of the keypoints of {len(crops)} people "
               f"within {AGREEMENT_PIXELS:g} heatmap pixel of fp32's (mean "
               f"{dist.mean():.3f}, max {dist.max():.2f} heatmap pixels)")
    logging.info("accuracy guard on your inputs: %s", summary)
    if agreement < min_agreement:
        raise AccuracyGuardError(f"accuracy guard: {summary}; at least "
                                 f"{100 * min_agreement:.0f}% are needed")
    return {"data": "the people of the inputs", "people": len(crops),
            "rule": f">= {100 * min_agreement:.0f}% of keypoints within "
                    f"{AGREEMENT_PIXELS:g} heatmap pixel of fp32's",
            "agreement": agreement, "mean_heatmap_px": float(dist.mean())}
