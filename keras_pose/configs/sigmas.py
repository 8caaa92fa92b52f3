"""The OKS sigmas of a data set: from a preset name (see
:mod:`keras_pose.configs.sigma_presets`), from explicit numbers, or by
keypoint name (COCO's sigma for each COCO keypoint, in any order and naming
style, the default for the others, with a warning naming them); and the
``--set data.oks_sigmas=<preset>`` hook of the command line.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

from keras_pose import log as logging
from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES, keypoint_keys
from keras_pose.configs.sigma_presets import (COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA,
                                              SIGMA_PRESETS, SigmaPreset, sigma_preset)


def _check_sigma_values(values: Sequence[object], names: Sequence[str], what: str
                        ) -> tuple[float, ...]:
    """K finite numbers > 0 (K = len(names); any count when names is empty)."""
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v) or v <= 0]
    if bad:
        raise ValueError(f"{what}: OKS sigmas must be finite numbers > 0, got {bad[:5]}")
    k = len(names)
    if names and len(values) != k:
        presets = _presets_of_numbers(values)
        given = (f"is preset {presets[0][0]!r} ({len(values)} keypoints)" if presets else
                 f"has {len(values)} values")  # A typed preset had become numbers.
        raise ValueError(f"{what} {given} for {k} keypoints: give {_ways_out(names, what)}")
    return tuple(float(v) for v in values)


def _ways_out(names: Sequence[str], what: str) -> str:
    """What a user can give for ``what`` on these K keypoints: K numbers, a
    preset of the same keypoints (by name), or [] (by name)."""
    k = len(names)
    example = ",".join([f"{DEFAULT_OKS_SIGMA:g}"] * k) if k <= 20 else f"{k} numbers"
    matching = matching_presets(names)
    return (f"{k} numbers (--set {what}=[{example}])"
            + (f", a preset of these keypoints (--set {what}={matching[0]})" if matching else "")
            + f", or [] for COCO's sigma by keypoint name and {DEFAULT_OKS_SIGMA:g} for "
            "the others")


def _presets_of_numbers(values: Sequence[object]) -> list[tuple[str, SigmaPreset]]:
    """The presets whose sigmas are exactly ``values``, in their order."""
    return [(name, preset) for name, preset in SIGMA_PRESETS.items()
            if tuple(preset.sigmas) == tuple(values)]


def _given(values: Sequence[object], names: Sequence[str]
           ) -> tuple[tuple[float, ...], str]:
    """Sigmas given as numbers, checked; a preset's numbers in its own order
    (``--set data.oks_sigmas=<preset>`` on a custom set) matched to the
    keypoints by name: they were used in the preset's order, in silence."""
    sigmas = _check_sigma_values(values, names, "data.oks_sigmas")
    return (names and _preset_given_as_numbers(sigmas, names)) or (sigmas, "given")


def _preset_given_as_numbers(values: tuple[float, ...], names: Sequence[str]
                             ) -> Optional[tuple[tuple[float, ...], str]]:
    """Sigmas that are exactly a preset's, in its order (what
    ``--set data.oks_sigmas=<preset>`` becomes before a custom set's
    keypoint names are read), taken as that preset: matched to ``names`` by
    name, or said to differ. None for other numbers."""
    # A preset of one sigma for all (horse10) has no order to get wrong.
    same = [(name, preset) for name, preset in _presets_of_numbers(values)
            if len(set(preset.sigmas)) > 1]
    if not same:
        return None
    # Several presets share numbers (COCO's 17 with PoseTrack18's, OCHuman's...):
    # the one with most of these keypoint names (named if they differ).
    keys = set(keypoint_keys(names))
    name, preset = max(same, key=lambda p: len(keys & set(keypoint_keys(p[1].names))))
    return _from_preset(name, preset, names)


def _from_preset(name: str, preset: SigmaPreset, names: Sequence[str]
                 ) -> tuple[tuple[float, ...], str]:
    """A preset's sigmas, reordered by name when the data set's names match."""
    if names and len(names) != len(preset.names):
        raise ValueError(
            f"OKS sigma preset {name!r} has {len(preset.names)} keypoints, the data "
            f"set has {len(names)}: give {_ways_out(names, 'data.oks_sigmas')}")
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
        same_count = [n for n, p in SIGMA_PRESETS.items() if len(p.names) == len(names)]
        numbers = f"--set data.oks_sigmas=s1,...,s{len(names)}"
        hint = (f"these names match preset {presets[0]!r}: --set data.oks_sigmas="
                f"{presets[0]}" if presets else
                f"--set data.oks_sigmas=<preset> (one of {', '.join(same_count)}) or {numbers}"
                if same_count else numbers)  # Presets of another K were offered.
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
    if isinstance(value, str) and value.strip():
        preset = sigma_preset(value)
        if preset is None:
            try:
                numbers = [float(v) for v in value.replace("[", "").replace("]", "").split(",")]
            except ValueError:
                raise ValueError(f"unknown OKS sigma preset {value!r}; presets: "
                                 f"{', '.join(SIGMA_PRESETS)}, or K numbers") from None
            sigmas, source = _given(numbers, names)
        else:
            sigmas, source = _from_preset(value.strip(), preset, names)
    elif value is not None and not isinstance(value, str) and len(value):
        sigmas, source = _given(list(value), names)
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
    if not text or text.lower() in ("none", "null", "[]") or _numbers(text):
        return override
    sigmas = resolve_sigmas(text, names, log=False)
    return "data.oks_sigmas=[" + ", ".join(repr(s) for s in sigmas) + "]"


def _numbers(text: str) -> bool:
    """Whether ``text`` is numbers, not a preset's name: ``0.1,1e-3`` and
    ``nan`` have letters too (``nan`` then met the config's own range check,
    which names the key, as anywhere else)."""
    try:
        [float(v) for v in text.replace("[", "").replace("]", "").split(",")]
    except ValueError:
        return False
    return True
