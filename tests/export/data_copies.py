"""Copies of the tiny synthetic data set (``tiny_synthetic``) that a model
of it must not be calibrated or guarded on as they are, or that lack a split:

- ``order``: two keypoints swapped in the files, names AND values (the same
  keypoints, written in another order);
- ``names``: one keypoint renamed (same K, another keypoint);
- ``val_only``: the training split's annotation file removed.

The images are linked, not copied; the synthetic marker is kept, so that
the copy is taken for the same generated set (nothing is regenerated).
"""

import json
import os
import shutil

SWAPPED = (1, 2)  # left_eye, right_eye: a model of the set has them in this order.
RENAMED = (0, "snout")  # nose -> snout.


def _edit(path: str, kind: str) -> None:
    """Rewrites one COCO annotation file as ``kind`` says."""
    with open(path) as f:
        data = json.load(f)
    for category in data["categories"]:
        names = category["keypoints"]
        if kind == "order":
            a, b = SWAPPED
            names[a], names[b] = names[b], names[a]
        elif kind == "names":
            names[RENAMED[0]] = RENAMED[1]
    if kind == "order":  # The values move with the names: (x, y, v) triples.
        a, b = SWAPPED
        for ann in data["annotations"]:
            k = ann["keypoints"]
            k[3 * a:3 * a + 3], k[3 * b:3 * b + 3] = k[3 * b:3 * b + 3], k[3 * a:3 * a + 3]
    with open(path, "w") as f:
        json.dump(data, f)


def synthetic_copy(config, root, kind: str):
    """A copy of ``config``'s synthetic data set at ``root`` changed as
    ``kind`` says (module docstring); returns ``config`` (the model's
    keypoints) with ``data.root`` the copy, resolved."""
    from keras_pose.configs import apply_overrides
    from keras_pose.data.datasets import resolve_dataset_config
    source, root = config.data.root, str(root)
    shutil.copytree(source, root, ignore=lambda folder, names:
                    ["images"] if os.path.samefile(folder, source) else [])
    os.symlink(os.path.join(source, "images"), os.path.join(root, "images"))
    annotations = os.path.join(root, "annotations")
    train = os.path.join(annotations, f"person_keypoints_{config.data.train_set}.json")
    for name in sorted(os.listdir(annotations)):
        path = os.path.join(annotations, name)
        if kind == "val_only" and path == train:
            os.remove(path)
        elif kind != "val_only":
            _edit(path, kind)
    return resolve_dataset_config(apply_overrides(config, [f"data.root={root}"]))
