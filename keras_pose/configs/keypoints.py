"""Keypoint definitions of the supported data sets, and what follows from names.

Names, left/right flip pairs (0-based), skeletons (0-based limbs) and OKS
sigmas. The COCO and MPII flip pairs are those of the official code
(``lib/dataset/coco.py``, ``lib/dataset/mpii.py``).

For any other keypoint set this module reads the names:

- :func:`keypoint_keys` turns a name into ``(side, stem)``: ``left_hip``,
  ``Left Hip``, ``l_hip``, ``hip_l``, ``LHip``, ``hipL``, ``leftHip``,
  ``L_Hip``, ``left-hip`` are all ``("L", "hip")``; ``forelegL1`` is
  ``("L", "foreleg_1")``; ``nose``, ``tail``, ``lower_lip``, ``elbow`` have
  no side (``""``).
- :func:`flip_pairs_from_names` pairs each left name with the right name of
  the same stem.
- :func:`resolve_sigmas` gives OKS sigmas from a preset name, from explicit
  numbers, or by name (COCO's sigma for each COCO keypoint, in any order).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from typing import Optional, Sequence, Union

from absl import logging

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# COCO's skeleton (the categories entry of the annotation files), made 0-based.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
    (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
    (1, 3), (2, 4), (3, 5), (4, 6))
# pycocotools/cocoeval.py (Params.setKpParams), the COCO keypoint benchmark.
COCO_OKS_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)

MPII_KEYPOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee",
    "left_ankle", "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
    "left_elbow", "left_wrist",
)
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
MPII_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8),
    (8, 9), (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15))

# Used for OKS when a data set does not give its own sigmas: the mean of
# COCO's sigmas, i.e. an "average" joint.
DEFAULT_OKS_SIGMA: float = 0.0626


# ---------------------------------------------------------------------------
# Names -> (side, stem).

_SIDE_WORDS = {"l": "L", "left": "L", "r": "R", "right": "R"}
_OTHER_SIDE = {"L": "R", "R": "L"}
# Words inside a name: "LShoulder" -> L, Shoulder; "forelegL1" -> foreleg, L,
# 1; "leftEye" -> left, Eye; "HIP_L" -> HIP, L.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SEPARATORS = re.compile(r"[\s_\-.:/]+")
# Glued lower-case prefixes ("lefteye", "rhip"), only trusted when the
# opposite glued name exists too (else "leg" would be a left "eg").
_GLUED_PREFIXES = (("left", "L"), ("right", "R"), ("l", "L"), ("r", "R"))

Key = tuple[str, str]


def name_words(name: str) -> list[str]:
    """The words of a keypoint name, split at separators and case changes."""
    words: list[str] = []
    for part in _SEPARATORS.split(str(name)):
        words.extend(_WORD.findall(part) or ([part] if part else []))
    return words


def _explicit_key(words: Sequence[str]) -> Key:
    """(side, stem) when exactly one word is a side word, else ("", stem)."""
    lowered = [w.lower() for w in words]
    sides = [i for i, w in enumerate(lowered) if w in _SIDE_WORDS]
    if len(sides) != 1:
        return "", "_".join(lowered)
    stem = "_".join(w for i, w in enumerate(lowered) if i != sides[0])
    return _SIDE_WORDS[lowered[sides[0]]], stem


def _glued_candidates(stem: str) -> list[Key]:
    """Readings of an unsided stem as a glued prefix ("lefteye" -> L, eye)."""
    return [(side, stem[len(prefix):]) for prefix, side in _GLUED_PREFIXES
            if stem.startswith(prefix) and len(stem) - len(prefix) >= 2
            and stem[len(prefix)].isalpha()]


def keypoint_keys(names: Sequence[str]) -> list[Key]:
    """The ``(side, stem)`` of each name; side is "L", "R" or "".

    A side is a separate word ``left``/``right``/``l``/``r`` (separated by
    ``_ - . space`` or a case change, at the start, the end or inside:
    ``front_left_paw``, ``forelegL1``). A glued lower-case prefix
    (``lefteye``, ``rhip``) counts only when the opposite glued name exists
    too (``righteye``, ``rhip``/``lhip``).

    Args:
      names: K keypoint names.

    Returns:
      K keys, in order.
    """
    keys = [_explicit_key(name_words(n)) for n in names]
    known = set(keys)
    for i, (side, stem) in enumerate(keys):
        if side:
            continue
        for candidate in _glued_candidates(stem):
            # The partner must be glued too ("lefteye"/"righteye", "lhip"/"rhip"):
            # "rear" with "left_ear" is no right ear.
            partners = {("", prefix + candidate[1]) for prefix, prefix_side in _GLUED_PREFIXES
                        if prefix_side != candidate[0]}
            if partners & known:
                keys[i] = candidate
                break
    return keys


def flip_pairs_from_names(names: Sequence[str], *, log: bool = True
                          ) -> tuple[tuple[int, int], ...]:
    """Derives left/right flip pairs from keypoint names.

    Each left name is paired with the right name of the same stem (see
    :func:`keypoint_keys`); names without a side are their own mirror. Sided
    names without a partner are listed in a warning (they stay unpaired).

    Args:
      names: The K keypoint names.
      log: log the pairs and the warnings.

    Returns:
      Pairs ``(i, j)`` of 0-based indices, ``i < j``, sorted.

    Raises:
      ValueError: if a left or right name has more than one candidate
        partner (two names of the same side and stem).
    """
    by_key: dict[Key, list[int]] = defaultdict(list)
    for index, key in enumerate(keypoint_keys(names)):
        if key[0]:
            by_key[key].append(index)
    pairs, unpaired = [], []
    for (side, stem), indices in sorted(by_key.items()):
        partners = by_key.get((_OTHER_SIDE[side], stem), [])
        if partners and (len(indices) > 1 or len(partners) > 1):
            raise ValueError(
                f"keypoint stem {stem!r} is ambiguous: left "
                f"{[names[i] for i in by_key.get(('L', stem), [])]}, right "
                f"{[names[i] for i in by_key.get(('R', stem), [])]}; give "
                "data.flip_pairs explicitly")
        if not partners:
            unpaired.extend(indices)
        elif side == "L":
            pairs.append(tuple(sorted((indices[0], partners[0]))))
    if log and unpaired:
        logging.warning(
            "Keypoints that look left/right but have no partner (not flipped): %s; "
            "give data.flip_pairs if they should be", ", ".join(
                repr(names[i]) for i in sorted(unpaired)))
    return tuple(sorted(pairs))


def describe_pairs(pairs: Sequence[Sequence[int]], names: Sequence[str]) -> str:
    """``left_eye<->right_eye, ...`` for logs."""
    if not pairs:
        return "none"
    return ", ".join(f"{names[a]}<->{names[b]}" if max(a, b) < len(names)
                     else f"{a}<->{b}" for a, b in pairs)


def flip_permutation(num_keypoints: int,
                     flip_pairs: Sequence[Sequence[int]]) -> list[int]:
    """Returns ``perm`` such that flipped[k] = original[perm[k]]."""
    perm = list(range(num_keypoints))
    for a, b in flip_pairs:
        if not (0 <= a < num_keypoints and 0 <= b < num_keypoints):
            raise ValueError(
                f"flip pair ({a}, {b}) is out of range for {num_keypoints} "
                "keypoints")
        perm[a], perm[b] = b, a
    return perm


# ---------------------------------------------------------------------------
# 0- or 1-based index pairs (skeletons, flip pairs of annotation files).


def _int_pairs(pairs: object, what: str) -> list[tuple[int, int]]:
    """Checks that ``pairs`` is a list of [int, int]; returns them."""
    if not isinstance(pairs, (list, tuple)):
        raise ValueError(f"{what} must be a list of [a, b] pairs, got {pairs!r}")
    out = []
    for number, pair in enumerate(pairs):
        ok = (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in pair))
        if not ok:
            raise ValueError(f"{what}: entry #{number} {pair!r} is not a pair "
                             "of integer keypoint indices")
        out.append((pair[0], pair[1]))
    return out


def index_base(pairs: Sequence[tuple[int, int]], num_keypoints: int, what: str,
               ambiguous_choice: int = 1, reason: str = "") -> int:
    """Whether index pairs are 0- or 1-based.

    An index 0 means 0-based; an index K means 1-based; neither (every index
    in 1..K-1) is ambiguous: ``ambiguous_choice`` is taken and logged.

    Args:
      pairs: the pairs as given.
      num_keypoints: K.
      what: names the pairs in messages (file and field).
      ambiguous_choice: the base used when both readings fit.
      reason: why that choice, for the log.

    Raises:
      ValueError: naming the first pair out of range in both readings
        (negative, above K, or 0 and K together).
    """
    flat = [v for pair in pairs for v in pair]
    if not flat:
        return ambiguous_choice
    k = num_keypoints
    has_zero, has_k = 0 in flat, k in flat
    for number, pair in enumerate(pairs):
        bad = any(v < 0 or v > k for v in pair) or (has_zero and has_k and k in pair)
        if bad:
            raise ValueError(
                f"{what}: pair #{number} {list(pair)} is out of range for {k} keypoints "
                f"(valid: 0..{k - 1} 0-based or 1..{k} 1-based)")
    if has_zero:
        return 0
    if has_k:
        return 1
    logging.warning("%s: indices %d..%d fit both 0-based and 1-based; read as %d-based%s",
                    what, min(flat), max(flat), ambiguous_choice,
                    f" ({reason})" if reason else "")
    return ambiguous_choice


def zero_based_pairs(pairs: object, num_keypoints: int, what: str,
                     ambiguous_choice: int = 1, reason: str = ""
                     ) -> tuple[tuple[int, int], ...]:
    """Validates index pairs and returns them 0-based (see :func:`index_base`)."""
    checked = _int_pairs(pairs, what)
    base = index_base(checked, num_keypoints, what, ambiguous_choice, reason)
    return tuple((a - base, b - base) for a, b in checked)


def _pairs_match_names(pairs: Sequence[tuple[int, int]], names: Sequence[str],
                       base: int) -> bool:
    """Every pair joins a left and a right name of one stem (in that base)."""
    keys = keypoint_keys(names)
    for a, b in pairs:
        if not (0 <= a - base < len(keys) and 0 <= b - base < len(keys)):
            return False
        (sa, ta), (sb, tb) = keys[a - base], keys[b - base]
        if not (sa and sb and sa != sb and ta == tb):
            return False
    return True


def flip_pairs_from_entry(entry: object, names: Sequence[str], what: str
                          ) -> tuple[tuple[int, int], ...]:
    """Flip pairs given in an annotation file's category, made 0-based.

    Accepted forms: ``[[i, j], ...]`` (0- or 1-based, detected as for
    skeletons; when ambiguous, the base under which the pairs join left and
    right names, else 0-based), ``[[name_a, name_b], ...]``, or one partner
    name per keypoint (``""`` for none, mmpose's ``swap``).

    Raises:
      ValueError: naming ``what`` for unknown names, bad indices, or a
        keypoint in two pairs.
    """
    names = list(names)
    if isinstance(entry, (list, tuple)) and len(entry) == len(names) and all(
            isinstance(v, str) for v in entry):
        # One partner name per keypoint: each pair is listed from both ends.
        entry = [[n, p] for n, p in zip(names, entry) if p]
    if isinstance(entry, (list, tuple)) and entry and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, str) for v in p)
            for p in entry):
        unknown = sorted({v for p in entry for v in p if v not in names})
        if unknown:
            raise ValueError(f"{what}: unknown keypoint names {unknown}")
        pairs = {tuple(sorted((names.index(a), names.index(b)))) for a, b in entry}
        return _checked_flip_pairs(sorted(pairs), len(names), what)
    checked = _int_pairs(entry, what)
    zero_fits = _pairs_match_names(checked, names, 0)
    one_based = _pairs_match_names(checked, names, 1) and not zero_fits
    reason = ("the reading that joins left and right names" if one_based or zero_fits
              else "the internal 0-based convention")
    pairs = zero_based_pairs(checked, len(names), what, 1 if one_based else 0, reason)
    return _checked_flip_pairs(pairs, len(names), what)


def _checked_flip_pairs(pairs: Sequence[tuple[int, int]], k: int, what: str
                        ) -> tuple[tuple[int, int], ...]:
    seen: set[int] = set()
    for a, b in pairs:
        if a == b or a in seen or b in seen:
            raise ValueError(f"{what}: keypoint {a if a in seen or a == b else b} "
                             "is in more than one flip pair (or paired with itself)")
        seen.update((a, b))
    flip_permutation(k, pairs)  # Range check.
    return tuple(sorted(tuple(sorted(p)) for p in pairs))


def resolve_flip_pairs(names: Sequence[str], configured: Sequence[Sequence[int]] = (),
                       from_file: Optional[Sequence[Sequence[int]]] = None,
                       source: str = "") -> tuple[tuple[int, int], ...]:
    """The flip pairs to use: ``data.flip_pairs`` > the annotation file > names.

    Logs the pairs and where they came from.
    """
    if configured:
        pairs, origin = _checked_flip_pairs(
            [tuple(p) for p in configured], len(names), "data.flip_pairs"), "data.flip_pairs"
    elif from_file:
        pairs, origin = tuple(tuple(p) for p in from_file), f"{source or 'the annotation file'}"
    else:
        pairs, origin = flip_pairs_from_names(names), "derived from the keypoint names"
    logging.info("Flip pairs (%s): %s", origin, describe_pairs(pairs, names))
    return pairs


# ---------------------------------------------------------------------------
# OKS sigmas.


@dataclasses.dataclass(frozen=True)
class SigmaPreset:
    """Published OKS sigmas of a public keypoint data set."""

    names: tuple[str, ...]
    sigmas: tuple[float, ...]
    source: str


_CROWDPOSE_NAMES = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "head", "neck")
_AIC_NAMES = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "head_top", "neck")
_POSETRACK_NAMES = ("nose", "head_bottom", "head_top") + COCO_KEYPOINT_NAMES[3:]
_AP10K_NAMES = (
    "left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder",
    "left_elbow", "left_front_paw", "right_shoulder", "right_elbow",
    "right_front_paw", "left_hip", "left_knee", "left_back_paw", "right_hip",
    "right_knee", "right_back_paw")
_HORSE10_NAMES = (
    "Nose", "Eye", "Nearknee", "Nearfrontfetlock", "Nearfrontfoot", "Offknee",
    "Offfrontfetlock", "Offfrontfoot", "Shoulder", "Midshoulder", "Elbow",
    "Girth", "Wither", "Nearhindhock", "Nearhindfetlock", "Nearhindfoot", "Hip",
    "Stifle", "Offhindhock", "Offhindfetlock", "Offhindfoot", "Ischium")
_MMPOSE = "mmpose configs/_base_/datasets/{}.py (sigmas of dataset_info)"

# Sigmas as the benchmarks publish them, in each set's keypoint order. The
# numbers were read from mmpose's dataset meta files (cited per preset).
SIGMA_PRESETS: dict[str, SigmaPreset] = {
    "coco": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS,
                        "pycocotools cocoeval.py; " + _MMPOSE.format("coco")),
    # CrowdPose's crowdposetools: COCO's limb sigmas, 0.079 for head and neck.
    "crowdpose": SigmaPreset(_CROWDPOSE_NAMES, (
        0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087,
        0.089, 0.089, 0.079, 0.079), _MMPOSE.format("crowdpose")),
    # AI Challenger's keypoint_eval.py (delta = 2 x sigma).
    "aic": SigmaPreset(_AIC_NAMES, (
        0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144,
        0.03909642, 0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081,
        0.01291456, 0.01236173), _MMPOSE.format("aic")),
    # MPII's benchmark is PCKh; mmpose adapted these from COCO. The shoulder
    # value 0.179 is mmpose's as published (COCO's is 0.079): kept verbatim so
    # that numbers compare with mmpose's.
    "mpii": SigmaPreset(MPII_KEYPOINT_NAMES, (
        0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026,
        0.062, 0.072, 0.179, 0.179, 0.072, 0.062), _MMPOSE.format("mpii")),
    "ochuman": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS, _MMPOSE.format("ochuman")),
    # COCO's numbers in PoseTrack's order (head_bottom/head_top take the eyes').
    "posetrack18": SigmaPreset(_POSETRACK_NAMES, COCO_OKS_SIGMAS,
                               _MMPOSE.format("posetrack18")),
    # AP-10K's own cocoeval: COCO's numbers in AP-10K's keypoint order.
    "ap10k": SigmaPreset(_AP10K_NAMES, (
        0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
        0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089), _MMPOSE.format("ap10k")),
    "macaque": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS, _MMPOSE.format("macaque")),
    # Horse-10 is benchmarked with PCK / normalised error and publishes no
    # sigmas (mmpose: sigmas=[]): the default for each of its 22 keypoints.
    "horse10": SigmaPreset(_HORSE10_NAMES, (DEFAULT_OKS_SIGMA,) * 22,
                           _MMPOSE.format("horse10") + ": none published, default"),
    # COCO-WholeBody's myeval_wholebody.py: its 17 body sigmas are COCO's.
    "coco_wholebody_body": SigmaPreset(COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS,
                                       _MMPOSE.format("coco_wholebody") + "[:17]"),
}
_PRESET_ALIASES = {"macaquepose": "macaque", "posetrack": "posetrack18",
                   "posetrack2018": "posetrack18", "wholebody": "coco_wholebody_body",
                   "cocowholebody": "coco_wholebody_body", "aichallenger": "aic"}


def _preset_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def sigma_preset(name: str) -> Optional[SigmaPreset]:
    """The preset called ``name`` (any case, ``-``/``_`` ignored), or None."""
    key = _preset_key(name)
    by_key = {_preset_key(k): k for k in SIGMA_PRESETS}
    by_key.update({_preset_key(a): t for a, t in _PRESET_ALIASES.items()})
    return SIGMA_PRESETS.get(by_key.get(key, ""))


def _check_sigma_values(values: Sequence[object], k: Optional[int], what: str
                        ) -> tuple[float, ...]:
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v) or v <= 0]
    if bad:
        raise ValueError(f"{what}: OKS sigmas must be finite numbers > 0, got {bad[:5]}")
    if k is not None and len(values) != k:
        raise ValueError(f"{what} has {len(values)} values for {k} keypoints")
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
