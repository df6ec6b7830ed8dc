"""The on-device batch augmentation does what the Albumentations pipeline does."""

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from cifarlab.augment import train_transforms
from cifarlab.batch_augment import batch_augment, batch_generator, random_crop, random_cutout, random_flip


@pytest.fixture()
def batch():
    return torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_crop_is_a_shift_of_the_reflect_padded_image_as_in_albumentations(batch):
    out = random_crop(batch, 4, torch.Generator().manual_seed(1))
    image = batch[0].permute(1, 2, 0).numpy()
    padded = A.PadIfNeeded(40, 40, border_mode=cv2.BORDER_REFLECT_101)(image=image)[
        "image"
    ]  # what augment.py pads with
    windows = {
        (dy, dx): torch.from_numpy(padded[dy : dy + 32, dx : dx + 32]).permute(2, 0, 1)
        for dy in range(9)
        for dx in range(9)
    }
    assert any(torch.equal(out[0], w) for w in windows.values())
    offsets = set()
    for i in range(len(batch)):
        padded_i = torch.nn.functional.pad(batch[i : i + 1], (4, 4, 4, 4), mode="reflect")[0]
        found = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if torch.equal(out[i], padded_i[:, dy : dy + 32, dx : dx + 32])
        ]
        assert found, f"image {i} is not a 32x32 window of the padded image"
        offsets.add(found[0])
    assert len(offsets) > 20  # offsets vary across the batch


def test_flip_mirrors_about_half_and_matches_albumentations(batch):
    out = random_flip(batch, 0.5, torch.Generator().manual_seed(2))
    flipped = [i for i in range(len(batch)) if torch.equal(out[i], batch[i].flip(2))]
    kept = [i for i in range(len(batch)) if torch.equal(out[i], batch[i])]
    assert len(flipped) + len(kept) == len(batch) and 16 < len(flipped) < 48
    image = batch[flipped[0]].permute(1, 2, 0).numpy()
    assert np.array_equal(A.HorizontalFlip(p=1)(image=image)["image"], out[flipped[0]].permute(1, 2, 0).numpy())


def test_cutout_blanks_one_square_inside_the_image_with_the_mean(batch):
    out = random_cutout(batch, 8, 1.0, torch.Generator().manual_seed(3))
    for i in range(len(batch)):
        changed = (out[i] != batch[i]).any(0)
        assert (out[i][:, changed] == 0).all()  # 0 in normalised units is the mean colour
        rows, cols = changed.nonzero(as_tuple=True)
        assert rows.max() - rows.min() <= 7 and cols.max() - cols.min() <= 7
        assert changed.sum() >= 60  # 8x8, less where a pixel already was exactly 0 (never, for randn)
    some = random_cutout(batch, 8, 0.5, torch.Generator().manual_seed(4))
    assert 16 < sum(bool((some[i] != batch[i]).any()) for i in range(len(batch))) < 48


def test_albumentations_cutout_also_fills_with_the_mean():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.2, 0.2)
    flat = np.tile(np.round(np.array(mean) * 255).astype(np.uint8), (32, 32, 1))
    pipeline = train_transforms(mean, std, pad=0, flip_p=0, cutout_p=1.0)
    assert pipeline(image=flat)["image"].abs().max() < 0.02  # holes of the mean normalise to 0, as on the device


def test_batch_augment_is_seeded_per_batch_and_keeps_shape(batch):
    a = batch_augment(batch, batch_generator(0, 3, 7))
    b = batch_augment(batch, batch_generator(0, 3, 7))
    c = batch_augment(batch, batch_generator(0, 4, 7))
    assert a.shape == batch.shape and torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        batch_augment(batch[0], batch_generator(0, 0, 0))
