"""Every ``keras_pose.<module>.<Name>`` the README and docs/ name can be
imported as written (the README's ``keras_pose.training.PoseTrainingModel``
was an ImportError: the class lived in ``keras_pose.training.model`` only)."""

import glob
import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def _documented_names():
    names = set()
    for path in DOCS:
        with open(path, encoding="utf-8") as f:
            names.update((os.path.relpath(path, ROOT), m.group(1)) for m in
                         re.finditer(r"`(keras_pose(?:\.[A-Za-z_]\w*)+)", f.read()))
    return sorted(names)


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):  # The longest importable module, then attributes.
        try:
            value = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            value = getattr(value, name)
        return value
    raise ImportError(dotted)


def test_the_docs_name_some():
    assert len(_documented_names()) >= 20


@pytest.mark.parametrize("doc, dotted", _documented_names())
def test_a_documented_name_imports_as_written(doc, dotted):
    assert _resolve(dotted) is not None, f"{doc}: {dotted}"
