"""scripts/benchmark_validation.py's documented command (``--data_dir
tests/data/coco``, also its default) failed: that sample is flat
(test_coco.json beside its images), not the COCO layout the data set reader
wants ("tests/data/coco/annotations holds no .json file")."""

import os

from tests.scripts import script_runs


def test_the_documented_command_runs_on_the_flat_sample(load_script, capsys, monkeypatch):
    monkeypatch.chdir(script_runs.ROOT)  # The command's relative path, as documented.
    module = load_script("benchmark_validation")
    assert "--data_dir tests/data/coco" in module.__doc__
    code, out, err = script_runs.run(module, capsys, ["--data_dir", "tests/data/coco",
                                                      "--experiment", "tiny", "--rounds", "1"])
    assert code == 0, err[-2000:]
    # test_coco.json: 12 people on 4 images; its detection file: 118 boxes.
    assert "training default (GT boxes, no flip): 12 people on 4 images (ground-truth " \
           "boxes), 12 crops" in out
    assert "evaluate.py --flip (detections, flip): 118 people on 4 images (detected " \
           "boxes" in out and "236 crops" in out


def test_the_sample_is_laid_out_as_coco_with_links(load_script, tmp_path):
    module = load_script("benchmark_validation")
    sample = os.path.join(script_runs.ROOT, "tests", "data", "coco")
    root = tmp_path / "coco"
    module.lay_out_sample(sample, str(root), "val2017", "dets/d.json")
    assert sorted(os.listdir(root)) == ["annotations", "dets", "images"]
    assert os.listdir(root / "annotations") == ["person_keypoints_val2017.json"]
    assert os.path.samefile(root / "annotations" / "person_keypoints_val2017.json",
                            os.path.join(sample, "test_coco.json"))
    assert sorted(os.listdir(root / "images" / "val2017")) == [
        "000000000785.jpg", "000000040083.jpg", "000000196141.jpg", "000000197388.jpg"]
    assert os.path.samefile(root / "dets" / "d.json",
                            os.path.join(sample, "test_coco_det_AP_H_56.json"))
