"""The one mark of a failure the user can fix.

The command lines (``keras_pose.cli.run``) print a ``UserError`` as one line
and exit with code 1; any other exception is a bug and keeps its traceback.
So an error is a ``UserError`` only where the cause is known to be the
user's: a flag, a file, the data, a missing optional package. Each module
keeps its own error classes (``ConfigError``, ``AnnotationError``...), which
derive from ``UserError`` and still from ``ValueError`` / ``OSError`` where
callers catch those.

This module imports nothing of keras_pose, so that every other module can
import it.
"""

import importlib
from typing import Any


class UserError(Exception):
    """A failure caused by the user's input or set-up; the message names the
    file, flag or entry and, where there is one, the way out."""


class FlagError(UserError, ValueError):
    """A command-line flag (or the library argument behind it) that cannot be
    used: a bad value or two flags that conflict; the message names them."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or directory that the user named (or that the data layout
    requires) does not exist; the message names it."""


class MissingPackageError(UserError, ImportError):
    """An optional package that the requested feature needs is not
    installed; the message names it and how to install it."""


def import_required(module: str, package: str, needed_for: str, instead: str = "") -> Any:
    """Imports ``module`` of a dependency that an install can lack (a partial
    or hand-made environment), or raises MissingPackageError.

    Args:
      module: the module to import (``keras_hub.models``).
      package: its pip package (``keras-hub``).
      needed_for: what needs it, for the message (``the D-FINE detector``).
      instead: what the user can do without it, appended to the message.

    Raises:
      MissingPackageError: ``package`` is not installed; an ImportError
        raised inside an installed package keeps its traceback (a bug).
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if (e.name or "").split(".")[0] != module.split(".")[0]:
            raise
        raise MissingPackageError(
            f"{needed_for} needs the package {package}, which is not installed: "
            f"{install_command([package], extra='')}"
            + (f"; {instead}" if instead else "")) from None


class NotWritableError(UserError, PermissionError):
    """A folder the tool must write to and cannot (read-only, another user's);
    the message names it and the way out."""


def install_command(packages, extra: str = "deploy") -> str:
    """How to install the pip ``packages`` wherever keras-pose was installed
    from (a wheel as well as a clone): ``pip install "onnxruntime<2,>=1.32"``,
    each with the range keras-pose pins (read from its installed metadata;
    a bare name where there is none), then the extra's install in the
    clone. Was ``pip install -e ".[deploy]"`` alone, which works in the
    clone's folder only."""
    from importlib import metadata
    try:
        pinned = metadata.requires("keras-pose") or []
    except metadata.PackageNotFoundError:  # Run from a clone never installed.
        pinned = []
    ranges = {}
    for requirement in pinned:
        spec = requirement.split(";")[0].strip()
        name = spec.split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip()
        ranges.setdefault(name.lower().replace("_", "-"), spec)
    wanted = [ranges.get(p.lower().replace("_", "-"), p) for p in packages]
    quoted = " ".join(f'"{w}"' if set(w) & set("<>=!") else w for w in wanted)
    clone = f'pip install -e ".[{extra}]"' if extra else "pip install -e ."
    return f"pip install {quoted} (or {clone} in keras-pose's folder)"

