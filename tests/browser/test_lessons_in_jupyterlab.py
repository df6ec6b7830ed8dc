"""The lessons' widgets in a real browser (JupyterLab, headless Chromium): each notebook with an
explorer (`EXPLORERS`, from lessons/: what students open) runs without errors and with every
widget drawn; moving the explorer's main slider redraws its picture (the time it takes is
printed at the end); lesson 07's app answers an uploaded photo and explains an uploaded text
file."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from cifarlab.inference import predict
from cifarlab.pretrained import load_pretrained
from tests.browser.pages import EXPLORERS, LATENCIES

APP = "07_inference_app.ipynb"


@pytest.mark.parametrize("notebook", EXPLORERS)
def test_the_explorer_draws_and_its_slider_redraws(lab, notebook):
    state = lab.run_notebook(notebook)
    assert not state["errors"], f"{notebook} raised in JupyterLab: {state['errors']}"
    assert state["pending"] == 0, f"{notebook}: {state['pending']} cells never ran"
    assert not lab.widgets_as_text(), f"{notebook} shows widgets as text: {lab.widgets_as_text()}"
    seconds = lab.move_and_time(EXPLORERS[notebook])
    lab.browser.shot(f"{notebook.removesuffix('.ipynb')}-moved")
    LATENCIES.append((f"{notebook.removesuffix('.ipynb')} '{EXPLORERS[notebook]}'", seconds))


def app_text(area) -> str:
    return "\n".join(e.text for e in area.find_elements(By.CSS_SELECTOR, ".widget-html"))


def app_picture(area) -> str | None:
    """The app's picture (its data URL), or None when it shows none."""
    pictures = area.find_elements(By.CSS_SELECTOR, ".widget-output img")
    return pictures[0].get_attribute("src") if pictures else None


def test_lesson_07_app_answers_an_uploaded_photo(lab, photo):
    lab.run_notebook(APP)
    area = lab.output_holding(".widget-upload")
    k = int(lab.slider("top k").find_element(By.CSS_SELECTOR, ".widget-readout").text)  # moved by the test above
    want = predict(photo, load_pretrained(), k=k)  # the pretrained model, which the notebook's smoke run loads
    before = app_text(area), app_picture(area)
    lab.upload(area, photo)
    lab.browser.wait(60).until(
        lambda _: app_text(area) != before[0] and app_picture(area) not in (None, before[1]),
        f"no new answer and picture for {photo.name}: the page shows {app_text(area)!r}",
    )
    lab.browser.shot("07_inference_app-photo")
    shown = app_text(area).strip()
    assert shown.startswith(f"top {k}: {want[0].name} {want[0].probability:.1%}, "), f"the page shows {shown!r}"
    assert [part.split()[-2] for part in shown.split(", ")[1:]] == [s.name for s in want[1:]], shown


def test_lesson_07_app_explains_an_uploaded_text_file(lab, text_file):
    lab.run_notebook(APP)
    area = lab.output_holding(".widget-upload")
    lab.upload(area, text_file)
    message = "the uploaded data is not an image file Pillow can read"
    lab.browser.wait(60).until(lambda _: message in app_text(area), f"no error shown: {app_text(area)!r}")
    lab.browser.shot("07_inference_app-text-file")
    assert "top " not in app_text(area) and app_picture(area) is None, "the last answer is still shown"
