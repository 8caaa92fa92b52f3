"""Image files that are broken, or merely unusual, and a COCO-format set
built from the real sample images with some of them."""

import json
import os

import cv2
import numpy as np

from tests.conftest import DATA_DIR

COCO_DIR = os.path.join(DATA_DIR, "coco")
# Refused by the decoding policy (TF's decoder): skipped in training.
UNREADABLE = ("corrupt", "truncated", "empty", "text")
# Decoded as OpenCV (the reference) decodes them: trained on.
DECODABLE = ("png16", "rgba", "grey")


def write_variant(source: str, directory: str, name: str, kind: str) -> str:
    """Writes ``kind`` of the JPEG ``source`` as ``directory/name``.<ext>."""
    raw = open(source, "rb").read()
    path = os.path.join(directory, name + (".png" if kind in ("png16", "rgba") else ".jpg"))
    bgr = cv2.imread(source)
    if kind == "corrupt":  # the entropy-coded data overwritten, then cut
        data = bytearray(raw[:len(raw) // 3])
        data[200:4000] = np.random.default_rng(0).integers(0, 256, 3800, np.uint8).tobytes()
        open(path, "wb").write(bytes(data))
    elif kind == "truncated":
        open(path, "wb").write(raw[:len(raw) // 2])
    elif kind == "empty":
        open(path, "wb").write(b"")
    elif kind == "text":
        open(path, "w").write("not an image\n")
    elif kind == "png16":
        cv2.imwrite(path, bgr.astype(np.uint16) * 257 + 100)
    elif kind == "rgba":
        cv2.imwrite(path, np.dstack([bgr, np.full(bgr.shape[:2], 128, np.uint8)]))
    elif kind == "grey":
        cv2.imwrite(path, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    else:
        open(path, "wb").write(raw)
    return path


def coco_set(root: str, num_images: int = 40, kinds=UNREADABLE + DECODABLE) -> dict:
    """A COCO-format set at ``root`` (train2017 and val2017 annotations):
    ``num_images`` copies of the 4 sample images with their people, the
    first ``len(kinds)`` of them written as those variants.

    Returns:
      {kind: path} of the variants.
    """
    data = json.load(open(os.path.join(COCO_DIR, "test_coco.json")))
    images_dir = os.path.join(root, "images", "train2017")
    os.makedirs(images_dir)
    os.makedirs(os.path.join(root, "annotations"))
    images, annotations, variants = [], [], {}
    for n in range(num_images):
        source = data["images"][n % len(data["images"])]
        kind = kinds[n] if n < len(kinds) else "copy"
        path = write_variant(os.path.join(COCO_DIR, source["file_name"]), images_dir,
                             f"{n:06d}", kind)
        variants[kind] = path
        images.append(dict(source, id=n + 1, file_name=os.path.basename(path)))
        annotations += [dict(a, id=len(annotations) + i + 1, image_id=n + 1) for i, a in
                        enumerate(a for a in data["annotations"] if a["image_id"] == source["id"])]
    for split in ("train2017", "val2017"):
        json.dump(dict(data, images=images, annotations=annotations),
                  open(os.path.join(root, "annotations", f"person_keypoints_{split}.json"), "w"))
    os.symlink(images_dir, os.path.join(root, "images", "val2017"))
    variants.pop("copy", None)
    return variants
