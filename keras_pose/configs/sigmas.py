"""The OKS sigmas of a data set: from a preset name (see
:mod:`keras_pose.configs.sigma_presets`), from explicit numbers, or by
keypoint name (COCO's sigma for each COCO keypoint, in any order and naming
style, the default for the others, with a warning naming them); and the
``--set data.oks_sigmas=<preset>`` hook of the command line.
"""

from __future__ import annotations

import math
import re
from typing import Optional, Sequence, Union

from absl import logging

from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES, keypoint_keys
from keras_pose.configs.sigma_presets import (COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA,
                                              SIGMA_PRESETS, SigmaPreset, sigma_preset)


def _check_sigma_values(values: Sequence[object], k: Optional[int], what: str
                        ) -> tuple[float, ...]:
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v) or v <= 0]
    if bad:
        raise ValueError(f"{what}: OKS sigmas must be finite numbers > 0, got {bad[:5]}")
    if k is not None and len(values) != k:
        known = [name for name, preset in SIGMA_PRESETS.items() if len(preset.names) == k]
        raise ValueError(
            f"{what} has {len(values)} values for {k} keypoints (a preset's or a list's): give "
            f"{k} numbers, e.g. --set {what}=[{','.join([f'{DEFAULT_OKS_SIGMA:g}'] * min(k, 3))}"
            f"{',...' if k > 3 else ''}]"
            + (f", a preset of {k} keypoints ({', '.join(known)})" if known else "")
            + f", or none for COCO's sigma by keypoint name ({DEFAULT_OKS_SIGMA:g} for other "
            "names)")
    return tuple(float(v) for v in values)


def _from_preset(name: str, preset: SigmaPreset, names: Sequence[str]
                 ) -> tuple[tuple[float, ...], str]:
    """A preset's sigmas, reordered by name when the data set's names match."""
    if names and len(names) != len(preset.names):
        raise ValueError(
            f"OKS sigma preset {name!r} has {len(preset.names)} keypoints, the data "
            f"set has {len(names)}")
    if not names:
        return preset.sigmas, f"preset {name} ({preset.source})"
    ours, theirs = keypoint_keys(names), keypoint_keys(preset.names)
    if ours == theirs or sorted(ours) != sorted(theirs) or len(set(ours)) != len(ours):
        if ours != theirs:
            logging.warning("OKS sigma preset %r: the data set's keypoint names differ "
                            "from the preset's %s; sigmas used in the preset's order",
                            name, list(preset.names))
        return preset.sigmas, f"preset {name} ({preset.source})"
    sigma_of = dict(zip(theirs, preset.sigmas))
    return (tuple(sigma_of[key] for key in ours),
            f"preset {name} ({preset.source}), matched by name")


def sigmas_by_name(names: Sequence[str]) -> tuple[tuple[float, ...], list[int]]:
    """COCO's sigma for each COCO keypoint (any naming style, any order),
    ``DEFAULT_OKS_SIGMA`` for the others.

    Returns:
      (K sigmas, indices of the keypoints that got the default).
    """
    coco = dict(zip(keypoint_keys(COCO_KEYPOINT_NAMES), COCO_OKS_SIGMAS))
    sigmas, defaulted = [], []
    for index, key in enumerate(keypoint_keys(names)):
        if key in coco:
            sigmas.append(coco[key])
        else:
            sigmas.append(DEFAULT_OKS_SIGMA)
            defaulted.append(index)
    return tuple(sigmas), defaulted


def matching_presets(names: Sequence[str]) -> list[str]:
    """Presets whose keypoint names are ``names`` (any style and order)."""
    ours = sorted(keypoint_keys(names))
    return [n for n, p in SIGMA_PRESETS.items()
            if sorted(keypoint_keys(p.names)) == ours]


def _by_name_with_warning(names: Sequence[str]) -> tuple[tuple[float, ...], str]:
    sigmas, defaulted = sigmas_by_name(names)
    if defaulted:
        presets = matching_presets(names)
        hint = (f"these names match preset {presets[0]!r}: --set data.oks_sigmas="
                f"{presets[0]}" if presets else "--set data.oks_sigmas=<preset> (one of "
                f"{', '.join(SIGMA_PRESETS)}) or --set data.oks_sigmas=s1,...,s{len(names)}")
        logging.warning(
            "OKS sigmas: %d of %d keypoints are not COCO keypoints and get the default "
            "%.4f (%s); COCOeval and OKS NMS weigh them as an average joint. To set "
            "them: %s", len(defaulted), len(names), DEFAULT_OKS_SIGMA,
            ", ".join(repr(names[i]) for i in defaulted), hint)
    source = ("COCO's, by keypoint name" if not defaulted else
              "COCO's by keypoint name where known, else the default")
    return sigmas, source


def resolve_sigmas(value: Union[str, Sequence[float], None], names: Sequence[str] = (),
                   log: bool = True) -> tuple[float, ...]:
    """The OKS sigmas of a data set.

    Args:
      value: a preset name (``"crowdpose"``, see :data:`SIGMA_PRESETS`), K
        numbers (a sequence or a ``"0.1,0.2"`` string), or empty / None:
        COCO's sigma by name for COCO keypoints, the default for the others
        (with a warning naming them).
      names: the data set's K keypoint names (empty: unknown, then a preset
        is used in its own order and numbers are not counted).
      log: log the sigmas used (one line, name=sigma).

    Returns:
      K sigmas (or the preset's / given count when ``names`` is empty).

    Raises:
      ValueError: an unknown preset (the message lists them), a count other
        than K, or a value that is not a finite number > 0.
    """
    k = len(names) if names else None
    if isinstance(value, str) and value.strip():
        preset = sigma_preset(value)
        if preset is None:
            try:
                numbers = [float(v) for v in value.replace("[", "").replace("]", "").split(",")]
            except ValueError:
                raise ValueError(f"unknown OKS sigma preset {value!r}; presets: "
                                 f"{', '.join(SIGMA_PRESETS)}, or K numbers") from None
            sigmas, source = _check_sigma_values(numbers, k, "data.oks_sigmas"), "given"
        else:
            sigmas, source = _from_preset(value.strip(), preset, names)
    elif value is not None and not isinstance(value, str) and len(value):
        sigmas, source = _check_sigma_values(list(value), k, "data.oks_sigmas"), "given"
    else:
        sigmas, source = _by_name_with_warning(names)
    if log:
        labels = names if names else [str(i) for i in range(len(sigmas))]
        logging.info("OKS sigmas (%s): %s", source, ", ".join(
            f"{n}={s:g}" for n, s in zip(labels, sigmas)))
    return sigmas


def expand_sigma_override(override: str, names: Sequence[str] = ()) -> str:
    """Rewrites ``data.oks_sigmas=<preset>`` as the preset's numbers.

    The command-line hook: ``data.oks_sigmas`` is a float tuple, so a preset
    name must become numbers before ``apply_overrides``. Other overrides are
    returned unchanged.

    Raises:
      ValueError: for an unknown preset (the message lists them).
    """
    key, sep, raw = override.partition("=")
    if not sep or key.strip() != "data.oks_sigmas":
        return override
    text = raw.strip()
    if not text or text.lower() in ("none", "null", "[]") or not re.search(r"[a-zA-Z]", text):
        return override
    sigmas = resolve_sigmas(text, names, log=False)
    return "data.oks_sigmas=[" + ", ".join(repr(s) for s in sigmas) + "]"
