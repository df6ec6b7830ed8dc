"""An on-disk cache of decoded arrays, so a data set is decoded once and then loads in seconds.

An entry is one `.npz` file named `<source>-<content>.npz`: `source` says which copy it
came from (its path), `content` what that copy held (a hash of the archive, or of every
file's name, size and time in a folder). A changed copy gets a new entry, which replaces
the old one: one entry per source. Entries are written atomically (`cifarlab.files`), two
processes loading the same copy for the first time take turns (the second one reads what
the first one wrote), and a cache folder that cannot be written is found before the decode:
one warning, and the data is decoded without being stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from cifarlab.files import atomic_path, describe_os_error, human_bytes, remove_orphans, unwritable

CACHE_ENV_VAR = "CIFARLAB_CACHE"
FORMAT_VERSION = 2  # bump when the layout of cached arrays changes (2: keyed by content, checked counts)


class CacheWarning(UserWarning):
    """The cache could not be used; the data was decoded (or will be) without it."""


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


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


def entries_of(source: str, directory: Path | None = None) -> list[Path]:
    """The cache entries of one source (normally one)."""
    directory = directory or cache_dir()
    return sorted(directory.glob(f"{source}-*.npz")) if directory.is_dir() else []


def read_entry(path: Path) -> dict[str, np.ndarray]:
    """An entry's arrays (raises OSError, ValueError or BadZipFile when it is damaged)."""
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def cached_arrays(
    source: str,
    content: str,
    build: Callable[[], dict[str, np.ndarray]],
    directory: Path | None = None,
    needs_bytes: int = 0,
) -> tuple[dict[str, np.ndarray], bool]:
    """The arrays stored for (source, content), or `build()` them and store them.

    Returns (arrays, came_from_cache). A damaged entry is removed and rebuilt; older entries
    of the same source are removed once the new one is stored. needs_bytes: roughly how
    big the entry will be, to refuse a disk too full for it before the decode.
    """
    directory = directory or cache_dir()
    path = directory / f"{source}-{content}.npz"
    problem = unwritable(directory)
    if problem is None and needs_bytes and shutil.disk_usage(directory).free < needs_bytes:
        free = shutil.disk_usage(directory).free
        problem = (
            f"not enough free space in {directory}: {human_bytes(free)}, the entry needs {human_bytes(needs_bytes)}"
        )
    if problem:
        if path.is_file():
            with contextlib.suppress(OSError, ValueError, zipfile.BadZipFile, EOFError):
                return read_entry(path), True
        _warn(f"the data cache cannot be used ({problem}); decoding without storing. Set {CACHE_ENV_VAR} to fix.")
        return build(), False
    with _turn(directory / f".{source}.lock"):
        if path.is_file():
            try:
                return read_entry(path), True
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
                _warn(f"cache entry {path} is damaged ({error}); decoding again.")
                path.unlink(missing_ok=True)
        arrays = build()
        remove_orphans(directory)
        try:
            with atomic_path(path) as temporary:
                with open(temporary, "wb") as file:
                    np.savez(file, **arrays)
        except OSError as error:
            _warn(
                f"could not store the decoded data in the cache ({describe_os_error(error)}); "
                "the next load decodes again."
            )
            return arrays, False
        for older in [*entries_of(source, directory), *_format_1_entries(directory)]:
            if older != path:
                older.unlink(missing_ok=True)
    return arrays, False


def _format_1_entries(directory: Path) -> list[Path]:
    """Entries of cifarlab before format 2 (`<kind>-<key>.npz`): never read again, so removed."""
    return [p for p in directory.glob("*.npz") if re.fullmatch(r"[a-z]+-[0-9a-f]{16}\.npz", p.name)]


@contextlib.contextmanager
def _turn(lock_path: Path) -> Iterator[None]:
    """Processes decoding the same source take turns: the second reads what the first stored."""
    from filelock import FileLock

    with FileLock(lock_path):
        yield
