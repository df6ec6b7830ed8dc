"""What software a run ran on: the versions a run folder and a shipped model record."""

from __future__ import annotations

import platform
from importlib import metadata

RECORDED_PACKAGES = ("cifarlab", "torch", "torchvision", "lightning", "albumentations", "numpy")


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str]:
    """Python's version and each installed package's: what a run or a shipped model records."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
