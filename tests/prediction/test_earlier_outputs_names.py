"""An earlier run's outputs against this run's inputs by name: the same
files through a linked folder are the same inputs, and a name that is not
UTF-8 (``seq\\xff``, a ``--checkpoint`` path) is marked and read back."""

import json
import os

from keras_pose.prediction.earlier_outputs import (
    keep_earlier_results, keep_earlier_sequence, mark_incomplete, model_of)

BAD = "\udcff"  # The byte 0xff of a name, as os.listdir gives it.


def _linked_inputs(tmp_path):
    """(the folder, a link to it): ``in12`` and ``in12link``."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "inlink").symlink_to("in")
    return str(folder), str(tmp_path / "inlink")


def test_results_of_the_same_files_through_a_linked_folder_are_replaced_not_kept(tmp_path):
    """``--input inlink``, then ``cd in && --input .``: was "of an earlier run, with
    results of other inputs", moved to predictions.1.json."""
    folder, link = _linked_inputs(tmp_path)
    path = tmp_path / "out" / "predictions.json"
    path.parent.mkdir()
    path.write_text(json.dumps([{"file_name": "a.jpg", "path": os.path.join(link, "a.jpg"),
                                 "score": 0.9}]))
    assert keep_earlier_results(str(path), {"a.jpg": os.path.join(folder, "a.jpg")}) is None
    assert os.listdir(path.parent) == ["predictions.json"]
    # Another file of that name is another input still: its results are kept.
    (tmp_path / "b").mkdir()
    kept = keep_earlier_results(str(path), {"a.jpg": str(tmp_path / "b" / "a.jpg")})
    assert kept == str(tmp_path / "out" / "predictions.1.json")


def test_a_video_of_the_same_file_through_a_linked_folder_is_the_same_source(tmp_path):
    folder, link = _linked_inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg.frames.json").write_text(json.dumps(
        [{"file_name": "a.jpg#0", "source": os.path.join(link, "a.jpg")}]))
    assert keep_earlier_sequence(lambda suffix: str(out / "a.jpg") + suffix,
                                 os.path.join(folder, "a.jpg")) is None
    assert os.listdir(out) == ["a.jpg.frames.json"]


def test_the_mark_of_partial_outputs_of_names_that_are_not_utf8_is_written_and_read(tmp_path):
    """Was UnicodeEncodeError (``--track`` on ``seq\\xff``; ``--checkpoint ck\\xff``)."""
    marker = str(tmp_path / f"seq{BAD}.incomplete")
    model = f"/models/ck{BAD}/best"
    mark_incomplete(marker, str(tmp_path / f"seq{BAD}.frames.json"), model)
    with open(os.fsencode(tmp_path) + b"/seq\xff.incomplete", "rb") as f:
        text = f.read()
    assert text.startswith(b"seq\xff.frames.json (at first;")  # The name's own bytes.
    assert text.endswith(b"\nmodel: /models/ck\xff/best\n")
    assert model_of(marker) == model  # The same model: its partial outputs are this run's.
