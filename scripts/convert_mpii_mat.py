"""Converts the official MPII release to the reference's JSON annotations.

    python scripts/convert_mpii_mat.py --mat mpii_human_pose_v1_u12_1.mat \
        --output data/mpii/annot [--valid_list detections.mat]

Writes ``train.json`` in the form ``train.py --dataset mpii`` reads; with
``--valid_list`` also ``valid.json`` for the people of the list and
``gt_valid.mat``, its ground truth for ``evaluate.py --dataset mpii``
(PCKh). The reference's split is Tompson et al.'s detections.mat (in
mpii_valid_pred.zip), a list of people; a text list has a line
``image_name,person_index`` per person or ``image_name`` per image (all its
people). See ``keras_pose.data.mpii_mat`` and ``keras_pose.data.mpii_split``.
"""

from absl import app, flags

from keras_pose import cli as _cli  # Light: TensorFlow loads with the work, not here.

FLAGS = flags.FLAGS
flags.DEFINE_string("mat", None, "mpii_human_pose_v1_u12_1.mat")
flags.DEFINE_string("output", "data/mpii/annot", "Output directory.")
flags.DEFINE_string("valid_list", None, "The validation split; writes valid.json and "
                    "gt_valid.mat for its people. The reference's: Tompson's detections.mat "
                    "(mpii_predictions/data/detections.mat of mpii_valid_pred.zip). Or a text "
                    "list: a line image_name,person_index per person (1-based, the release's "
                    "annorect order) or image_name per image (all its people). Unlisted people "
                    "of an image with listed people go to neither file.")
flags.mark_flag_as_required("mat")
# "" (an unset variable) was read as a file named "" ("file  does not exist").
for _name in ("mat", "output", "valid_list"):
    _cli.check_path_flag(_name)


def work() -> int:
    from keras_pose.data import mpii_mat
    counts = mpii_mat.convert(FLAGS.mat, FLAGS.output, FLAGS.valid_list)
    for name, count in counts.items():
        print(f"{FLAGS.output}/{name}: {count} people")
    return 0


def main(argv):
    from keras_pose import cli  # Errors the user can fix: one line; bugs: a traceback.
    cli.refuse_arguments(argv)
    return cli.run("convert_mpii_mat.py", work)


if __name__ == "__main__":
    app.run(main, flags_parser=_cli.flags_parser)
