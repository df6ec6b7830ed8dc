"""Lesson 07's checks against the mistakes students make preparing an image and reading the top k.

Each wrong function below is written the way a student would write it; the check must answer
❌ with a message that names that mistake, and hand back a stand-in that says so.
"""

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cifarlab import selfcheck as check
from cifarlab.augment import normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.inference import predict
from cifarlab.model import ResNet9
from cifarlab.selfcheck import inference as inference_checks

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# ----------------------------------------------------------------------------------------
# prepare_image


def right_prepare(image):
    image = image.convert("RGB")
    side = min(image.size)
    square = ImageOps.fit(image, (side, side))
    return np.asarray(square.resize((32, 32), Image.Resampling.LANCZOS))


def prepare_with_fit(image):  # right too: ImageOps.fit crops the centre and shrinks with BICUBIC in one call
    return np.array(ImageOps.fit(image.convert("RGB"), (32, 32)))


def prepare_by_hand_crop(image):  # right too: the centre square cut out with crop()
    image = image.convert("RGB")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return np.array(image.crop((left, top, left + side, top + side)).resize((32, 32), Image.Resampling.BICUBIC))


def prepare_without_rgb(image):
    side = min(image.size)
    return np.asarray(ImageOps.fit(image, (side, side)).resize((32, 32), Image.Resampling.LANCZOS))


def prepare_squashed(image):
    return np.asarray(image.convert("RGB").resize((32, 32), Image.Resampling.LANCZOS))


def prepare_top_left(image):
    image = image.convert("RGB")
    side = min(image.size)
    return np.asarray(image.crop((0, 0, side, side)).resize((32, 32), Image.Resampling.LANCZOS))


def prepare_only_horizontal_centre(image):
    image = image.convert("RGB")
    side = min(image.size)
    left = (image.width - side) // 2
    return np.asarray(image.crop((left, 0, left + side, side)).resize((32, 32), Image.Resampling.LANCZOS))


def prepare_nearest(image):
    image = image.convert("RGB")
    side = min(image.size)
    return np.asarray(ImageOps.fit(image, (side, side)).resize((32, 32), Image.Resampling.NEAREST))


def prepare_every_nth_pixel(image):
    image = image.convert("RGB")
    side = min(image.size)
    square = np.asarray(ImageOps.fit(image, (side, side)))
    step = side // 32
    return np.ascontiguousarray(square[::step, ::step][:32, :32])


def prepare_divided_by_255(image):
    return right_prepare(image) / 255


def prepare_float(image):
    return right_prepare(image).astype(np.float32)


def prepare_channels_first(image):
    return right_prepare(image).transpose(2, 0, 1)


def prepare_thumbnail(image):
    image = image.convert("RGB")
    image.thumbnail((32, 32))
    return np.asarray(image)


def prepare_tensor(image):
    return torch.from_numpy(right_prepare(image).copy())


PREPARE_MISTAKES = {
    "grayscale not converted": (prepare_without_rgb, "a single channel"),
    "squashed": (prepare_squashed, "squashed, not cropped"),
    "top-left square": (prepare_top_left, "the first square (the left one of a wide photo"),
    "tall photo cropped at the top": (
        prepare_only_horizontal_centre,
        "for a tall photo (green, blue, red squares one above the other), it kept the first square",
    ),
    "no antialiasing (NEAREST)": (prepare_nearest, "without antialiasing"),
    "every n-th pixel": (prepare_every_nth_pixel, "without antialiasing"),
    "divided by 255": (prepare_divided_by_255, "divided by 255"),
    "float output": (prepare_float, "float32 values"),
    "channels first": (prepare_channels_first, "channels first"),
    "aspect ratio kept (thumbnail)": (prepare_thumbnail, "the aspect ratio was kept"),
    "a tensor": (prepare_tensor, "returns a tensor"),
}


@pytest.mark.parametrize("right", [right_prepare, prepare_with_fit, prepare_by_hand_crop], ids=lambda f: f.__name__)
def test_a_right_preparation_is_kept(capsys, right):
    assert check.prepare_image(right) is right
    assert "✅ prepare_image: right" in capsys.readouterr().out
    assert check.outcomes()["prepare_image"].passed


def test_the_reference_preparation_passes_its_own_check(capsys):
    assert check.prepare_image(check.reference_prepare) is check.reference_prepare
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", PREPARE_MISTAKES, ids=list(PREPARE_MISTAKES))
def test_prepare_mistakes_are_named(capsys, mistake):
    wrong, phrase = PREPARE_MISTAKES[mistake]
    used = check.prepare_image(wrong)
    out = capsys.readouterr().out
    assert "❌ prepare_image:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["prepare_image"].passed


def test_the_mistakes_images_are_told_apart():
    """On the image that exposes each mistake, its result is far from the right one: else the
    check could pass it or name another."""
    cases = inference_checks._prepare_cases()
    for name in ("a wide photo (red, blue, green squares side by side)", "a large photo of fine noise"):
        variants = inference_checks._prepare_variants(cases[name])
        right = variants.pop("").astype(int)
        farthest = {why[:30]: np.abs(v.astype(int) - right).mean() for why, v in variants.items()}
        assert max(farthest.values()) > 5 * inference_checks.CLOSE, (name, farthest)
    noisy = inference_checks._prepare_variants(cases["a large photo of fine noise"])
    nearest = next(v for why, v in noisy.items() if "antialiasing" in why)
    assert np.abs(nearest.astype(int) - noisy[""].astype(int)).mean() > 5 * inference_checks.CLOSE


def test_the_prepare_stand_in_says_so_every_time_it_runs(capsys):
    used = check.prepare_image(prepare_squashed)
    capsys.readouterr()
    array = used(Image.new("RGB", (64, 48), (10, 20, 30)))
    assert "⚠ [cifarlab's reference prepare_squashed stands in here" in capsys.readouterr().out
    assert array.shape == (32, 32, 3) and array.dtype == np.uint8


# ----------------------------------------------------------------------------------------
# top_k


def right_top_k(logits, classes, k):
    probabilities = logits.softmax(1)[0]
    top = torch.argsort(probabilities, descending=True)[:k]
    return [(classes[i], probabilities[i].item()) for i in top]


def top_k_with_topk(logits, classes, k):  # right too: torch.topk, numbers made plain with float()
    values, indices = logits.softmax(dim=1)[0].topk(k)
    return [(classes[int(i)], float(v)) for v, i in zip(values, indices)]


def top_k_numpy(logits, classes, k):  # right too: in numpy, with the classes looked up by index
    probabilities = torch.softmax(logits, 1).cpu().numpy()[0].astype(float)
    return [(classes[i], float(probabilities[i])) for i in np.argsort(-probabilities)[:k]]


def top_k_logits(logits, classes, k):
    scores = logits[0]
    top = torch.argsort(scores, descending=True)[:k]
    return [(classes[i], scores[i].item()) for i in top]


def top_k_softmax_over_batch(logits, classes, k):
    probabilities = logits.softmax(0)[0]
    top = torch.argsort(logits[0], descending=True)[:k]
    return [(classes[i], probabilities[i].item()) for i in top]


def top_k_ascending(logits, classes, k):
    probabilities = logits.softmax(1)[0]
    top = torch.argsort(probabilities)[-k:]
    return [(classes[i], probabilities[i].item()) for i in top]


def top_k_least_probable(logits, classes, k):
    probabilities = logits.softmax(1)[0]
    top = torch.argsort(probabilities)[:k]
    return [(classes[i], probabilities[i].item()) for i in top]


def top_k_one_too_few(logits, classes, k):
    probabilities = logits.softmax(1)[0]
    top = torch.argsort(probabilities, descending=True)[: k - 1]
    return [(classes[i], probabilities[i].item()) for i in top]


def top_k_one_too_many(logits, classes, k):
    probabilities = logits.softmax(1)[0]
    top = torch.argsort(probabilities, descending=True)[: k + 1]
    return [(classes[i], probabilities[i].item()) for i in top]


def top_k_names_off_by_one(logits, classes, k):
    probabilities = logits.softmax(1)[0]
    top = torch.argsort(probabilities, descending=True)[:k]
    return [(classes[(i + 1) % len(classes)], probabilities[i].item()) for i in top]


def top_k_tensors(logits, classes, k):
    values, indices = logits.softmax(1)[0].topk(k)
    return [(classes[i], v) for v, i in zip(values, indices)]


def top_k_over_the_batch(logits, classes, k):
    values, indices = logits.softmax(1).topk(k)
    return [(classes[i[0]], float(v[0])) for v, i in zip(values, indices)]


def top_k_indices(logits, classes, k):
    values, indices = logits.softmax(1)[0].topk(k)
    return [(int(i), float(v)) for v, i in zip(values, indices)]


def top_k_log_probabilities(logits, classes, k):
    values, indices = logits.log_softmax(1)[0].topk(k)
    return [(classes[i], float(v)) for v, i in zip(values, indices)]


TOP_K_MISTAKES = {
    "no softmax (logits)": (top_k_logits, "logits (raw scores)"),
    "softmax over dim 0": (top_k_softmax_over_batch, "softmax ran over the batch axis"),
    "ascending": (top_k_ascending, "increasing order"),
    "the k least probable": (top_k_least_probable, "the k least probable"),
    "k - 1 entries": (top_k_one_too_few, "2 entries for k=3; one per class asked for, k of them. One too few"),
    "k + 1 entries": (top_k_one_too_many, "4 entries for k=3; one per class asked for, k of them. One too few"),
    "names off by one": (top_k_names_off_by_one, "each name is its neighbour's"),
    "tensors, not floats": (top_k_tensors, "the probabilities are tensors"),
    "the batch iterated": (top_k_over_the_batch, "1 entry for k=3"),
    "indices, not names": (top_k_indices, "not a class name"),
    "log-probabilities": (top_k_log_probabilities, "log-probabilities"),
}


@pytest.mark.parametrize("right", [right_top_k, top_k_with_topk, top_k_numpy], ids=lambda f: f.__name__)
def test_a_right_top_k_is_kept(capsys, right):
    assert check.top_k(right) is right
    assert "✅ top_k: right" in capsys.readouterr().out
    assert check.outcomes()["top_k"].passed


def test_the_reference_top_k_passes_its_own_check_and_agrees_with_predict(capsys):
    assert check.top_k(check.reference_top_k) is check.reference_top_k
    assert "✅" in capsys.readouterr().out
    torch.manual_seed(0)
    loaded = LoadedModel(ResNet9(widths=(8, 16, 32, 64), logit_scale=1.0).eval(), (0.5,) * 3, (0.25,) * 3, CLASSES, {})
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        logits = loaded.model(normalize_batch(image[None], loaded.mean, loaded.std))
    mine = check.reference_top_k(logits, loaded.classes, 5)
    theirs = predict(image, loaded, k=5)
    assert [name for name, _ in mine] == [score.name for score in theirs]
    np.testing.assert_allclose([p for _, p in mine], [score.probability for score in theirs], atol=1e-6)


@pytest.mark.parametrize("mistake", TOP_K_MISTAKES, ids=list(TOP_K_MISTAKES))
def test_top_k_mistakes_are_named(capsys, mistake):
    wrong, phrase = TOP_K_MISTAKES[mistake]
    used = check.top_k(wrong)
    out = capsys.readouterr().out
    assert "❌ top_k:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["top_k"].passed


def test_the_top_k_stand_in_says_so_every_time_it_runs(capsys):
    used = check.top_k(top_k_ascending)
    capsys.readouterr()
    pairs = used(torch.tensor([[0.0, 2.0, 1.0]]), ("a", "b", "c"), 2)
    assert "⚠ [cifarlab's reference top_k_ascending stands in here" in capsys.readouterr().out
    assert [name for name, _ in pairs] == ["b", "c"] and isinstance(pairs[0][1], float)
