"""Every ``from keras_pose... import name`` of the project resolves.

Imports inside functions run only when the function does: one left behind
when a function moved (scripts/benchmark_video.py imported
``calibration_images`` from its old module) failed only when a user ran it.
"""

import ast
import importlib
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _project_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                            text=True, check=False).stdout.split()
    if not listed:  # Not a git checkout (an unpacked release): walk the folders.
        listed = [os.path.relpath(os.path.join(d, f), ROOT)
                  for top in ("keras_pose", "scripts") for d, _, fs in os.walk(
                      os.path.join(ROOT, top)) for f in fs if f.endswith(".py")]
        listed += ["train.py", "evaluate.py", "predict.py"]
    return sorted(f for f in listed if not f.startswith("tests/"))


def _imports(path: str) -> list[tuple[int, str, str]]:
    """(line, module, name) of every ``from keras_pose... import name``."""
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
    return [(node.lineno, node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
            and node.module.split(".")[0] == "keras_pose" for alias in node.names]


@pytest.mark.parametrize("path", _project_files())
def test_every_project_import_names_something_that_exists(path):
    missing = []
    for line, module, name in _imports(path):
        try:
            found = importlib.import_module(module)
        except ImportError as e:
            missing.append(f"{path}:{line}: {module} ({e})")
            continue
        if name != "*" and not hasattr(found, name):
            try:  # A submodule not imported by its package.
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{path}:{line}: {name} from {module}")
    assert not missing, missing
