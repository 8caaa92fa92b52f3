"""Converts official Simple Baselines, mmpose and torchvision PyTorch weights for Keras.

Official pose checkpoint -> model checkpoint directory (config.json +
model.weights.h5, usable by evaluate.py, predict.py, the exporter and
``train.py --init_checkpoint``)::

    python scripts/convert_pytorch_checkpoint.py \
        --input models/pytorch/pose_coco/pose_resnet_50_256x192.pth.tar \
        --output models/keras/pose_resnet_50_256x192

Depth, K and the head layout come from the tensors; the input size from
``--experiment`` or the official file name (``..._384x288`` is 288 wide,
384 high), else the data set's default. Converted official checkpoints record
the BGR input convention they were trained with.

mmpose SimpleBaseline checkpoint (1.x ``td-hm_res50_...pth`` or 0.x
``res50_coco_256x192-...pth``, recognised by their ``backbone.`` +
``head.`` / ``keypoint_head.`` tensor names, or forced with
``--format mmpose``) -> model checkpoint directory. A published file of the
model zoo (recognised by its contents' SHA-256, under any name) converts with
its preset's config, the settings mmpose evaluated it with::

    python scripts/convert_pytorch_checkpoint.py \
        --input td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth \
        --output models/keras/mmpose_res50_coco_256x192

Another mmpose file's tensors do not say the input size, the data set or the
codec, so ``--experiment`` is required: the named experiment gives sizes,
sigma, keypoint metadata and the input convention (RGB with the ImageNet
mean/std, mmpose's), with the ground-truth box rule of the file's mmpose
generation; ``--set`` adjusts it (``model.codec=dark`` for the DARK models,
``test.blur_kernel`` to match an mmpose config, another size), and the
tensors are checked against its depth, K and deconvolutions. The config is
named ``<experiment>_mmpose`` unless ``--set name=...``::

    python scripts/convert_pytorch_checkpoint.py --input my_mmpose_model.pth \
        --experiment coco_resnet50_256x192 --set model.codec=dark \
        --output models/keras/my_mmpose_model

torchvision ImageNet ResNet -> backbone weights for
``train.py --set model.pretrained=PATH`` (pytorch style; ``fc`` is dropped;
``model.pretrained`` also takes the ``.pth`` itself, and the pytorch-style
experiments download it by default)::

    python scripts/convert_pytorch_checkpoint.py --backbone_only \
        --input resnet50-19c8e357.pth --output models/resnet50_torchvision.npz

torch is not needed: the files are read by keras_pose.convert.torch_reader,
which imports and calls nothing named in a file (zip, legacy and the 2017 tar
layouts; .safetensors too). With ``--format auto`` the file is read once to
recognise it and once to convert it.
"""

from __future__ import annotations

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "PyTorch file (.pth, .pth.tar or .safetensors).")
flags.DEFINE_string("output", None,
                    "Output checkpoint directory, or .npz file with --backbone_only.")
flags.DEFINE_string("experiment", None,
                    "Named experiment for the config (official files: default chosen by K "
                    "and the file name; mmpose files: required unless the file is a "
                    "preset's published file).")
flags.DEFINE_enum("format", "auto", ["auto", "official", "mmpose"],
                  "Pose checkpoint format; auto: mmpose when the tensor names have "
                  "mmpose's backbone./head./keypoint_head. prefixes, else official.")
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
    kind = FLAGS.format
    if kind == "auto":
        kind = "mmpose" if convert.is_mmpose_checkpoint(FLAGS.input) else "official"
    if kind == "mmpose":
        from keras_pose.convert.mmpose import mmpose_file_version
        from keras_pose.presets.recognize import mmpose_file_config
        config = mmpose_file_config(FLAGS.input, mmpose_file_version(FLAGS.input),
                                    FLAGS.experiment, FLAGS.set)
        config = convert.convert_mmpose_checkpoint(FLAGS.input, FLAGS.output, config)
    else:
        config = convert.convert_pose_checkpoint(
            FLAGS.input, FLAGS.output, experiment=FLAGS.experiment, overrides=FLAGS.set)
    model = config.model
    print(f"wrote {FLAGS.output} ({kind} checkpoint): {config.name}, "
          f"ResNet-{model.depth}, K={model.num_keypoints}, input "
          f"{model.image_size[0]}x{model.image_size[1]} (w x h), {model.color_order} "
          f"input normalised with mean {model.mean} std {model.std}, codec {model.codec}, "
          f"ground-truth box rule {config.data.gt_box_rule}")
    return 0


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.input or not FLAGS.output:
        raise app.UsageError("--input and --output are required")
    if FLAGS.backbone_only and (FLAGS.experiment or FLAGS.set or FLAGS.format == "mmpose"):
        raise app.UsageError("--experiment/--set/--format mmpose do not apply to --backbone_only")
    from keras_pose import cli  # Errors the user can fix: one line; bugs: a traceback.
    return cli.run("convert_pytorch_checkpoint.py", work)


if __name__ == "__main__":
    from keras_pose import cli
    flags.mark_flags_as_required(["input", "output"])
    app.run(main, flags_parser=cli.flags_parser)
