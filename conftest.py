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
