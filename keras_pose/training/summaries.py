"""TensorBoard debug images: crops with joints, and heatmaps (the
reference's ``save_debug_images``: ground truth and prediction side by side).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def _draw_points(image: np.ndarray, points: np.ndarray, valid: np.ndarray,
                 color: tuple[int, int, int]) -> np.ndarray:
    import cv2
    # A copy: each panel draws on its own (ascontiguousarray returned the
    # crop itself, so the GT panel showed the predicted joints too).
    image = np.array(image, order="C", copy=True)
    for (x, y), ok in zip(points, valid):
        if ok:
            cv2.circle(image, (int(round(x)), int(round(y))), 2, color, -1)
    return image


def debug_panels(images: np.ndarray, gt_heatmaps: np.ndarray, pred_heatmaps: np.ndarray,
                 target_weight: np.ndarray, config) -> np.ndarray:
    """(N, h, 4w, 3) uint8 panels: the RGB crop with GT joints (green), with
    predicted joints (red), then the max over K of GT and predicted heatmaps.
    """
    from keras_pose.codec import build_codec
    import cv2
    crops = np.asarray(images).astype(np.uint8)
    h, w = crops.shape[1:3]
    stride = build_codec(config.model).stride

    def peaks(hm):
        flat = hm.reshape(hm.shape[0], -1, hm.shape[-1])
        idx = flat.argmax(axis=1)
        return np.stack([(idx % hm.shape[2]) * stride[0], (idx // hm.shape[2]) * stride[1]], -1)

    gt_points, pred_points = peaks(gt_heatmaps), peaks(pred_heatmaps)
    panels = []
    for i in range(len(crops)):
        joints = _draw_points(crops[i], gt_points[i], target_weight[i] > 0, (0, 255, 0))
        pred = _draw_points(crops[i], pred_points[i], target_weight[i] > 0, (255, 0, 0))
        maps = []
        for hm in (gt_heatmaps[i], pred_heatmaps[i]):
            m = np.clip(hm.max(axis=-1), 0, 1)
            m = cv2.resize((m * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
            maps.append(np.repeat(m[..., None], 3, axis=-1))
        panels.append(np.concatenate([joints, pred] + maps, axis=1))
    return np.stack(panels)


def write_debug_images(writer: Any, training_model: Any, batch: dict, config, step: int,
                       max_images: int = 4) -> None:
    """Writes one image summary of ``batch`` (a training-pipeline batch of
    uint8 RGB crops; ``training_model`` normalises them for the network)."""
    images = np.asarray(batch["image"][:max_images])
    pred = training_model(tf.constant(images), training=False)
    panels = debug_panels(images, np.asarray(batch["heatmaps"][:max_images]),
                          np.asarray(pred, np.float32),
                          np.asarray(batch["target_weight"][:max_images]), config)
    with writer.as_default(step=step):
        tf.summary.image("train/crops_gt_pred_heatmaps", panels, max_outputs=max_images)
    writer.flush()
