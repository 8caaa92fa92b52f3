"""Lists the presets: ``python -m keras_pose.presets [FILTER]`` (a part of a
name or a data set, e.g. ``coco``, ``dark``, ``ap10k``)."""

import sys

from keras_pose.presets.listing import print_presets


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    return print_presets(argv[1:], "keras_pose.presets")


if __name__ == "__main__":
    from keras_pose.output_streams import streams_kept_safe
    with streams_kept_safe("keras_pose.presets"):  # A closed or full stdout was a traceback.
        code = main(sys.argv)
    sys.exit(code)
