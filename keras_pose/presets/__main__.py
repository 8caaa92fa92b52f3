"""Lists the presets: ``python -m keras_pose.presets [FILTER]`` (a part of a
name or a data set, e.g. ``coco``, ``dark``, ``ap10k``)."""

import sys

from keras_pose.presets.listing import format_presets


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    sys.stdout.write(format_presets(argv[1] if len(argv) == 2 else None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
