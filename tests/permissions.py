"""Runs code where file permissions apply: root's capabilities override
them (chmod 000 does not stop root), so as root the code runs in a
subprocess without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH."""

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_without_override(code: str, timeout: float = 300) -> str:
    """The standard output of ``python -c code`` run from the repository
    (``tests`` importable) with permissions in force; fails the test on a
    non-zero exit, skips it as root without setpriv (util-linux)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root without setpriv: permissions cannot be put in force")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all",
                  "--"]
    done = subprocess.run(prefix + [sys.executable, "-c", code], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout
