"""Keypoint definitions of COCO and MPII, and what follows from names.

Names, left/right flip pairs (0-based) and skeletons (0-based limbs). The
COCO and MPII flip pairs are those of the official code
(``lib/dataset/coco.py``, ``lib/dataset/mpii.py``).

For any other keypoint set this module reads the names:

- :func:`keypoint_keys` turns a name into ``(side, stem)``: ``left_hip``,
  ``Left Hip``, ``l_hip``, ``hip_l``, ``LHip``, ``hipL``, ``leftHip``,
  ``L_Hip``, ``left-hip`` are all ``("L", "hip")``; ``forelegL1`` is
  ``("L", "foreleg_1")``; ``nose``, ``tail``, ``lower_lip``, ``elbow`` have
  no side (``""``).
- :func:`flip_pairs_from_names` pairs each left name with the right name of
  the same stem.
- :func:`zero_based_pairs` reads 0- or 1-based index pairs (skeletons, flip
  pairs of annotation files) and says which base it chose.

OKS sigmas moved to :mod:`keras_pose.configs.sigma_presets` (the published
table, COCO's, the default) and :mod:`keras_pose.configs.sigmas`
(``resolve_sigmas``); their names are still importable from here for one
release.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Optional, Sequence

from keras_pose import log as logging
from keras_pose.configs.dataset_info import DATASETS

# COCO's and MPII's tables are owned by keras_pose.configs.dataset_info (the
# one table of data set metadata); named here as the whole project uses them.
# COCO's skeleton is the categories entry of its annotation files, 0-based;
# the flip pairs are those of the official code (lib/dataset/coco.py, mpii.py).
COCO_KEYPOINT_NAMES: tuple[str, ...] = DATASETS["coco"].names
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = DATASETS["coco"].flip_pairs
COCO_SKELETON: tuple[tuple[int, int], ...] = DATASETS["coco"].skeleton

MPII_KEYPOINT_NAMES: tuple[str, ...] = DATASETS["mpii"].names
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = DATASETS["mpii"].flip_pairs
MPII_SKELETON: tuple[tuple[int, int], ...] = DATASETS["mpii"].skeleton

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


def key_positions(names: Sequence[str]) -> dict[Key, list[int]]:
    """Each key of ``names`` (:func:`keypoint_keys`) -> all its positions,
    in order (two spellings of one key, 'nose' and 'Nose', are two)."""
    positions: dict[Key, list[int]] = defaultdict(list)
    for i, key in enumerate(keypoint_keys(names)):
        positions[key].append(i)
    return dict(positions)


def moved_keypoints(reference: Sequence[str], names: Sequence[str]) -> list[tuple[str, int, int]]:
    """The names of ``names`` that spell a keypoint of ``reference`` (in any
    naming style, :func:`keypoint_keys`) at another position: the same
    keypoints in another order, which a renaming would pair with the wrong
    heatmap channels.

    Returns:
      (name, its position in ``names``, its position in ``reference``) of each.
    """
    # Every position of a key: two spellings of one key in a list ('nose',
    # 'Nose') were one position, so identical lists "moved" a keypoint.
    positions = key_positions(reference)
    return [(name, j, positions[key][0])
            for j, (name, key) in enumerate(zip(names, keypoint_keys(names)))
            if key in positions and j not in positions[key]]


def describe_moves(moved: Sequence[tuple[str, int, int]], here: str, there: str,
                   limit: int = 3) -> str:
    """``'left_eye' is keypoint 2 in <here>, 1 in <there>, ...`` (0-based),
    from :func:`moved_keypoints`, for messages."""
    text = ", ".join(f"{name!r} is keypoint {j} in {here}, {i} in {there}"
                     for name, j, i in moved[:limit])
    return text + (f" (and {len(moved) - limit} more)" if len(moved) > limit else "")


def upper_body_from_names(names: Sequence[str]) -> Optional[tuple[int, ...]]:
    """Half-body's upper-body keypoints of ``names`` (any order, any naming
    style), when every name is a keypoint of a known data set's table whose
    upper body the tables agree on (COCO's, MPII's, ...); None otherwise."""
    upper: dict[Key, bool] = {}
    for info in DATASETS.values():
        if not info.upper_body_ids:
            continue
        for i, key in enumerate(keypoint_keys(info.names)):
            side = i in info.upper_body_ids
            upper[key] = side if upper.get(key, side) == side else None
    sides = [upper.get(key) for key in keypoint_keys(names)]
    if not names or any(side is None for side in sides):
        return None
    return tuple(i for i, side in enumerate(sides) if side)


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
    if has_zero or has_k:  # The README promises the choice is logged, this one too.
        logging.info("%s: read as %d-based (it uses index %d, %s)", what, 0 if has_zero else 1,
                     0 if has_zero else k, "which only 0-based indices have" if has_zero
                     else f"which only 1-based indices of {k} keypoints have")
        return 0 if has_zero else 1
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


def _cross_limbs(pairs: Sequence[tuple[int, int]], keys: Sequence[Key], base: int) -> int:
    """Limbs that join a left and a right keypoint of different stems
    (``left_knee``-``right_ankle``) when the pairs are read ``base``-based."""
    count = 0
    for a, b in pairs:
        (sa, ta), (sb, tb) = keys[a - base], keys[b - base]
        count += bool(sa and sb and sa != sb and ta != tb)
    return count


def skeleton_base_from_names(pairs: Sequence[tuple[int, int]], names: Sequence[str],
                             what: str = "skeleton") -> Optional[int]:
    """The base (0 or 1) under which a skeleton whose indices fit both
    joins fewer left and right keypoints of different stems, or None when
    the names do not tell (as many such limbs either way).

    A skeleton read with the wrong base shifts every limb by one keypoint:
    across the body, ``left_shoulder``-``right_shoulder`` becomes
    ``right_ear``-``left_shoulder``, a limb no skeleton draws. ``what``
    names the skeleton in errors (its file and category).
    """
    checked = _int_pairs(pairs, what)
    k = len(names)
    if not checked or not all(1 <= v <= k - 1 for pair in checked for v in pair):
        return None
    keys = keypoint_keys(names)
    zero, one = _cross_limbs(checked, keys, 0), _cross_limbs(checked, keys, 1)
    return None if zero == one else (0 if zero < one else 1)


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
    try:
        flip_permutation(k, pairs)  # Range check.
    except ValueError as e:  # Named the pairs' source: was blamed on the data set.
        raise ValueError(f"{what}: {e} (0-based: 0..{k - 1})") from None
    return tuple(sorted(tuple(sorted(p)) for p in pairs))


def resolve_flip_pairs(names: Sequence[str],
                       configured: Optional[Sequence[Sequence[int]]] = None,
                       from_file: Optional[Sequence[Sequence[int]]] = None,
                       source: str = "") -> tuple[tuple[int, int], ...]:
    """The flip pairs to use: ``data.flip_pairs`` > the annotation file > names.

    None is "not given"; an empty list is given: no pairs (``data.flip_pairs=[]``,
    a file's ``"flip_pairs": []``, a checkpoint trained with none). Empty read
    as "not given" replaced the user's "none" with pairs guessed from the names,
    in training and evaluation but not in prediction or the export.
    Logs the pairs and where they came from.
    """
    if configured is not None:  # --set, a checkpoint's or an export's recorded pairs.
        pairs, origin = _checked_flip_pairs(
            [tuple(p) for p in configured], len(names), "--set data.flip_pairs"), "data.flip_pairs"
    elif from_file is not None:
        pairs, origin = tuple(tuple(p) for p in from_file), f"{source or 'the annotation file'}"
    else:
        pairs, origin = flip_pairs_from_names(names), "derived from the keypoint names"
    logging.info("Flip pairs (%s): %s", origin, describe_pairs(pairs, names))
    if configured is not None or from_file is not None:  # "none" too: names may say otherwise.
        _warn_left_out(pairs, names, origin)
        _warn_same_side(pairs, names, origin)
    return pairs


def _warn_same_side(pairs: Sequence[Sequence[int]], names: Sequence[str], origin: str) -> None:
    """Warns of given pairs that join two left or two right keypoints
    (``LShoulder<->hip_l`` from a file's pairs off by one keypoint): the
    flip then swaps the labels of two parts of one side, in training and
    in the flip test."""
    keys = keypoint_keys(names)
    same = [p for p in pairs if keys[p[0]][0] and keys[p[0]][0] == keys[p[1]][0]]
    if same:
        logging.warning("Flip pairs (%s) join keypoints of the same side: %s; a flip swaps "
                        "left and right, so these would swap two parts' labels: correct "
                        "them (data.flip_pairs, or the file's flip_pairs)", origin,
                        describe_pairs(same, names))


def _warn_left_out(pairs: Sequence[Sequence[int]], names: Sequence[str], origin: str) -> None:
    """Warns of the left/right pairs the names suggest that given pairs leave
    unflipped (a file's partial ``flip_pairs``: its shoulders to ankles
    were never flipped, in training or in the flip test)."""
    try:
        suggested = flip_pairs_from_names(names, log=False)
    except ValueError:  # Names too ambiguous to suggest anything.
        return
    paired = {i for pair in pairs for i in pair}
    missing = [p for p in suggested if not set(p) & paired]
    if missing:
        logging.warning("Flip pairs (%s) leave out pairs the keypoint names suggest, not "
                        "flipped: %s; add them to data.flip_pairs if they should be", origin,
                        describe_pairs(missing, names))
