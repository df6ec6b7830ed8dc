"""The Gradio app, started on loopback and called with gradio_client like a remote user would."""

import importlib.util
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from cifarlab.app import MAX_UPLOAD_BYTES, answer_file, build_app, launch, read_upload  # Gradio: only in build_app
from cifarlab.cli import build_parser, main
from cifarlab.data import load_splits, resolve_source
from cifarlab.errors import ImageError
from cifarlab.inference import predict
from cifarlab.pretrained import load_pretrained
from cifarlab.profile import get_profile

# Skip only where Gradio is absent: a Gradio that is installed but fails to import (gradio 4.44
# with huggingface_hub 1.x: "cannot import name 'HfFolder'") is a failure, not a reason to skip.
if importlib.util.find_spec("gradio") is None:
    pytest.skip(
        "the Gradio app needs the `app` extra: pip install -e '.[dev,app]' (CI installs it)", allow_module_level=True
    )
from gradio_client import Client, handle_file


@pytest.fixture(scope="module")
def test_images(jpeg_tarball, shared_cache):
    import os

    os.environ["CIFARLAB_CACHE"] = str(shared_cache)
    return load_splits(resolve_source(str(jpeg_tarball)), get_profile("smoke")).test


@pytest.fixture(scope="module")
def server(test_images):
    loaded = load_pretrained()
    app = build_app(loaded, test_images, gallery_size=4)
    url = launch(app, block=False)  # host 127.0.0.1, the first free port from 7860
    yield app, url, loaded
    app.close()


@pytest.fixture(scope="module")
def client(server):
    return Client(server[1], verbose=False)


def classify(client, path, k=3, cam=True, layer="layer3", opacity=0.5):
    return client.predict(handle_file(str(path)), k, cam, layer, opacity, api_name="/classify")


def test_a_real_photo_gets_the_same_answer_as_predict(server, client, test_images, tmp_path):
    _, _, loaded = server
    photo = tmp_path / "photo.jpg"
    Image.fromarray(test_images.images[0]).resize((256, 256), Image.Resampling.BICUBIC).save(photo, quality=95)
    label, shown = classify(client, photo, k=3)
    want = predict(photo, loaded, k=3)
    assert [c["label"] for c in label["confidences"]] == [s.name for s in want]
    assert [c["confidence"] for c in label["confidences"]] == pytest.approx([s.probability for s in want], abs=1e-4)
    assert Image.open(shown).size == (224, 224)


def test_grayscale_and_huge_images(client, test_images, tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(test_images.images[1]).convert("L").save(gray)
    label, _ = classify(client, gray, k=2, cam=False)
    assert len(label["confidences"]) == 2
    huge = tmp_path / "huge.jpg"
    Image.fromarray(test_images.images[2]).resize((6000, 4000), Image.Resampling.BILINEAR).save(huge)
    label, shown = classify(client, huge, k=5, layer="layer2", opacity=0.8)
    assert len(label["confidences"]) == 5 and Image.open(shown).size == (224, 224)


def test_non_images_get_a_clear_error(client, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    with pytest.raises(
        Exception, match="not an image file Pillow can read. Use a PNG, JPEG"
    ):  # the app's, not Gradio's
        classify(client, text)
    disguised = tmp_path / "cat.jpg"
    disguised.write_text("not a picture either")
    with pytest.raises(Exception, match="not an image file Pillow can read"):  # ours, via gr.Error
        classify(client, disguised)


def test_gallery_of_mistakes_with_gradcam(client, test_images):
    gallery = client.predict(api_name="/mistakes")
    assert len(gallery) == 4
    assert all(item["caption"].startswith("true ") and "predicted" in item["caption"] for item in gallery)
    picture = Image.open(gallery[0]["image"])
    assert picture.size == (3 * 160, 160)  # image | CAM predicted | CAM true


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, from Linux's /proc/net/tcp(6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_it_listens_on_loopback_only(server):
    app, url, _ = server
    assert url.startswith("http://127.0.0.1:") and app.server_name == "127.0.0.1"
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    addresses = listening_addresses(port)
    if not addresses:
        pytest.skip("no /proc/net/tcp on this system to read the listening address from")
    assert addresses == {"0100007F"}, f"listening on {addresses}, not only 127.0.0.1 (0100007F)"


def test_cli_defaults_to_loopback_and_names_the_missing_extra(monkeypatch, capsys):
    args = build_parser().parse_args(["app"])
    assert args.host == "127.0.0.1" and args.checkpoint is None
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    assert main(["app"]) == 2
    assert ".[app]" in capsys.readouterr().err


def test_the_data_must_match_the_model(test_images):
    from cifarlab.data import make_synthetic

    with pytest.raises(ValueError, match="not the model's"):
        build_app(load_pretrained(), make_synthetic(20))


def test_uploads_over_the_byte_limit_are_refused(server, tmp_path):
    import httpx

    big = tmp_path / "big.png"
    with open(big, "wb") as file:
        file.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: nothing written
    with pytest.raises(ImageError, match=r"the uploaded file is 16.0 MB; the limit is 16 MB\. Shrink") as caught:
        read_upload(big)
    assert str(tmp_path) not in str(caught.value)
    with open(big, "rb") as file:  # Gradio refuses it while it arrives, so it never lands on disk
        response = httpx.post(server[1] + "gradio_api/upload", files={"files": ("big.png", file)}, timeout=60)
    assert response.status_code == 413 and "maximum allowed size" in response.text


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_huge_image_in_a_small_file_is_refused_from_its_header(client, tmp_path):
    bomb = tmp_path / "bomb.gif"
    Image.new("P", (13000, 13000)).save(bomb)  # 122 KB; decoding it took 2 GB and 3-4 s
    with pytest.raises(Exception, match=r"is 13000x13000 pixels \(169.0 megapixels\); the limit is 24.0 megapixels"):
        classify(client, bomb)


def test_errors_name_no_server_path(client, tmp_path, monkeypatch):
    import cifarlab.app

    disguised = tmp_path / "cat.jpg"
    disguised.write_text("not a picture")
    with pytest.raises(Exception, match="the uploaded file is not an image file Pillow can read") as caught:
        classify(client, disguised)
    assert tempfile.gettempdir() not in str(caught.value)

    def broken(*args, **kwargs):  # a bug whose message holds a server path
        raise OSError(f"[Errno 2] No such file or directory: '{tempfile.gettempdir()}/gradio/0a1b/cat.png'")

    monkeypatch.setattr(cifarlab.app, "explain", broken)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 40), (9, 99, 199)).save(photo)
    with pytest.raises(Exception, match="something went wrong on the server") as caught:
        classify(client, photo)
    assert tempfile.gettempdir() not in str(caught.value) and "Errno" not in str(caught.value)


def test_an_upload_read_once_is_shown_whole_and_answered_as_from_its_file(server, tmp_path):
    from cifarlab.app import PREVIEW
    from cifarlab.app import classify as classify_file
    from cifarlab.inference import whole_rgb

    loaded = server[2]
    photo = tmp_path / "wide.jpg"
    Image.new("RGB", (1600, 900), (200, 30, 30)).save(photo)
    image = read_upload(photo)  # the app decodes an upload once, for its picture and its answer
    assert whole_rgb(image, PREVIEW).shape == (PREVIEW * 9 // 16, PREVIEW, 3)  # the whole frame, not the centre
    (scores, seen), (want_scores, want_seen) = classify_file(loaded, image), classify_file(loaded, photo)
    assert scores == pytest.approx(want_scores, abs=1e-6)
    np.testing.assert_array_equal(seen, want_seen)


def test_an_answer_file_is_written_once(tmp_path):
    picture = np.zeros((224, 224, 3), np.uint8)
    first = answer_file(picture, tmp_path)
    before = os.stat(first)
    assert answer_file(picture.copy(), tmp_path) == first  # the same answer: the same file, not rewritten
    after = os.stat(first)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert answer_file(picture + 1, tmp_path) != first
    assert Image.open(first).size == (224, 224)


def test_identical_uploads_at_once_all_get_their_answer(server, client, test_images, tmp_path):
    _, url, loaded = server
    photo = tmp_path / "same.png"
    Image.fromarray(test_images.images[3]).resize((64, 64), Image.Resampling.BICUBIC).save(photo)
    want, _ = classify(client, photo)

    def person(_):  # each with their own client, sending the very same file at once
        own = Client(url, verbose=False)
        return [classify(own, photo) for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        answers = [answer for batch in pool.map(person, range(4)) for answer in batch]
    for label, shown in answers:
        assert label == want
        with Image.open(shown) as picture:  # a truncated or empty download fails here
            assert picture.size == (224, 224)


def test_the_model_answers_one_request_at_a_time(server, test_images, tmp_path):
    from cifarlab.app import classify as classify_file

    loaded = server[2]
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(test_images.images[i]).save(paths[-1])
    alone = [classify_file(loaded, path, 3, True, "layer2") for path in paths]
    with ThreadPoolExecutor(4) as pool:  # GradCAM hooks on one model: without the lock they see each other
        together = list(pool.map(lambda path: classify_file(loaded, path, 3, True, "layer2"), paths * 2))
    for (scores, picture), (want_scores, want_picture) in zip(together, alone * 2):
        assert scores == pytest.approx(want_scores, abs=1e-5)
        np.testing.assert_array_equal(picture, want_picture)
