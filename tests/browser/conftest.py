"""The browser suite's fixtures: Debian's Chromium driven by selenium, a JupyterLab server
started from this venv, and the folder the screenshots go to.

Everything runs on 127.0.0.1 with a token, in temporary folders: the notebooks are copied
there, so nothing the suite does (JupyterLab saves, runs' folders) touches the checkout.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.pages import CHROMEDRIVER, CHROMIUM, LATENCIES, NOTEBOOKS, Browser, Lab, browser_available

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / ".browser-screenshots"  # ignored by git; a failing run's pictures are here


def free_port() -> int:
    """A port no one listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, what: str, log: Path, timeout: float = 90) -> None:
    """Wait until `url` answers 200, or fail with the end of the server's log if it died or took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"{what} exited with code {process.returncode} before it served {url}; its log ends:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"{what} did not serve {url} within {timeout:.0f} s; its log ends:\n{tail}")


@contextlib.contextmanager
def served(command: list[str], env: dict[str, str], url: str, what: str, log_path: Path) -> Iterator[None]:
    """Run the server `command` (its output to log_path) until `url` answers, and stop it afterwards."""
    with log_path.open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_http(url, server, what, log_path)
            yield
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """.browser-screenshots/, emptied at the start of the suite (it holds only the suite's own files)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir()
    return SCREENSHOTS


@pytest.fixture(scope="module")
def browser(screenshots) -> Browser:
    """Headless Chromium from Debian's packages, or skip saying how to install it. One per test
    module, so that no page stays open (and busy) while the rest of the tests run."""
    if not browser_available():
        missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
        reason = (
            f"the browser tests need Debian's Chromium and its driver ({', '.join(missing)} missing): "
            "apt-get install chromium chromium-driver (.ci/run does)"
        )
        if os.environ.get("CIFARLAB_REQUIRE_BROWSER"):  # CI: a missing browser is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    browser = Browser.start(screenshots)
    yield browser
    browser.quit()


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A copy of lessons/ for JupyterLab to serve (its saves and the runs stay out of the checkout)."""
    root = tmp_path_factory.mktemp("lab")
    for notebook in (REPO / NOTEBOOKS).glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    return root


@pytest.fixture(scope="module")
def lab(browser, lab_root, jpeg_tarball, shared_cache, tmp_path_factory) -> Lab:
    """JupyterLab from this venv on 127.0.0.1 with a token; its kernels run the smoke profile on the JPEG CIFAR-10.

    Its settings, workspaces and runtime files live in a temporary folder: a student's own
    JupyterLab settings cannot change what the suite sees, and autosave is off.
    """
    home = tmp_path_factory.mktemp("jupyter")
    settings = home / "settings"
    for plugin, values in {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        # every cell stays on the page (with windowing, cells out of view leave it and their elements go stale)
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token = secrets.token_hex(16)
    port = free_port()
    env = dict(
        os.environ,
        CIFARLAB_PROFILE="smoke",
        CIFARLAB_DATA=str(jpeg_tarball),
        CIFARLAB_CACHE=str(shared_cache),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),  # the venv's kernel, not one a user's ~/.local names
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={lab_root}", "--LabApp.news_url=None", "--expose-app-in-browser",
        "--allow-root",  # CI's machines run as root; elsewhere the flag changes nothing
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with served(command, env, f"{url}/api/status?token={token}", "JupyterLab", home / "server.log"):
        yield Lab(browser, url, token)


def pytest_terminal_summary(terminalreporter) -> None:
    """The latencies the suite measured, so CI's log shows them (they are figures, not assertions)."""
    if LATENCIES:
        terminalreporter.write_sep("-", "browser: from a slider move to the new picture")
        for what, seconds in LATENCIES:
            runs = ", ".join(f"{s:.2f}" for s in seconds)
            terminalreporter.write_line(f"{what}: median {sorted(seconds)[len(seconds) // 2]:.2f} s ({runs})")


@pytest.fixture(scope="session")
def photo(jpeg_tarball, shared_cache, tmp_path_factory) -> Path:
    """A photo-sized JPEG (4000x3000, like a phone's) of a CIFAR-10 test ship: not lesson 07's cat."""
    from PIL import Image

    from cifarlab.data import load_splits, resolve_source
    from cifarlab.profile import get_profile

    os.environ["CIFARLAB_CACHE"] = str(shared_cache)
    test = load_splits(resolve_source(str(jpeg_tarball)), get_profile("smoke")).test
    ship = test.images[list(test.labels).index(test.classes.index("ship"))]
    path = tmp_path_factory.mktemp("uploads") / "ship-photo.jpg"
    Image.fromarray(ship).resize((4000, 3000), Image.Resampling.BICUBIC).save(path, quality=90)
    return path


@pytest.fixture(scope="session")
def text_file(tmp_path_factory) -> Path:
    """A text file, which a student uploads by mistake."""
    path = tmp_path_factory.mktemp("uploads") / "notes.txt"
    path.write_text("name,score\nada,3\n")
    return path


@pytest.fixture(scope="module")
def gradio_app(browser, jpeg_tarball, shared_cache, tmp_path_factory) -> str:
    """`cifarlab app` started as a student starts it, on 127.0.0.1 with the smoke profile's test
    images (examples and a gallery of 4 mistakes); its URL. Stopped after its tests' module."""
    pytest.importorskip("gradio", reason="the app needs the `app` extra: pip install -e '.[dev,app]' (CI installs it)")
    port = free_port()
    env = dict(os.environ, CIFARLAB_DATA=str(jpeg_tarball), CIFARLAB_CACHE=str(shared_cache))
    command = [sys.executable, "-m", "cifarlab", "app", "--profile", "smoke", "--gallery", "4", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/"
    with served(command, env, url, "cifarlab app", tmp_path_factory.mktemp("gradio") / "app.log"):
        yield url
