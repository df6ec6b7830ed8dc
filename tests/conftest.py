"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # noqa: F401  (imported for test_packaging and test_lessons_build)

from cifarlab.data import ImageSet, make_synthetic

REPO = Path(__file__).resolve().parents[1]
SHARED_TARBALL = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
SESSION_CACHE = os.environ.get("CIFARLAB_CACHE")  # before any test replaces it


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test gets an empty cache unless it asks for the session's (see `jpeg_tarball`)."""
    monkeypatch.setenv("CIFARLAB_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def jpeg_tarball() -> Path:
    """The real CIFAR-10 re-encoded as JPEG (../shared/data), or skip with the reason."""
    configured = os.environ.get("CIFARLAB_DATA", "")
    for candidate in (Path(configured), SHARED_TARBALL):
        if candidate.name == "cifar10-jpeg.tar.gz" and candidate.is_file():
            return candidate
    pytest.skip(
        f"the JPEG CIFAR-10 tarball is not here ({SHARED_TARBALL}); CI provides it. "
        "Point CIFARLAB_DATA at a copy to run these tests."
    )


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """The cache for loads of the real data: the run's own (CI's), so the notebooks reuse it."""
    return Path(SESSION_CACHE) if SESSION_CACHE else tmp_path_factory.mktemp("shared-cache")


@pytest.fixture(scope="session")
def tiny() -> ImageSet:
    """A small synthetic set: 3 classes' worth of shapes, fast to make."""
    return make_synthetic(60, seed=3)


def write_image_folder(root: Path, train: ImageSet, test: ImageSet, fmt: str = "png") -> Path:
    """Write ImageSets as an ImageFolder tree under root: <split>/<class>/<index>.<fmt>."""
    for split, images in (("train", train), ("test", test)):
        for i, (image, label) in enumerate(zip(images.images, images.labels)):
            folder = root / split / images.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:04d}.{fmt}")
    return root


@pytest.fixture()
def image_folder(tmp_path) -> tuple[Path, ImageSet, ImageSet]:
    """A small lossless (PNG) ImageFolder copy of synthetic data, with the sets it holds."""
    train, test = make_synthetic(40, seed=1), make_synthetic(20, seed=1, split="test")
    return write_image_folder(tmp_path / "copy", train, test), train, test


def images_equal_as_sets(a: np.ndarray, b: np.ndarray) -> bool:
    """Same images regardless of order (loaders sort by class and file name)."""

    def key(arr):
        return sorted(x.tobytes() for x in arr)

    return key(a) == key(b)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    """A finished `cifarlab train` run on synthetic shapes (tests/figures.py: a narrow
    ResNet-9, 6 epochs, pinned fp32 settings; about 20 s on two cores, ~97% test accuracy),
    for GradCAM, export and evaluation tests."""
    from .figures import train_synthetic

    return train_synthetic(tmp_path_factory.mktemp("runs") / "synthetic").out


@pytest.fixture(scope="session")
def synthetic_model(synthetic_run):
    """The trained synthetic model, loaded (cifarlab.checkpoint.LoadedModel)."""
    from cifarlab.checkpoint import load_model

    return load_model(synthetic_run / "checkpoints" / "best.ckpt")


@pytest.fixture(scope="session")
def synthetic_test() -> ImageSet:
    """Synthetic test images with object masks, from a stream the model never trained on."""
    from .figures import synthetic_test_set

    return synthetic_test_set()
