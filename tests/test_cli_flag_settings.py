"""Flags that were dropped or that won over --set in silence: an empty
--flagfile, a flag and the --set of the setting it decides, an empty
data.root, the working folder as a data set to generate."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.abspath(__file__)).rsplit(os.sep, 1)[0]


@pytest.mark.parametrize("flags", [["--flagfile="], ["--flagfile", ""], ["-flagfile= "]])
def test_an_empty_flagfile_is_refused(flags, tmp_path):
    """--flagfile "$FLAGS" with FLAGS unset: absl reads nothing for an empty
    name and the command ran without its flags (the default preset
    evaluated), where every other empty path flag is refused."""
    proc = subprocess.run([sys.executable, os.path.join(REPO, "evaluate.py"), *flags],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "evaluate.py: error: --flagfile is empty: give a flag file's path, or leave it out")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("script, args, message", [
    ("evaluate.py", ["--use_gt_boxes", "--set", "test.detection_file=/nonexistent.json"],
     '--use_gt_boxes and --set test.detection_file=/nonexistent.json give '
     'test.detection_file two values (--use_gt_boxes means test.detection_file=""): give one '
     'of them'),
    ("evaluate.py", ["--detections", "a.json", "--set", "test.detection_file=/nonexistent.json"],
     "--detections a.json and --set test.detection_file=/nonexistent.json give "
     "test.detection_file two values: give one of them"),
    ("evaluate.py", ["--detections", "a.json", "--set", "test.use_gt_boxes=true"],
     "--detections a.json and --set test.use_gt_boxes=true give test.use_gt_boxes two values "
     "(--detections a.json means test.use_gt_boxes=false): give one of them"),
    ("train.py", ["--noaugment", "--set", "data.rotation_factor=30"],
     "--noaugment and --set data.rotation_factor=30 give data.rotation_factor two values "
     "(--noaugment means data.rotation_factor=0.0): give one of them"),
    ("train.py", ["--noaugment", "--set", "data.flip=true"],
     "--noaugment and --set data.flip=true give data.flip two values (--noaugment means "
     "data.flip=false): give one of them"),
    ("evaluate.py", ["--batch_size", "4", "--set", "test.batch_size=64"],
     "--batch_size 4 and --set test.batch_size=64 give test.batch_size two values: give one "
     "of them"),
    ("train.py", ["--init_checkpoint", "a/best", "--set", "train.init_checkpoint=b/best"],
     "--init_checkpoint a/best and --set train.init_checkpoint=b/best give "
     "train.init_checkpoint two values: give one of them"),
])
def test_a_flag_and_the_set_of_what_it_decides_are_refused(run_script, tmp_path, monkeypatch,
                                                            script, args, message):
    """The flag won in silence: --use_gt_boxes evaluated on ground-truth
    boxes and never read the file; --detections A used A; --noaugment ran
    and recorded rotation 0 and no flip; --batch_size 4 evaluated in batches
    of 4; --init_checkpoint a/best started from a/best."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_script(script)(args)
    assert code == 1 and err.strip() == f"{script}: error: {message}"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("script, args", [
    ("evaluate.py", ["--nouse_gt_boxes", "--set", "test.detection_file=d.json"]),
    ("evaluate.py", ["--detections", "a.json", "--set", "test.detection_file=a.json"]),
    ("train.py", ["--noaugment", "--set", "data.rotation_factor=0", "--set", "data.flip=false"]),
    ("train.py", ["--augment", "--set", "data.rotation_factor=30"]),
    ("evaluate.py", ["--batch_size", "4", "--set", "test.batch_size=4"]),
])
def test_a_flag_and_a_set_that_agree_are_taken(run_script, tmp_path, monkeypatch, script,
                                              args):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_script(script)(args + ["--set", "nosuch.key=1"])
    assert code == 1 and "two values" not in err and "nosuch" in err  # Stopped later.


def test_an_empty_data_root_is_refused_before_anything_is_written(run_script, tiny_exported,
                                                                  tmp_path, monkeypatch):
    """--set data.root="$ROOT" with ROOT unset: the working folder, where
    evaluate.py stopped with a traceback (or generated a synthetic set)."""
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_script("evaluate.py")(["--checkpoint", tiny_exported[2], "--set",
                                              "data.root="])
    assert code == 1 and err.strip() == (
        "evaluate.py: error: config key 'data.root': the value is empty (an unset variable?): "
        "give a folder, or leave the --set out for the default")
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_the_working_folder_as_a_data_set_to_generate_is_one_line(run_script, tmp_path,
                                                                  monkeypatch):
    """train.py --dataset synthetic --data_dir . in an empty folder: a
    traceback (ValueError ... is or holds the working directory)."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_script("train.py")(["--dataset", "synthetic", "--data_dir", ".",
                                           "--noprogress", "--noexport"])
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"train.py: error: {os.path.realpath(tmp_path)} is or holds the "
                          "working directory, which is not replaced: nothing was written; "
                          "give the path of a new folder instead, such as a sub-folder (./data)")
    assert os.listdir(tmp_path) == []
