"""The paper's flow-based pose similarity and its greedy matching.

S_flow(track, pose) = OKS(track's pose carried into this frame by the flow,
new pose). The OKS is COCO's (``keras_pose.oks.oks_between``: per joint
exp(-d^2 / (2 (2 sigma)^2 area)), the area the mean of the two people's),
with two changes for tracking:

- two different sets of people (tracks x new poses) instead of one set
  against itself;
- only joints confident in both poses count (as COCO counts only labelled
  joints): a propagated low-confidence joint is noise. No shared confident
  joint: similarity 0.

Shapes: N and M people, K joints.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA


def sigmas_or_default(sigmas: Optional[Sequence[float]], num_keypoints: int) -> np.ndarray:
    """The given OKS sigmas, or a default when there are none.

    Callers with a data set should pass its sigmas
    (``keras_pose.configs.sigmas.resolve_sigmas(config.data.oks_sigmas,
    config.data.keypoint_names)``). Empty or None: COCO's for K = 17,
    ``DEFAULT_OKS_SIGMA`` for every joint otherwise.

    Raises:
      ValueError: when the number of sigmas is not K, or one is not a
        finite number > 0 (a zero made every OKS NaN: a new track id for
        every pose of every frame).
    """
    if sigmas is None or len(sigmas) == 0:
        sigmas = COCO_OKS_SIGMAS if num_keypoints == 17 else (DEFAULT_OKS_SIGMA,) * num_keypoints
    try:
        sigmas = np.asarray(sigmas, np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"OKS sigmas: not a list of numbers ({e})") from e
    if sigmas.shape != (num_keypoints,):
        raise ValueError(f"{sigmas.size} OKS sigmas for {num_keypoints} keypoints")
    bad = np.flatnonzero(~(np.isfinite(sigmas) & (sigmas > 0)))
    if len(bad):
        raise ValueError(f"OKS sigmas: sigma {bad[0]} is {sigmas[bad[0]]}; every sigma must be "
                         "a finite number > 0 (COCO's are 0.025 to 0.107)")
    return sigmas


def greedy_match(similarity: np.ndarray, threshold: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one greedy matching, highest similarity first.

    Repeatedly takes the most similar remaining (row, column) pair, as long
    as its similarity is at least ``threshold``, and removes both (the
    paper's greedy id assignment). Ties go to the lower row, then column.

    Args:
      similarity: (N, M) e.g. tracks x new poses.
      threshold: pairs below it are never matched.

    Returns:
      rows (P,) int64 and columns (P,) int64 of the matched pairs, in the
      order they were taken.
    """
    similarity = np.asarray(similarity, np.float64)
    rows, cols = [], []
    if similarity.size:
        order = np.argsort(-similarity, axis=None, kind="stable")
        row_used = np.zeros(similarity.shape[0], bool)
        col_used = np.zeros(similarity.shape[1], bool)
        for flat in order:
            r, c = divmod(int(flat), similarity.shape[1])
            if not similarity[r, c] >= threshold:
                break  # sorted: everything after is lower (NaN sorts last)
            if not row_used[r] and not col_used[c]:
                row_used[r] = col_used[c] = True
                rows.append(r)
                cols.append(c)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)
