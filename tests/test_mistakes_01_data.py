"""Lesson 01's checks against the mistakes students make in the mean/std and in the pipeline.

Each wrong function below is written the way a student would write it; the check must answer
❌ with a message that names that mistake, and hand back the reference (a stand-in that says so).
"""

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from albumentations.pytorch import ToTensorV2

from cifarlab import selfcheck as check
from cifarlab.recipe import RECIPE

# ---------------------------------------------------------------------------------------------
# Exercise 1: compute_mean_std


def right_mean_std(images):
    pixels = images / 255.0
    return pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))


def torch_mean_std(images):  # another right answer: torch, float32, an unbiased std
    x = torch.from_numpy(images).float() / 255
    return x.mean(dim=(0, 1, 2)), x.std(dim=(0, 1, 2))


def on_255_scale(images):
    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))


def divided_by_256(images):
    pixels = images / 256
    return pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))


def over_images_only(images):
    pixels = images / 255.0
    return pixels.mean(axis=0), pixels.std(axis=0)


def per_image(images):
    pixels = images / 255.0
    return pixels.mean(axis=(1, 2)), pixels.std(axis=(1, 2))


def over_channels(images):
    pixels = images / 255.0
    return pixels.mean(axis=-1), pixels.std(axis=3)


def no_axis(images):
    pixels = images / 255.0
    return pixels.mean(), pixels.std()


def keepdims(images):
    pixels = images / 255.0
    return pixels.mean(axis=(0, 1, 2), keepdims=True), pixels.std(axis=(0, 1, 2), keepdims=True)


def mean_of_image_stds(images):
    pixels = images / 255.0
    return pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(1, 2)).mean(axis=0)


def std_of_image_means(images):
    pixels = images / 255.0
    per_image = pixels.mean(axis=(1, 2))
    return per_image.mean(axis=0), per_image.std(axis=0)


def swapped(images):
    pixels = images / 255.0
    return pixels.std(axis=(0, 1, 2)), pixels.mean(axis=(0, 1, 2))


def variance(images):
    pixels = images / 255.0
    return pixels.mean(axis=(0, 1, 2)), pixels.var(axis=(0, 1, 2))


def hard_coded_count(images):  # the full training set's size, written down
    pixels = images / 255.0
    total = pixels.sum(axis=(0, 1, 2))
    mean = total / (45000 * 32 * 32)
    return mean, np.sqrt(((pixels - mean) ** 2).sum(axis=(0, 1, 2)) / (45000 * 32 * 32))


def mean_only(images):
    return (images / 255.0).mean(axis=(0, 1, 2))


def no_return(images):
    pixels = images / 255.0
    pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))


MEAN_STD_MISTAKES = {
    "0..255 scale": (on_255_scale, "0..255 scale"),
    "divided by 256": (divided_by_256, "not 256"),
    "axis=0, per pixel": (over_images_only, "averaged over the images only"),
    "axis=(1, 2), per image": (per_image, "one value per image and channel"),
    "axis=-1, over channels": (over_channels, "reduced over the channel axis"),
    "no axis": (no_axis, "single number for all three colour channels"),
    "keepdims": (keepdims, "drop keepdims"),
    "mean of per-image stds": (mean_of_image_stds, "average of each image's own std"),
    "std of per-image means": (std_of_image_means, "std of the images' mean colours"),
    "(std, mean) swapped": (swapped, "the pair is swapped"),
    "variance": (variance, "that std is the variance"),
    "hard-coded count": (hard_coded_count, "divided by the wrong count"),
    "mean only": (mean_only, "the pair (mean, std)"),
    "no return": (no_return, "returns nothing"),
}


@pytest.mark.parametrize("right", [right_mean_std, torch_mean_std], ids=["numpy", "torch"])
def test_a_right_mean_std_is_kept(capsys, right):
    assert check.mean_std(right) is right
    assert "✅ mean_std: right" in capsys.readouterr().out
    assert check.outcomes()["mean_std"].passed


@pytest.mark.parametrize("mistake", MEAN_STD_MISTAKES, ids=list(MEAN_STD_MISTAKES))
def test_mean_std_mistakes_are_named(capsys, mistake):
    wrong, phrase = MEAN_STD_MISTAKES[mistake]
    used = check.mean_std(wrong)
    out = capsys.readouterr().out
    assert "❌ mean_std:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["mean_std"].passed


def test_each_mean_std_mistake_gets_its_own_message(capsys):
    messages = set()
    for wrong, _ in MEAN_STD_MISTAKES.values():
        check.mean_std(wrong)
        messages.add(check.outcomes()["mean_std"].message)
    assert len(messages) == len(MEAN_STD_MISTAKES)


def test_the_mean_std_stand_in_says_so_and_gives_the_reference(capsys):
    used = check.mean_std(per_image)
    capsys.readouterr()
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    mean, std = used(images)
    assert (
        "⚠ [cifarlab's reference per_image stands in here: exercise mean_std is still open]" in capsys.readouterr().out
    )
    want_mean, want_std = right_mean_std(images)
    assert np.allclose(mean, want_mean, atol=1e-5) and np.allclose(std, want_std, atol=1e-5)


def test_an_unwritten_mean_std_says_not_written_yet(capsys):
    def compute_mean_std(images):
        raise NotImplementedError("exercise mean_std: not written yet")

    assert check.mean_std(compute_mean_std) is not compute_mean_std
    assert "❌ mean_std: not written yet" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Exercise 2: build_train_transforms, as a student writes it in the lesson

PADDED = 32 + 2 * RECIPE.pad
HOLE = RECIPE.hole_size


def cutout(mean, **changes):
    settings = dict(
        num_holes_range=(RECIPE.holes, RECIPE.holes),
        hole_height_range=(HOLE, HOLE),
        hole_width_range=(HOLE, HOLE),
        fill=tuple(float(m) * 255 for m in mean),
        p=RECIPE.cutout_p,
    )
    return A.CoarseDropout(**{**settings, **changes})


def pipeline(mean, std, pad=None, crop=None, flip=None, drop=None, normalize=None, order=None):
    """The right pipeline, with one step replaced (None: the right one; False: left out)."""
    steps = {
        "pad": A.PadIfNeeded(PADDED, PADDED, border_mode=cv2.BORDER_REFLECT_101) if pad is None else pad,
        "crop": A.RandomCrop(32, 32) if crop is None else crop,
        "flip": A.HorizontalFlip(p=RECIPE.flip_p) if flip is None else flip,
        "drop": cutout(mean) if drop is None else drop,
        "normalize": A.Normalize(mean=mean, std=std) if normalize is None else normalize,
        "tensor": ToTensorV2(),
    }
    order = order or list(steps)
    return A.Compose([steps[name] for name in order if steps[name] is not False])


def right_pipeline(mean, std):
    return pipeline(mean, std)


def replicate_border(mean, std):  # another right answer: the edge pixel repeated instead of mirrored
    return pipeline(mean, std, pad=A.PadIfNeeded(PADDED, PADDED, border_mode=cv2.BORDER_REPLICATE))


def normalize_first(mean, std):
    return pipeline(mean, std, order=["normalize", "pad", "crop", "flip", "drop", "tensor"])


def tensor_first(mean, std):
    return pipeline(mean, std, order=["tensor", "pad", "crop", "flip", "drop", "normalize"])


def no_to_tensor(mean, std):
    return pipeline(mean, std, order=["pad", "crop", "flip", "drop", "normalize"])


def no_normalize(mean, std):
    return pipeline(mean, std, order=["pad", "crop", "flip", "drop", "tensor"])


def no_padding(mean, std):
    return pipeline(mean, std, pad=False)


def no_crop(mean, std):
    return pipeline(mean, std, crop=False)


def centre_crop(mean, std):
    return pipeline(mean, std, crop=A.CenterCrop(32, 32))


def black_border(mean, std):  # PadIfNeeded's default border: constant 0
    return pipeline(mean, std, pad=A.PadIfNeeded(PADDED, PADDED))


def grey_border(mean, std):
    return pipeline(mean, std, pad=A.PadIfNeeded(PADDED, PADDED, border_mode=cv2.BORDER_CONSTANT, fill=128))


def too_much_padding(mean, std):
    return pipeline(mean, std, pad=A.PadIfNeeded(48, 48, border_mode=cv2.BORDER_REFLECT_101))


def padding_sideways_only(mean, std):
    return pipeline(mean, std, pad=A.PadIfNeeded(32, PADDED, border_mode=cv2.BORDER_REFLECT_101))


def vertical_flip(mean, std):
    return pipeline(mean, std, flip=A.VerticalFlip(p=0.5))


def flip_never(mean, std):
    return pipeline(mean, std, flip=A.HorizontalFlip(p=0))


def flip_always(mean, std):
    return pipeline(mean, std, flip=A.HorizontalFlip(p=1.0))


def rotate(mean, std):
    return pipeline(mean, std, flip=A.RandomRotate90(p=1.0))


def black_holes(mean, std):  # CoarseDropout's default fill
    return pipeline(mean, std, drop=cutout(mean, fill=0))


def holes_on_0_1_scale(mean, std):
    return pipeline(mean, std, drop=cutout(mean, fill=tuple(float(m) for m in mean)))


def grey_holes(mean, std):
    return pipeline(mean, std, drop=cutout(mean, fill=128))


def noisy_holes(mean, std):
    return pipeline(mean, std, drop=cutout(mean, fill="random"))


def default_hole_size(mean, std):  # sizes as fractions of the image: Albumentations' defaults
    return pipeline(mean, std, drop=cutout(mean, hole_height_range=(0.1, 0.2), hole_width_range=(0.1, 0.2)))


def two_holes(mean, std):
    return pipeline(mean, std, drop=cutout(mean, num_holes_range=(2, 2)))


def holes_at_albumentations_default(mean, std):  # CoarseDropout's p left at its default
    return pipeline(mean, std, drop=cutout(mean, p=0.5))


def no_cutout(mean, std):
    return pipeline(mean, std, drop=False)


def swapped_normalize(mean, std):
    return pipeline(mean, std, normalize=A.Normalize(mean=std, std=mean))


def normalize_max_1(mean, std):
    return pipeline(mean, std, normalize=A.Normalize(mean=mean, std=std, max_pixel_value=1.0))


def imagenet_normalize(mean, std):
    return pipeline(mean, std, normalize=A.Normalize())


def normalize_on_255_scale(mean, std):
    return pipeline(mean, std, normalize=A.Normalize(mean=mean * 255, std=std * 255))


def a_list(mean, std):
    return list(pipeline(mean, std).transforms)


PIPELINE_MISTAKES = {
    "Normalize first": (normalize_first, "Normalize comes before ['PadIfNeeded'"),
    "ToTensorV2 first": (tensor_first, "ToTensorV2 comes before"),
    "no ToTensorV2": (no_to_tensor, "end the pipeline with ToTensorV2"),
    "no Normalize": (no_normalize, "does not normalise"),
    "no padding": (no_padding, "the crops never shift"),
    "centre crop": (centre_crop, "the crops never shift"),
    "padding without a crop": (no_crop, "the output is 40x40 pixels, not 32x32"),
    "black border": (black_border, "the padding is black"),
    "constant grey border": (grey_border, "the padding is a flat colour"),
    "pad 8": (too_much_padding, "shift the image by up to 8 px"),
    "pad sideways only": (padding_sideways_only, "only shift the image sideways"),
    "vertical flip": (vertical_flip, "upside down"),
    "flip p=0": (flip_never, "p=0"),
    "flip p=1": (flip_always, "p=1"),
    "rotation": (rotate, "other than a shift and a mirror"),
    "black holes": (black_holes, "holes are black"),
    "holes in 0..1 mean": (holes_on_0_1_scale, "holes are black"),
    "grey holes": (grey_holes, "filled with the colour [128, 128, 128]"),
    "noisy holes": (noisy_holes, "filled with noise"),
    "default hole size": (default_hole_size, "the holes measure"),
    "two holes": (two_holes, "got 2 holes"),
    "cutout p left at 0.5": (holes_at_albumentations_default, "(left out, its p is 0.5)"),
    "no cutout": (no_cutout, "got a cutout hole"),
    "Normalize mean/std swapped": (swapped_normalize, "mean and std are swapped"),
    "Normalize max_pixel_value=1": (normalize_max_1, "max_pixel_value=1.0"),
    "Normalize with ImageNet defaults": (imagenet_normalize, "ImageNet's"),
    "Normalize on 0..255 scale": (normalize_on_255_scale, "on the 0..255 scale"),
    "a list, not Compose": (a_list, "wrap them in A.Compose"),
}


@pytest.mark.parametrize("right", [right_pipeline, replicate_border], ids=["reflect", "replicate"])
def test_a_right_pipeline_is_kept(capsys, right):
    assert check.train_transforms(right) is right
    out = capsys.readouterr().out
    assert "✅ train_transforms: right" in out and f"hole of {RECIPE.hole_size}x{RECIPE.hole_size} px" in out, out


def test_the_course_pipeline_passes(capsys):
    assert check.train_transforms(check.reference_train_transforms) is check.reference_train_transforms
    assert "✅ train_transforms: right" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", PIPELINE_MISTAKES, ids=list(PIPELINE_MISTAKES))
def test_pipeline_mistakes_are_named(capsys, mistake):
    wrong, phrase = PIPELINE_MISTAKES[mistake]
    used = check.train_transforms(wrong)
    out = capsys.readouterr().out
    assert "❌ train_transforms:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["train_transforms"].passed


def test_a_wrong_fill_is_told_apart_from_a_wrong_normalize(capsys):
    check.train_transforms(black_holes)
    fill = check.outcomes()["train_transforms"].message
    check.train_transforms(imagenet_normalize)
    normalize = check.outcomes()["train_transforms"].message
    assert "holes" in fill and "Normalize" not in fill.split(":")[0]
    assert "Normalize" in normalize and "hole" not in normalize


def test_the_pipeline_stand_in_says_so_and_works(capsys):
    used = check.train_transforms(black_border)
    capsys.readouterr()
    mean, std = np.array([0.5, 0.5, 0.5]), np.array([0.25, 0.25, 0.25])
    out = used(mean, std)(image=np.zeros((32, 32, 3), np.uint8))["image"]
    assert "⚠ [cifarlab's reference black_border stands in here" in capsys.readouterr().out
    assert tuple(out.shape) == (3, 32, 32)
