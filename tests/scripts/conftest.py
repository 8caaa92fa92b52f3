"""The benchmark scripts loaded in this process (sparing a TensorFlow
start-up per run)."""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def load_script():
    """``load_script("benchmark_video")``: scripts/benchmark_video.py as a
    module. Unlike tests/conftest.py's ``script_module`` it is in
    ``sys.modules`` while it loads (dataclasses look their module up there),
    and its absl flags are removed on teardown even when it failed to load,
    so that another script defining the same names can load."""
    from absl import flags
    loaded = []

    def load(script: str):
        name = f"{script}_script"
        before = set(flags.FLAGS)
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, "scripts", f"{script}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        finally:
            loaded.append((name, set(flags.FLAGS) - before))
        return module

    yield load
    flags.FLAGS.unparse_flags()
    for name, names in loaded:
        sys.modules.pop(name, None)
        for flag in names:
            delattr(flags.FLAGS, flag)
