"""The GradCAM explorer and lesson 07's in-notebook app: controls wired to pure functions."""

import datetime
import io

import numpy as np
from PIL import Image

import cifarlab.gradcam as gradcam_module
from cifarlab.augment import normalize_batch
from cifarlab.checkpoint import LoadedModel
from cifarlab.model import ResNet9
from cifarlab.plots import prediction_figure
from cifarlab.widgets import InferenceApp, gradcam_explorer


def upload(app: InferenceApp, data: bytes, name: str) -> None:
    """What the browser does: set FileUpload.value to one file."""
    now = datetime.datetime.now(datetime.timezone.utc)
    app.upload.value = (
        {"name": name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": now},
    )


def test_gradcam_explorer_redraws_with_its_controls(monkeypatch, synthetic_model, synthetic_test):
    calls = []
    real = gradcam_module.gradcam_view

    def spy(*args):
        calls.append(args[4:])  # layer, target, opacity, true_label
        return real(*args)

    monkeypatch.setattr(gradcam_module, "gradcam_view", spy)
    images = synthetic_test.images[:4]
    x = normalize_batch(images, synthetic_model.mean, synthetic_model.std)
    explorer = gradcam_explorer(
        synthetic_model.model, images, x, synthetic_test.classes, labels=synthetic_test.labels[:4]
    )
    controls = {w.description: w for box in explorer.children[:2] for w in box.children}
    assert set(controls) == {"image", "layer", "class", "opacity"}
    assert calls[-1] == ("layer3", "predicted", 0.5, int(synthetic_test.labels[0]))
    assert controls["class"].options[:2] == ("predicted", "true")
    controls["layer"].value = "prep"
    controls["class"].value = synthetic_test.classes[3]
    controls["image"].value = 2
    assert calls[-1] == ("prep", synthetic_test.classes[3], 0.5, int(synthetic_test.labels[2]))


def test_inference_app_classifies_uploads_and_reports_non_images():
    loaded = LoadedModel(ResNet9(widths=(8, 16, 32, 64)).eval(), (0.5,) * 3, (0.25,) * 3, tuple("abcdefghij"), {})
    app = InferenceApp(loaded, example=np.zeros((40, 60, 3), np.uint8))
    assert app.result is not None and len(app.result.scores) == 3
    upload(app, b"%PDF-1.4 not an image", "cv.pdf")
    assert app.result is None and "not an image file" in app.message.value and app.answer.value == ""
    buffer = io.BytesIO()
    Image.new("LA", (300, 200), (90, 128)).save(buffer, "PNG")  # grayscale with alpha
    upload(app, buffer.getvalue(), "gray.png")
    assert app.message.value == "" and app.result.model_image.shape == (32, 32, 3)
    app.k.value = 5
    assert len(app.result.scores) == 5
    names = [s.name for s in app.result.scores]  # the answer as text too, best first, in bold
    assert app.answer.value.startswith(f"top 5: <b>{names[0]}</b> ") and app.answer.value.count(",") == 4
    assert [part.split()[-2].removeprefix("<b>").removesuffix("</b>") for part in app.answer.value.split(",")] == names
    app.show_cam.value = False
    assert app.result.layer is None
    app.show_cam.value = True
    app.layer.value = "layer2"
    assert app.result.layer == "layer2"


def test_prediction_figure_has_the_image_the_view_and_the_bars():
    scores = [("cat", 0.6), ("dog", 0.3), ("frog", 0.05)]
    fig = prediction_figure(np.zeros((32, 32, 3), np.uint8), scores, original=np.zeros((100, 100, 3), np.uint8))
    assert len(fig.axes) == 3 and len(fig.axes[2].patches) == 3
    assert [t.get_text() for t in fig.axes[2].get_yticklabels()] == ["frog", "dog", "cat"]  # best on top
    assert len(prediction_figure(np.zeros((32, 32, 3), np.uint8), scores).axes) == 2
