"""Files written whole or not at all, folders one run writes at a time, and disk faults in words.

Every file cifarlab writes (a checkpoint, an export, a report, a cache entry) is written to
a temporary file in the same folder, flushed to disk, then renamed over the target:
`os.replace` within one file system is atomic, so a reader sees the old file or the new
one, never half of one, even if the process is killed or the disk fills mid-write. A
temporary file is removed on any failure; one left by a killed process is named after its
process id, so `remove_orphans` can tell it from one still being written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cifarlab.errors import OptionError

# "<.name>.<random>.<pid>.tmp": the pid says whose it is
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")

# operating-system errors that are the machine's state, not a bug: the `cifarlab` command
# reports these as one `error:` line
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a path component is a file, not a folder",
    errno.EISDIR: "a folder is in the way",
    errno.ENOENT: "no such file or folder",
    errno.EMFILE: "too many open files",
}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write `path`'s new contents to; renamed over `path` on success.

    The temporary file is in the same folder (so the rename is atomic) and is removed if
    the block raises, whatever it raises.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{os.getpid()}.tmp")
    os.close(handle)
    temporary = Path(name)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; the target gets the usual mode
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())  # on disk before the rename makes it the file
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (see the module docstring)."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def sha256(path: str | os.PathLike) -> str:
    """The file's SHA-256 as hex, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl+C there: count every writer as alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_orphans(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files in `folder` whose writer was killed; returns what it deleted."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMPORARY.match(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def unwritable(folder: str | os.PathLike, create: bool = True) -> str | None:
    """Why files cannot be written into `folder`, or None if they can.

    create: make the folder if it is missing; else test the nearest folder that exists,
    where it would be made, and leave the disk as it was.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    probe = folder
    if not create:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            return f"{probe} is a file, so {folder} cannot be made (a path component is a file)"
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as error:
        return f"{folder} cannot be written ({describe_os_error(error)})"
    return None


def describe_os_error(error: OSError) -> str:
    """An operating-system error in plain words, with the path it concerns."""
    what = ENVIRONMENT_ERRNOS.get(error.errno or -1) or error.strerror or str(error)
    where = f": {error.filename}" if error.filename else ""
    return f"{what}{where}"


def human_bytes(count: int) -> str:
    """A size in the unit that reads best: 812 bytes, 64 KB, 176 MB, 1.2 GB."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}" if count < 10 * size else f"{count / size:.0f} {unit}"
    return f"{count} bytes"


def is_environment_fault(error: BaseException) -> bool:
    """Whether `error` is the machine's state (disk full, permissions...) rather than a bug."""
    return isinstance(error, OSError) and error.errno in ENVIRONMENT_ERRNOS


class FolderLock:
    """One writer per folder: a lock file that the operating system releases if the process dies.

    Two runs started into the same run folder would otherwise write into each other's
    checkpoints. `with FolderLock(out, "run"):` fails at once, with an OptionError, while
    another process holds the folder.
    """

    def __init__(self, folder: str | os.PathLike, what: str = "run") -> None:
        from filelock import FileLock

        self.folder, self.what = Path(folder), what
        self._lock = FileLock(self.folder / ".lock", timeout=0)

    def __enter__(self) -> FolderLock:
        from filelock import Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise OptionError(
                f"another {self.what} is writing into {self.folder} right now. Wait for it to finish, "
                "or choose another --out."
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
