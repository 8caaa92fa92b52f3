"""Person records: what the readers produce and the pipelines consume.

Shapes: N people, K keypoints.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

ARRAY_FIELDS = ("image_path", "image_id", "center", "scale", "joints",
                "joints_vis", "score", "area", "box", "category_id")


@dataclasses.dataclass(frozen=True)
class PersonRecords:
    """One row per person crop.

    Attributes:
      image_path: (N,) absolute image paths.
      image_id: (N,) int64 image ids (COCO ids; MPII: the image's index in
        the annotation file).
      center: (N, 2) float32 the reference's crop centre, image pixels.
      scale: (N, 2) float32 the reference's scale, units of 200 px (padded
        x1.25, MPII-adjusted).
      joints: (N, K, 2) float32 0-based image pixels.
      joints_vis: (N, K) float32, 1 for labelled joints.
      score: (N,) float32 box score (1 for ground-truth boxes).
      area: (N,) float32 (scale[0]*200)*(scale[1]*200), the area the
        reference's OKS NMS uses.
      box: (N, 4) float32 [x, y, w, h] the centre/scale came from.
      category_id: (N,) int64 the person's COCO category id (its own
        species in a file with several keypoint categories; 1 when the
        reader has none, e.g. MPII), for the results JSON.
      keypoint_names: K names.
      flip_pairs: left/right pairs.
      skeleton: limbs for drawing.
      num_skipped: annotations dropped by the reader.
      skipped_reasons: count per reason.
      source: the annotation file read.
    """

    image_path: np.ndarray
    image_id: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    joints: np.ndarray
    joints_vis: np.ndarray
    score: np.ndarray
    area: np.ndarray
    box: np.ndarray
    category_id: np.ndarray = None  # type: ignore[assignment]  # None: all 1.
    keypoint_names: tuple[str, ...] = ()
    flip_pairs: tuple[tuple[int, int], ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    num_skipped: int = 0
    skipped_reasons: dict = dataclasses.field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        if self.category_id is None:  # Built without categories: COCO's person.
            object.__setattr__(self, "category_id",
                               np.ones(len(self.image_path), np.int64))

    @property
    def num_keypoints(self) -> int:
        return int(self.joints.shape[1])

    def __len__(self) -> int:
        return int(self.image_path.shape[0])

    def select(self, indices: Sequence[int] | np.ndarray) -> "PersonRecords":
        """The records at ``indices`` (an index array or a boolean mask)."""
        indices = np.asarray(indices)
        return dataclasses.replace(
            self, **{f: getattr(self, f)[indices] for f in ARRAY_FIELDS})

    def to_dict(self) -> dict[str, np.ndarray]:
        """The arrays, for ``tf.data.Dataset.from_tensor_slices``."""
        return {f: getattr(self, f) for f in ARRAY_FIELDS}

    @classmethod
    def from_lists(cls, rows: dict[str, list], num_keypoints: int,
                   **metadata: Any) -> "PersonRecords":
        """Builds records from per-field lists (possibly empty)."""
        n = len(rows.get("image_path", []))
        k = num_keypoints

        def arr(name, dtype, shape):
            values = rows.get(name, [])
            return np.asarray(values, dtype=dtype).reshape((n,) + shape)

        return cls(
            image_path=np.asarray(rows.get("image_path", []), dtype=str).reshape(n),
            image_id=arr("image_id", np.int64, ()),
            center=arr("center", np.float32, (2,)),
            scale=arr("scale", np.float32, (2,)),
            joints=arr("joints", np.float32, (k, 2)),
            joints_vis=arr("joints_vis", np.float32, (k,)),
            score=arr("score", np.float32, ()),
            area=arr("area", np.float32, ()),
            box=arr("box", np.float32, (4,)),
            category_id=(arr("category_id", np.int64, ()) if "category_id" in rows
                         else None),
            **metadata)
