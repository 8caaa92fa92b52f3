"""keras_pose.cli.run: what the user can fix is one line, a bug keeps its
traceback."""

import errno
import re

import pytest

from keras_pose import cli
from keras_pose.errors import FlagError, MissingFileError, MissingPackageError, UserError


def _raise(error):
    def work():
        raise error
    return work


@pytest.mark.parametrize("error", [
    UserError("a.json: entry 3: no bbox"),
    FlagError("--detector none and --boxes conflict: choose one"),
    MissingFileError("annotation file a.json does not exist"),
    MissingPackageError("the onnx export at int8 needs onnxruntime: pip install -e .[deploy]"),
    OSError(errno.ENOSPC, "No space left on device", "out/predictions.json"),
    PermissionError(errno.EACCES, "Permission denied", "out/x.jpg"),
])
def test_user_and_environment_errors_are_one_line(error, capsys):
    assert cli.run("tool.py", _raise(error)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tool.py: error: ")


def test_the_project_error_classes_are_user_errors():
    from keras_pose.checkpoint import CheckpointError
    from keras_pose.configs import ConfigError
    from keras_pose.convert.download import DownloadError, HashMismatchError
    from keras_pose.convert.state_dict import ConversionError
    from keras_pose.data.coco_files import AnnotationError
    from keras_pose.data.images import ImageReadError
    from keras_pose.data.samples import UnreadableImagesError
    from keras_pose.detection.keras_hub_detector import DetectorUnavailableError
    from keras_pose.detection.runtimes import RuntimeUnavailableError
    from keras_pose.evaluation.posetrack import PoseTrackFormatError
    from keras_pose.export.precision import ExportError
    from keras_pose.presets import PresetError
    for cls, old_base in [(ConfigError, ValueError), (CheckpointError, ValueError),
                          (AnnotationError, ValueError), (ImageReadError, OSError),
                          (DownloadError, OSError), (HashMismatchError, ValueError),
                          (ConversionError, ValueError), (DetectorUnavailableError, RuntimeError),
                          (PoseTrackFormatError, ValueError), (ExportError, ValueError),
                          (PresetError, ValueError), (UnreadableImagesError, ValueError),
                          (RuntimeUnavailableError, ImportError)]:
        assert issubclass(cls, UserError) and issubclass(cls, old_base), cls


@pytest.mark.parametrize("error", [
    ValueError("operands could not be broadcast together"), KeyError("image_id"),
    IndexError("list index out of range"), ImportError("cannot import name 'x'"),
    TypeError("'NoneType' object is not subscriptable"),
    OSError("an OSError that names no file"),
])
def test_bugs_keep_their_traceback(error):
    with pytest.raises(type(error)):
        cli.run("tool.py", _raise(error))


def test_a_missing_deploy_package_is_one_line(monkeypatch):
    from keras_pose.export import runtimes
    monkeypatch.setattr(runtimes, "missing_packages", lambda *args, **kwargs: ["onnxruntime"])
    with pytest.raises(MissingPackageError, match="onnxruntime.*pip install"):
        runtimes.check_format("onnx", "fp32")



@pytest.mark.parametrize("error,line", [
    (OSError(errno.ENOSPC, "No space left on device", "out/best"),
     "tool.py: error: No space left on device: out/best\n"),
    (FileExistsError(errno.EEXIST, "data/synthetic exists and is not a synthetic data set",
                     "data/synthetic"),
     "tool.py: error: data/synthetic exists and is not a synthetic data set\n")])
def test_an_os_error_is_its_message_and_file_once(error, line, capsys):
    # Was "[Errno 28] No space left on device: 'out/best'", the errno first.
    assert cli.run("tool.py", _raise(error)) == 1
    assert capsys.readouterr().err == line


def test_a_folder_that_is_not_a_synthetic_data_set_is_one_line(tmp_path, capsys):
    from keras_pose.data import synthetic
    (tmp_path / "mine.txt").write_text("hi")
    assert cli.run("tool.py", lambda: synthetic.ensure_dataset(str(tmp_path), 2, 1)) == 1
    assert capsys.readouterr().err.startswith(
        f"tool.py: error: {tmp_path} exists and is not a synthetic data set")


@pytest.mark.parametrize("spec, good, bad", [
    ({}, ["1", "32"], ["x", "0", "1.5", ""]),
    ({"kind": float, "minimum": 0}, ["2.63", "0", "1"], ["-1", "many"]),
    ({"words": ("all",)}, ["1", "all"], ["All", "-2"]),
    ({"kind": None, "words": ("nano", "small")}, ["small"], ["1", "large"]),
    ({"pattern": r"[1-9][0-9]*x[1-9][0-9]*"}, ["720x1280"], ["720*1280", "0x5", "720x"]),
])
def test_list_flag_items_are_checked_when_parsed(spec, good, bad):
    from absl import flags
    values = flags.FlagValues()
    flags.DEFINE_list("sizes", [], "", flag_values=values)
    cli.check_list_flag("sizes", flag_values=values, **spec)
    values(["prog", "--sizes=" + ",".join(good)])
    assert values.sizes == good
    for item in bad:
        with pytest.raises(flags.IllegalFlagValueError,
                           match=f"--sizes: {re.escape(repr(item))}: give "):
            values(["prog", f"--sizes={good[0]},{item}"])


def test_an_empty_path_flag_is_refused_when_parsed():
    """``evaluate.py --output_dir "$DIR"`` with DIR unset evaluated, printed
    the table and wrote nothing anywhere, without a word (``""`` was taken
    as the flag left out; ``--tflite ""`` too)."""
    from absl import flags
    values = flags.FlagValues()
    flags.DEFINE_string("output_dir", None, "", flag_values=values)
    cli.check_path_flag("output_dir", flag_values=values)
    values(["prog"])
    assert values.output_dir is None  # Left out: the tool's default.
    values(["prog", "--output_dir=out"])
    for empty in ("", " "):
        with pytest.raises(flags.IllegalFlagValueError,
                           match="--output_dir is empty: give a path, or leave the flag out"):
            values(["prog", f"--output_dir={empty}"])


def test_a_float_flag_that_is_not_finite_is_refused_when_parsed():
    """absl's float parser takes nan, inf and -inf, and nan passes its range
    check: ``predict.py --score_threshold=nan`` failed with a traceback after
    the model loaded and the first image was predicted."""
    from absl import flags
    values = flags.FlagValues()
    flags.DEFINE_float("threshold", 0.2, "", flag_values=values)
    flags.DEFINE_float("fps", None, "", lower_bound=0.1, upper_bound=1000.0,
                       flag_values=values)
    cli.check_finite_flag("threshold", flag_values=values)
    cli.check_finite_flag("fps", flag_values=values)
    values(["prog"])
    assert values.threshold == 0.2 and values.fps is None  # Defaults, None included.
    values(["prog", "--threshold=-0.5", "--fps=30"])  # Finite: taken.
    assert (values.threshold, values.fps) == (-0.5, 30.0)
    for bad in ("nan", "inf", "-inf", "NaN"):
        with pytest.raises(flags.IllegalFlagValueError, match=re.escape(
                f"--threshold: {float(bad)} is not a finite number: give a number "
                "(default 0.2)")):
            values(["prog", f"--threshold={bad}"])
    with pytest.raises(flags.IllegalFlagValueError, match=re.escape(
            "--fps: nan is not a finite number: give a number in [0.1, 1000]")):
        values(["prog", "--fps=nan"])


@pytest.mark.parametrize("script, expected", [
    ("predict.py", {"frames_fps", "score_threshold", "box_threshold"}),
    ("evaluate.py", set()), ("train.py", set())])
def test_every_float_flag_of_the_tools_refuses_nan_and_inf(script, expected, script_module):
    """Each float flag an entry point defines, now and later, is checked
    when parsed (scripts/export_saved_model.py checks its own numbers
    before any work: tests/export/test_export_cli.py)."""
    import os
    from absl import flags
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    before = set(flags.FLAGS)
    module = script_module(os.path.join(repo, script), script.replace(".py", "_floats"))
    floats = {name for name in set(flags.FLAGS) - before
              if isinstance(flags.FLAGS[name].parser, flags.FloatParser)}
    assert floats >= expected
    for name in sorted(floats):
        for bad in ("nan", "inf", "-inf"):
            module.FLAGS.unparse_flags()
            with pytest.raises(flags.IllegalFlagValueError, match=f"--{name}"):
                module.FLAGS([script, f"--{name}={bad}"])
    module.FLAGS.unparse_flags()


@pytest.mark.parametrize("script, flag", [
    ("train.py", "model_dir"), ("train.py", "data_dir"), ("evaluate.py", "output_dir"),
    ("evaluate.py", "data_dir"), ("predict.py", "output_dir"),
    ("scripts/evaluate_posetrack.py", "output_dir"), ("scripts/export_saved_model.py", "output"),
    ("scripts/export_saved_model.py", "tflite"),
    ("scripts/export_saved_model.py", "with_detector"), ("predict.py", "checkpoint"),
    ("predict.py", "detector"), ("predict.py", "boxes"), ("evaluate.py", "checkpoint"),
    ("train.py", "init_checkpoint"), ("scripts/evaluate_posetrack.py", "gt"),
    ("scripts/export_saved_model.py", "data_dir"), ("scripts/convert_mpii_mat.py", "mat")])
def test_the_tools_refuse_an_empty_output_flag(script, flag, tmp_path):
    """Each tool, run as a user runs it (a tool that forgot its check would
    take "" as the flag left out again: evaluate.py wrote nothing)."""
    import os
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    required = {"scripts/evaluate_posetrack.py": ["--gt=a", "--pred=b"],
                "scripts/export_saved_model.py": ["--checkpoint=c", "--output=o"],
                "scripts/convert_mpii_mat.py": []}[script] \
        if script.startswith("scripts/") else []
    proc = subprocess.run([sys.executable, os.path.join(repo, script), *required, f"--{flag}="],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"--{flag} is empty: give a path, or leave the flag out" in proc.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("script, flags, message", [
    ("predict.py", ["--checkpoint=c", "--input=a.jpg", "--input", "b.jpg"],
     "--input=a.jpg and --input b.jpg both given: --input takes one value (the last would "
     "win, the other dropped in silence); give it once"),
    ("predict.py", ["--checkpoint=c", "-input=a", "--input=b"],  # absl takes -x as --x.
     "-input=a and --input=b both given"),
    ("evaluate.py", ["--flip", "--noflip"], "--flip and --noflip both given: --flip takes one "
                                            "value")])
def test_a_one_value_flag_given_twice_is_refused(script, flags, message, tmp_path):
    """``predict.py --input a.jpg --input b.jpg`` ran b.jpg alone, without a
    word about a.jpg (absl keeps the last value)."""
    import os
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(repo, script), *flags],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"error: {message}" in proc.stderr.strip().splitlines()[-1]
    assert os.listdir(tmp_path) == []


def test_a_flagfile_value_and_set_items_may_be_overridden(tmp_path):
    """A --flagfile holds a base; the command line overrides it (absl's
    rule), and a later --set item overrides an earlier one."""
    import os
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "base.cfg").write_text("--flip\n--output_dir=base\n")
    proc = subprocess.run([sys.executable, os.path.join(repo, "evaluate.py"),
                           f"--flagfile={tmp_path / 'base.cfg'}", "--noflip",
                           "--output_dir=out", "--set", "test.batch_size=2", "--set",
                           "test.batch_size=3", "--set", "nosuch.key=1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and "nosuch" in proc.stderr, proc.stderr[-2000:]
    assert "both given" not in proc.stderr


@pytest.mark.parametrize("script, flags", [
    ("scripts/export_saved_model.py", ["--checkpoint=c", "--output", "my", "export"]),
    ("scripts/evaluate_posetrack.py", ["--gt=g", "--pred", "p", "extra"]),
    ("scripts/convert_mpii_mat.py", ["--mat=m", "--output", "d", "annot"])])
def test_words_after_the_flags_are_refused_by_every_script(script, flags, tmp_path):
    """An unquoted path with a space: the scripts exported to 'my' (exit 0),
    the word after it dropped."""
    import os
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(repo, script), *flags],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "unexpected arguments: ['" in proc.stderr and os.listdir(tmp_path) == []


def test_an_output_folder_under_a_file_names_the_file_in_the_way(tmp_path):
    # Was "--model_dir afile/sub is not writable (Not a directory)".
    import pytest

    from keras_pose.cli import OutputDirectoryError, check_writable
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputDirectoryError, match=rf"--model_dir {tmp_path}/afile/sub/run "
                                                   rf"cannot be made: {tmp_path}/afile is a file"):
        check_writable(str(tmp_path / "afile" / "sub" / "run"), "--model_dir")


@pytest.mark.parametrize("lines,hint", [
    # What absl passes on of a flagfile saved with a byte-order mark (Windows
    # editors) or with an indented comment: was "(a path with a space needs quotes)".
    ("\ufeff--verbose_x=1\n", r"\['\\ufeff--verbose_x=1'\] \(a byte-order mark starts a "
                               r"--flagfile: save the file as UTF-8 without one \(BOM\)\)$"),
    ("--verbose_x=1\n  # the comment\n", r"\['# the comment'\] \(a comment in a --flagfile "
                                         r"must start in the first column: an indented one "
                                         r"is read as an argument\)$"),
    ("# a comment\n--verbose_x=1\n", None),
])
def test_a_flagfile_read_as_arguments_says_what_is_wrong_in_it(tmp_path, lines, hint):
    from absl import app, flags
    values = flags.FlagValues()
    flags.DEFINE_integer("verbose_x", 0, "", flag_values=values)
    path = tmp_path / "flags.txt"
    path.write_text(lines, encoding="utf-8")
    argv = values(["tool.py", f"--flagfile={path}"])  # absl's own reading.
    if hint is None:  # A comment in the first column is one.
        cli.refuse_arguments(argv)
        return
    with pytest.raises(app.UsageError, match=r"^unexpected arguments: " + hint):
        cli.refuse_arguments(argv)


def test_words_with_no_sign_of_a_flagfile_hint_at_quotes_and_shell_patterns():
    """Was "(a path with a space needs quotes)": a shell pattern that the
    shell expanded leaves words too (``--checkpoint runs/*/best``)."""
    from absl import app
    with pytest.raises(app.UsageError, match=re.escape(
            "unexpected arguments: ['export'] (a path with a space, or a shell pattern "
            "(* ? [), needs quotes)")):
        cli.refuse_arguments(["tool.py", "export"])


@pytest.mark.parametrize("script, args, message", [
    ("evaluate.py", ["--noflip", "--set", "test.flip_test=true"],
     "--noflip and --set test.flip_test=true give test.flip_test two values"),
    ("evaluate.py", ["--use_gt_boxes", "--set", "test.use_gt_boxes=False"],
     "--use_gt_boxes and --set test.use_gt_boxes=False give test.use_gt_boxes two values"),
    ("predict.py", ["--flip", "--input", "x.jpg", "--set", "test.flip_test=false"],
     "--flip and --set test.flip_test=false give test.flip_test two values"),
])
def test_a_flag_and_a_set_item_of_one_setting_are_refused(run_script, script, args, message):
    """The flag won over --set in silence (train.py refused such a clash)."""
    code, _, err = run_script(script)(args)
    assert code == 1 and message in err and "Traceback" not in err


def test_a_flag_and_a_set_item_agreeing_are_taken(run_script, tmp_path):
    code, _, err = run_script("evaluate.py")(
        ["--flip", "--set", "test.flip_test=TRUE", "--checkpoint", str(tmp_path / "none")])
    assert "two values" not in err and "none" in err  # Stopped later, at the checkpoint.


def _without_utf8_mode(**env):
    import os
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONUTF8", "PYTHONIOENCODING", "LANG", "LANGUAGE")
            and not k.startswith("LC_")}
    return dict(base, **env)


def test_a_python_reading_file_names_in_another_encoding_is_refused(monkeypatch, capsys):
    """``LC_ALL=C PYTHONUTF8=0`` (or a Latin-1 locale): train.py said 100
    of 400 images were missing and trained on the rest, evaluate.py found
    none, predict.py wrote "\\udcc3..." file names (exit 0)."""
    import sys
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")
    ran = []
    assert cli.run("tool.py", lambda: ran.append(1) or 0) == 1
    assert ran == []  # Before the work.
    assert capsys.readouterr().err == (
        "tool.py: error: this Python reads file names as ascii, not UTF-8, and would misread "
        "every name that is not ASCII: set PYTHONUTF8=1 or a UTF-8 locale, e.g. "
        "LC_ALL=C.UTF-8\n")
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "UTF8")  # Another spelling.
    assert cli.run("tool.py", lambda: ran.append(1) or 0) == 0 and ran == [1]


@pytest.mark.parametrize("script", ["train.py", "evaluate.py", "predict.py"])
def test_each_tool_refuses_a_c_locale_without_utf8_mode(script, tmp_path):
    import os
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(repo, script), "--checkpoint=none"
                           if script != "train.py" else "--model_dir=run", "--input=x.jpg"
                           if script == "predict.py" else "--noflip" if script == "evaluate.py"
                           else "--noaugment"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=_without_utf8_mode(LC_ALL="C", PYTHONUTF8="0"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"{script}: error: this Python reads file names as ascii, not UTF-8, and would misread "
        "every name that is not ASCII: set PYTHONUTF8=1 or a UTF-8 locale, e.g. LC_ALL=C.UTF-8")
    assert os.listdir(tmp_path) == []


def test_a_plain_c_locale_still_runs(tmp_path):
    """``LC_ALL=C`` alone: Python's UTF-8 mode (PEP 540) reads names as
    UTF-8; the run goes on to its own error (no such checkpoint)."""
    import os
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(repo, "evaluate.py"),
                           f"--checkpoint={tmp_path / 'none'}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=_without_utf8_mode(LC_ALL="C"))
    assert proc.returncode == 1 and "none" in proc.stderr, proc.stderr[-2000:]
    assert "reads file names" not in proc.stderr and "Traceback" not in proc.stderr


LOGGING_TOOL = """
import sys
from absl import app, logging
from keras_pose import cli


def work():
    logging.info("the run's line, %s", "\\u00e9t\\u00e9")
    logging.warning("a warning of the run")
    print("printed")
    return 0


app.run(lambda argv: cli.run("tool.py", work))
"""


def _this_repo():
    """The environment of a script outside the repository importing its keras_pose."""
    import os
    return dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))))


def test_log_dir_receives_the_runs_log_lines(tmp_path):
    """absl's --log_dir ("directory to write logfiles into", --helpfull)
    was taken and did nothing: the log lines went to stderr, no file."""
    import os
    import subprocess
    import sys
    (tmp_path / "tool.py").write_text(LOGGING_TOOL)
    logs = tmp_path / "logs" / "run1"  # Made when missing.
    proc = subprocess.run([sys.executable, "tool.py", f"--log_dir={logs}"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, env=_this_repo())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "printed\n"  # Printed output stays on the terminal.
    assert "the run's line" not in proc.stderr and "a warning" not in proc.stderr
    text = (logs / "py_tool.INFO").read_text(encoding="utf-8")  # absl's link to the file.
    lines = text.splitlines()
    assert lines[0].startswith("I") and lines[0].endswith("] the run's line, \u00e9t\u00e9")
    assert lines[1].startswith("W") and lines[1].endswith("] a warning of the run")
    assert len(os.listdir(logs)) == 2  # The file and absl's link to it.


def test_a_log_dir_that_cannot_be_made_is_one_line(tmp_path):
    import subprocess
    import sys
    (tmp_path / "tool.py").write_text(LOGGING_TOOL)
    (tmp_path / "afile").write_text("x")
    proc = subprocess.run([sys.executable, "tool.py", "--log_dir=afile"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, env=_this_repo())
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "tool.py: error: --log_dir afile is a file, not a directory: give a folder")
