"""Test-wide settings. Lives at the root so that it also governs the notebooks nbval runs.

- The smoke profile, unless CIFARLAB_PROFILE is set: tests and notebooks stay small.
- Data for the notebooks: CIFARLAB_DATA as given (CI points it at the JPEG CIFAR-10 in
  ../shared); when unset, that tarball if it is beside the checkout, else the official
  CIFAR-10 download a student gets (fetched once into the cache). Unit tests choose their
  own data and do not depend on this.
- nbval's sanitize file (pyproject's addopts name it relative to the repository root) is found
  from any working directory, and a checked cell whose stored output differs says how to
  regenerate it (`cifarlab.solutions`).
- The fault suite (tests marked `faults`) reports its own count and time at the end, so CI's log
  says what it costs.
- The lessons with an explorer run in JupyterLab in the browser suite (tests/browser), as
  students get them: when that suite runs in the same session, nbval does not run them a
  second time (it still runs their solutions and compares the outputs).
The notebook kernels are child processes and inherit these variables.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("CIFARLAB_PROFILE", "smoke")
_shared = Path(__file__).resolve().parent.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
if "CIFARLAB_DATA" not in os.environ and _shared.is_file():
    os.environ["CIFARLAB_DATA"] = str(_shared)


def pytest_configure(config: pytest.Config) -> None:
    sanitize = getattr(config.option, "nbval_sanitize_with", None)
    if sanitize and not Path(sanitize).is_absolute():
        config.option.nbval_sanitize_with = str(config.rootpath / sanitize)


_FAULTS = {"tests": 0, "failed": 0, "seconds": 0.0}


def pytest_terminal_summary(terminalreporter) -> None:
    if _IN_THE_BROWSER:
        terminalreporter.write_line(
            f"run in JupyterLab by tests/browser, not by nbval (their cells deselected): {', '.join(_IN_THE_BROWSER)}"
        )
    if _FAULTS["tests"]:
        terminalreporter.write_line(
            f"fault suite (-m faults): {_FAULTS['tests']} tests, {_FAULTS['failed']} failed, "
            f"{_FAULTS['seconds']:.0f} s (fixtures shared with other tests count where they first ran)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if item.get_closest_marker("faults"):
        _FAULTS["seconds"] += report.duration  # setup, call and teardown
        _FAULTS["tests"] += report.when == "call"
        _FAULTS["failed"] += report.failed
    if report.when == "call" and report.failed and call.excinfo and "Cell outputs differ" in str(call.excinfo.value):
        from cifarlab.solutions import stale_output_help

        cell = getattr(item, "cell", {}).get("id", item.name)
        report.sections.append(("stale stored output", stale_output_help(item.path, cell)))


_IN_THE_BROWSER: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.nodeid.startswith("tests/browser/test_lessons_in_jupyterlab.py") for item in items):
        return  # (also where this file is copied without tests/: tests/test_stored_outputs.py)
    from tests.browser.pages import EXPLORERS, NOTEBOOKS, browser_available

    if NOTEBOOKS != "lessons" or not (browser_available() or os.environ.get("CIFARLAB_REQUIRE_BROWSER")):
        return  # only a lesson is handed over: a solution's run under nbval also compares its outputs
    twice = {f"{NOTEBOOKS}/{name}" for name in EXPLORERS}
    deselected = [item for item in items if item.nodeid.split("::")[0] in twice]
    if deselected:
        items[:] = [item for item in items if item not in deselected]
        config.hook.pytest_deselected(items=deselected)
        _IN_THE_BROWSER.extend(sorted({item.nodeid.split("::")[0] for item in deselected}))
