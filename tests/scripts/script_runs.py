"""A benchmark script's ``_work`` run in this process as its ``main`` runs
it (the module from the ``load_script`` fixture)."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(module, capsys, args: list) -> tuple:
    """(exit code, stdout, stderr) of the script's work with ``args``."""
    from keras_pose import cli
    name = os.path.basename(module.__file__)
    module.FLAGS.unparse_flags()
    module.FLAGS([name, *args])
    code = cli.run(name, module._work)
    out = capsys.readouterr()
    return code or 0, out.out, out.err
