"""The versions of the packages that make and run an export, as its record
keeps them: a cached export made by other converters or another runtime
is made again (the pose exports, ``keras_pose.export.staleness``; the
detector's, whose cache folder's name holds them,
``keras_pose.detection.runtimes``).
"""

from __future__ import annotations

import importlib.metadata
from typing import Iterable, Mapping, Optional


def installed_versions(packages: Iterable[str]) -> dict[str, Optional[str]]:
    """pip package -> its installed version, None when it is not installed."""
    versions: dict[str, Optional[str]] = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def changed_versions(recorded: Mapping[str, Optional[str]]) -> list[str]:
    """``"onnxruntime 1.17.0, now 1.18.1"`` for each package of ``recorded``
    installed now at another version. A package not installed now is not
    compared: a reused export needs only its runtime, and what was not
    installed makes nothing."""
    installed = installed_versions(recorded)
    return [f"{package} {recorded[package]}, now {now}" for package, now in installed.items()
            if now is not None and now != recorded[package]]
