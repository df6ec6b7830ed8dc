"""cifarlab: the package behind the cifarlab course (a ResNet-9 on CIFAR-10, in notebooks).

Light to import: the heavy parts (torch, Lightning, Albumentations) load when their module
is imported, e.g. `from cifarlab.datamodule import CIFAR10DataModule`. The package map is
docs/architecture.md.

Importing cifarlab does one thing besides: unless you set it yourself, it sets
NO_ALBUMENTATIONS_UPDATE=1, so that Albumentations (imported later, by cifarlab or by a
notebook) does not check the internet for a newer version on every import.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def print_run_info() -> None:
    """Print what produced a notebook's outputs: version, profile, device and data source."""
    from cifarlab.doctor import run_header

    print(run_header())
