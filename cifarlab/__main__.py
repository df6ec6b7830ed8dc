"""`python -m cifarlab` runs the same command line as the `cifarlab` script."""

import sys

from cifarlab.cli import main

sys.exit(main())
