"""predict: any image a person has (PIL or numpy, any size, RGB/RGBA/gray), top-k, clear errors."""

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from cifarlab.checkpoint import LoadedModel
from cifarlab.errors import ImageError
from cifarlab.evaluation import evaluate
from cifarlab.inference import explain, open_image, predict, square_rgb, to_model_image
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


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header says width x height: what a decompression bomb shows first."""
    data = bytearray(png_bytes(Image.new("1", (1, 1))))
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height...
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # ...and its checksum
    return bytes(data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_too_many_pixels_are_refused_from_the_header(monkeypatch):
    def no_decoding(self):
        raise AssertionError("decoded an image that its header already refuses")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    start = time.perf_counter()
    with pytest.raises(ImageError, match=r"the upload is 13000x13000 pixels \(169.0 megapixels\); the limit is 24.0"):
        open_image(png_declaring(13000, 13000), max_pixels=24_000_000, name="the upload")
    with pytest.raises(ImageError, match=r"169.0 megapixels\); the limit is 89.5 megapixels"):
        to_model_image(png_declaring(13000, 13000))  # the library's default limit: Pillow's, ~89 MP
    assert time.perf_counter() - start < 1  # decoding it took 3-4 s and 2 GB


def test_jpegs_count_at_the_size_they_decode_at():
    big = jpeg_bytes(Image.new("RGB", (4096, 3072), (20, 120, 220)))  # 12.6 MP, decoded at 1/8: 512x384
    assert open_image(big, max_pixels=1_000_000).size == (512, 384)
    with pytest.raises(ImageError, match=r"1100x1000 pixels \(1.1 megapixels\); the limit is 1.0"):
        open_image(png_bytes(Image.new("L", (1100, 1000))), max_pixels=1_000_000)


def rgb_of(image) -> tuple[int, ...]:
    """The one colour of a flat image after to_model_image."""
    colours = np.unique(to_model_image(image).reshape(-1, 3), axis=0)
    assert len(colours) == 1, f"not flat: {colours[:4]}"
    return tuple(int(c) for c in colours[0])


def palette(mode: str, index: int, transparent: int | None = None) -> Image.Image:
    image = Image.new(mode, (8, 8), index if mode == "P" else (index, 255))
    image.putpalette([0, 0, 0, 200, 30, 10])
    if transparent is not None:
        image.info["transparency"] = transparent
    return image


@pytest.mark.parametrize(
    "image, colour",
    [
        (png_bytes(Image.fromarray(np.full((16, 16), 65535, np.uint16))), (255,) * 3),  # a 16-bit PNG: I;16
        (png_bytes(Image.fromarray(np.full((16, 16), 0, np.uint16))), (0,) * 3),
        (png_bytes(Image.fromarray(np.full((16, 16), 128 * 257, np.uint16))), (128,) * 3),
        (Image.new("I;16B", (8, 8), 65535), (255,) * 3),
        (Image.new("I", (8, 8), 65535), (255,) * 3),  # 16-bit PGM/PPM open as I
        (Image.new("I", (8, 8), 100_000), (255,) * 3),  # clipped to 65535
        (Image.new("F", (8, 8), 1.0), (255,) * 3),  # floats are 0..1
        (Image.new("F", (8, 8), 0.5), (128,) * 3),
        (Image.new("F", (8, 8), 7.0), (255,) * 3),  # clipped
        (Image.new("1", (8, 8), 1), (255,) * 3),
        (Image.new("1", (8, 8), 0), (0,) * 3),
        (Image.new("LA", (8, 8), (0, 0)), (255,) * 3),  # transparent: white
        (Image.new("LA", (8, 8), (0, 255)), (0,) * 3),
        (Image.new("RGBA", (8, 8), (0, 0, 0, 128)), (127,) * 3),  # half black over white
        (palette("P", 1), (200, 30, 10)),
        (palette("P", 1, transparent=1), (255,) * 3),
        (palette("PA", 1), (200, 30, 10)),
        (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (255, 0, 0)),
    ],
    ids=[
        "png16-white",
        "png16-black",
        "png16-grey",
        "I;16B",
        "I-white",
        "I-clipped",
        "F-white",
        "F-grey",
        "F-clipped",
        "1-white",
        "1-black",
        "LA-clear",
        "LA-opaque",
        "RGBA-half",
        "P",
        "P-transparent",
        "PA",
        "CMYK",
    ],
)
def test_colour_modes_convert_as_documented(image, colour):
    assert rgb_of(image) == colour


def test_large_images_are_converted_and_reduced_a_strip_at_a_time(monkeypatch):
    from cifarlab import inference

    rng = np.random.default_rng(2)
    rgba = Image.fromarray(rng.integers(0, 256, (2300, 2100, 4), dtype=np.uint8))
    whole = inference._to_rgb(rgba.crop((0, 100, 2100, 2200))).reduce(2)  # centre square, converted at once
    monkeypatch.setattr(inference, "STRIP_PIXELS", 50_000)  # 22 rows a strip here: about 100 strips
    square = square_rgb(rgba)
    assert square.size == (1050, 1050)  # side 2100 // WORKING_SIDE 1024 = 2
    np.testing.assert_array_equal(np.asarray(square), np.asarray(whole))


def test_photos_are_turned_upright_from_their_exif():
    photo = Image.new("RGB", (64, 32), (220, 0, 0))
    photo.paste((0, 0, 220), (32, 0, 64, 32))  # left half red, right half blue
    exif = photo.getexif()
    exif[ExifTags.Base.Orientation] = 6  # stored turned: shown rotated 90 degrees clockwise
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=95, exif=exif)
    upright = to_model_image(buffer.getvalue()).astype(int)
    assert upright[:12, :, 0].mean() > 180 and upright[20:, :, 2].mean() > 180  # red on top, blue below


def test_whole_rgb_is_the_whole_picture_upright_and_small():
    from cifarlab.inference import whole_rgb

    photo = Image.new("RGB", (4000, 3000), (220, 0, 0))
    photo.paste((0, 0, 220), (2000, 0, 4000, 3000))  # left half red, right half blue
    exif = photo.getexif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90 degrees clockwise: red on top
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90, exif=exif)
    shown = whole_rgb(buffer.getvalue(), longest=320).astype(int)
    assert shown.shape == (320, 240, 3)  # upright, the whole frame (not its centre square), aspect kept
    assert shown[:150, :, 0].mean() > 180 and shown[170:, :, 2].mean() > 180
    gray_alpha = Image.new("LA", (50, 100), (0, 0))  # fully transparent: white, as for the model
    assert (
        whole_rgb(gray_alpha).shape == (100, 50, 3) and whole_rgb(gray_alpha).min() == 255
    )  # small ones keep their size
    with pytest.raises(ImageError, match="not an image file"):
        whole_rgb(b"name,score\nada,3\n")
