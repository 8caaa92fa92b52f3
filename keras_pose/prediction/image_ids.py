"""The image id of each input in ``predictions.json``: an annotation file's
(``--annotations``), a boxes file's, else one made up that no id of those
files can be (one rule, :func:`unlisted_image_id`, for both files).
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional, Sequence

from keras_pose import log as logging
from keras_pose.data.file_kinds import is_video
from keras_pose.detection.box_files import file_key, name_form
from keras_pose.prediction.inputs import InputError


def unlisted_image_id(largest_id: Optional[int], index: int) -> int:
    """The image id of the input at ``index`` (its place in the sorted
    input list) to which a file of image ids gives none: above the file's
    largest id (``largest_id``), largest + 1 + index, so no id of the file
    and no other input's (stable for the same inputs and file); the index
    itself when the file has no id (``None``)."""
    return index if largest_id is None else largest_id + 1 + index


def boxes_file_ids(detector: Any) -> list[int]:
    """The image ids a boxes file gives (``FileDetector.table``'s entries
    keyed by id, and COCO records' ``image_id``, read as
    ``FileDetector.image_id`` reads them); none for a detector of its own."""
    ids = (entry if isinstance(entry, int) else getattr(entry, "image_id", None)
           for entry in getattr(detector, "table", None) or ())
    return [int(image_id) for image_id in ids if image_id is not None]


def image_ids_of_inputs(file_ids: Mapping[str, int], keys: Sequence[str],
                        source: str) -> dict[str, int]:
    """{input key: image id} of every image input, from an annotation
    file's {file_name: id}.

    An input takes the id of the ``file_name`` equal to its path relative to
    ``--input`` (names compared in Unicode's NFC form too: macOS writes
    'café.jpg' decomposed); an input left over takes the id of the left-over
    ``file_name`` with its bare name when that name is one input's and one
    file name's (:func:`listed_image_ids` keeps these). The images it does
    not list are named in a warning and take ids above its largest:
    that id + 1 + their index in ``keys`` (stable for the same inputs and
    file). Was: they kept their index, another image's id in the file
    (a.jpg id 1 in the file, b.jpg not in it: both 1), unsaid.

    Raises:
      InputError: naming ``source`` and listing the inputs whose bare name
        fits several inputs or file names (give paths relative to --input).
    """
    names = {file_key(name): int(image_id) for name, image_id in file_ids.items()}
    pairs = {key: key for key in keys if key in names}
    for form in (name_form, lambda name: name_form(os.path.basename(name))):
        found, problems = _pairs([k for k in keys if k not in pairs],
                                 set(names) - set(pairs.values()), form)
        pairs.update(found)
    if problems:  # Those of bare names: a path that fits two is one of them too.
        raise InputError(f"--annotations {source}: ambiguous file names, give each image's "
                         f"path relative to --input: {'; '.join(problems[:5])}")
    matched = {key: names[name] for key, name in pairs.items()}
    return {**matched, **_unlisted_image_ids(names, keys, matched, source)}


def listed_image_ids(image_ids: Mapping[str, int], file_ids: Mapping[str, int]
                     ) -> dict[str, int]:
    """The part of :func:`image_ids_of_inputs` ``image_ids`` that are the
    annotation file's own ids (``file_ids``: its {file_name: id}): those a
    boxes file's image ids may name (an id made up for an unlisted input
    may be another image's there)."""
    ids = {int(i) for i in file_ids.values()}
    return {key: i for key, i in image_ids.items() if i in ids}


def _pairs(keys: Sequence[str], names: Iterable[str], form) -> tuple[dict[str, str], list[str]]:
    """({input key: file name} for each ``form`` that one input and one
    file name have, problems: the forms that several of either have)."""
    inputs_by: dict[str, list[str]] = {}
    for key in keys:
        inputs_by.setdefault(form(key), []).append(key)
    files_by: dict[str, list[str]] = {}
    for name in sorted(names):
        files_by.setdefault(form(name), []).append(name)
    pairs, problems = {}, []
    for shared, owners in sorted(inputs_by.items()):
        files = files_by.get(shared, [])
        if len(owners) == 1 and len(files) == 1:
            pairs[owners[0]] = files[0]
        elif files:
            problems.append(f"{shared!r}: inputs {owners[:5]}, file names {files[:5]}")
    return pairs, problems


def _unlisted_image_ids(names: Mapping[str, int], keys: Sequence[str],
                        matched: Mapping[str, int], source: str) -> dict[str, int]:
    """{key: the file's largest id + 1 + its index} of the image inputs the
    annotation file does not list, named in a warning."""
    top = max(names.values(), default=None)
    unlisted = {key: unlisted_image_id(top, i) for i, key in enumerate(keys)
                if key not in matched and not is_video(key)}
    if unlisted:
        # None matched: how names are matched, a file name and an input side by side.
        hint = ("" if matched or not names else
                f" (an image is found by its path relative to --input, or by its bare file "
                f"name: file_name {next(iter(names))!r}, input {next(iter(unlisted))!r})")
        logging.warning(
            "--annotations %s: %d of the %d image inputs are not in its 'images' (%s)%s: "
            "their image ids in predictions.json are %s, none of its own (list them in it, "
            "by path relative to --input, for ids of its own)",
            source, len(unlisted), len(unlisted) + len(matched),
            ", ".join(list(unlisted)[:5]) + (", ..." if len(unlisted) > 5 else ""), hint,
            f"above its largest id, {top}" if names else "their indices (it lists no image)")
    return unlisted
