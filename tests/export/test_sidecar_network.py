"""An export's sidecar is tied to its network files: it records the size and
SHA-256 of each (``.onnx``; ``.xml`` and ``.bin``; ``.tflite``), and a
network that is not the one recorded is refused naming the file. Before,
an int8 ``model.onnx`` beside an fp32 export's ``model.json`` was evaluated
and reported as "onnxruntime fp32" (the reverse as int8), and a file changed
in place without changing its size was served.

Sidecars of earlier keras-pose versions have no record: they load as
before, with the earlier checks (format, precision, shapes, a file its
runtime cannot read).
"""

import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from keras_pose import cli
from keras_pose.export import runtimes
from keras_pose.export.destination import artifact_files
from keras_pose.inference import load_pose_model
from tests.export.runtime_checks import skip_unless_installed

AGAIN = "export the checkpoint again"


@pytest.fixture(scope="module")
def exports(small_network, calibration, tmp_path_factory):
    """Exports of the small network: {name: path}, ``onnx``, ``openvino``,
    ``litert`` at fp32 and ``onnx int8`` (those whose packages are here)."""
    model, config = small_network
    root = tmp_path_factory.mktemp("network_exports")
    out = {}
    for name, fmt, precision in (("onnx", "onnx", "fp32"), ("openvino", "openvino", "fp32"),
                                 ("litert", "litert", "fp32"), ("onnx int8", "onnx", "int8")):
        if not runtimes.missing_packages(fmt, precision):
            path = str(root / name.replace(" ", "_") / f"model{runtimes.SUFFIXES[fmt]}")
            out[name] = runtimes.export_network(model, config, path, fmt, precision,
                                                calibration=calibration)
    return out


def _copy(exports, name, directory):
    """A private copy of the export ``name`` in ``directory`` (its artifact path)."""
    fmt = name.split()[0]
    skip_unless_installed(fmt, "int8" if name.endswith("int8") else "fp32")
    os.makedirs(directory, exist_ok=True)
    for path in artifact_files(exports[name], fmt):
        shutil.copy(path, directory)
    return os.path.join(str(directory), os.path.basename(exports[name]))


def _sidecar(path):
    with open(runtimes.sidecar_path(path), encoding="utf-8") as f:
        return json.load(f)


def _write_sidecar(path, info):
    with open(runtimes.sidecar_path(path), "w", encoding="utf-8") as f:
        json.dump(info, f)


def _flip_a_bit(path):
    """Changes ``path`` in place, its size kept: the lowest bit of the byte at
    60% of the file (inside the weights, which the runtime does not check)."""
    data = bytearray(open(path, "rb").read())
    data[len(data) * 6 // 10] ^= 1
    open(path, "wb").write(bytes(data))


def _refusal(path):
    """The error load_pose_model(path) raises, checked to be the one-line
    user error of a damaged export (which the cache makes again)."""
    with pytest.raises(runtimes.DamagedExportError) as raised:
        load_pose_model(path)
    message = str(raised.value)
    assert cli.is_user_error(raised.value) and AGAIN in message and "\n" not in message
    return message


FILES = {"onnx": (".onnx",), "openvino": (".xml", ".bin"), "litert": (".tflite",)}


@pytest.mark.parametrize("fmt", list(FILES))
def test_the_sidecar_records_the_size_and_sha256_of_each_network_file(exports, tmp_path, fmt):
    """Keyed by suffix: an export renamed as a whole (both or all three files) still loads."""
    path = _copy(exports, fmt, tmp_path / "a")
    stem = os.path.splitext(path)[0]
    expected = {suffix: {"bytes": os.path.getsize(stem + suffix),
                         "sha256": hashlib.sha256(open(stem + suffix, "rb").read()).hexdigest()}
                for suffix in FILES[fmt]}
    assert _sidecar(path)["network_files"] == expected
    renamed = str(tmp_path / "b" / f"renamed{FILES[fmt][0]}")
    os.makedirs(os.path.dirname(renamed))
    for suffix in FILES[fmt] + (".json",):
        os.rename(stem + suffix, os.path.splitext(renamed)[0] + suffix)
    assert load_pose_model(renamed).precision == "fp32"


@pytest.mark.parametrize("network, sidecar", [("onnx int8", "onnx"), ("onnx", "onnx int8")],
                         ids=["int8 network, fp32 sidecar", "fp32 network, int8 sidecar"])
def test_another_exports_sidecar_is_refused_naming_both_files(exports, tmp_path, network,
                                                              sidecar):
    """The hunter's repro: was loaded and reported at the sidecar's precision."""
    skip_unless_installed("onnx", "int8")
    path = _copy(exports, network, tmp_path)
    shutil.copy(runtimes.sidecar_path(exports[sidecar]), runtimes.sidecar_path(path))
    message = _refusal(path)
    network_size = os.path.getsize(exports[network])
    sidecar_size = os.path.getsize(exports[sidecar])
    assert message.startswith(
        f"{runtimes.sidecar_path(path)} does not describe {path} (it is {network_size} bytes, "
        f"the sidecar records {sidecar_size}): the sidecar belongs to another export")


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("openvino", ".bin"),
                                         ("litert", ".tflite")])
def test_a_network_file_changed_in_place_is_refused(exports, tmp_path, fmt, suffix):
    """Same size, one bit of the weights: only the SHA-256 tells (the runtime loads it)."""
    path = _copy(exports, fmt, tmp_path / "checked")
    changed = os.path.splitext(path)[0] + suffix
    _flip_a_bit(changed)
    message = _refusal(path)
    assert message.startswith(f"{runtimes.sidecar_path(path)} does not describe {changed} "
                              "(its SHA-256 is not the one the sidecar records)")
    # The same file under a sidecar without the record loads: the runtime cannot tell.
    unchecked = _copy(exports, fmt, tmp_path / "unchecked")
    shutil.copy(changed, os.path.splitext(unchecked)[0] + suffix)
    _write_sidecar(unchecked, {k: v for k, v in _sidecar(unchecked).items()
                               if k != "network_files"})
    assert load_pose_model(unchecked).path == unchecked


@pytest.mark.parametrize("record", [[], {".onnx": {"bytes": "20 MB", "sha256": "0" * 64}}, {}],
                         ids=["a list", "a size that is no number", "no .onnx entry"])
def test_an_unusable_record_is_a_damaged_export(exports, tmp_path, record):
    path = _copy(exports, "onnx", tmp_path)
    _write_sidecar(path, {**_sidecar(path), "network_files": record})
    message = _refusal(path)
    assert f"does not describe {path} (the sidecar records no size and SHA-256 of it)" \
        in message


def test_a_sidecar_of_an_earlier_version_without_the_record_loads_as_before(exports,
                                                                            tmp_path):
    """Exports made before the record keep working; a file cut short under such a
    sidecar is still refused by its runtime, as before."""
    path = _copy(exports, "onnx", tmp_path)
    _write_sidecar(path, {k: v for k, v in _sidecar(path).items() if k != "network_files"})
    loaded = load_pose_model(path)
    assert (loaded.runtime, loaded.precision) == ("onnxruntime", "fp32")
    loaded.network(np.zeros((1, 64, 64, 3), np.float32))
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    assert _refusal(path).startswith(f"{path}: onnxruntime cannot load it")
