"""The preset listing's command lines: ``predict.py --list_presets [FILTER]``
and ``python -m keras_pose.presets [FILTER]``; and the preset example of the
exporter's --help."""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _predict_main(script_module, args):
    """predict.py's main on ``args``, as ``python predict.py ARGS`` runs it."""
    module = script_module(os.path.join(REPO, "predict.py"), "predict_listing_script")
    module.FLAGS.unparse_flags()
    return module.main(module.FLAGS(["predict.py", *args]))


def test_predict_list_presets_takes_a_filter_as_the_listing_does(script_module, capsys):
    """`predict.py --list_presets ap10k` printed the whole --help, then
    "unexpected arguments: ['ap10k']"; the README teaches the filter."""
    assert _predict_main(script_module, ["--list_presets", "ap10k"]) == 0
    out = capsys.readouterr().out
    assert "simplebaseline_resnet50_ap10k_256x256" in out
    assert "simplebaseline_resnet101_ap10k_256x256" in out
    assert "2 preset(s)" in out and "coco_256x192" not in out
    assert _predict_main(script_module, ["--list_presets", "a", "b"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        "predict.py --list_presets: error: one filter at most (a part of a preset's name or "
        "a data set, e.g. coco, dark, ap10k); got 2: a b\n")


def test_the_listing_with_two_filters_says_it_takes_one(capsys):
    """`python -m keras_pose.presets a b` printed its docstring and exited 2
    with no error line."""
    from keras_pose.presets.__main__ import main
    assert main(["x", "a", "b"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        "keras_pose.presets: error: one filter at most (a part of a preset's name or a data "
        "set, e.g. coco, dark, ap10k); got 2: a b\n")
    assert main(["x", "--help"]) == 0 and "[FILTER]" in capsys.readouterr().out


def test_the_exporters_help_keeps_the_preset_examples_line_break():
    """A lone backslash ending a line of the (non-raw) docstring joined the
    preset example's two lines into one in --help."""
    source = open(os.path.join(REPO, "scripts", "export_saved_model.py")).read()
    doc = ast.get_docstring(ast.parse(source), clean=False)
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if "--checkpoint simplebaseline_resnet50_coco_256x192" in line)
    assert lines[start].endswith(" \\")
    assert lines[start + 1].strip() == (
        "--output exported/r50 --with_detector dfine_small_obj2coco")
