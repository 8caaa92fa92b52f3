"""evaluate.py --runtime / --precision on a data set of other keypoints: the
data set is checked before the checkpoint is exported (was: exported,
calibrated and guarded on it, cached in exports/, then refused, the export
served from then on by predict.py and evaluate.py)."""

import os

import pytest

from keras_pose.checkpoint import save_model_checkpoint
from keras_pose.data.datasets import DatasetError
from keras_pose.evaluation import runner
from tests.export.conftest import tiny_synthetic  # noqa: F401 - the tiny synthetic set.
from tests.export.data_copies import synthetic_copy


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_data_sets_keypoints_are_checked_before_the_export(
        tiny_synthetic, tiny_exported, fake_onnx_export, tmp_path, precision):  # noqa: F811
    swapped = synthetic_copy(tiny_synthetic, tmp_path / "swapped", "order")
    ckpt = str(tmp_path / "ckpt")
    save_model_checkpoint(tiny_exported[0], tiny_synthetic, ckpt)
    with pytest.raises(DatasetError) as raised:
        runner.run_evaluation(checkpoint=ckpt, data_dir=swapped.data.root, progress=False,
                              runtime="onnxruntime", precision=precision)
    assert fake_onnx_export == [] and not os.path.exists(os.path.join(ckpt, "exports"))
    message = str(raised.value)
    assert f"but checkpoint {ckpt} was trained on ['nose', 'left_eye', 'right_eye'" in message
    assert "has keypoints ['nose', 'right_eye', 'left_eye'" in message
    assert "evaluate it on data with the same keypoints in the same order" in message
