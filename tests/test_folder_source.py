"""The local-copy source: ImageFolder folders and tarballs, the decode cache, and bad input."""

import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cifarlab.data.folder as folder_module
from cifarlab.data import DataError, load_cifar10, make_synthetic, resolve_source
from cifarlab.data.cache import cache_dir
from cifarlab.data.folder import load_image_folder

from .conftest import images_equal_as_sets


def make_tarball(root: Path, target: Path, top: str | None = "cifar") -> Path:
    with tarfile.open(target, "w:gz") as archive:
        for split in ("train", "test"):
            archive.add(root / split, arcname=f"{top}/{split}" if top else split)
    return target


def cache_entries() -> list[Path]:
    """What the cache holds, less its lock files (hidden, like the temporary files of a write)."""
    return sorted(p for p in cache_dir().glob("*") if not p.name.startswith(".")) if cache_dir().exists() else []


def test_folder_loads_every_image_with_its_class(image_folder):
    root, train, test = image_folder
    got_train, got_test = load_image_folder(root)
    assert got_train.classes == tuple(sorted(train.classes))
    assert len(got_train) == 40 and len(got_test) == 20
    assert images_equal_as_sets(got_train.images, train.images)
    for image, label in zip(got_test.images, got_test.labels):  # each image under its own class
        source_index = next(i for i, x in enumerate(test.images) if np.array_equal(x, image))
        assert got_test.classes[label] == test.classes[test.labels[source_index]]


def test_tarball_with_a_top_folder_gives_the_same_arrays(image_folder, tmp_path):
    root, _, _ = image_folder
    from_folder = load_image_folder(root, use_cache=False)
    from_tar = load_image_folder(make_tarball(root, tmp_path / "copy.tar.gz"), use_cache=False)
    for a, b in zip(from_folder, from_tar):
        assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)


def test_second_load_comes_from_the_cache(image_folder, tmp_path, monkeypatch):
    tarball = make_tarball(image_folder[0], tmp_path / "copy.tar.gz")
    first = load_image_folder(tarball)
    assert len(cache_entries()) == 1
    monkeypatch.setattr(folder_module, "_decode", lambda *a: pytest.fail("decoded again"))
    second = load_image_folder(tarball)
    assert np.array_equal(first[0].images, second[0].images)


def test_a_changed_copy_is_decoded_again(image_folder, tmp_path):
    root = image_folder[0]
    before, _ = load_image_folder(root)
    extra = make_synthetic(1, seed=9).images[0]
    Image.fromarray(extra).save(root / "train" / "disc" / "zzzz.png")
    after, _ = load_image_folder(root)
    assert len(after) == len(before) + 1


def test_an_unreadable_cache_entry_is_rebuilt(image_folder):
    root = image_folder[0]
    load_image_folder(root)
    (entry,) = cache_entries()
    entry.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="damaged"):
        train, _ = load_image_folder(root)
    assert len(train) == 40 and entry.stat().st_size > 1000


def test_environment_variable_selects_the_copy(image_folder, monkeypatch):
    monkeypatch.setenv("CIFARLAB_DATA", str(image_folder[0]))
    source = resolve_source()
    assert source.kind == "folder" and "ImageFolder folder" in source.describe()
    train, test = load_cifar10()
    assert len(train) == 40 and len(test) == 20


# --- bad input: each error names the path and the fix, and nothing lands in the cache ---


def test_missing_path_in_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CIFARLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"CIFARLAB_DATA=.*nowhere.*does not exist.*synthetic"):
        load_cifar10()


def test_truncated_tarball(image_folder, tmp_path):
    tarball = make_tarball(image_folder[0], tmp_path / "copy.tar.gz")
    data = tarball.read_bytes()
    tarball.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"copy\.tar\.gz' is corrupt or truncated.*again"):
        load_image_folder(tarball)
    assert cache_entries() == [] or not any(p.suffix == ".npz" for p in cache_entries())
    assert not any(p.name.endswith(".tmp") for p in cache_dir().glob(".*"))


def test_file_that_is_no_archive(tmp_path):
    bogus = tmp_path / "cifar.tar.gz"
    bogus.write_bytes(os.urandom(2000))
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_image_folder(bogus)
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    with pytest.raises(DataError, match="not a .tar.gz"):
        load_image_folder(plain)


def test_wrong_layout_without_splits(tmp_path):
    flat = tmp_path / "flat" / "cat"
    flat.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(flat / "a.png")
    with pytest.raises(DataError, match=r"not at <split>/<class>/<image>"):
        load_image_folder(tmp_path / "flat")


def test_missing_test_split(image_folder):
    root = image_folder[0]
    for file in (root / "test").rglob("*.png"):
        file.unlink()
    with pytest.raises(DataError, match=r"no images under test/"):
        load_image_folder(root)


def test_splits_with_different_classes(image_folder):
    root = image_folder[0]
    (root / "test" / "disc").rename(root / "test" / "circle")
    with pytest.raises(DataError, match="same class folders"):
        load_image_folder(root)


def test_image_of_the_wrong_size_is_named(image_folder):
    root = image_folder[0]
    bad = root / "train" / "ring" / "big.png"
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(bad)
    with pytest.raises(DataError, match=r"big\.png.*48x64.*32x32"):
        load_image_folder(root)
    assert not any(p.suffix == ".npz" for p in cache_entries())


def test_image_of_the_wrong_mode_is_named(image_folder, tmp_path):
    root = image_folder[0]
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "test" / "star" / "grey.png")
    with pytest.raises(DataError, match=r"grey\.png.*mode L.*RGB"):
        load_image_folder(make_tarball(root, tmp_path / "copy.tar.gz"))


def test_corrupt_image_is_named(image_folder):
    root = image_folder[0]
    (root / "train" / "plus" / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(DataError, match=r"broken\.jpg.*cannot be read as an image"):
        load_image_folder(root)
