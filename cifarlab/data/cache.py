"""An on-disk cache of decoded arrays, so a data set is decoded once and then loads in seconds.

Entries are `.npz` files written to a temporary name and moved into place only when complete,
so an interrupted or failed decode never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

CACHE_ENV_VAR = "CIFARLAB_CACHE"
FORMAT_VERSION = 1  # bump when the layout of cached arrays changes


def cache_dir() -> Path:
    """Where cifarlab keeps downloads and decoded arrays: $CIFARLAB_CACHE, else ~/.cache/cifarlab."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cifarlab"


def cache_key(*parts: object) -> str:
    """A short stable name for a cache entry built from what identifies its input."""
    text = "|".join(str(p) for p in (FORMAT_VERSION, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_arrays(
    name: str, build: Callable[[], dict[str, np.ndarray]], directory: Path | None = None
) -> tuple[dict[str, np.ndarray], bool]:
    """Load the arrays stored under `name`, or `build()` them and store them.

    Returns (arrays, came_from_cache). An unreadable entry is removed and rebuilt.
    """
    directory = directory or cache_dir()
    path = directory / f"{name}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {key: stored[key] for key in stored.files}, True
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            warnings.warn(f"cache entry {path} is unreadable ({error}); decoding again.", stacklevel=2)
            path.unlink(missing_ok=True)
    arrays = build()
    directory.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            np.savez(tmp, **arrays)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return arrays, False
