"""What the codec tests share: a batch of people encoded at once."""

import numpy as np

PEOPLE = 6


def encode_people(codec, rng: np.random.Generator, image_size, heatmap_size):
    """Encodes ``PEOPLE`` random people (joints partly outside the crop,
    about a fifth invisible) into a NaN-filled ``out`` array, which the codec
    must fill and return.

    Returns:
      joints (P, K, 2) float32, vis (P, K), heatmaps (P, H, W, K), weights (P, K).
    """
    joints = rng.uniform(-40, np.array(image_size) + 40, size=(PEOPLE, 17, 2)).astype(np.float32)
    vis = (rng.uniform(size=(PEOPLE, 17)) > 0.2).astype(np.float32)
    out = np.full((PEOPLE, heatmap_size[1], heatmap_size[0], 17), np.nan, np.float32)
    heatmaps, weight = codec.encode(joints, vis, out=out)
    assert heatmaps is out
    return joints, vis, heatmaps, weight
