"""predict: any image a person has (PIL or numpy, any size, RGB/RGBA/gray), top-k, clear errors."""

import io

import numpy as np
import pytest
from PIL import Image

from cifarlab.checkpoint import LoadedModel
from cifarlab.errors import ImageError
from cifarlab.evaluation import evaluate
from cifarlab.inference import explain, predict, to_model_image
from cifarlab.model import ResNet9


@pytest.fixture(scope="module")
def untrained() -> LoadedModel:
    return LoadedModel(ResNet9(widths=(8, 16, 32, 64)).eval(), (0.5,) * 3, (0.25,) * 3, tuple("abcdefghij"), {})


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (640, 480), (10, 200, 30)),
        Image.new("RGBA", (50, 70), (10, 200, 30, 255)),
        Image.new("L", (33, 33), 128),
        Image.new("I;16", (64, 64), 40000),
        Image.new("P", (20, 20)),
        Image.new("CMYK", (40, 30)),
        np.zeros((100, 60, 3), np.uint8),
        np.zeros((100, 60, 4), np.uint8),
        np.zeros((31, 45), np.uint8),
        np.zeros((31, 45, 1), np.uint8),
        np.random.default_rng(0).random((40, 40, 3)),  # floats in 0..1
        np.zeros((64, 64, 3), np.uint16),
    ],
    ids=[
        "rgb-photo",
        "rgba",
        "gray",
        "gray16",
        "palette",
        "cmyk",
        "np-rgb",
        "np-rgba",
        "np-gray",
        "np-gray1",
        "np-float",
        "np-uint16",
    ],
)
def test_any_image_becomes_32x32_rgb_and_gets_a_top_k(untrained, image):
    assert to_model_image(image).shape == (32, 32, 3) and to_model_image(image).dtype == np.uint8
    scores = predict(image, untrained, k=4)
    assert len(scores) == 4 and len({s.name for s in scores}) == 4
    assert all(a.probability >= b.probability for a, b in zip(scores, scores[1:]))
    assert 0 < sum(s.probability for s in scores) <= 1 + 1e-6


def test_conversions_keep_what_the_image_shows():
    clear = Image.new("RGBA", (40, 40), (255, 0, 0, 0))  # fully transparent: shown on white
    assert (to_model_image(clear) == 255).all()
    wide = np.zeros((32, 96, 3), np.uint8)
    wide[:, 32:64] = (0, 0, 255)  # the centre square is blue, the sides black
    np.testing.assert_array_equal(to_model_image(wide), np.broadcast_to(np.array([0, 0, 255], np.uint8), (32, 32, 3)))
    gray = to_model_image(Image.new("L", (32, 32), 77))
    assert (gray == 77).all()
    sixteen = to_model_image(np.array([[0, 65535]] * 32, dtype=np.uint16).repeat(16, axis=1))
    assert sixteen.min() < 10 and sixteen.max() > 245
    cifar_sized = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_model_image(cifar_sized), cifar_sized)  # a 32x32 image is used as it is


def test_huge_jpeg_is_decoded_small_and_predicted(untrained):
    huge = jpeg_bytes(Image.new("RGB", (8000, 6000), (200, 10, 10)))
    image = to_model_image(huge)
    assert image.shape == (32, 32, 3) and abs(int(image[..., 0].mean()) - 200) < 8
    assert len(predict(huge, untrained, k=1)) == 1


def test_files_paths_and_bytes(untrained, tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (90, 60), (0, 0, 255)).save(path)
    assert predict(path, untrained, 2) == predict(str(path), untrained, 2) == predict(path.read_bytes(), untrained, 2)
    explained = explain(path, untrained, k=2, show_cam=True, layer="layer2", opacity=0.3)
    assert explained.model_image.shape == explained.shown.shape == (32, 32, 3)
    assert explained.preview.shape == (60, 60, 3) and explained.layer == "layer2"
    assert explain(path, untrained, show_cam=False).layer is None


@pytest.mark.parametrize(
    "bad, message",
    [
        (b"just some text", "not an image file"),
        (jpeg_bytes(Image.new("RGB", (64, 64)))[:300], "could not be decoded"),
        ("/no/such/file.png", "no file at"),
        (np.zeros((3, 64, 64), np.uint8), "channels-first"),
        (np.zeros((8, 8), np.int32), "uint8"),
        (np.full((8, 8, 3), 2.0), "0..1"),
        (np.zeros((8, 8, 2), np.uint8), "H x W x 3"),
        (np.zeros((0, 8, 3), np.uint8), "empty"),
        (42, "cannot read an image from a int"),
    ],
    ids=["text", "truncated", "missing", "chw", "int32", "float-range", "two-channels", "empty", "number"],
)
def test_non_images_get_a_clear_error(untrained, bad, message):
    with pytest.raises(ImageError, match=message):
        predict(bad, untrained)


def test_a_text_file_with_an_image_name(untrained, tmp_path):
    fake = tmp_path / "cat.jpg"
    fake.write_text("not a picture")
    with pytest.raises(ImageError, match="not an image file Pillow can read"):
        predict(fake, untrained)
    with pytest.raises(ValueError, match="k must be between 1 and 10"):
        predict(np.zeros((32, 32, 3), np.uint8), untrained, k=11)


def test_predict_agrees_with_evaluate(synthetic_model, synthetic_test):
    """The one-image path (any input -> 32x32) and the batch path give the same answers."""
    result = evaluate(synthetic_model.model, synthetic_test, synthetic_model.mean, synthetic_model.std)
    for i in range(20):
        top = predict(Image.fromarray(synthetic_test.images[i]), synthetic_model, k=1)[0]
        assert top.name == synthetic_test.classes[result.predictions[i]]
        assert top.probability == pytest.approx(result.probabilities[i].max(), abs=1e-5)
