"""The benchmarks' results JSON (benchmark_pipeline_scaling --json_out,
benchmark_video --results): the destination checked before measuring, only
an earlier results file of the same script replaced, written atomically.
Was: any file overwritten (a JPEG became JSON), a missing or read-only
folder failing after the whole benchmark ran, its figures lost."""

import json
import shutil

import pytest

from tests.scripts import script_runs

PHOTO = "tests/data/coco/000000000785.jpg"
RESULTS = [{"kind": "throughput", "samples_per_s": 100.0}]


def _measured(*args, **kwargs):
    raise AssertionError("the benchmark ran before its destination was checked")


@pytest.fixture
def scaling(load_script, monkeypatch):
    """benchmark_pipeline_scaling with its measurements faked (``RESULTS``)."""
    module = load_script("benchmark_pipeline_scaling")
    monkeypatch.setattr(module, "_make_sets", lambda work_dir: {"1": ("r.npz", 1, 1)})
    monkeypatch.setattr(module, "_run_rounds", lambda *args: list(RESULTS))
    monkeypatch.setattr(module, "report", lambda *args, **kwargs: None)
    return module


def _scaling_args(path) -> list:
    return ["--cores", "1", "--people_per_image", "1", "--json_out", str(path)]


def test_scaling_refuses_a_file_that_is_not_its_results_before_measuring(
        scaling, capsys, monkeypatch, tmp_path):
    photo = tmp_path / "photo.jpg"
    shutil.copy(script_runs.ROOT + "/" + PHOTO, photo)
    before = photo.read_bytes()
    monkeypatch.setattr(scaling, "_make_sets", _measured)
    code, _, err = script_runs.run(scaling, capsys, _scaling_args(photo))
    assert code == 1
    assert (f"--json_out {photo} exists and is not an earlier results file of "
            "benchmark_pipeline_scaling.py") in err
    assert photo.read_bytes() == before


def test_scaling_refuses_a_folder_it_cannot_make_before_measuring(
        scaling, capsys, monkeypatch, tmp_path):
    (tmp_path / "notes").write_text("a file")
    monkeypatch.setattr(scaling, "_make_sets", _measured)
    code, _, err = script_runs.run(scaling, capsys, _scaling_args(tmp_path / "notes/r.json"))
    assert code == 1 and "notes is a file, not a directory" in err, err


def test_scaling_writes_into_a_new_folder_and_replaces_its_earlier_results(
        scaling, capsys, tmp_path):
    path = tmp_path / "new" / "scaling.json"  # Was a FileNotFoundError after the run.
    assert script_runs.run(scaling, capsys, _scaling_args(path))[0] == 0
    assert json.loads(path.read_text()) == {"results": RESULTS, "instructions": {}}
    path.write_text(json.dumps({"results": [], "instructions": {}}))  # an earlier run's
    assert script_runs.run(scaling, capsys, _scaling_args(path))[0] == 0
    assert json.loads(path.read_text()) == {"results": RESULTS, "instructions": {}}
    assert [p.name for p in path.parent.iterdir()] == ["scaling.json"]  # no temporary file


@pytest.mark.parametrize("content", ['{"results": [], "instructions": {}}',  # scaling's
                                     "", "not json", "[1, 2]"])
def test_video_refuses_anything_but_its_own_results_before_measuring(
        load_script, capsys, monkeypatch, tmp_path, content):
    video = load_script("benchmark_video")
    monkeypatch.setattr(video, "_clips", _measured)
    path = tmp_path / "video.json"
    path.write_text(content)
    code, _, err = script_runs.run(video, capsys, ["--results", str(path), "--work_dir",
                                                   str(tmp_path / "work")])
    assert code == 1
    assert f"--results {path} exists and is not an earlier results file of " \
           "benchmark_video.py" in err
    assert path.read_text() == content


def test_video_accepts_its_earlier_results_and_refuses_a_folder(
        load_script, capsys, monkeypatch, tmp_path):
    video = load_script("benchmark_video")
    monkeypatch.setattr(video, "_clips", _measured)
    path = tmp_path / "video.json"
    path.write_text(json.dumps({"date": "2025-01-01", "variants": ["tf:tf-fp32"],
                                "weights": "random", "results": {}}))
    with pytest.raises(AssertionError, match="the benchmark ran"):  # checked, then measured
        script_runs.run(video, capsys, ["--results", str(path), "--work_dir",
                                        str(tmp_path / "work")])
    code, _, err = script_runs.run(video, capsys, ["--results", str(tmp_path)])
    assert code == 1 and f"--results {tmp_path} is a folder: give a file name" in err
