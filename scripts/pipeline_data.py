"""The training-pipeline benchmarks' data: person records over copies of the
sample's real COCO images, with a chosen mean number of people per image.

Our pipeline decodes an image file once for all its people, so repeating one
path would flatter it: every copy is a separate file. People are dropped
from the copies at random (at least one is kept per copy) until the mean
number of people per image is the one asked for (COCO train2017: about 150K
people in about 57K images, 2.63).
"""

from __future__ import annotations

import os
import shutil

import numpy as np

COCO_PEOPLE_PER_IMAGE = 150 / 57


def make_records(work_dir: str, data_dir: str, copies: int,
                 people_per_image: float) -> dict[str, np.ndarray]:
    """Person records over ``copies`` file copies (in ``work_dir``) of the
    images of ``data_dir/test_coco.json``."""
    from keras_pose.data import coco
    records = coco.load_coco_gt(os.path.join(data_dir, "test_coco.json"), data_dir,
                                192 / 256).to_dict()
    rng = np.random.default_rng(0)
    rows, paths = [], []
    for c in range(copies):
        for source in sorted(set(records["image_path"])):
            name = os.path.join(work_dir, f"{c:04d}_{os.path.basename(source)}")
            if not os.path.exists(name):
                shutil.copyfile(source, name)
            for i in np.flatnonzero(records["image_path"] == source):
                rows.append(i)
                paths.append(name)
    rows, paths = np.array(rows), np.array(paths)
    num_images = len(set(paths))
    target = int(round(people_per_image * num_images))
    keep = np.ones(len(rows), bool)
    for i in rng.permutation(len(rows)):
        if keep.sum() <= target:
            break
        if np.sum(keep & (paths == paths[i])) > 1:
            keep[i] = False
    values = {k: np.asarray(v)[rows[keep]] for k, v in records.items()}
    values["image_path"] = paths[keep]
    return values
