"""Official / torchvision state_dicts built in NumPy (names and shapes only
matter; no torch needed)."""

import numpy as np

LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3),
          101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class _Zeros:
    """Stands in for a Generator when only names and shapes matter (fast)."""

    def uniform(self, low, high, size):
        return np.zeros(size)

    def normal(self, size):
        return np.zeros(size)


def _bn(state, prefix, n, rng):
    state[f"{prefix}.weight"] = rng.uniform(0.5, 1.5, n).astype(np.float32)
    state[f"{prefix}.bias"] = rng.normal(size=n).astype(np.float32)
    state[f"{prefix}.running_mean"] = rng.normal(size=n).astype(np.float32)
    state[f"{prefix}.running_var"] = rng.uniform(0.5, 2, n).astype(np.float32)
    state[f"{prefix}.num_batches_tracked"] = np.array(3, np.int64)


def _conv(state, name, cout, cin, k, rng):
    state[name] = rng.normal(size=(cout, cin, k, k)).astype(np.float32)


def official_state_dict(depth, num_keypoints=17, head=True, classifier=False,
                        deconv=(256, 256, 256), kernels=(4, 4, 4), seed=None):
    """The torch layout: conv (out, in, kh, kw), deconv (in, out, kh, kw).

    Random values with a seed, zeros without (names and shapes only).
    """
    rng = _Zeros() if seed is None else np.random.default_rng(seed)
    state = {}
    _conv(state, "conv1.weight", 64, 3, 7, rng)
    _bn(state, "bn1", 64, rng)
    expansion = 4 if depth >= 50 else 1
    cin = 64
    for li, (blocks, width) in enumerate(zip(LAYERS[depth], (64, 128, 256, 512)), 1):
        for b in range(blocks):
            p = f"layer{li}.{b}"
            if expansion == 4:
                _conv(state, f"{p}.conv1.weight", width, cin, 1, rng)
                _conv(state, f"{p}.conv2.weight", width, width, 3, rng)
                _conv(state, f"{p}.conv3.weight", width * 4, width, 1, rng)
                for i, n in ((1, width), (2, width), (3, width * 4)):
                    _bn(state, f"{p}.bn{i}", n, rng)
            else:
                _conv(state, f"{p}.conv1.weight", width, cin, 3, rng)
                _conv(state, f"{p}.conv2.weight", width, width, 3, rng)
                _bn(state, f"{p}.bn1", width, rng)
                _bn(state, f"{p}.bn2", width, rng)
            if b == 0 and (li > 1 or cin != width * expansion):
                _conv(state, f"{p}.downsample.0.weight", width * expansion, cin, 1, rng)
                _bn(state, f"{p}.downsample.1", width * expansion, rng)
            cin = width * expansion
    if head:
        for j, (filters, k) in enumerate(zip(deconv, kernels)):
            state[f"deconv_layers.{3 * j}.weight"] = rng.normal(
                size=(cin, filters, k, k)).astype(np.float32)
            _bn(state, f"deconv_layers.{3 * j + 1}", filters, rng)
            cin = filters
        _conv(state, "final_layer.weight", num_keypoints, cin, 1, rng)
        state["final_layer.bias"] = rng.normal(size=num_keypoints).astype(np.float32)
    if classifier:
        state["fc.weight"] = rng.normal(size=(1000, cin)).astype(np.float32)
        state["fc.bias"] = np.zeros(1000, np.float32)
    return state
