"""Fault suite, data: cut and damaged copies are refused, the cache follows the content and
survives faults. Each case is one thing a user's machine really does (issue 14)."""

from __future__ import annotations

import errno
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cifarlab.data.cache as cache_module
from cifarlab.data import DataError
from cifarlab.data.cache import CacheWarning, cache_dir
from cifarlab.data.folder import load_image_folder
from cifarlab.data.integrity import CIFAR10_CLASSES, completeness_problems

pytestmark = pytest.mark.faults


def entries() -> list[Path]:
    return sorted(cache_dir().glob("*.npz")) if cache_dir().is_dir() else []


def temporaries() -> list[Path]:
    return sorted(cache_dir().glob(".*.tmp")) if cache_dir().is_dir() else []


def plain_tar(root: Path, target: Path) -> Path:
    with tarfile.open(target, "w") as archive:
        for split in ("train", "test"):
            archive.add(root / split, arcname=split)
    return target


def member_boundaries(data: bytes) -> list[int]:
    """Offsets in a plain tar where a member's header starts (what a cut copy ends at)."""
    offsets = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        offsets = [member.offset for member in archive.getmembers()]
    return offsets


# --- copies cut short or incomplete: refused, never cached -------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.gz"])
def test_a_tar_cut_at_a_member_boundary_is_refused(image_folder, tmp_path, compress):
    data = plain_tar(image_folder[0], tmp_path / "whole.tar").read_bytes()
    cut = data[: member_boundaries(data)[-5]]  # what an interrupted `tar cf` or copy leaves
    target = tmp_path / ("copy.tar.gz" if compress else "copy.tar")
    target.write_bytes(gzip.compress(cut) if compress else cut)
    with pytest.raises(DataError, match="end-of-archive marker: it was cut short"):
        load_image_folder(target)
    assert entries() == [] and temporaries() == []


def test_the_real_data_cut_at_a_member_boundary_is_refused_before_decoding(jpeg_tarball, tmp_path, monkeypatch):
    data = gzip.decompress(jpeg_tarball.read_bytes())
    cut = tmp_path / "cifar10-jpeg.tar"
    cut.write_bytes(data[: member_boundaries(data)[-117]])  # 116 test images short, as in the issue
    monkeypatch.setattr("cifarlab.data.folder._decode", lambda *a: pytest.fail("decoded a cut copy"))
    with pytest.raises(DataError, match="cut short"):
        load_image_folder(cut)


def cifar_named_folder(root: Path, per_class: dict[str, int]) -> Path:
    """A copy with CIFAR-10's class folders and few images: it claims to be CIFAR-10."""
    for split, count in per_class.items():
        for name in CIFAR10_CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (32, 32), (i, 0, 0)).save(folder / f"{i:04d}.png")
    return root


def test_a_copy_claiming_to_be_cifar10_must_be_complete(tmp_path):
    root = cifar_named_folder(tmp_path / "cifar", {"train": 2, "test": 1})
    with pytest.raises(DataError, match=r"incomplete CIFAR-10: train/ holds 20 images, not 50,000: airplane 2"):
        load_image_folder(root)
    assert entries() == []


def test_what_is_missing_is_named():
    complete = {"train": dict.fromkeys(CIFAR10_CLASSES, 5000), "test": dict.fromkeys(CIFAR10_CLASSES, 1000)}
    assert completeness_problems(complete) == []
    short = {"train": {**complete["train"], "truck": 4884}, "test": dict.fromkeys(CIFAR10_CLASSES[:-1], 1000)}
    problems = completeness_problems(short)
    assert problems == ["train/ holds 49,884 images, not 50,000: truck 4,884 instead of 5,000 each",
                        "test/ has no folder for truck"]  # fmt: skip


def test_a_damaged_copy_of_the_known_archive_is_refused_by_its_hash(jpeg_tarball, tmp_path):
    copy = tmp_path / jpeg_tarball.name
    data = bytearray(jpeg_tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, the kind a bad copy makes
    copy.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"content differs.*sha256sum cifar10-jpeg.tar.gz. must print b8064bfa"):
        load_image_folder(copy)


def test_an_image_over_the_decompression_bomb_limit_is_refused(image_folder):
    root = image_folder[0]
    Image.new("1", (13000, 13000)).save(root / "train" / "disc" / "bomb.png")  # a few KB on disk
    with pytest.raises(DataError, match=r"bomb.png.*(13000x13000|far too large)"):
        load_image_folder(root)


# --- the cache follows the content -----------------------------------------------------------------


def test_a_relabelled_folder_is_decoded_again(image_folder):
    root = image_folder[0]
    before, _ = load_image_folder(root)
    moved = next((root / "train" / "disc").glob("*.png"))
    stat = moved.stat()
    target = root / "train" / "ring" / moved.name.replace(".png", "-moved.png")
    moved.rename(target)  # `mv` keeps the modification time
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after, _ = load_image_folder(root)
    ring, disc = after.classes.index("ring"), after.classes.index("disc")
    assert np.bincount(after.labels)[ring] == np.bincount(before.labels)[ring] + 1
    assert np.bincount(after.labels)[disc] == np.bincount(before.labels)[disc] - 1
    assert len(entries()) == 1  # the new entry replaced the old one


def test_a_touched_tarball_reuses_its_entry(image_folder, tmp_path, monkeypatch):
    tarball = plain_tar(image_folder[0], tmp_path / "copy.tar")
    load_image_folder(tarball)
    os.utime(tarball)
    monkeypatch.setattr("cifarlab.data.folder._decode", lambda *a: pytest.fail("decoded a touched copy again"))
    load_image_folder(tarball)
    assert len(entries()) == 1


def test_an_orphan_from_a_killed_decode_is_removed(image_folder):
    cache_dir().mkdir(parents=True, exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = cache_dir() / f".imagefolder-x.npz.abc.{int(dead.stdout)}.tmp"
    orphan.write_bytes(b"\0" * 1000)
    load_image_folder(image_folder[0])
    assert not orphan.exists() and len(entries()) == 1


@pytest.mark.parametrize("shape", ["a file", "under a file"])
def test_a_cache_that_cannot_be_written_is_skipped_with_one_warning(image_folder, tmp_path, monkeypatch, shape):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CIFARLAB_CACHE", str(blocker if shape == "a file" else blocker / "cache"))
    with pytest.warns(CacheWarning, match="cache cannot be used.*decoding without storing") as caught:
        train, _ = load_image_folder(image_folder[0])
    assert len(train) == 40 and len(caught) == 1


def test_a_disk_that_fills_while_the_entry_is_written(image_folder, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module.np, "savez", full)
    with pytest.warns(CacheWarning, match="the disk is full"):
        train, _ = load_image_folder(image_folder[0])
    assert len(train) == 40 and entries() == [] and temporaries() == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_a_real_full_disk_under_the_cache(image_folder, tmp_path):
    """A 64 KB tmpfs as the cache (a private mount namespace): the entry cannot fit."""
    script = (
        "import warnings; from cifarlab.data.folder import load_image_folder; "
        f"train, _ = load_image_folder({str(image_folder[0])!r}); print('loaded', len(train))"
    )
    mount = tmp_path / "small"
    mount.mkdir()
    command = f"mount -t tmpfs -o size=64k tmpfs {mount} && CIFARLAB_CACHE={mount} {sys.executable} -c {script!r}"
    done = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, timeout=120)
    if "mount" in done.stderr and done.returncode == 32:
        pytest.skip(f"this container cannot mount a tmpfs: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "loaded 40" in done.stdout
    assert done.stderr.count("CacheWarning") == 1 and "not enough free space" in done.stderr


def test_two_first_loads_at_once_decode_once(image_folder):
    script = (
        "from cifarlab.data.folder import load_image_folder; "
        f"print('images:', len(load_image_folder({str(image_folder[0])!r})[0]))"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert [out.strip().splitlines()[-1] for out, _ in outputs] == ["images: 40", "images: 40"]
    assert sum("Decoding" in out + err for out, err in outputs) == 1  # the second read the first's entry
    assert len(entries()) == 1 and temporaries() == []


# --- the doctor opens the data and the cache ------------------------------------------------------------


def test_the_doctor_counts_the_real_copy_and_checks_its_hash(jpeg_tarball, monkeypatch):
    from cifarlab import doctor

    monkeypatch.setenv("CIFARLAB_DATA", str(jpeg_tarball))
    finding = doctor.data_finding()
    assert finding.ok is True
    assert "60,000 images (train 50,000, test 10,000) in 10 classes; sha256 matches the JPEG CIFAR-10" in finding.detail


@pytest.mark.parametrize("damage", ["flipped byte", "cut tar", "incomplete"])
def test_the_doctor_refuses_what_a_load_would_refuse(jpeg_tarball, image_folder, tmp_path, monkeypatch, damage):
    from cifarlab import doctor

    if damage == "flipped byte":
        copy = tmp_path / jpeg_tarball.name
        data = bytearray(jpeg_tarball.read_bytes())
        data[1000] ^= 0xFF
        copy.write_bytes(bytes(data))
        expected = "content differs"
    elif damage == "cut tar":
        whole = plain_tar(image_folder[0], tmp_path / "whole.tar").read_bytes()
        copy = tmp_path / "copy.tar"
        copy.write_bytes(whole[: member_boundaries(whole)[-3]])
        expected = "cut short"
    else:
        copy = cifar_named_folder(tmp_path / "cifar", {"train": 1, "test": 1})
        expected = "train/ holds 10 images, not 50,000"
    monkeypatch.setenv("CIFARLAB_DATA", str(copy))
    finding = doctor.data_finding()
    assert finding.ok is False and expected in finding.advice
    assert "All set" not in doctor.report([finding])


def test_the_doctor_opens_the_cache(image_folder, tmp_path, monkeypatch):
    from cifarlab import doctor

    monkeypatch.setenv("CIFARLAB_DATA", str(image_folder[0]))
    assert "no entry for this copy yet" in doctor.cache_finding().detail
    load_image_folder(image_folder[0])
    assert doctor.cache_finding().detail.endswith("intact, up to date")
    (entry,) = entries()
    entry.write_bytes(entry.read_bytes()[:-5000])
    finding = doctor.cache_finding()
    assert finding.ok is None and "is damaged" in finding.detail and "decodes the data again" in finding.advice
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("CIFARLAB_CACHE", str(blocker))
    finding = doctor.cache_finding()
    assert finding.ok is False and "is a file, not a folder" in finding.detail
    assert "All set" not in doctor.report([finding])


def test_entries_of_the_old_format_are_removed_when_a_new_one_is_stored(image_folder):
    cache_dir().mkdir(parents=True, exist_ok=True)
    old = cache_dir() / "imagefolder-6c2f39dfc8fbb259.npz"  # format 1: keyed by file count and newest time
    old.write_bytes(b"\0" * 100)
    load_image_folder(image_folder[0])
    assert not old.exists() and len(entries()) == 1
