"""Converts official Simple Baselines / torchvision PyTorch weights for Keras.

Official pose checkpoint -> model checkpoint directory (config.json +
model.weights.h5, usable by evaluate.py, predict.py, the exporter and
``train.py --init_checkpoint``)::

    python scripts/convert_pytorch_checkpoint.py \
        --input models/pytorch/pose_coco/pose_resnet_50_256x192.pth.tar \
        --output models/keras/pose_resnet_50_256x192

torchvision ImageNet ResNet -> backbone weights for
``train.py --set model.pretrained=PATH`` (pytorch style; ``fc`` is dropped;
``model.pretrained`` also takes the ``.pth`` itself, and the pytorch-style
experiments download it by default)::

    python scripts/convert_pytorch_checkpoint.py --backbone_only \
        --input resnet50-19c8e357.pth --output models/resnet50_torchvision.npz

Depth, K and the head layout come from the tensors; the input size from
``--experiment`` or the official file name (``..._384x288`` is 288 wide,
384 high), else the data set's default. Converted official checkpoints record
the BGR input convention they were trained with. torch is not needed: the
files are read by keras_pose.convert.torch_reader, which unpickles nothing
but tensors (zip, legacy and the 2017 tar layouts; .safetensors too).
"""

from __future__ import annotations

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "PyTorch file (.pth, .pth.tar or .safetensors).")
flags.DEFINE_string("output", None,
                    "Output checkpoint directory, or .npz file with --backbone_only.")
flags.DEFINE_string("experiment", None,
                    "Named experiment for the config (default: chosen by K and the "
                    "file name).")
flags.DEFINE_multi_string("set", [], "Config override section.field=value (repeatable).")
flags.DEFINE_bool("backbone_only", False,
                  "Convert a torchvision ImageNet ResNet into backbone weights (.npz); "
                  "its fc classifier is dropped.")


def work() -> int:
    from keras_pose import convert
    if FLAGS.backbone_only:
        arch = convert.convert_backbone(FLAGS.input, FLAGS.output)
        print(f"wrote ResNet-{arch.depth} backbone weights to {FLAGS.output}; "
              f"train with --set model.depth={arch.depth} "
              f"--set model.pretrained={FLAGS.output}")
        return 0
    config = convert.convert_pose_checkpoint(
        FLAGS.input, FLAGS.output, experiment=FLAGS.experiment, overrides=FLAGS.set)
    model = config.model
    print(f"wrote {FLAGS.output}: {config.name}, ResNet-{model.depth}, "
          f"K={model.num_keypoints}, input {model.image_size[0]}x"
          f"{model.image_size[1]} (w x h), {model.color_order} input "
          f"normalised with mean {model.mean} std {model.std}")
    return 0


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.input or not FLAGS.output:
        raise app.UsageError("--input and --output are required")
    if FLAGS.backbone_only and (FLAGS.experiment or FLAGS.set):
        raise app.UsageError("--experiment/--set do not apply to --backbone_only")
    from keras_pose import cli  # Errors the user can fix: one line; bugs: a traceback.
    return cli.run("convert_pytorch_checkpoint.py", work)


if __name__ == "__main__":
    flags.mark_flags_as_required(["input", "output"])
    app.run(main)
