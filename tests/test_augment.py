import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from cifarlab.augment import augmentation_grid, denormalize, eval_transforms, train_transforms
from cifarlab.data import DataError, channel_stats, make_synthetic

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


@pytest.fixture(scope="module")
def images():
    return make_synthetic(5, seed=2).images


@pytest.fixture(scope="module")
def fill(images):
    """Cutout colour as the course computes it: the images' mean times 255."""
    return channel_stats(images)[0] * 255


def test_train_pipeline_is_the_course_recipe():
    steps = [type(t).__name__ for t in train_transforms(MEAN, STD).transforms]
    assert steps == ["PadIfNeeded", "RandomCrop", "HorizontalFlip", "CoarseDropout", "Normalize", "ToTensorV2"]


def test_train_output_is_a_normalised_chw_tensor(images):
    out = train_transforms(MEAN, STD)(image=images[0])["image"]
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (3, 32, 32)


def test_test_pipeline_only_normalises_and_denormalize_inverts_it(images):
    out = torch.stack([eval_transforms(MEAN, STD)(image=x)["image"] for x in images])
    expected = (images / 255.0 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).numpy(), expected, atol=1e-5)
    restored = denormalize(out, MEAN, STD)
    assert restored.dtype == np.uint8 and np.array_equal(restored, images)
    assert np.array_equal(denormalize(out[0], MEAN, STD), images[0])


def test_denormalize_refuses_channels_last():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        denormalize(np.zeros((32, 32, 3)), MEAN, STD)


def test_grid_is_seeded(images, fill):
    a = augmentation_grid(images, fill, versions=4, seed=3)
    assert a.shape == (5, 4, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, augmentation_grid(images, fill, versions=4, seed=3))
    assert not np.array_equal(a, augmentation_grid(images, fill, versions=4, seed=4))


def test_everything_off_is_the_identity(images, fill):
    grid = augmentation_grid(images, fill, versions=3, pad=0, flip_p=0, holes=0)
    assert np.array_equal(grid, np.repeat(images[:, None], 3, axis=1))


def test_flip_mirrors_left_and_right(images, fill):
    grid = augmentation_grid(images, fill, versions=2, pad=0, flip_p=1.0, holes=0)
    assert np.array_equal(grid[:, 0], images[:, :, ::-1])


def test_cutout_fills_one_square_with_the_fill_colour(images):
    fill = (1, 2, 3)  # a colour the synthetic images never hold exactly
    grid = augmentation_grid(images, fill, versions=4, pad=0, flip_p=0, holes=1, hole_size=8, cutout_p=1)
    hole = (grid == fill).all(axis=-1)
    assert (hole.sum(axis=(2, 3)) == 64).all()
    for mask in hole.reshape(-1, 32, 32):  # the 64 pixels form one 8x8 square
        rows, cols = np.nonzero(mask)
        assert np.ptp(rows) == 7 and np.ptp(cols) == 7
    more = augmentation_grid(images, fill, versions=2, pad=0, flip_p=0, holes=2, hole_size=4, cutout_p=1)
    assert ((more == fill).all(axis=-1).sum(axis=(2, 3)) <= 32).all()


def test_pad_and_crop_is_a_shift_of_the_reflected_image(images, fill):
    pad = 4
    grid = augmentation_grid(images[:2], fill, versions=8, pad=pad, flip_p=0, holes=0, seed=1)
    offsets = set()
    for image, versions in zip(images[:2], grid):
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        windows = {
            (dy, dx): padded[dy : dy + 32, dx : dx + 32] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
        }
        for version in versions:
            found = [k for k, w in windows.items() if np.array_equal(w, version)]
            assert found, "an augmented image is not a window of the reflect-padded original"
            offsets.update(found)
    assert len(offsets) > 3  # the crops really move


def test_grid_checks_its_input():
    with pytest.raises(DataError, match="uint8"):
        augmentation_grid(np.zeros((2, 32, 32, 3), np.float32), fill=(0, 0, 0))


def test_pipelines_are_albumentations_objects():
    assert isinstance(train_transforms(MEAN, STD), A.Compose) and isinstance(eval_transforms(MEAN, STD), A.Compose)


def test_normalize_batch_matches_the_eval_pipeline_and_denormalize_undoes_it():
    from cifarlab.augment import denormalize, eval_transforms, normalize_batch
    from cifarlab.data import make_synthetic

    images = make_synthetic(6, seed=2).images
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    batch = normalize_batch(images, mean, std)
    one_by_one = torch.stack([eval_transforms(mean, std)(image=im)["image"] for im in images])
    assert batch.shape == (6, 3, 32, 32) and torch.allclose(batch, one_by_one, atol=1e-5)
    assert np.array_equal(denormalize(batch, mean, std), images)
