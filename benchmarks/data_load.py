"""Benchmark: first (decoding) load of a local CIFAR-10 copy against later (cached) loads.

    python benchmarks/data_load.py [PATH]     # PATH defaults to $CIFARLAB_DATA

Uses a throw-away cache folder, so the first load really decodes. Prints seconds and the ratio.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CIFARLAB_DATA", ""))
    if not path.exists():
        sys.exit("give the path of a local CIFAR-10 copy (folder or .tar.gz), or set CIFARLAB_DATA")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CIFARLAB_CACHE"] = cache
        from cifarlab.data.folder import load_image_folder

        timings = []
        for attempt in ("first (decode + write cache)", "cached", "cached again"):
            start = time.perf_counter()
            train, test = load_image_folder(path)
            timings.append(time.perf_counter() - start)
            print(f"{attempt:<30} {timings[-1]:6.2f} s   ({len(train)} train, {len(test)} test images)")
        size = sum(f.stat().st_size for f in Path(cache).glob("*.npz")) / 2**20
    print(f"cache entry: {size:.0f} MiB; first load / cached load = {timings[0] / min(timings[1:]):.1f}x")


if __name__ == "__main__":
    main()
