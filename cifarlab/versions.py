"""What software a run ran on: the versions a run folder and a shipped model record."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

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


def source_commit() -> str | None:
    """The git commit of the cifarlab code that runs, with "+changes" if it has uncommitted edits.

    None when the package is not a git checkout (installed from a wheel) or git is missing.
    """
    checkout = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return None
        top, commit = head.stdout.splitlines()
        if Path(top).resolve() != checkout:  # an installed copy inside some other repository
            return None
        dirty = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no", "--", "cifarlab"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if dirty.stdout.strip() else "")
