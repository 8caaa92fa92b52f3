"""scripts/export_saved_model.py: formats, precisions and the accuracy guard."""

import os

import pytest

from keras_pose.export import runtimes

from tests.export.runtime_checks import run_export as _run
from tests.export.runtime_checks import skip_unless_installed


@pytest.mark.slow  # an export and its guard
def test_guard_refuses_and_writes_nothing(script, checkpoint, tmp_path, capsys, monkeypatch):
    """An export that scores a point below fp32 (the scores set here: this
    random network scores 0 either way) is refused by the guard, with its
    table, and nothing is written. (``--force_precision`` is
    ``check_guard(force=True)``, tested in test_guard.py; a negative
    --max_ap_drop is refused before any work.)"""
    from keras_pose.export import guard
    skip_unless_installed("openvino")
    scores = iter([0.5, 0.49])  # fp32, then the export.
    monkeypatch.setattr(guard, "_score", lambda *args, **kwargs: next(scores))
    output = tmp_path / "deploy"
    assert _run(script, "--checkpoint", checkpoint, "--output", str(output), "--format",
                "openvino", "--max_ap_drop", "0.25") == 1
    err = capsys.readouterr().err
    assert "openvino fp32 lost more than 0.25 AP point" in err  # --max_ap_drop as given
    assert "| fp32 reference |" in err and "--force_precision" in err
    assert not output.exists() or not os.listdir(output)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".export")]  # Cleaned up.


def test_int8_saved_model_is_an_error(script, checkpoint, tmp_path, capsys):
    assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "sm"),
                "--precision", "int8", "--noguard") == 1
    assert "int8 is a quantization" in capsys.readouterr().err
    assert not (tmp_path / "sm").exists()


def test_with_detector_on_another_format_is_an_error(script, checkpoint, tmp_path, capsys):
    # Was exported without the detector, exit 0, not a word.
    assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "x.onnx"),
                "--format", "onnx", "--with_detector", "dfine_small_obj2coco") == 1
    assert ("--with_detector adds the detector to a SavedModel only, not to --format onnx"
            in capsys.readouterr().err)
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.slow  # a preset export
def test_a_preset_name_exports_with_its_config(script, tiny_preset, tmp_path, capsys):
    from keras_pose.configs import load_config
    output = tmp_path / "exported"
    assert _run(script, "--checkpoint", tiny_preset.name, "--output", str(output)) == 0
    assert f"saved_model (fp32): {output}" in capsys.readouterr().out
    exported = load_config(str(output / "assets" / "config.json"))
    assert exported == tiny_preset.config and len(tiny_preset.conversions) == 1
    assert _run(script, "--checkpoint", "simplebaseline_resnet50_ap10k_265x256",
                "--output", str(tmp_path / "x")) == 1
    assert "close preset names: simplebaseline_resnet50_ap10k_256x256" in capsys.readouterr().err


def test_auto_picks_a_precision_the_format_takes(script, checkpoint, tmp_path, capsys,
                                                 fake_onnx_export, monkeypatch):
    """On a CPU with bf16 units auto meant bf16, which ONNX lacks: the export
    failed ("format onnx takes precision fp32 / int8, not bf16")."""
    from keras_pose.export import precision
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda *a: True)
    monkeypatch.setattr(precision, "_has_gpu", lambda: False)
    output = tmp_path / "m.onnx"
    assert _run(script, "--checkpoint", checkpoint, "--output", str(output), "--format", "onnx",
                "--precision", "auto", "--noguard") == 0
    out = capsys.readouterr().out
    assert "--precision auto -> fp32 for --format onnx (the format takes fp32 / int8, " \
           "not the machine's bf16)" in out
    assert fake_onnx_export == [("onnx", "fp32", None)] and f"onnx (fp32): {output}" in out


@pytest.mark.parametrize("fmt,precision,made_by", [
    ("onnx", "bf16", "bf16 is made by --format saved_model / openvino"),
    ("openvino", "fp16", "fp16 is made by --format saved_model / litert"),
    ("saved_model", "int8", "int8 is a quantization of --format onnx / openvino / litert")])
def test_a_precision_the_format_lacks_is_refused_before_loading(
        script, checkpoint, tmp_path, capsys, monkeypatch, fmt, precision, made_by):
    """Was found after the model had loaded, and blamed --output."""
    import keras_pose.checkpoint
    monkeypatch.setattr(keras_pose.checkpoint, "load_model",
                        lambda *a: pytest.fail("loaded before the flags were checked"))
    output = tmp_path / "out"
    assert _run(script, "--checkpoint", checkpoint, "--output", str(output), "--format", fmt,
                "--precision", precision) == 1
    err = capsys.readouterr().err
    assert (f"export_saved_model.py: error: --format {fmt} takes --precision "
            f"{' / '.join(runtimes.PRECISIONS[fmt])}, not {precision} ({made_by})") in err
    assert "--output" not in err and not output.exists()


def test_the_guard_table_is_shown_once(script, checkpoint, tmp_path, capsys, caplog,
                                       fake_onnx_export):
    """It was printed, and logged by the guard (INFO: shown, as absl's app
    shows it when run as a command)."""
    with caplog.at_level("INFO"):
        assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "m.onnx"),
                    "--format", "onnx", "--max_ap_drop", "100", "--verbosity", "0") == 0
    assert (capsys.readouterr().out + caplog.text).count("| fp32 reference |") == 1


@pytest.fixture
def sigint_raises():
    """SIGINT as an interactive shell leaves it (Python's KeyboardInterrupt),
    whatever the test runner's worker set."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _write_bytes(content):
    def write(fused, signature, path, precision, calibration):
        with open(path, "wb") as f:
            f.write(content)
    return write


class _CollectedOnInterrupt:
    """Ctrl-C arriving while a __del__ runs (TF's AtomicFunction.__del__
    during OpenVINO's conversion): Python prints "Exception ignored" and
    drops the KeyboardInterrupt."""

    def __del__(self):
        import signal
        import time
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # The handler raises in here, and the interrupt is lost.


def _swallowing_converter(fused, signature, path, precision, calibration):
    _CollectedOnInterrupt()  # Collected at once.
    _write_bytes(b"new")(fused, signature, path, precision, calibration)


def _wrapping_converter(fused, signature, path, precision, calibration):
    import signal
    import time
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:  # As openvino.convert_model, which calls back into Python.
        raise RuntimeError("Check 'false' failed at src/frontends/common/src/frontend.cpp:53:\n"
                           "Converting input model\nKeyboardInterrupt") from None


@pytest.mark.parametrize("converter", [_swallowing_converter, _wrapping_converter])
def test_ctrl_c_in_the_converter_stops_and_keeps_the_old_export(
        script, checkpoint, tmp_path, capsys, monkeypatch, sigint_raises, converter):
    """Ctrl-C in an OpenVINO int8 export was lost (the export went on and
    replaced the old one, exit 0) or became the converter's RuntimeError (a
    traceback, exit 1)."""
    skip_unless_installed("onnx")  # Its converter is faked; the package check is not.
    output = tmp_path / "m.onnx"
    args = ("--checkpoint", checkpoint, "--output", str(output), "--format", "onnx", "--noguard")
    monkeypatch.setattr(runtimes, "_write_onnx", _write_bytes(b"old"))
    assert _run(script, *args) == 0
    monkeypatch.setattr(runtimes, "_write_onnx", converter)
    assert _run(script, *args) == 130
    assert "export_saved_model.py: interrupted (Ctrl-C)" in capsys.readouterr().err
    assert output.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.onnx"]  # No temporary files left.


def test_a_second_export_into_the_same_output_is_refused(script, checkpoint, tmp_path, capsys,
                                                         monkeypatch):
    """Both used to say they succeeded, the last to finish silently winning."""
    skip_unless_installed("onnx")
    output = tmp_path / "m.onnx"
    args = ("--checkpoint", checkpoint, "--output", str(output), "--format", "onnx", "--noguard")
    second = []

    def first_converter(fused, signature, path, precision, calibration):
        if not second:  # The second export starts while the first one writes.
            second.append(_run(script, *args))
            second.append(capsys.readouterr().err)
        _write_bytes(b"first")(fused, signature, path, precision, calibration)
    monkeypatch.setattr(runtimes, "_write_onnx", first_converter)
    assert _run(script, *args) == 0
    code, err = second
    assert code == 1
    assert (f"export_saved_model.py: error: --output {output} is being written by the export "
            f"(pid {os.getpid()} on host") in err
    assert "wait for it to end or give another --output" in err
    assert output.read_bytes() == b"first"
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.onnx"]  # The lock is gone too.


def test_a_checkpoint_whose_data_set_is_elsewhere(script, checkpoint, tmp_path, capsys,
                                                  fake_onnx_export):
    """An fp32 ONNX export of a checkpoint of one's own data, run from
    another folder, stopped on 'data directory data/mine does not exist',
    blaming --output and naming no way out. fp32 is written unguarded (it
    computes what the checkpoint computes) and says so; int8, which the data
    set calibrates, names --data_dir."""
    import json
    import shutil
    moved = tmp_path / "ckpt"
    shutil.copytree(checkpoint, moved)
    with open(moved / "config.json") as f:
        config = json.load(f)
    config["data"].update(dataset="custom", root=str(tmp_path / "absent" / "mine"))
    with open(moved / "config.json", "w") as f:
        json.dump(config, f)
    assert _run(script, "--checkpoint", str(moved), "--output", str(tmp_path / "m.onnx"),
                "--format", "onnx") == 0
    out = capsys.readouterr().out
    assert (f"note: the data set {tmp_path}/absent/mine is not on disk: the fp32 export is not "
            "guarded (it computes what the checkpoint computes; --data_dir DIR guards it)") in out
    assert fake_onnx_export == [("onnx", "fp32", None)]
    assert _run(script, "--checkpoint", str(moved), "--output", str(tmp_path / "q.onnx"),
                "--format", "onnx", "--precision", "int8") == 1
    err = capsys.readouterr().err
    assert err.rstrip().endswith(
        f"error: the data set {tmp_path}/absent/mine (data.root) is not on disk, and it "
        "calibrates and guards this int8 export: give --data_dir DIR (or --set data.root=DIR)")


def test_set_and_noflip_are_what_the_export_records_and_serves(script, checkpoint, tmp_path,
                                                               capsys):
    """--set test.decoding=dark reached only the guard's config: the
    SavedModel decoded with the standard codec (its config said so), and
    --noflip served no flip test while its config said flip; model.* and
    unknown settings were accepted."""
    import numpy as np
    import tensorflow as tf

    from keras_pose.inference import Predictor, load_pose_model
    output = tmp_path / "dark"
    assert _run(script, "--checkpoint", checkpoint, "--output", str(output), "--set",
                "test.decoding=dark", "--noflip") == 0
    exported = load_pose_model(str(output))
    assert exported.config.test.decoding == "dark" and exported.config.test.flip_test is False
    image = np.random.default_rng(3).integers(0, 255, (96, 80, 3), np.uint8)
    box = [10.0, 5.0, 50.0, 80.0]
    served = tf.saved_model.load(str(output)).signatures["serving_default"](
        images=tf.constant(image[None]), boxes=tf.constant([[box]]),
        num_boxes=tf.constant([1]))["keypoints"].numpy()[0]
    expected = Predictor.from_checkpoint(checkpoint, overrides=[
        "test.decoding=dark", "test.flip_test=false"]).predict(image, [box]).keypoints
    standard = Predictor.from_checkpoint(checkpoint, overrides=[
        "test.flip_test=false"]).predict(image, [box]).keypoints
    # Medians: this random network's flat maps send a few joints hundreds of
    # pixels off, where DARK's step amplifies float rounding (0.03 px).
    assert np.median(np.abs(served - expected)) < 1e-3
    assert np.median(np.abs(served - standard)) > 0.5  # The decodings differ on it.
    for bad, message in (("model.codec=dark", "the decoding is chosen by test.decoding"),
                         ("test.decodng=dark", "decodng")):
        assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "x"),
                    "--set", bad) == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("flags,message", [
    # nan turned the guard off in silence; a negative limit refused every
    # export after all the work; nan as the detector's threshold found nobody.
    (["--max_ap_drop", "nan"], "--max_ap_drop must be a finite number >= 0, got nan"),
    (["--max_ap_drop", "-1"], "--max_ap_drop must be a finite number >= 0, got -1"),
    (["--guard_people", "-5"], "--guard_people must be >= 0"),
    (["--calibration_people", "0"], "--calibration_people must be >= 1, got 0"),
    (["--detector_threshold", "nan", "--with_detector", "x"],
     "--detector_threshold must be in [0, 1], got nan"),
    (["--detector_threshold", "0.5"], "--detector_threshold is the threshold of "
                                      "--with_detector's signature"),
    # Written, then a traceback (bf16) or nothing (onnx) for the .tflite file.
    (["--precision", "bf16", "--tflite", "{tmp}/m.tflite"],
     "--tflite writes the fp32 SavedModel's network as float32 TFLite, not with --format "
     "saved_model --precision bf16"),
    (["--format", "onnx", "--output", "{tmp}/m.onnx", "--tflite", "{tmp}/m.tflite"],
     "not with --format onnx"),
    (["--tflite", "{tmp}/out"], "is inside --output"),
    (["--tflite", "{tmp}/new/"], "names a folder"),
    (["--tflite", "{tmp}/model"], "give a file name ending in .tflite"),
    (["--data_dir", "{tmp}/a", "--set", "data.root={tmp}/b"], "name two data sets"),
    # Recorded in the export, changing nothing.
    (["--set", "train.learning_rate=0.1"], "error: --set train.learning_rate=0.1: an export "
     "takes test.* (recorded and served) and data.* (calibration, the guard) settings, not "
     "train.*"),
    # Written as a SavedModel folder named model.onnx, unsaid.
    (["--output", "{tmp}/model.onnx"], "--output {tmp}/model.onnx ends in .onnx, the name of a "
     "--format onnx export, but --format is saved_model (a folder)"),
    # Found after the pose model loaded, blamed on --output.
    (["--with_detector", "no_such_detector"], "error: unknown detector preset "
                                              "'no_such_detector'"),
])
def test_flag_values_that_did_nothing_or_failed_late_are_refused_first(
        script, checkpoint, tmp_path, capsys, flags, message):
    flags = [f.format(tmp=tmp_path) for f in flags]
    args = ["--checkpoint", checkpoint] + (
        [] if "--output" in flags else ["--output", str(tmp_path / "out")]) + flags
    assert _run(script, *args) == 1
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_missing_packages_and_files_are_named_before_the_export(
        script, checkpoint, tmp_path, capsys, monkeypatch, fake_onnx_export):
    """--with_detector without keras-hub pointed at predict.py's --boxes; a
    guard's missing detections file was found inside the export, blaming
    --output."""
    import sys
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    monkeypatch.setitem(sys.modules, "keras_hub.models", None)
    assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "out"),
                "--with_detector", "dfine_small_obj2coco") == 1
    err = capsys.readouterr().err
    assert "error: --with_detector (the D-FINE detector) needs the package keras-hub" in err
    assert err.rstrip().endswith("or leave --with_detector out (serving_default then takes "
                                 "the people's boxes)")
    assert _run(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "m.onnx"),
                "--format", "onnx", "--set", "test.use_gt_boxes=false",
                "--set", "test.detection_file=absent.json") == 1
    err = capsys.readouterr().err
    assert "error: detections file " in err and "absent.json does not exist" in err
    assert "--output" not in err and fake_onnx_export == []
    assert [n for n in os.listdir(tmp_path) if not n.startswith(".")] == []


def test_data_dir_is_recorded_as_set_data_root_is(script, checkpoint, tmp_path):
    """--set data.root=DIR was recorded in the export's config, --data_dir
    DIR (the same setting) was not."""
    from keras_pose.inference import load_pose_model
    from keras_pose.checkpoint import load_model
    root = load_model(checkpoint)[1].data.root
    for flags in (["--data_dir", root + "/"], ["--set", f"data.root={root}/"]):
        output = str(tmp_path / flags[0].strip("-"))
        assert _run(script, "--checkpoint", checkpoint, "--output", output, *flags) == 0
        assert load_pose_model(output).config.data.root == root + "/"


@pytest.mark.parametrize("output, fmt, message", [
    # Were written as folders ex/z.onnx/heatmaps.xml and ex/q.tflite/heatmaps.onnx, unsaid.
    ("z.onnx", "openvino", "--output {tmp}/z.onnx ends in .onnx, the name of a --format onnx "
     "export, but --format is openvino (a .xml file, or a folder receiving heatmaps.xml): give "
     "--format onnx, or an --output ending in .xml (the file) or without .onnx (a folder)"),
    ("q.tflite", "onnx", "--output {tmp}/q.tflite ends in .tflite, the name of a --format "
     "litert export, but --format is onnx"),
    ("m.xml", "litert", "the name of a --format openvino export, but --format is litert"),
    ("m.bin", "openvino", "--output {tmp}/m.bin ends in .bin, the name of the weights file "
     "beside a --format openvino .xml, but --format is openvino (a .xml file, or a folder "
     "receiving heatmaps.xml): give an --output ending in .xml (the file) or without .bin"),
    ("m.json", "onnx", "ends in .json, the name of the sidecar (config) file beside a runtime "
     "export"),
    ("m.keras", "saved_model", "--output {tmp}/m.keras ends in .keras, the name of a Keras "
     "model file, but --format is saved_model (a folder): give an --output without .keras"),
    ("m.weights.h5", "onnx", "ends in .h5, the name of a Keras weights file"),
    ("M.ONNX", "onnx", "--output {tmp}/M.ONNX names a .onnx file, but only a name ending in "
     ".onnx (lower case, no trailing /) is written as the file, this one as a folder: give "
     "--output {tmp}/M.onnx, or a folder name without .ONNX"),
    ("m.onnx/", "onnx", "give --output {tmp}/m.onnx, or a folder name without .onnx")])
def test_an_output_named_as_another_files_suffix_is_refused(script, tmp_path, capsys, output,
                                                            fmt, message):
    """Every format, not only saved_model: an --output named as a file
    another format (or the formats' sidecar and weights, or Keras) writes
    became a folder of that name. Refused before the checkpoint is read."""
    if fmt != "saved_model":
        skip_unless_installed(fmt)
    assert _run(script, "--checkpoint", str(tmp_path / "absent"), "--output",
                f"{tmp_path}/{output}", "--format", fmt, "--noguard") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"export_saved_model.py: error: --output {tmp_path}/{output} "), err
    assert message.format(tmp=tmp_path) in err and err.count("\n") == 1, err
    assert os.listdir(tmp_path) == []
