"""cifarlab: the package behind the cifarlab course (a ResNet-9 on CIFAR-10, in notebooks).

Light to import: the heavy parts (torch, Lightning, Albumentations) load when their module
is imported, e.g. `from cifarlab.datamodule import CIFAR10DataModule`.
"""

from __future__ import annotations

__version__ = "0.1.0"


def print_run_info() -> None:
    """Print what produced a notebook's outputs: version, profile, device and data source."""
    from cifarlab.doctor import run_header

    print(run_header())
