"""Lists the presets: ``python -m keras_pose.presets [FILTER]`` (a part of a
name or a data set, e.g. ``coco``, ``dark``, ``ap10k``)."""

import sys

from keras_pose.presets.listing import format_presets
from keras_pose.presets.loader import close_presets
from keras_pose.presets.table import PRESETS


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    text = argv[1] if len(argv) == 2 else None
    if text and not any(text.lower() in p.name or text.lower() in p.dataset
                        for p in PRESETS.values()):
        # Was an empty table and exit 0.
        close = close_presets(text)
        print(f"keras_pose.presets: error: no preset's name or data set contains {text!r}"
              + (f"; close names: {', '.join(close)}" if close else "; run without a filter "
                 "to list all"), file=sys.stderr)
        return 1
    sys.stdout.write(format_presets(text))
    return 0


if __name__ == "__main__":
    from keras_pose.cli import stdout_kept_safe
    with stdout_kept_safe("keras_pose.presets"):  # A closed or full stdout was a traceback.
        code = main(sys.argv)
    sys.exit(code)
