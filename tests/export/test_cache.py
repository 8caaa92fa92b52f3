"""--runtime / --precision on a checkpoint: exported once into a cache beside
it (or the cache directory), keyed by the checkpoint's digest, calibrated
and guarded on the data set or, without it, on the user's own people.

The real ONNX export runs once (the first test); the others replace
``runtimes.export_network`` by a copy of ``tiny_onnx`` (any precision label,
``fake_onnx_export`` in tests/conftest.py) to test the cache's own logic in
seconds. The real int8 exports are in
tests/prediction (slow tier) and tests/export/test_runtime_*.py.
"""

import os
import shutil
import sys

import numpy as np
import pytest

from keras_pose.checkpoint import CheckpointError, save_model_checkpoint
from keras_pose.configs import apply_overrides
from keras_pose.errors import MissingPackageError
from keras_pose.export import cache, guard, runtimes
from keras_pose.inference import Predictor, load_pose_model
from tests.export.runtime_checks import skip_unless_installed

IMAGE = np.random.default_rng(1).uniform(0, 255, (120, 100, 3)).astype(np.uint8)
BOXES = [[10, 10, 60, 90], [30, 5, 50, 100]]


@pytest.fixture
def checkpoint(tiny_exported, tmp_path):
    """A private copy of tiny_exported's checkpoint (exports go beside it);
    its data set is not on disk."""
    model, config = tiny_exported[:2]
    path = str(tmp_path / "ckpt")
    save_model_checkpoint(model, apply_overrides(config, ["data.root=/nonexistent"]), path)
    return path


def _sidecar(path):
    return runtimes.read_sidecar(path)


def test_first_use_exports_beside_the_checkpoint_and_reuses_it(checkpoint, tiny_exported,
                                                               monkeypatch):
    """The real export: equal to the SavedModel through the Predictor; then
    reused without exporting again."""
    skip_unless_installed("onnx")
    predictor = Predictor.from_checkpoint(checkpoint, runtime="onnxruntime", precision="fp32")
    path = os.path.join(checkpoint, "exports", "onnxruntime-fp32", "heatmaps.onnx")
    assert predictor.pose_model.path == path and predictor.pose_model.runtime == "onnxruntime"
    expected = Predictor.from_checkpoint(tiny_exported[3]).predict(IMAGE, BOXES)
    np.testing.assert_allclose(predictor.predict(IMAGE, BOXES).keypoints, expected.keypoints,
                               atol=1e-3)
    side = _sidecar(path)
    assert side["source"] == {"checkpoint": checkpoint,
                              "digest": cache.checkpoint_digest(checkpoint)}
    assert side["guard"] is None and side["calibration"] is None  # fp32: the same arithmetic.
    monkeypatch.setattr(runtimes, "export_network", None)  # Any export would fail.
    assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    # Reusing it needs ONNX Runtime only (it asked for the exporters too:
    # tf2onnx, onnx), as does the file itself given as the checkpoint.
    for exporter in ("tf2onnx", "onnx"):
        monkeypatch.setitem(sys.modules, exporter, None)  # Not installed.
    again = Predictor.from_checkpoint(checkpoint, runtime="onnxruntime", precision="fp32")
    np.testing.assert_allclose(again.predict(IMAGE, BOXES).keypoints, expected.keypoints,
                               atol=1e-3)
    assert load_pose_model(path).runtime == "onnxruntime"
    shutil.rmtree(os.path.join(checkpoint, "exports"))
    with pytest.raises(MissingPackageError, match=r"--runtime onnxruntime --precision fp32: "
                       r".*ckpt has no current onnxruntime fp32 export to reuse, and making "
                       r"it needs tf2onnx, onnx: pip install \"tf2onnx<2,>=1.17\" \"onnx<2,>=1.23\" "
                       r"\(or pip install -e \"\.\[deploy\]\" in keras-pose's folder\)$"):
        load_pose_model(checkpoint, runtime="onnxruntime")


def test_a_changed_checkpoint_is_exported_again(checkpoint, tiny_exported, fake_onnx_export):
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    assert len(fake_onnx_export) == 1
    load_pose_model(checkpoint, runtime="onnxruntime")
    assert len(fake_onnx_export) == 1  # Reused.
    from keras_pose.models import build_model_from_config
    config = apply_overrides(tiny_exported[1], ["data.root=/nonexistent"])
    other = os.path.join(os.path.dirname(checkpoint), "other")
    save_model_checkpoint(build_model_from_config(config.model), config, other)
    # Other weights copied over the file (a rewritten checkpoint directory
    # would take its exports/ with it): only the digest can tell.
    shutil.copy(os.path.join(other, "model.weights.h5"), checkpoint)
    assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 2  # Not served the stale one.
    assert _sidecar(path)["source"]["digest"] == cache.checkpoint_digest(checkpoint)


def test_the_export_is_of_the_weights_its_digest_is_of(checkpoint, tiny_exported,
                                                       fake_onnx_export, monkeypatch):
    """best/ replaced by training between predict.py's load and the digest:
    the old weights were exported, labelled with the new digest, and served
    from then on."""
    pose_model = load_pose_model(checkpoint)  # Predict and evaluate load first.
    from keras_pose.models import build_model_from_config
    config = apply_overrides(tiny_exported[1], ["data.root=/nonexistent"])
    newer = build_model_from_config(config.model)
    other = os.path.join(os.path.dirname(checkpoint), "other")
    save_model_checkpoint(newer, config, other)
    shutil.copy(os.path.join(other, "model.weights.h5"), checkpoint)  # The next best/.
    exported = []
    export = runtimes.export_network
    monkeypatch.setattr(runtimes, "export_network", lambda model, *args, **kwargs: (
        exported.append(model.get_weights()), export(model, *args, **kwargs))[1])
    path = cache.runtime_model(pose_model, "onnxruntime").path
    for got, expected in zip(exported[0], newer.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert _sidecar(path)["source"]["digest"] == cache.checkpoint_digest(checkpoint)


@pytest.mark.parametrize("change", ["pruned", "replaced"])
def test_a_checkpoint_pruned_or_replaced_during_its_export_is_named(
        checkpoint, fake_onnx_export, monkeypatch, change):
    """It was "No such file or directory: .../heatmaps.onnx" (or of its
    config), or OpenVINO's RuntimeError "Could not open the file" in a
    traceback, which did not say that training had removed or replaced it."""
    load = runtimes.load_export

    def changed_meanwhile(path, *args, **kwargs):
        if change == "pruned":
            shutil.rmtree(checkpoint)  # With the export just written into it.
            return load(path, *args, **kwargs)
        newer = checkpoint + ".tmp-h-1"  # A better best/ renamed into place.
        shutil.copytree(checkpoint, newer, ignore=shutil.ignore_patterns("exports"))
        shutil.rmtree(checkpoint)
        os.rename(newer, checkpoint)
        raise RuntimeError(f'Could not open the file: "{path}"')  # As OpenVINO says it.
    monkeypatch.setattr(runtimes, "load_export", changed_meanwhile)
    message = {"pruned": r"ckpt was removed while it was exported \(a training run keeps only "
                         r"its last train.keep_checkpoints epochs\)",
               "replaced": r"ckpt was replaced while it was exported \(a training run's better "
                           r"best/\): run again"}[change]
    with pytest.raises(CheckpointError, match=message):
        load_pose_model(checkpoint, runtime="onnxruntime")
    monkeypatch.setattr(runtimes, "load_export", lambda path, *a, **k: 1 / 0)
    if change == "replaced":  # The checkpoint unchanged: a bug keeps its traceback.
        with pytest.raises(ZeroDivisionError):
            load_pose_model(checkpoint, runtime="onnxruntime")


def _cut_short(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    return [f"{path}: onnxruntime cannot load it", "(a file cut short or missing)"]


def _changed_in_place(path):
    from tests.export.test_sidecar_network import _flip_a_bit
    _flip_a_bit(path)
    return [f"{runtimes.sidecar_path(path)} does not describe {path} (its SHA-256"]


@pytest.mark.parametrize("damage", [_cut_short, _changed_in_place])
def test_a_damaged_cached_export_is_made_again(checkpoint, fake_onnx_export, caplog, damage):
    """A cached export cut short (a full disk, a copy of the checkpoint
    interrupted) crashed every later run in the runtime's own words; one
    changed in place (its size kept) was served. The cache is ours to
    rebuild: made again in its place, with a warning naming it."""
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    said = damage(path)
    with caplog.at_level("WARNING"):
        loaded = load_pose_model(checkpoint, runtime="onnxruntime")
    assert loaded.path == path and len(fake_onnx_export) == 2  # Made again, in its place.
    assert all(text in caplog.text for text in said) and "exporting it again" in caplog.text
    loaded.network(np.zeros((1, 64, 64, 3), np.float32))  # Usable.


def test_a_read_only_checkpoint_exports_into_the_cache_dir(checkpoint, fake_onnx_export,
                                                           monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_writable", lambda d: not d.startswith(checkpoint))
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    digest = cache.checkpoint_digest(checkpoint)
    assert path == str(tmp_path / "cache" / "exports" / digest[:16] / "onnxruntime-fp32" /
                       "heatmaps.onnx")
    assert not os.path.exists(os.path.join(checkpoint, "exports"))
    assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 1
    # A shared read-only cache too (a preset's): this user's temporary folder.
    import getpass
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "shared"))
    monkeypatch.setattr(cache, "_writable", lambda d: d.startswith(str(tmp_path / "tmp")))
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    assert path == str(tmp_path / "tmp" / f"keras_pose-{getpass.getuser()}" / "exports" /
                       digest[:16] / "onnxruntime-fp32" / "heatmaps.onnx")
    assert load_pose_model(checkpoint, runtime="onnxruntime").path == path
    assert len(fake_onnx_export) == 2
    monkeypatch.setattr(cache, "_writable", lambda d: False)
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "other"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp2"))
    from keras_pose.errors import UserError
    with pytest.raises(UserError, match="none of .*, .*, .* is writable.*KERAS_POSE_CACHE"):
        load_pose_model(checkpoint, runtime="onnxruntime")  # one line, was a traceback


def test_a_full_checkpoint_disk_exports_into_the_cache_dir(checkpoint, fake_onnx_export,
                                                            monkeypatch, tmp_path):
    """A full disk under the checkpoint was "No space left on device: ...",
    with no way out, though the cache folder (another disk) was writable."""
    import errno
    monkeypatch.setenv("KERAS_POSE_CACHE", str(tmp_path / "cache"))
    real = runtimes.export_network

    def full_beside_the_checkpoint(model, config, path, *args, **kwargs):
        if path.startswith(checkpoint):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(model, config, path, *args, **kwargs)

    monkeypatch.setattr(runtimes, "export_network", full_beside_the_checkpoint)
    path = load_pose_model(checkpoint, runtime="onnxruntime").path
    assert path.startswith(str(tmp_path / "cache")) and len(fake_onnx_export) == 1
    assert not os.path.exists(os.path.join(checkpoint, "exports"))  # Nothing half-written.
    monkeypatch.setenv("KERAS_POSE_CACHE", str(checkpoint))  # Both places full.
    from keras_pose.errors import UserError
    with pytest.raises(UserError, match=r"the disk is full \(nothing was kept\); free space "
                                        r"there, or set KERAS_POSE_CACHE"):
        load_pose_model(checkpoint, runtime="onnxruntime")


@pytest.mark.slow  # int8
def test_int8_calibrates_and_guards_on_the_data_set_when_it_is_on_disk(
        tiny_exported, tiny_synthetic, fake_onnx_export, tmp_path):
    ckpt = str(tmp_path / "ckpt")
    save_model_checkpoint(tiny_exported[0], tiny_synthetic, ckpt)
    loaded = load_pose_model(ckpt, runtime="onnxruntime", precision="int8",
                             samples=lambda: pytest.fail("the data set is on disk"))
    assert (loaded.runtime, loaded.precision) == ("onnxruntime", "int8")
    (fmt, precision, crops), = fake_onnx_export
    assert (fmt, precision) == ("onnx", "int8") and crops[1:] == (64, 64, 3)
    side = _sidecar(loaded.path)
    assert side["calibration"] == f"{crops[0]} people of {tiny_synthetic.data.root} train"
    assert side["guard"]["data"] == f"{tiny_synthetic.data.root} val"
    assert side["guard"]["ap"] == side["guard"]["fp32_ap"]  # The same network.


def test_an_export_checked_only_on_inputs_is_checked_on_the_data_set_once_it_is_there(
        tiny_exported, tiny_synthetic, fake_onnx_export, tmp_path):
    """Exported where the data set was absent (guarded on the people of
    someone's photos), an int8 export was then served to evaluate.py with
    the data set on disk, 1.7 to 7 AP below fp32, the AP guard never run."""
    ckpt = str(tmp_path / "ckpt")
    save_model_checkpoint(tiny_exported[0], tiny_synthetic, ckpt)
    photos = load_pose_model(ckpt, ["data.root=/nonexistent"], runtime="onnxruntime",
                             precision="int8", samples=_samples(2))
    assert _sidecar(photos.path)["guard"]["data"] == "the people of the inputs"
    again = load_pose_model(ckpt, ["data.root=/nonexistent"], runtime="onnxruntime",
                            precision="int8", samples=_samples(2))
    assert len(fake_onnx_export) == 1 and again.path == photos.path  # reused there
    checked = load_pose_model(ckpt, runtime="onnxruntime", precision="int8",
                              samples=lambda: pytest.fail("the data set is on disk"))
    assert len(fake_onnx_export) == 2 and checked.path == photos.path
    assert _sidecar(checked.path)["guard"]["data"] == f"{tiny_synthetic.data.root} val"
    load_pose_model(ckpt, runtime="onnxruntime", precision="int8")
    assert len(fake_onnx_export) == 2  # now current for both


def test_an_export_the_guard_could_not_judge_elsewhere_is_checked_on_the_data_set_here(
        tiny_exported, tiny_synthetic, fake_onnx_export, tmp_path):
    """An int8 export guarded on another data set, where the fp32 model
    scored 0 AP (the guard warned that the AP cannot tell a worse export),
    was then served on the model's own data set 0.77 AP below fp32, where
    the guard refuses 0.5 (found on an AMX machine with evaluate.py)."""
    import json
    ckpt = str(tmp_path / "ckpt")
    save_model_checkpoint(tiny_exported[0], tiny_synthetic, ckpt)
    first = load_pose_model(ckpt, runtime="onnxruntime", precision="int8")
    here = f"{tiny_synthetic.data.root} val"
    with open(runtimes.sidecar_path(first.path)) as f:
        side = json.load(f)
    assert side["guard"]["data"] == here
    side["guard"].update(data="/elsewhere val2017", fp32_ap=0.0, ap=0.0, mean_px=0.7)
    with open(runtimes.sidecar_path(first.path), "w") as f:  # As that run left it.
        json.dump(side, f)
    again = load_pose_model(ckpt, runtime="onnxruntime", precision="int8")
    assert len(fake_onnx_export) == 2 and again.path == first.path
    assert _sidecar(again.path)["guard"]["data"] == here
    # Where the guard ran on this very data set, its verdict stands: no
    # export at every run, however low fp32 scores here.
    side = _sidecar(again.path)
    side["guard"].update(fp32_ap=0.0, ap=0.0, mean_px=0.7)
    with open(runtimes.sidecar_path(again.path), "w") as f:
        json.dump(side, f)
    load_pose_model(ckpt, runtime="onnxruntime", precision="int8")
    assert len(fake_onnx_export) == 2


def _samples(people_per_image, images=10):
    rng = np.random.default_rng(0)
    return lambda: ((rng.uniform(0, 255, (80, 60, 3)).astype(np.uint8),
                     [[5, 5, 40, 60]] * people_per_image) for _ in range(images))


def test_samples_with_boxes_off_their_image_are_refused_before_any_export(checkpoint,
                                                                           fake_onnx_export):
    # Their black crops calibrated an export that fp32 "agreed" with (1.0)
    # on nothing but black: cached, then reused for real people.
    def samples():
        yield from _samples(1, images=2)()
        yield np.zeros((80, 60, 3), np.uint8), [[5, 5, 40, 60], [500, 5, 40, 60]]
    with pytest.raises(ValueError, match=r"samples: image 2: box 1 \[500.0, 5.0, 40.0, 60.0\] "
                                         r"does not overlap the image"):
        load_pose_model(checkpoint, runtime="onnxruntime", precision="int8", samples=samples)
    assert fake_onnx_export == []


def test_int8_without_the_data_set_uses_the_people_of_the_inputs(checkpoint, fake_onnx_export):
    loaded = load_pose_model(checkpoint, runtime="onnxruntime", precision="int8",
                             samples=_samples(2))
    (_, _, crops), = fake_onnx_export
    assert crops == (20, 64, 64, 3)  # 10 images x 2 boxes, cut as the estimator cuts.
    side = _sidecar(loaded.path)
    assert side["calibration"] == "20 people of the inputs"
    assert side["guard"]["people"] == 20 and side["guard"]["agreement"] == 1.0


@pytest.mark.slow  # int8
def test_int8_refuses_without_enough_people(checkpoint, fake_onnx_export, monkeypatch):
    with pytest.raises(cache.RuntimeChoiceError, match="the data set /nonexistent .* is not on "
                       "disk.*--set data.root=DIR.*predict.py on your photos"):
        load_pose_model(checkpoint, runtime="onnxruntime", precision="int8")
    with pytest.raises(cache.RuntimeChoiceError, match="your inputs hold 3 people; at least "
                       "16 are needed"):
        load_pose_model(checkpoint, runtime="onnxruntime", precision="int8",
                        samples=_samples(1, images=3))
    refused = guard.AccuracyGuardError("accuracy guard: onnxruntime int8: 80.0% ...")
    monkeypatch.setattr(guard, "guard_on_crops", lambda *a, **k: (_ for _ in ()).throw(refused))
    # The way out is fp32 alone: the export script's --force_precision calibrates on a
    # data set, which a user with photos alone has not ("the data set ... is not on disk").
    with pytest.raises(guard.AccuracyGuardError,
                       match=r"80.0% ...\n\(run it at --precision fp32\)$"):
        load_pose_model(checkpoint, runtime="onnxruntime", precision="int8",
                        samples=_samples(2))
    # Nothing kept: not even the exports/ folder made for it (it was left empty).
    assert fake_onnx_export and not os.path.exists(os.path.join(checkpoint, "exports"))


def test_runtime_and_precision_choices(checkpoint, tiny_exported, monkeypatch):
    skip_unless_installed("onnx")  # The SavedModel case asks for ONNX Runtime first.
    cases = {("tf", "int8"): "no int8 convolution", ("tf", "bf16"): "--precision bf16 and "
             "pass it as --checkpoint", ("onnxruntime", "bf16"): "fp32 or int8",
             ("jax", "fp32"): "--runtime must be one of tf, onnxruntime, openvino",
             # A precision no runtime has: the choices, not an empty reason.
             ("openvino", "fp8"): "openvino does not compute in fp8: --precision is one of "
             "fp32, bf16, int8 for it"}
    for (runtime, precision), message in cases.items():
        with pytest.raises(cache.RuntimeChoiceError, match=message):
            load_pose_model(checkpoint, runtime=runtime, precision=precision)
    monkeypatch.setattr(cache, "cpu_has_bf16", lambda: False)
    with pytest.raises(cache.RuntimeChoiceError, match="no bf16 units.*--precision int8"):
        cache.check_choice("openvino", "bf16")
    assert load_pose_model(checkpoint, runtime="tf", precision="fp32").kind == "keras"
    with pytest.raises(CheckpointError, match="is a fp32 SavedModel: it runs in tf at fp32; "
                                              "--runtime onnxruntime exports"):
        load_pose_model(tiny_exported[3], runtime="onnxruntime")
    # A misspelt name is not a request to export (was "pass the checkpoint").
    with pytest.raises(cache.RuntimeChoiceError, match="--runtime must be one of .*got 'onnx'"):
        load_pose_model(tiny_exported[3], runtime="onnx")
    with pytest.raises(cache.RuntimeChoiceError, match="--precision must be one of .*got 'f32'"):
        load_pose_model(tiny_exported[3], precision="f32")
    monkeypatch.setattr(runtimes, "missing_packages",
                        lambda fmt, precision, export=True: ["openvino"])
    with pytest.raises(ImportError, match=r"needs openvino: pip install \"openvino<2027,"
                       r">=2026\.4\" \(or pip install -e \"\.\[deploy\]\" in keras-pose's folder\)"):
        cache.check_choice("openvino", "int8")


def test_a_saved_model_runs_at_its_own_precision(tiny_exported, tmp_path):
    """A bf16 SavedModel with --precision bf16 was told to make a bf16
    SavedModel; with --runtime tf alone, that it asked for fp32."""
    from keras_pose.export import export_saved_model
    model, config = tiny_exported[:2]
    path = str(tmp_path / "bf16")
    export_saved_model(model, config, path, precision="bf16")
    for runtime, precision in ((None, "bf16"), ("tf", None), ("tf", "bf16")):
        loaded = load_pose_model(path, runtime=runtime, precision=precision)
        assert (loaded.kind, loaded.runtime, loaded.precision) == ("saved_model", "tf", "bf16")
    for runtime, precision, asked in ((None, "fp32", "--precision fp32"),
                                      ("openvino", None, "--runtime openvino"),
                                      ("openvino", "int8", "--runtime openvino --precision int8")):
        with pytest.raises(CheckpointError, match=f"is a bf16 SavedModel: it runs in tf at "
                                                  f"bf16; {asked} exports a checkpoint's"):
            load_pose_model(path, runtime=runtime, precision=precision)


def test_bf16_on_the_inputs_people_is_checked_not_calibrated(checkpoint, monkeypatch):
    """bf16 has no ranges to calibrate: the messages said it was."""
    monkeypatch.setattr(cache, "cpu_has_bf16", lambda: True)
    with pytest.raises(cache.RuntimeChoiceError, match="at least 16 are needed to check it"):
        load_pose_model(checkpoint, runtime="openvino", precision="bf16", samples=_samples(1, 3))
    with pytest.raises(cache.RuntimeChoiceError, match="needed to calibrate and check it"):
        load_pose_model(checkpoint, runtime="openvino", precision="int8", samples=_samples(1, 3))


def test_an_fp32_export_with_the_data_set_on_disk_is_made_once_and_reused(
        tiny_exported, tiny_synthetic, fake_onnx_export, tmp_path):
    """fp32 (no guard) with the data set on disk is not taken for unguarded:
    exported once, then reused."""
    ckpt = str(tmp_path / "ckpt")
    save_model_checkpoint(tiny_exported[0], tiny_synthetic, ckpt)  # its data set is on disk
    first = load_pose_model(ckpt, runtime="onnxruntime", precision="fp32")
    again = load_pose_model(ckpt, runtime="onnxruntime", precision="fp32")
    assert len(fake_onnx_export) == 1 and again.path == first.path


def test_int8_accepts_exactly_the_fewest_people_it_needs(checkpoint, fake_onnx_export):
    """Inputs holding exactly the 16 people asked for are enough."""
    assert cache.MIN_INPUT_PEOPLE == 16  # "at least 16 are needed" (the refusal's message)
    loaded = load_pose_model(checkpoint, runtime="onnxruntime", precision="int8",
                             samples=_samples(1, images=16))
    (_, _, crops), = fake_onnx_export
    assert crops == (16, 64, 64, 3)  # 16 images x 1 box
    assert _sidecar(loaded.path)["calibration"] == "16 people of the inputs"
