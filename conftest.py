"""Test-wide settings. Lives at the root so that it also governs the notebooks nbval runs.

- The smoke profile, unless CIFARLAB_PROFILE is set: tests and notebooks stay small.
- Data for the notebooks: CIFARLAB_DATA as given (CI points it at the JPEG CIFAR-10 in
  ../shared); when unset, that tarball if it is beside the checkout, else the official
  CIFAR-10 download a student gets (fetched once into the cache). Unit tests choose their
  own data and do not depend on this.
The notebook kernels are child processes and inherit these variables.
"""

import os
from pathlib import Path

os.environ.setdefault("CIFARLAB_PROFILE", "smoke")
_shared = Path(__file__).resolve().parent.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
if "CIFARLAB_DATA" not in os.environ and _shared.is_file():
    os.environ["CIFARLAB_DATA"] = str(_shared)
