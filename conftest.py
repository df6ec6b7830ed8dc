"""Test-wide settings. Lives at the root so that it also governs the notebooks nbval runs.

- The smoke profile, unless CIFARLAB_PROFILE is set: tests and notebooks stay small.
- Data: CIFARLAB_DATA as given (CI points it at the JPEG CIFAR-10 tarball); when unset,
  the synthetic set, so `pytest` works on a fresh machine without any download.
The notebook kernels are child processes and inherit these variables.
"""

import os

os.environ.setdefault("CIFARLAB_PROFILE", "smoke")
os.environ.setdefault("CIFARLAB_DATA", "synthetic")
os.environ.setdefault("MPLBACKEND", "Agg")
