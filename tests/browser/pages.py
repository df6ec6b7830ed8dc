"""What the browser tests do on a page, written once: start Chromium, open a notebook in
JupyterLab and run it, move a slider and time the redraw, upload a file."""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"  # Debian's packages: chromium, chromium-driver
CHROMEDRIVER = "/usr/bin/chromedriver"
# The notebooks with an explorer, and the slider a student moves first (its label on the page).
# They run in JupyterLab as students get them, from lessons/ (exercises unsolved: the self-checks'
# stand-ins fill in); their solutions run under nbval, which compares their stored outputs.
# (NOTEBOOKS = "solutions" runs the solutions instead; nbval then runs every lesson too.)
EXPLORERS = {
    "01_data_and_augmentation.ipynb": "seed",
    "02_residual_blocks.ipynb": "image",
    "05_lr_and_amp.ipynb": "max lr",
    "06_misclassified_and_gradcam.ipynb": "image",
    "07_inference_app.ipynb": "top k",
}
NOTEBOOKS = "lessons"
LATENCIES: list[tuple[str, list[float]]] = []  # (what, seconds of each move), printed at the end
SHOTS = itertools.count(1)  # screenshots are numbered through the whole suite: their files sort in time order
# What a widget looks like when the page cannot draw it: its repr as text (no widget manager),
# or the manager's own complaint.
WIDGET_AS_TEXT = re.compile(r"\b(interactive|VBox|HBox|IntSlider|FileUpload|Output)\(|Error displaying widget")


def browser_available() -> bool:
    """Whether Debian's Chromium and its driver are installed (without them the suite skips, or fails in CI)."""
    return Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()


class Browser:
    """A headless Chromium (one per test module), with numbered screenshots of each step."""

    def __init__(self, driver: webdriver.Chrome, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots

    @classmethod
    def start(cls, screenshots: Path) -> Browser:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
            options.add_argument(argument)
        # The driver's path is given, so selenium's own manager never tries to download one.
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_script_timeout(600)
        return cls(driver, screenshots)

    def shot(self, name: str) -> Path:
        """Save the page as <n>-<name>.png (n counts up through the suite, so the files sort by time)."""
        path = self.screenshots / f"{next(SHOTS):02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def wait(self, seconds: float) -> WebDriverWait:
        return WebDriverWait(self.driver, seconds, poll_frequency=0.05)

    def quit(self) -> None:
        self.driver.quit()


# Run in the page: the open notebook's state, read from JupyterLab's own model
# (`--expose-app-in-browser` sets window.jupyterapp).
NOTEBOOK_STATE = """
const panel = window.jupyterapp.shell.currentWidget;
if (!panel || !panel.content || !panel.sessionContext) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
const errors = [];
for (const cell of cells) {
  for (const output of cell.model.outputs.toJSON()) {
    if (output.output_type === 'error') errors.push(output.ename + ': ' + output.evalue);
  }
}
return {
  kernel: kernel ? kernel.status : 'none',
  cells: cells.length,
  pending: cells.filter(cell => cell.model.executionCount === null).length,
  running: cells.filter(cell => cell.promptNode && cell.promptNode.textContent.includes('*')).length,
  errors: errors,
};
"""


@dataclass
class Lab:
    """A JupyterLab server the browser talks to."""

    browser: Browser
    url: str
    token: str
    ran: tuple[str, dict] | None = None  # the notebook last run, and its state, while it is still open

    @property
    def driver(self) -> webdriver.Chrome:
        return self.browser.driver

    def shut_down_kernels(self) -> None:
        """End every kernel the server runs (each holds a notebook's data and model in memory)."""
        headers = {"Authorization": f"token {self.token}"}
        with urllib.request.urlopen(urllib.request.Request(f"{self.url}/api/kernels", headers=headers)) as response:
            kernels = json.load(response)
        for kernel in kernels:
            request = urllib.request.Request(f"{self.url}/api/kernels/{kernel['id']}", headers=headers, method="DELETE")
            urllib.request.urlopen(request).close()

    def open(self, notebook: str) -> None:
        """Open `notebook` (after ending the kernels of the ones before) and wait until its kernel is idle."""
        self.driver.get("about:blank")  # leave the page first, so it does not see its kernel go
        self.shut_down_kernels()
        self.driver.get(f"{self.url}/lab/tree/{notebook}?token={self.token}&reset")
        self.browser.wait(120).until(lambda d: (d.execute_script(NOTEBOOK_STATE) or {}).get("kernel") == "idle")

    def run_notebook(self, notebook: str) -> dict:
        """Open `notebook` and run all its cells (see `run_all`), or, when it is the one open and
        already run, its state as it was: tests of one notebook share one run."""
        still_open = self.driver.current_url.startswith(f"{self.url}/lab/tree/{notebook}")
        if self.ran is None or self.ran[0] != notebook or not still_open:
            self.open(notebook)
            self.ran = (notebook, self.run_all())
            self.browser.shot(f"{notebook.removesuffix('.ipynb')}-ran")
        return self.ran[1]

    def run_all(self, timeout: float = 600) -> dict:
        """Run every cell (the Run > Run All Cells command) and wait until the kernel is done.

        Returns the notebook's state: code cells, pending (never ran: run-all stops at an
        error), errors (ename: evalue of each error output).
        """
        # The stored outputs go first: a cell counts as run once it has an execution count again.
        self.driver.execute_script("return window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        self.browser.wait(30).until(lambda d: d.execute_script(NOTEBOOK_STATE)["pending"] > 0)
        self.driver.execute_script("return window.jupyterapp.commands.execute('notebook:run-all-cells')")
        started = time.monotonic()

        def done(driver):
            state = driver.execute_script(NOTEBOOK_STATE)
            finished = state["kernel"] == "idle" and state["running"] == 0
            return state if finished and (state["pending"] == 0 or state["errors"]) else False

        try:
            state = self.browser.wait(timeout).until(done)
        except TimeoutException:
            raise AssertionError(
                f"the notebook had not finished after {timeout:.0f} s: {self.driver.execute_script(NOTEBOOK_STATE)}"
            ) from None
        state["seconds"] = time.monotonic() - started
        return state

    def widgets_as_text(self) -> list[str]:
        """Outputs where a widget is shown as text instead of drawn (see WIDGET_AS_TEXT); every
        cell is on the page, since the suite's settings turn JupyterLab's windowing off."""
        texts = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(o => o.innerText)"
        )
        return [text[:200] for text in texts if WIDGET_AS_TEXT.search(text)]

    def output_holding(self, selector: str) -> WebElement:
        """The cell output that holds the element matching CSS `selector` (one widget's whole output)."""
        element = self.driver.find_element(By.CSS_SELECTOR, selector)
        return element.find_element(By.XPATH, "ancestor::div[contains(@class,'jp-OutputArea-output')][1]")

    def upload(self, area: WebElement, path: Path) -> None:
        """Press the FileUpload button inside `area` and choose `path` where the file dialog would open.

        The widget keeps its file input out of the page and clicks it, which opens the
        system's dialog: CATCH_FILE_DIALOG puts that input into the page instead, and WebDriver
        hands it the file, so the widget reads it exactly as after a real choice.
        """
        self.driver.execute_script(CATCH_FILE_DIALOG)
        area.find_element(By.CSS_SELECTOR, ".widget-upload").click()
        chooser = self.browser.wait(10).until(
            lambda d: d.execute_script("return window.__fileDialog"), "the upload button opened no file dialog"
        )
        chooser.send_keys(str(path))

    def slider(self, description: str) -> WebElement:
        """The drawn slider whose label is `description`."""
        for slider in self.driver.find_elements(By.CSS_SELECTOR, ".widget-slider"):
            label = slider.find_elements(By.CSS_SELECTOR, ".widget-label")
            if label and label[0].get_attribute("textContent").strip() == description:
                return slider
        labels = [e.get_attribute("textContent") for e in self.driver.find_elements(By.CSS_SELECTOR, ".widget-label")]
        raise AssertionError(f"no slider labelled {description!r} on the page; the labels are {labels}")

    def move_and_time(self, description: str, moves: int = 3, timeout: float = 60) -> list[float]:
        """Press the right arrow on slider `description` `moves` times, each time waiting for its
        explorer's picture to change; returns the seconds from each key press to the new picture.

        Timed in the page: a keydown listener stamps the press and a MutationObserver stamps the
        first picture whose content differs from the one before.
        """
        slider = self.slider(description)
        area = slider.find_element(By.XPATH, "ancestor::div[contains(@class,'jp-OutputArea-output')][1]")
        handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
        seconds = []
        for _ in range(moves):
            self.driver.execute_script(PROBE, area)
            before = slider.find_element(By.CSS_SELECTOR, ".widget-readout").text
            handle.send_keys(Keys.ARROW_RIGHT)
            try:
                result = self.browser.wait(timeout).until(lambda d: d.execute_script("return window.__probe.result"))
            except TimeoutException:
                after = slider.find_element(By.CSS_SELECTOR, ".widget-readout").text
                raise AssertionError(
                    f"moving {description!r} from {before} to {after} did not change the picture within {timeout} s"
                ) from None
            if "error" in result:
                raise AssertionError(f"moving {description!r}: {result['error']}")
            seconds.append(result["seconds"])
        return seconds


# Install in the page before pressing an upload button: a click on a file input (which would
# open the system's file dialog) puts the input into the page instead, as window.__fileDialog.
CATCH_FILE_DIALOG = """
window.__fileDialog = null;
if (!window.__fileDialogCaught) {
  const click = HTMLInputElement.prototype.click;
  HTMLInputElement.prototype.click = function () {
    if (this.type !== 'file') return click.call(this);
    if (!this.isConnected) document.body.appendChild(this);  // hidden: the widget made it display:none
    window.__fileDialog = this;
  };
  window.__fileDialogCaught = true;
}
"""

# Install in the page before a move: window.__probe.result becomes {seconds} once a picture
# inside `area` (arguments[0]) shows other content than the one it showed at the key press.
PROBE = """
const area = arguments[0];
const pictures = () => Array.from(area.querySelectorAll('img')).map(img => img.src);
const probe = {before: null, pressed: null, result: null};
if (window.__probe) window.__probe.stop();
const observer = new MutationObserver(() => {
  if (probe.pressed === null || probe.result) return;
  const now = pictures();
  if (now.length && now.join() !== probe.before) {
    probe.result = {seconds: (performance.now() - probe.pressed) / 1000};
  }
});
const onKey = () => {
  if (probe.pressed === null) { probe.pressed = performance.now(); probe.before = pictures().join(); }
};
document.addEventListener('keydown', onKey, true);
observer.observe(area, {childList: true, subtree: true, attributes: true, attributeFilter: ['src']});
probe.stop = () => { observer.disconnect(); document.removeEventListener('keydown', onKey, true); };
if (!pictures().length) probe.result = {error: 'the explorer shows no picture before the move'};
window.__probe = probe;
"""
