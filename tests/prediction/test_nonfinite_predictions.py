"""A model whose heatmaps hold NaN or inf (corrupted or badly converted
weights) made predict.py write bare ``NaN`` into predictions.json, which no
strict JSON reader takes, without a word. Such a number is written null (the
person kept: its box was found, its other numbers hold), and the run says
once, at its end, how many people and keypoints, in which files, and why."""

import json
import logging

from keras_pose.prediction.outputs import JsonListFile, OutputWriter

NAN, INF = float("nan"), float("inf")


def _strict_load(path):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    with open(path) as f:
        return json.load(f, parse_constant=refuse)


def _person(keypoints, score=0.9):
    return {"image_id": 0, "file_name": "a.jpg", "category_id": 1, "keypoints": keypoints,
            "score": score, "box": [1.0, 2.0, 30.0, 40.0]}


def test_nonfinite_numbers_are_null_and_said_once_per_run(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="absl")
    writer = OutputWriter(str(tmp_path))
    predictions = JsonListFile(writer, str(tmp_path / "predictions.json"), {"a.jpg": "/a.jpg"})
    predictions.add([_person([5.0, 6.0, NAN, 7.0, 8.0, 0.5], score=NAN),
                     _person([5.0, 6.0, 0.4, 7.0, 8.0, 0.5])])
    predictions.add([_person([INF, -INF, 0.1, 7.0, 8.0, NAN])])
    frames = JsonListFile(writer, str(tmp_path / "v.frames.json"))  # A video's.
    frames.add([{"frame": 0, "file_name": "f0.jpg",
                 "people": [_person([5.0, 6.0, NAN, 7.0, 8.0, 0.5])]}])
    frames.close()
    assert "NaN or infinite" not in caplog.text  # Said once, at the run's end.
    predictions.close()
    written = _strict_load(tmp_path / "predictions.json")
    assert [p["keypoints"] for p in written] == [
        [5.0, 6.0, None, 7.0, 8.0, 0.5], [5.0, 6.0, 0.4, 7.0, 8.0, 0.5],
        [None, None, 0.1, 7.0, 8.0, None]]
    assert [p["score"] for p in written] == [None, 0.9, 0.9]
    assert _strict_load(tmp_path / "v.frames.json")[0]["people"][0]["keypoints"][2] is None
    said = ("3 people (4 keypoints) have NaN or infinite numbers from the model, written as "
            "null in predictions.json (2), v.frames.json (1): heatmaps that hold NaN or inf "
            "come from the model's weights")
    assert said in caplog.text
    predictions.finish(complete=True)  # Closes again: not said twice.
    assert caplog.text.count("NaN or infinite") == 1


def test_finite_predictions_say_nothing(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="absl")
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(tmp_path / "predictions.json"),
                               {"a.jpg": "/a.jpg"})
    predictions.add([_person([5.0, 6.0, 0.4, 7.0, 8.0, 0.5])])
    predictions.close()
    assert _strict_load(tmp_path / "predictions.json")[0]["score"] == 0.9
    assert "NaN" not in caplog.text
