"""A local CIFAR-10 copy in ImageFolder layout, as a folder or a `.tar.gz`.

Layout (an optional top folder above `train/` and `test/` is allowed)::

    train/<class>/<image>   e.g. train/airplane/0000.jpg
    test/<class>/<image>

Every image must be 32x32 RGB. The first load decodes all images with a progress bar and
caches the arrays (see `cache.py`); later loads read the cache in a couple of seconds.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from cifarlab.data.cache import cache_key, cached_arrays
from cifarlab.data.imageset import ImageSet
from cifarlab.errors import DataError
from cifarlab.progress import progress, reading
from cifarlab.recipe import RECIPE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp"}
SPLITS = ("train", "test")
IMAGE_SIZE = (RECIPE.image_size, RECIPE.image_size)

LAYOUT_HELP = (
    "A local copy must hold train/<class>/<image> and test/<class>/<image> "
    "(32x32 RGB images, the same class folders in both)."
)


def load_image_folder(path: Path, use_cache: bool = True) -> tuple[ImageSet, ImageSet]:
    """Load (train, test) from an ImageFolder-layout folder or `.tar.gz` at `path`."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"'{path}' does not exist. {LAYOUT_HELP}")
    is_tar = path.is_file()
    if is_tar and not (path.name.endswith((".tar.gz", ".tgz", ".tar"))):
        raise DataError(f"'{path}' is a file but not a .tar.gz or .tar archive. {LAYOUT_HELP}")

    def decode() -> dict[str, np.ndarray]:
        return _decode(path, _tar_entries(path) if is_tar else _folder_entries(path))

    if use_cache:
        stat = path.stat()
        fingerprint = (stat.st_size, stat.st_mtime_ns) if is_tar else _folder_fingerprint(path)
        key = cache_key("image-folder", path.resolve(), *fingerprint)
        arrays, _ = cached_arrays(f"imagefolder-{key}", decode)
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


def _folder_fingerprint(path: Path) -> tuple[int, int]:
    """(file count, newest mtime) of a folder tree: changes when images are added or edited."""
    count, newest = 0, 0
    for root, _, files in os.walk(path):
        for name in files:
            count += 1
            newest = max(newest, os.stat(os.path.join(root, name)).st_mtime_ns)
    return count, newest


def _folder_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for file in progress(files, desc=f"Decoding {path.name}", unit="img", mininterval=1.0):
        yield file.relative_to(path).as_posix(), file.read_bytes()


def _tar_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    """Stream the archive once; the progress bar follows the compressed bytes read."""
    size = path.stat().st_size
    try:
        with (
            open(path, "rb") as raw,
            reading(
                raw,
                f"Decoding {path.name}",
                size,
                unit="B",
                unit_scale=True,
                mininterval=1.0,
            ) as counted,
            tarfile.open(fileobj=counted, mode="r|*") as archive,
        ):
            for member in archive:
                if member.isfile() and PurePosixPath(member.name).suffix.lower() in IMAGE_SUFFIXES:
                    data = archive.extractfile(member)
                    yield member.name, data.read() if data else b""
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as error:
        raise DataError(
            f"'{path}' is corrupt or truncated ({type(error).__name__}: {error}). "
            "Copy or download it again; `sha256sum` should match the checksum its source gives."
        ) from error


def _decode(path: Path, entries: Iterator[tuple[str, bytes]]) -> dict[str, np.ndarray]:
    found: dict[str, dict[str, list[tuple[str, np.ndarray]]]] = {s: {} for s in SPLITS}
    for name, data in entries:
        parts = PurePosixPath(name).parts
        if any(part.startswith(".") for part in parts):
            continue  # hidden files such as macOS' ._ resource forks
        split_at = next((i for i, part in enumerate(parts) if part in SPLITS), None)
        if split_at is None or len(parts) - split_at != 3:
            raise DataError(f"'{path}': '{name}' is not at <split>/<class>/<image>. {LAYOUT_HELP}")
        split, label = parts[split_at], parts[split_at + 1]
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
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.size != IMAGE_SIZE:
                raise DataError(
                    f"{where} is {image.size[0]}x{image.size[1]}; CIFAR-10 images are 32x32. "
                    "Resize it to 32x32 or remove it from the copy."
                )
            if image.mode != "RGB":
                raise DataError(
                    f"{where} has mode {image.mode}; every image must be RGB. "
                    "Convert it, e.g. Image.open(f).convert('RGB').save(f)."
                )
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{where} cannot be read as an image ({error}). Replace or remove it.") from error
