"""The Gradio app (`cifarlab app`) in a real browser: a photo-sized upload shows the picture
itself, and the Classify button answers with the top-k classes and GradCAM; a text file gets
the app's own message and no answer."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from cifarlab.inference import predict
from cifarlab.pretrained import load_pretrained

# Each picture the app serves, with its size once loaded and the label of the block it is in.
PICTURES = """
return Array.from(document.querySelectorAll('img'))
  .filter(img => img.src.includes('/gradio_api/file=') && img.complete && img.naturalWidth > 0)
  .map(img => ({block: (img.closest('.block') || img.parentElement).innerText.split('\\n')[0],
                width: img.naturalWidth, height: img.naturalHeight}));
"""


def pictures(driver) -> dict[str, tuple[int, int]]:
    return {p["block"]: (p["width"], p["height"]) for p in driver.execute_script(PICTURES)}


def top_classes(driver) -> list[str]:
    """The class names the label block lists, most probable first ([] while it shows none)."""
    heading = driver.find_elements(By.CSS_SELECTOR, "[data-testid='label-output-value']")
    if not heading:
        return []
    block = heading[0].find_element(By.XPATH, "ancestor::div[contains(@class,'block')][1]")
    lines = [line.strip() for line in block.text.split("\n")[2:]]  # block label, heading, then name / probability
    return [line for line in lines if line and not line.endswith("%")]


def upload(driver, path) -> None:
    """Choose `path` in the upload field (WebDriver hands its hidden file input the file, as the dialog would)."""
    driver.find_element(By.CSS_SELECTOR, "input[type=file][data-testid='file-upload']").send_keys(str(path))


def set_top_k(driver, k: int) -> None:
    """Type `k` into the number box of the "top k" slider, as a person would, and leave the box."""
    box = driver.find_element(By.XPATH, "//*[normalize-space()='top k']/ancestor::div[contains(@class,'block')][1]")
    number = box.find_element(By.CSS_SELECTOR, "input[type=number]")
    number.send_keys(Keys.CONTROL, "a")
    number.send_keys(str(k), Keys.TAB)


def test_a_photo_shows_itself_and_the_button_answers_with_top_k_and_gradcam(browser, gradio_app, photo):
    driver = browser.driver
    driver.get(gradio_app)
    browser.wait(60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=file]"), "the app's page never drew")
    browser.shot("gradio-app-opened")
    model = load_pretrained()
    upload(driver, photo)
    browser.wait(60).until(lambda d: "your image" in pictures(d), f"the upload never showed: {pictures(driver)}")
    assert pictures(driver)["your image"] == (320, 240), "the whole 4000x3000 photo, at most 320 wide"
    want = [s.name for s in predict(photo, model, k=3)]  # the upload alone answers with the default top 3
    browser.wait(60).until(lambda d: top_classes(d) == want, f"no answer to the upload: {top_classes(driver)}")
    set_top_k(driver, 5)  # the slider alone changes nothing: the button does
    want = [s.name for s in predict(photo, model, k=5)]
    driver.find_element(By.XPATH, "//button[normalize-space()='Classify' and contains(@class,'primary')]").click()
    browser.wait(60).until(
        lambda d: top_classes(d) == want and any(b.startswith("what the model sees") for b in pictures(d)),
        f"no top 5 after pressing Classify: top classes {top_classes(driver)}, pictures {pictures(driver)}",
    )
    browser.shot("gradio-app-answered")
    seen = next(size for block, size in pictures(driver).items() if block.startswith("what the model sees"))
    assert seen == (224, 224), "the model's 32x32 view with GradCAM, enlarged"


def test_a_text_file_gets_the_apps_own_message_and_no_answer(browser, gradio_app, text_file):
    driver = browser.driver
    driver.get(gradio_app)
    browser.wait(60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=file]"), "the app's page never drew")
    upload(driver, text_file)
    message = "the uploaded file is not an image file Pillow can read. Use a PNG, JPEG, GIF, BMP, TIFF or WebP image."

    def toasts(d) -> str:  # the toasts that have finished sliding in, as their text shows
        return d.execute_script(
            "return Array.from(document.querySelectorAll('[data-testid=toast-body]'))"
            ".filter(t => getComputedStyle(t).opacity === '1' && t.getBoundingClientRect().right <= innerWidth)"
            ".map(t => t.innerText).join()"
        )

    browser.wait(60).until(lambda d: message in toasts(d), f"no message about the text file: {toasts(driver)!r}")
    browser.shot("gradio-app-text-file")
    assert not top_classes(driver) and not pictures(driver), (
        f"a text file got {top_classes(driver)}, {pictures(driver)}"
    )
