"""The command line read again before the work (keras_pose.command_line):
a --flagfile after a flag it sets again, the flag before words left after
the flags, and those words as one error line."""

import os
import re
import subprocess
import sys

import pytest
from absl import flags

from keras_pose import cli
from keras_pose.command_line import check_flags_given_once
from keras_pose.errors import FlagError

REPO = os.path.dirname(os.path.abspath(__file__)).rsplit(os.sep, 1)[0]


@pytest.fixture
def tool_flags(monkeypatch, tmp_path):
    """absl's FLAGS a fresh set of a tool's kinds of flags (a path, a flag
    of one value, a boolean, ``--set``); the working folder tmp_path."""
    values = flags.FlagValues()
    flags.DEFINE_string("input", None, "", flag_values=values)
    flags.DEFINE_string("checkpoint", None, "", flag_values=values)
    flags.DEFINE_string("output_dir", "predictions", "", flag_values=values)
    flags.DEFINE_boolean("flip", None, "", flag_values=values)
    flags.DEFINE_multi_string("set", [], "", flag_values=values)
    monkeypatch.setattr(flags, "FLAGS", values)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.mark.parametrize("argv, given", [
    (["--output_dir", "out_cmd", "--flagfile=f"], "--output_dir out_cmd"),
    (["--output_dir=out_cmd", "--flagfile", "f"], "--output_dir=out_cmd")])
def test_a_flagfile_after_a_flag_it_sets_again_is_refused(tool_flags, tmp_path, argv, given):
    """``--output_dir out_cmd --flagfile=f``, f holding --output_dir: the
    file's value won in silence (absl reads a flag file in its place)."""
    (tmp_path / "f").write_text("--output_dir=out_from_file\n--noflip\n")
    with pytest.raises(FlagError, match=re.escape(
            f"{given} and --output_dir=out_from_file of the --flagfile f after it both given: "
            "the file's value would win in silence; give --output_dir once, or give the "
            "--flagfile first (the command line after it overrides it)")):
        check_flags_given_once("tool.py", ["tool.py", *argv])
    with pytest.raises(FlagError, match=r"^--flip and --noflip of the --flagfile f after it"):
        check_flags_given_once("tool.py", ["tool.py", "--flip", "--flagfile=f"])


def test_a_flagfile_named_in_a_later_flagfile_is_read_too(tool_flags, tmp_path):
    (tmp_path / "inner").write_text("--checkpoint=c2\n")
    (tmp_path / "outer").write_text("--flagfile=inner\n")
    with pytest.raises(FlagError, match=r"^--checkpoint c1 and --checkpoint=c2 of the "
                                        r"--flagfile outer after it both given"):
        check_flags_given_once("tool.py", ["tool.py", "--checkpoint", "c1", "--flagfile=outer"])


def test_a_flagfile_first_may_be_overridden(tool_flags, tmp_path):
    """The README's rule: a --flagfile's values may be overridden by the
    command line after it; a flag the file does not set is no clash."""
    (tmp_path / "f").write_text("--output_dir=base\n--flip\n--set=a.b=1\n")
    check_flags_given_once("tool.py", ["tool.py", "--flagfile=f", "--output_dir=out",
                                       "--noflip"])
    check_flags_given_once("tool.py", ["tool.py", "--input=a.jpg", "--set", "a.b=2",
                                       "--flagfile=f"])


def test_predict_refuses_a_flagfile_overriding_its_output_dir(tmp_path):
    """As the user ran it: predict.py wrote to out_from_file (exit 0)."""
    (tmp_path / "f").write_text("--output_dir=out_from_file\n")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "predict.py"), "--checkpoint=c",
                           "--input=x.jpg", "--output_dir", "out_cmd", "--flagfile=f"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "predict.py: error: --output_dir out_cmd and --output_dir=out_from_file of the "
        "--flagfile f after it both given: the file's value would win in silence; give "
        "--output_dir once, or give the --flagfile first (the command line after it overrides "
        "it)")
    assert os.listdir(tmp_path) == ["f"]


def _paths(tmp_path, *names):
    for name in names:
        (tmp_path / name).mkdir(parents=True)


def test_the_flag_before_an_expanded_pattern_is_named(tool_flags, tmp_path, monkeypatch):
    """``--input imgs --checkpoint tr*/best``: predict.py said "4 file(s)
    after --input imgs ... quote it", blaming --input."""
    _paths(tmp_path, "imgs", "tr1/best", "tr2/best", "tr3/best")
    monkeypatch.setattr(sys, "argv", ["predict.py", "--input", "imgs", "--checkpoint",
                                      "tr1/best", "tr2/best", "tr3/best"])
    with pytest.raises(FlagError, match=re.escape(
            "2 path(s) after --checkpoint tr1/best (tr2/best, tr3/best): --checkpoint takes "
            "one path (a shell pattern, * or ?, gives all it matches): give one, in quotes if "
            "it has a space")):
        cli.refuse_arguments(["predict.py", "tr2/best", "tr3/best"], {"input": "quote it"})
    monkeypatch.setattr(sys, "argv", ["predict.py", "--checkpoint", "tr1/best", "--input",
                                      "imgs", "tr2/best"])  # A tool's own fix, for --input.
    with pytest.raises(FlagError, match=re.escape(
            "1 path(s) after --input imgs (tr2/best): quote it")):
        cli.refuse_arguments(["predict.py", "tr2/best"], {"input": "quote it"})


@pytest.mark.parametrize("argv, hint", [
    (["train.py", "--output_dir", "my", "export"], "after --output_dir my: "),
    (["train.py", "--output_dir=my", "export"], "after --output_dir=my: "),
    (["train.py", "--flip", "export"], ""),  # A boolean takes no value.
    (["train.py", "--flagfile", "export", "export"], ""),  # The directive's own value.
    (["train.py", "--output_dir", "o", "--", "export"], ""),
])
def test_the_flag_before_other_words_is_named(tool_flags, argv, hint, monkeypatch):
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(FlagError, match=re.escape(
            f"unexpected arguments: ['export'] ({hint}a path with a space, or a shell pattern "
            "(* ? [), needs quotes)")):
        cli.refuse_arguments(["train.py", "export"])


@pytest.mark.parametrize("script, args, message", [
    ("evaluate.py", ["--output_dir", "my", "export"],
     "evaluate.py: error: unexpected arguments: ['export'] (after --output_dir my: a path with "
     "a space, or a shell pattern (* ? [), needs quotes)"),
    ("train.py", ["--model_dir", "my", "run"],
     "train.py: error: unexpected arguments: ['run'] (after --model_dir my: a path with a "
     "space, or a shell pattern (* ? [), needs quotes)"),
    ("predict.py", ["--input", "imgs", "--checkpoint", "tr1/best", "tr2/best"],
     "predict.py: error: 1 path(s) after --checkpoint tr1/best (tr2/best): --checkpoint "
     "takes one path (a shell pattern, * or ?, gives all it matches): give one, in quotes if "
     "it has a space"),
])
def test_words_after_the_flags_are_one_error_line(script, args, message, tmp_path):
    """The README: a problem you can fix is one line, ``<tool>: error:``.
    Was absl's whole --help (56 to 95 lines), the message at its end
    (predict.py: blaming --input for --checkpoint's pattern)."""
    _paths(tmp_path, "imgs", "tr1/best", "tr2/best")
    before = sorted(os.listdir(tmp_path))
    proc = subprocess.run([sys.executable, os.path.join(REPO, script), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == message
    assert "USAGE" not in proc.stderr + proc.stdout and "--flagfile" not in proc.stderr
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("script, args, message", [
    ("predict.py", ["--output_dir="], "predict.py: error: flag --output_dir=: --output_dir is "
     "empty: give a path, or leave the flag out"),
    ("evaluate.py", ["--runtime", "foo"], "evaluate.py: error: flag --runtime=foo: value "
     "should be one of <tf|onnxruntime|openvino>"),
    ("train.py", ["--nosuchflag"], "train.py: error: Unknown command line flag 'nosuchflag'"),
    (os.path.join("scripts", "export_saved_model.py"), ["--output="],
     "export_saved_model.py: error: flag --checkpoint=None: Flag --checkpoint must have a "
     "value other than None.; flag --output=: --output is empty: give a path, or leave the "
     "flag out"),
])
def test_a_flag_refused_while_absl_parses_is_one_error_line(script, args, message, tmp_path):
    """Was absl's "FATAL Flags parsing error: ..." and a second line."""
    proc = subprocess.run([sys.executable, os.path.join(REPO, script), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if not line.startswith(
        ("W0000", "I0000", "E0000", "WARNING: All log"))]
    assert lines == [message]
