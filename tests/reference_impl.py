"""A direct NumPy/OpenCV re-implementation of the official per-sample code.

Written from the reference's algorithm (``JointsDataset.__getitem__``,
``generate_target``, ``fliplr_joints``, ``get_affine_transform``) in its own
per-sample, per-joint style: full ``cv2.imread`` (BGR), Python loops over
joints. It is the yardstick for the tests (our pipeline must produce the
same crops and targets) and for ``scripts/benchmark_pipeline_scaling.py``
(our pipeline must be faster). Not used for training.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import cv2
import numpy as np

PIXEL_STD = 200.0


def _direction(point, angle_rad):
    sn, cs = math.sin(angle_rad), math.cos(angle_rad)
    return [point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs]


def _third(a, b):
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def affine_matrix(center, scale, rot, output_size, inv=False):
    """The reference's three-point construction."""
    scale_tmp = np.array(scale, np.float32) * PIXEL_STD
    src_w = scale_tmp[0]
    dst_w, dst_h = output_size
    src_dir = _direction([0, src_w * -0.5], np.pi * rot / 180)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = np.array(center, np.float32) + src_dir
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2] = _third(src[0], src[1])
    dst[2] = _third(dst[0], dst[1])
    if inv:
        return cv2.getAffineTransform(np.float32(dst), np.float32(src))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def apply_affine(point, matrix):
    return np.dot(matrix, np.array([point[0], point[1], 1.0]).T)[:2]


def generate_target(joints, joints_vis, image_size, heatmap_size, sigma):
    """The reference's per-joint loop; returns (K, H, W) and (K, 1)."""
    num_joints = len(joints)
    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = joints_vis
    target = np.zeros((num_joints, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    for joint_id in range(num_joints):
        feat_stride = np.array(image_size) / np.array(heatmap_size)
        mu_x = int(joints[joint_id][0] / feat_stride[0] + 0.5)
        mu_y = int(joints[joint_id][1] / feat_stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            target_weight[joint_id] = 0
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, np.newaxis]
        x0 = y0 = size // 2
        g = np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        if target_weight[joint_id] > 0.5:
            target[joint_id][img_y[0]:img_y[1], img_x[0]:img_x[1]] = \
                g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target, target_weight


def reference_sample(image_path: str, joints: np.ndarray, joints_vis: np.ndarray,
                     center: np.ndarray, scale: np.ndarray, *, image_size: Sequence[int],
                     heatmap_size: Sequence[int], sigma: float,
                     flip_pairs: Sequence[Sequence[int]], scale_multiplier: float = 1.0,
                     rotation: float = 0.0, flip: bool = False,
                     image: Optional[np.ndarray] = None):
    """One sample as the reference's ``__getitem__`` makes it, with the
    random decisions given explicitly.

    Returns:
      crop (h, w, 3) uint8 BGR (as the reference), target (K, H, W),
      target_weight (K, 1), joints (K, 3) in crop pixels.
    """
    data_numpy = image if image is not None else cv2.imread(
        image_path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if data_numpy is None:
        raise ValueError(f"Fail to read {image_path}")
    joints = np.concatenate([np.asarray(joints, np.float64),
                             np.zeros((len(joints), 1))], axis=1)
    vis = np.stack([joints_vis, joints_vis, np.zeros_like(joints_vis)], axis=1).astype(np.float64)
    c = np.array(center, np.float64)
    s = np.array(scale, np.float64) * scale_multiplier
    r = rotation
    if flip:
        data_numpy = data_numpy[:, ::-1, :]
        width = data_numpy.shape[1]
        joints[:, 0] = width - joints[:, 0] - 1
        for a, b in flip_pairs:
            joints[[a, b], :] = joints[[b, a], :]
            vis[[a, b], :] = vis[[b, a], :]
        joints = joints * vis
        c[0] = width - c[0] - 1
    trans = affine_matrix(c, s, r, image_size)
    crop = cv2.warpAffine(data_numpy, trans, (int(image_size[0]), int(image_size[1])),
                          flags=cv2.INTER_LINEAR)
    for i in range(len(joints)):
        if vis[i, 0] > 0.0:
            joints[i, 0:2] = apply_affine(joints[i, 0:2], trans)
    target, target_weight = generate_target(joints, vis[:, 0], image_size, heatmap_size, sigma)
    return crop, target, target_weight, joints


def reference_final_preds(heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray):
    """The reference's ``get_final_preds`` (post-processing on) with loops.

    Args:
      heatmaps: (N, K, H, W) channels first, as the reference.
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape((n, k, -1))
    idx = np.argmax(flat, 2).reshape((n, k, 1))
    maxvals = np.amax(flat, 2).reshape((n, k, 1))
    preds = np.tile(idx, (1, 1, 2)).astype(np.float32)
    preds[:, :, 0] = preds[:, :, 0] % w
    preds[:, :, 1] = np.floor(preds[:, :, 1] / w)
    preds *= np.tile(np.greater(maxvals, 0.0), (1, 1, 2)).astype(np.float32)
    for i in range(n):
        for j in range(k):
            hm = heatmaps[i][j]
            px = int(math.floor(preds[i][j][0] + 0.5))
            py = int(math.floor(preds[i][j][1] + 0.5))
            if 1 < px < w - 1 and 1 < py < h - 1:
                diff = np.array([hm[py][px + 1] - hm[py][px - 1],
                                 hm[py + 1][px] - hm[py - 1][px]])
                preds[i][j] += np.sign(diff) * .25
    out = preds.copy()
    for i in range(n):
        trans = affine_matrix(center[i], scale[i], 0, (w, h), inv=True)
        for j in range(k):
            out[i, j, 0:2] = apply_affine(preds[i, j, 0:2], trans)
    return out, maxvals


def dark_target(joints, joints_vis, image_size, heatmap_size, sigma):
    """DARK's unbiased target (paper, Sec. 3.2), one joint at a time: a
    Gaussian over the whole map centred at the exact joint / stride; weight
    0 when the 3-sigma box lies outside the map. Returns (K, H, W), (K,)."""
    stride = np.array(image_size, np.float64) / np.array(heatmap_size, np.float64)
    target = np.zeros((len(joints), heatmap_size[1], heatmap_size[0]), np.float32)
    weight = np.array(joints_vis, np.float32).copy()
    for j, joint in enumerate(joints):
        mu_x, mu_y = joint[0] / stride[0], joint[1] / stride[1]
        r = 3 * sigma
        if (mu_x - r >= heatmap_size[0] or mu_y - r >= heatmap_size[1]
                or mu_x + r + 1 < 0 or mu_y + r + 1 < 0):
            weight[j] = 0
            continue
        if weight[j] > 0.5:
            for yy in range(heatmap_size[1]):
                for xx in range(heatmap_size[0]):
                    target[j, yy, xx] = math.exp(-((xx - mu_x) ** 2 + (yy - mu_y) ** 2)
                                                 / (2 * sigma ** 2))
    return target, weight


def dark_refine(heatmaps: np.ndarray, kernel: int):
    """DARK decoding (paper, Sec. 3.1) of (N, K, H, W) heatmaps with loops:
    the argmax; modulation with OpenCV's Gaussian blur of a zero-bordered
    copy, rescaled to the original maximum; log of the values floored at
    1e-10; one Newton step with the finite-difference gradient and Hessian
    when 1 < x < W - 2, 1 < y < H - 2 and the Hessian is invertible.
    Returns preds (N, K, 2) in heatmap pixels and maxvals (N, K)."""
    n, k, h, w = heatmaps.shape
    border = (kernel - 1) // 2
    preds = np.zeros((n, k, 2), np.float64)
    maxvals = heatmaps.reshape(n, k, -1).max(axis=2)
    for i in range(n):
        for j in range(k):
            hm = heatmaps[i, j]
            idx = int(np.argmax(hm))
            if maxvals[i, j] <= 0:
                continue
            px, py = idx % w, idx // w
            preds[i, j] = px, py
            padded = np.zeros((h + 2 * border, w + 2 * border), np.float32)
            padded[border:border + h, border:border + w] = hm
            blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:border + h,
                                                                      border:border + w]
            blurred = blurred * (hm.max() / blurred.max())
            lg = np.log(np.maximum(blurred, 1e-10)).astype(np.float64)
            if not (1 < px < w - 2 and 1 < py < h - 2):
                continue
            g = np.array([0.5 * (lg[py, px + 1] - lg[py, px - 1]),
                          0.5 * (lg[py + 1, px] - lg[py - 1, px])])
            hxx = 0.25 * (lg[py, px + 2] - 2 * lg[py, px] + lg[py, px - 2])
            hyy = 0.25 * (lg[py + 2, px] - 2 * lg[py, px] + lg[py - 2, px])
            hxy = 0.25 * (lg[py + 1, px + 1] - lg[py - 1, px + 1] - lg[py + 1, px - 1]
                          + lg[py - 1, px - 1])
            hessian = np.array([[hxx, hxy], [hxy, hyy]])
            if hxx * hyy - hxy ** 2 != 0:
                preds[i, j] -= np.linalg.inv(hessian) @ g
    return preds, maxvals


def reference_flip_back(output_flipped: np.ndarray, matched_parts, shift: bool = True):
    """The reference's ``flip_back`` + ``SHIFT_HEATMAP`` on channels-first
    (N, K, H, W) arrays, as the official ``validate`` holds them."""
    out = output_flipped[:, :, :, ::-1].copy()
    for a, b in matched_parts:
        tmp = out[:, a].copy()
        out[:, a] = out[:, b]
        out[:, b] = tmp
    if shift:
        shifted = out.copy()
        shifted[:, :, :, 1:] = out[:, :, :, 0:-1]
        return shifted
    return out


def reference_box_to_center_scale(box, aspect_ratio: float, padding: float = 1.25):
    """The reference's ``_box2cs`` / ``_xywh2cs`` for an [x, y, w, h] box."""
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w * 0.5, y + h * 0.5], np.float32)
    if w > aspect_ratio * h:
        h = w * 1.0 / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], np.float32)
    if center[0] != -1:
        scale = scale * padding
    return center, scale


def reference_top_down(heatmaps_fn, image: np.ndarray, boxes, box_scores, *, image_size,
                       heatmap_size, mean, std, color_order="RGB", flip_pairs=(),
                       flip=True, shift=True, decoding="msra", blur_kernel=11,
                       padding=1.25, in_vis_threshold=0.2):
    """The reference's validation path for given boxes, person by person in
    NumPy/OpenCV: box -> center/scale, the affine crop (cv2.warpAffine on the
    uint8 image, rounded to uint8 as the reference's is), normalisation, the network, the
    mirrored crop flipped back (and shifted), get_final_preds (or DARK's
    step and the inverse crop), the person score.

    Args:
      heatmaps_fn: normalised crops (B, h, w, 3) float32 -> heatmaps
        (B, H, W, K), the network under test as a NumPy function.
      image: (H_img, W_img, 3) uint8 RGB.
      boxes: (M, 4) [x, y, w, h]; box_scores: (M,).

    Returns:
      keypoints (M, K, 2) image pixels, keypoint scores (M, K), scores (M,).
    """
    width, height = image_size
    centers, scales, crops = [], [], []
    for box in boxes:
        c, s = reference_box_to_center_scale(box, width / height, padding)
        trans = affine_matrix(c, s, 0, image_size)
        crop = cv2.warpAffine(image, trans, (width, height),
                              flags=cv2.INTER_LINEAR).astype(np.float32)
        crop = crop[..., ::-1] if color_order == "BGR" else crop
        crops.append((crop / 255.0 - np.array(mean)) / np.array(std))
        centers.append(c)
        scales.append(s)
    crops = np.asarray(crops, np.float32)
    hm = np.transpose(np.asarray(heatmaps_fn(crops)), (0, 3, 1, 2))
    if flip:
        mirrored = np.transpose(np.asarray(heatmaps_fn(crops[:, :, ::-1].copy())), (0, 3, 1, 2))
        hm = (hm + reference_flip_back(mirrored, flip_pairs, shift)) * 0.5
    centers, scales = np.array(centers), np.array(scales)
    if decoding == "dark":
        preds, maxvals = dark_refine(hm, blur_kernel)
        keypoints = np.stack([[apply_affine(p, affine_matrix(c, s, 0, heatmap_size, inv=True))
                               for p in person] for person, c, s in zip(preds, centers, scales)])
    else:
        keypoints, maxvals = reference_final_preds(hm, centers, scales)
        maxvals = maxvals[..., 0]
    scores = []
    for person, box_score in zip(maxvals, box_scores):
        confident = [v for v in person if v > in_vis_threshold]
        scores.append(box_score * (sum(confident) / len(confident) if confident else 0.0))
    return keypoints, maxvals, np.array(scores)


def reference_top_down_for(config, heatmaps_fn, image, boxes, box_scores=None, flip=True):
    """:func:`reference_top_down` with the settings of an ExperimentConfig."""
    m, test = config.model, config.test
    decoding = test.decoding or m.codec
    kernel = test.blur_kernel or int(np.floor(6 * m.sigma + 0.5)) - 1
    box_scores = np.ones(len(boxes)) if box_scores is None else box_scores
    return reference_top_down(
        heatmaps_fn, image, boxes, box_scores, image_size=m.image_size,
        heatmap_size=m.heatmap_size, mean=m.mean, std=m.std, color_order=m.color_order,
        flip_pairs=config.data.flip_pairs, flip=flip, shift=test.shift_heatmap,
        decoding=decoding, blur_kernel=kernel | 1, padding=config.data.box_padding,
        in_vis_threshold=test.in_vis_threshold)


def assert_matches_reference(keypoints, keypoint_scores, scores, expected, *,
                             heatmap_pixel: float, share: float = 0.97):
    """Keypoints from the graph against :func:`reference_top_down`: the
    reference's crop differs by OpenCV's 1/32-pixel sampling grid, so a
    near-tie between two heatmap pixels (or two neighbours of the quarter
    offset) may resolve the other way; all but a few keypoints (``share``)
    must agree to 1e-2 px, and every one within a heatmap pixel
    (``heatmap_pixel``: its size in image pixels, the largest person's)."""
    ref_keypoints, ref_keypoint_scores, ref_scores = expected
    error = np.abs(np.asarray(keypoints) - ref_keypoints).max(axis=-1)
    assert np.mean(error < 1e-2) >= share, f"{np.mean(error < 1e-2):.3f} agree"
    assert error.max() <= heatmap_pixel * 1.01, error.max()
    np.testing.assert_allclose(keypoint_scores, ref_keypoint_scores, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(scores, ref_scores, rtol=2e-3, atol=2e-4)


MPII_MAT_JOINTS = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck",
                   "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri")


def write_official_gt_mat(path: str, joints1: np.ndarray, visible: np.ndarray,
                          head_boxes: np.ndarray, nested_names: bool = True) -> None:
    """A ground-truth .mat laid out as the official ``annot/gt_valid.mat``
    (MATLAB arrays, written directly with scipy, not with the library):
    ``dataset_joints`` a 1x16 cell of names (each a 1x1 cell holding the
    char array when ``nested_names``), ``jnt_missing`` 16xN double,
    ``pos_gt_src`` 16x2xN double (1-based pixels), ``headboxes_src`` 2x2xN
    double (top-left, bottom-right corners), plus ``pos_pred_src`` as the
    official file carries.

    Args:
      joints1: (N, 16, 2) 1-based joints; visible: (N, 16); head_boxes:
        (N, 2, 2).
    """
    import scipy.io
    names = np.empty((1, 16), dtype=object)
    for i, name in enumerate(MPII_MAT_JOINTS):
        if nested_names:
            cell = np.empty((1, 1), dtype=object)
            cell[0, 0] = np.array([name])
            names[0, i] = cell
        else:
            names[0, i] = name
    scipy.io.savemat(path, {
        "dataset_joints": names,
        "jnt_missing": (1.0 - (np.asarray(visible) > 0)).T.astype(np.float64),
        "pos_gt_src": np.transpose(np.asarray(joints1, np.float64), [1, 2, 0]),
        "pos_pred_src": np.zeros((16, 2, len(joints1))),
        "headboxes_src": np.transpose(np.asarray(head_boxes, np.float64), [1, 2, 0]),
    })
