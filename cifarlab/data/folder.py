"""A local CIFAR-10 copy in ImageFolder layout, as a folder or a `.tar.gz`.

Layout (an optional top folder above `train/` and `test/` is allowed)::

    train/<class>/<image>   e.g. train/airplane/0000.jpg
    test/<class>/<image>

Every image must be 32x32 RGB. The first load decodes all images with a progress bar and
caches the arrays (see `cache.py`); later loads read the cache in a couple of seconds.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tarfile
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from cifarlab.data.cache import cache_key, cached_arrays
from cifarlab.data.imageset import ImageSet
from cifarlab.data.integrity import (
    CIFAR10_CLASSES,
    IMAGE_BYTES,
    PER_CLASS,
    check_complete,
    claims_cifar10,
    completeness_problems,
    verify_archive,
)
from cifarlab.errors import DataError
from cifarlab.files import sha256
from cifarlab.progress import progress, reading
from cifarlab.recipe import RECIPE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp"}
SPLITS = ("train", "test")
IMAGE_SIZE = (RECIPE.image_size, RECIPE.image_size)

LAYOUT_HELP = (
    "A local copy must hold train/<class>/<image> and test/<class>/<image> "
    "(32x32 RGB images, the same class folders in both)."
)

CUT_SHORT = (
    "'{path}' ends without tar's end-of-archive marker: it was cut short (an interrupted copy, download "
    "or `tar`). Copy or create it again."
)


def load_image_folder(path: Path, use_cache: bool = True) -> tuple[ImageSet, ImageSet]:
    """Load (train, test) from an ImageFolder-layout folder or `.tar.gz` at `path`.

    A copy whose classes are CIFAR-10's must be complete (`integrity.check_complete`); an
    archive the package knows must match its hash. The cache entry is keyed by the content,
    so a changed copy is decoded again and a touched one is not.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"'{path}' does not exist. {LAYOUT_HELP}")
    is_tar = path.is_file()
    if is_tar and not (path.name.endswith((".tar.gz", ".tgz", ".tar"))):
        raise DataError(f"'{path}' is a file but not a .tar.gz or .tar archive. {LAYOUT_HELP}")

    def decode() -> dict[str, np.ndarray]:
        arrays = _decode(path, _tar_entries(path) if is_tar else _folder_entries(path))
        check_complete(path, arrays)  # before it is cached: a short copy is never stored
        return arrays

    if is_tar:
        _check_tar_end(path)
    if use_cache:
        content, needs_bytes = content_key(path)
        arrays, cached = cached_arrays(cache_source(path), content, decode, needs_bytes=needs_bytes)
        if cached:
            check_complete(path, arrays)
    else:
        arrays = decode()
    classes = tuple(str(c) for c in arrays["classes"])

    def image_set(split: str) -> ImageSet:
        return ImageSet(
            images=arrays[f"{split}_images"],
            labels=arrays[f"{split}_labels"],
            classes=classes,
            source=f"{path.name} ({split})",
        )

    return image_set("train"), image_set("test")


def _check_tar_end(path: Path) -> None:
    """An uncompressed tar must end with its end-of-archive marker; checked before any decode.

    (A compressed one is checked as it streams: see `_tar_entries`.)
    """
    with open(path, "rb") as file:
        head = file.read(tarfile.BLOCKSIZE)
        if head[257:262] != b"ustar":  # compressed, or not a tar at all: tarfile says which as it reads
            return
        file.seek(0, os.SEEK_END)
        if file.tell() >= 2 * tarfile.BLOCKSIZE:
            file.seek(-2 * tarfile.BLOCKSIZE, os.SEEK_END)
            if not any(file.read()):
                return
    raise DataError(CUT_SHORT.format(path=path))


def cache_source(path: Path) -> str:
    """The name the cache keeps this copy's entries under (the content follows it: see `content_key`)."""
    return "imagefolder-" + cache_key("image-folder", Path(path).resolve())


def content_key(path: Path) -> tuple[str, int]:
    """(what the copy holds, as a short hash; about how many bytes its decoded arrays take).

    An archive: its SHA-256 (checked against the known copies), so touching it changes
    nothing. A folder: every file's name, size and modification time, so renaming or moving
    an image between class folders (which keeps its time) is a new content.
    """
    if path.is_file():
        digest = sha256(path)
        known = verify_archive(path, digest)
        images = sum(PER_CLASS.values()) * len(CIFAR10_CLASSES) if known else path.stat().st_size // 1024
        return digest[:16], images * IMAGE_BYTES
    listing, images = hashlib.sha256(), 0
    for root, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            stat = os.stat(full)
            listing.update(f"{os.path.relpath(full, path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
            images += 1
    return listing.hexdigest()[:16], images * IMAGE_BYTES


@dataclass
class Survey:
    """What a local copy holds, found without decoding an image (what `cifarlab doctor` reports)."""

    counts: dict[str, dict[str, int]]  # {split: {class: images}}
    known: str | None  # which known copy its hash says it is (archives only)
    problems: list[str]  # why it would be refused; [] if it loads

    def describe(self) -> str:
        splits = {split: sum(per_class.values()) for split, per_class in self.counts.items()}
        classes = len(set().union(*(set(c) for c in self.counts.values()))) if self.counts else 0
        text = f"{sum(splits.values()):,} images (" + ", ".join(f"{s} {n:,}" for s, n in splits.items())
        text += f") in {classes} classes"
        return text + (f"; sha256 matches {self.known}" if self.known else "")


def survey(path: Path) -> Survey:
    """Open a local copy and count its images per split and class; check its hash, end and completeness."""
    counts: dict[str, dict[str, int]] = {split: {} for split in SPLITS}
    known, problems = None, []
    try:
        if path.is_file():
            _check_tar_end(path)
            known = verify_archive(path, sha256(path))
            names = (name for name, _ in _tar_members(path, read=False))
        else:
            names = (p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        for name in names:
            place = None if _hidden(name) or PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES else _place(name)
            if place:
                split, label = place
                counts[split][label] = counts[split].get(label, 0) + 1
    except DataError as error:
        return Survey(counts, known, [str(error)])
    if not all(counts.values()):
        problems.append(f"no images under {' or '.join(s + '/' for s in SPLITS if not counts[s])}. {LAYOUT_HELP}")
    elif claims_cifar10(list(counts["train"])):
        problems += completeness_problems(counts)
    return Survey(counts, known, problems)


def _folder_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for file in progress(files, desc=f"Decoding {path.name}", unit="img", mininterval=1.0):
        yield file.relative_to(path).as_posix(), file.read_bytes()


def _tar_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every image of the archive with its bytes, in one pass; the progress bar follows the bytes read."""
    return _tar_members(path, read=True)


def _tar_members(path: Path, read: bool) -> Iterator[tuple[str, bytes]]:
    """Stream the archive once: (name, bytes) of each image (bytes only when `read`, with a progress bar)."""
    try:
        with open(path, "rb") as raw, _progress_on(raw, path, read) as counted:
            with tarfile.open(fileobj=counted, mode="r|*") as archive:
                for member in archive:
                    if member.isfile() and PurePosixPath(member.name).suffix.lower() in IMAGE_SUFFIXES:
                        data = archive.extractfile(member) if read else None
                        yield member.name, data.read() if data else b""
                # tar ends with two zero blocks; tarfile takes the end of the data as the end too,
                # so a copy cut at a member boundary would otherwise read as a smaller data set
                end = archive.fileobj.read(tarfile.BLOCKSIZE)
                if len(end) < tarfile.BLOCKSIZE or any(end):
                    raise DataError(CUT_SHORT.format(path=path))
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as error:
        raise DataError(
            f"'{path}' is corrupt or truncated ({type(error).__name__}: {error}). "
            "Copy or download it again; `sha256sum` should match the checksum its source gives."
        ) from error


def _progress_on(raw: io.BufferedReader, path: Path, shown: bool) -> contextlib.AbstractContextManager:
    if not shown:
        return contextlib.nullcontext(raw)
    size = path.stat().st_size
    return reading(raw, f"Decoding {path.name}", size, unit="B", unit_scale=True, mininterval=1.0)


def _hidden(name: str) -> bool:
    """Hidden files such as macOS' ._ resource forks, or anything in a hidden folder."""
    return any(part.startswith(".") for part in PurePosixPath(name).parts)


def _place(name: str) -> tuple[str, str] | None:
    """(split, class) of a member at <split>/<class>/<image> (under any top folders), else None."""
    parts = PurePosixPath(name).parts
    split_at = next((i for i, part in enumerate(parts) if part in SPLITS), None)
    if split_at is None or len(parts) - split_at != 3:
        return None
    return parts[split_at], parts[split_at + 1]


def _decode(path: Path, entries: Iterator[tuple[str, bytes]]) -> dict[str, np.ndarray]:
    found: dict[str, dict[str, list[tuple[str, np.ndarray]]]] = {s: {} for s in SPLITS}
    for name, data in entries:
        if _hidden(name):
            continue
        place = _place(name)
        if place is None:
            raise DataError(f"'{path}': '{name}' is not at <split>/<class>/<image>. {LAYOUT_HELP}")
        split, label = place
        found[split].setdefault(label, []).append((name, _read_image(path, name, data)))

    missing = [s for s in SPLITS if not found[s]]
    if missing:
        raise DataError(f"'{path}' has no images under {' or '.join(m + '/' for m in missing)}. {LAYOUT_HELP}")
    classes = sorted(found["train"])
    if sorted(found["test"]) != classes:
        raise DataError(
            f"'{path}': train/ has classes {classes} but test/ has {sorted(found['test'])}. "
            "Both splits need the same class folders."
        )
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    for split in SPLITS:
        images, labels = [], []
        for label, name in enumerate(classes):
            for _, image in sorted(found[split][name], key=lambda item: item[0]):
                images.append(image)
                labels.append(label)
        arrays[f"{split}_images"] = np.stack(images)
        arrays[f"{split}_labels"] = np.array(labels, dtype=np.int64)
    return arrays


def _read_image(path: Path, name: str, data: bytes) -> np.ndarray:
    where = f"'{name}' in '{path}'" if path.is_file() else f"'{path / name}'"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
        with image:
            if image.size != IMAGE_SIZE:  # from the header: a huge image is never decoded
                raise DataError(
                    f"{where} is {image.size[0]}x{image.size[1]}; CIFAR-10 images are 32x32. "
                    "Resize it to 32x32 or remove it from the copy."
                )
            image.load()
            if image.mode != "RGB":
                raise DataError(
                    f"{where} has mode {image.mode}; every image must be RGB. "
                    "Convert it, e.g. Image.open(f).convert('RGB').save(f)."
                )
            return np.asarray(image, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"{where} is far too large for a CIFAR-10 image ({error}). Remove it from the copy.") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{where} cannot be read as an image ({error}). Replace or remove it.") from error
