"""Image files that are broken, or merely unusual, and a COCO-format set
built from the real sample images with some of them."""

import json
import os

import cv2
import numpy as np

from tests.conftest import DATA_DIR

COCO_DIR = os.path.join(DATA_DIR, "coco")
# Refused by the decoding policy (TF's decoder): skipped in training.
UNREADABLE = ("corrupt", "truncated", "empty", "text", "webp_animated")
# Decoded as OpenCV (the reference) decodes them: trained on.
DECODABLE = ("png16", "rgba", "grey", "webp_alpha")


def _chunk(name: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: name, little-endian size, payload padded to even."""
    return name + len(payload).to_bytes(4, "little") + payload + b"\0" * (len(payload) % 2)


def animated_webp(bgr: np.ndarray, frames: int = 2) -> bytes:
    """An animated WebP without alpha (the kind TF's decoder aborted the
    process on), each frame ``bgr``: VP8X (animation flag), ANIM, ANMF."""
    ok, still = cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless
    assert ok
    image_chunks = bytes(still)[12:]  # After "RIFF", size, "WEBP": the VP8L chunk.
    h, w = bgr.shape[:2]
    u24 = lambda v: int(v).to_bytes(3, "little")  # noqa: E731
    body = _chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + u24(w - 1) + u24(h - 1))
    body += _chunk(b"ANIM", b"\0\0\0\0" + b"\0\0")
    frame = u24(0) + u24(0) + u24(w - 1) + u24(h - 1) + u24(100) + b"\0"
    body += _chunk(b"ANMF", frame + image_chunks) * frames
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body


def write_variant(source: str, directory: str, name: str, kind: str) -> str:
    """Writes ``kind`` of the JPEG ``source`` as ``directory/name``.<ext>."""
    raw = open(source, "rb").read()
    suffix = {"png16": ".png", "rgba": ".png", "webp_alpha": ".webp", "webp_animated": ".webp"}
    path = os.path.join(directory, name + suffix.get(kind, ".jpg"))
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
    elif kind == "webp_alpha":  # TF's decoder refused its 3 channels: "corrupt".
        alpha = np.full(bgr.shape[:2], 128, np.uint8)
        assert cv2.imwrite(path, np.dstack([bgr, alpha]), [cv2.IMWRITE_WEBP_QUALITY, 101])
    elif kind == "webp_animated":
        open(path, "wb").write(animated_webp(bgr))
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
