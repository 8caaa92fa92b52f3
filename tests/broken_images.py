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


def _gif_pixels(indices: np.ndarray) -> bytes:
    """(H, W) 8-bit colour indices as GIF image data: the LZW minimum code
    size (8), then 9-bit codes, each pixel a literal, a clear code every 250
    pixels so the code width never grows, the end code; packed low bit
    first, in sub-blocks of up to 255 bytes ended by an empty one."""
    clear, end = 256, 257
    codes = [clear]
    for n, value in enumerate(indices.ravel()):
        if n and n % 250 == 0:
            codes.append(clear)
        codes.append(int(value))
    codes.append(end)
    packed = sum(code << (9 * i) for i, code in enumerate(codes))
    stream = packed.to_bytes((9 * len(codes) + 7) // 8, "little")
    blocks = b"".join(bytes([len(stream[i:i + 255])]) + stream[i:i + 255]
                      for i in range(0, len(stream), 255))
    return bytes([8]) + blocks + b"\0"


def gif_bytes(indices: np.ndarray, table: np.ndarray, canvas=None, offset=(0, 0),
              transparent=None, background=0, local=False) -> bytes:
    """A one-frame GIF89a, laid out by the format's definition: (H, W)
    ``indices`` into ``table`` ((256, 3) RGB) as the frame, at ``offset``
    (x, y) on a ``canvas`` (width, height; the frame's size by default), the
    table global, or local to the frame (no global table) if ``local``; a
    Graphic Control Extension giving ``transparent`` if not None."""
    height, width = indices.shape
    u16 = lambda v: int(v).to_bytes(2, "little")  # noqa: E731
    screen_w, screen_h = canvas or (width, height)
    table_flags = 0x80 | 0x70 | 7  # A table of 2^8 entries, 8-bit colour.
    data = b"GIF89a" + u16(screen_w) + u16(screen_h)
    data += bytes([0 if local else table_flags, background, 0])
    data += b"" if local else table.astype(np.uint8).tobytes()
    data += b"\x21\xfe\x05hello\x00"  # A comment extension, skipped.
    if transparent is not None:
        data += b"\x21\xf9\x04\x01\x00\x00" + bytes([transparent]) + b"\x00"
    data += b"\x2c" + u16(offset[0]) + u16(offset[1]) + u16(width) + u16(height)
    data += bytes([table_flags & 0x87 if local else 0])
    data += table.astype(np.uint8).tobytes() if local else b""
    return data + _gif_pixels(indices) + b"\x3b"


def photo_indices(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A photo as (H, W) indices into a (256, 3) RGB table (Pillow's quantizing)."""
    from PIL import Image
    quantized = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1])).quantize(256)
    table = np.zeros((256, 3), np.uint8)
    palette = np.array(quantized.getpalette()[:768], np.uint8).reshape(-1, 3)
    table[:len(palette)] = palette
    return np.asarray(quantized), table


def bitfields_bmp(bgr: np.ndarray, masks, compression: int = 3, header: int = 56) -> bytes:
    """A 32-bit BMP of a photo with colour ``masks`` (R, G, B[, A]), laid out
    by the format's definition: each pixel the little-endian word of its
    channels placed by the 8-bit-aligned masks (0xFF in unmasked bytes),
    bottom row first; the masks in a ``header``-byte information header, or
    after a 40-byte one."""
    import struct
    height, width = bgr.shape[:2]
    words = np.full((height, width), 0, np.uint32)
    unmasked = 0xFFFFFFFF
    for channel, mask in zip(bgr[..., ::-1].transpose(2, 0, 1), masks[:3]):
        words |= channel.astype(np.uint32) << ((mask & -mask).bit_length() - 1)
        unmasked &= ~mask
    words |= np.uint32(unmasked & 0xFFFFFFFF)
    pixels = words[::-1].astype("<u4").tobytes()
    info = struct.pack("<IiiHHIIiiII", header, width, height, 1, 32, compression, len(pixels),
                       2835, 2835, 0, 0)
    fields = struct.pack(f"<{len(masks)}I", *masks)
    info += (fields + b"\0" * (header - 40 - len(fields))) if header > 40 else fields
    offset = 14 + len(info)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + pixels
