"""The environment doctor: what is installed, which device, which data, which profile.

`diagnose()` returns findings that `cifarlab doctor` prints; `run_header()` is the one line
each notebook prints first, so a reader knows what produced the outputs below it.
"""

from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from cifarlab.data.cache import cache_dir
from cifarlab.errors import DataError, OptionError
from cifarlab.profile import get_profile


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report. ok is None for information that is neither good nor bad."""

    topic: str
    detail: str
    ok: bool | None = True
    advice: str = ""

    def line(self) -> str:
        mark = {True: "ok ", False: "!! ", None: "   "}[self.ok]
        text = f"{mark} {self.topic:<14} {self.detail}"
        return text + (f"\n{'':18}-> {self.advice}" if self.advice else "")


def _requirements() -> list[tuple[str, str]]:
    """(name, specifier) for each runtime dependency of cifarlab."""
    from packaging.requirements import Requirement

    try:
        declared = metadata.requires("cifarlab") or []
    except metadata.PackageNotFoundError:
        return []
    parsed = [Requirement(r) for r in declared]
    return [(r.name, str(r.specifier)) for r in parsed if not r.marker]


def package_findings() -> list[Finding]:
    """Each dependency: installed, at a version its specifier allows."""
    from packaging.specifiers import SpecifierSet

    findings = []
    for name, spec in _requirements():
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            findings.append(Finding(name, "missing", False, f'pip install "{name}{spec}"'))
            continue
        fits = SpecifierSet(spec).contains(version, prereleases=True)
        advice = "" if fits else f'pip install "{name}{spec}"'
        findings.append(Finding(name, f"{version}  (needs {spec or 'any'})", fits, advice))
    try:
        importlib.import_module("torchvision")
    except Exception as error:  # a torch/torchvision mismatch fails here, not at install time
        findings.append(
            Finding(
                "torchvision",
                f"does not import: {type(error).__name__}: {error}",
                False,
                "install torch and torchvision together so their versions match: "
                "pip install --upgrade torch torchvision",
            )
        )
    return findings


def device_summary() -> tuple[str, bool]:
    """(description, has_gpu) of the device training will use."""
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        count = torch.cuda.device_count()
        return f"cuda: {name}" + (f" (x{count})" if count > 1 else ""), True
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps (Apple GPU)", True
    return f"cpu ({platform.processor() or platform.machine()}, no GPU)", False


def device_finding() -> Finding:
    description, has_gpu = device_summary()
    advice = (
        ""
        if has_gpu
        else "no GPU: the data and model lessons run fine, full training is slow. On Colab: "
        "Runtime > Change runtime type > T4 GPU, then run the notebook again."
    )
    return Finding("device", description, True if has_gpu else None, advice)


def cpu_finding() -> Finding:
    """The CPU and whether it has native bf16 (and AMX): what mixed precision on it can gain."""
    from cifarlab.hardware import cpu_features
    from cifarlab.precision import choose_settings

    features = cpu_features()
    settings = choose_settings(accelerator="cpu")
    layout = " + channels-last" if settings.channels_last else ""
    advice = f"on this CPU, `cifarlab train` (auto) uses {settings.precision}{layout}"
    if not features.native_bf16:
        advice += "; --precision bf16-mixed would be emulated and 20-130x slower"
    return Finding("cpu", features.describe(), None, advice)


def data_finding() -> Finding:
    """The configured data source, opened: for a local copy, its images counted and its hash checked."""
    from cifarlab.data import resolve_source

    try:
        source = resolve_source()
    except DataError as error:
        return Finding("data", "CIFARLAB_DATA is wrong", False, str(error))
    ready, detail = source.status()
    if not ready:
        advice = "set CIFARLAB_DATA to a local copy if this machine is offline (see README)."
        return Finding("data", f"{source.describe()}: {detail}", None, advice)
    if source.kind == "folder":
        from cifarlab.data.folder import survey

        found = survey(source.path)
        if found.problems:
            return Finding("data", f"{source.describe()}: refused", False, " ".join(found.problems))
        return Finding("data", f"{source.describe()}: {found.describe()}", True)
    if source.kind == "official":
        damaged = _damaged_official_files()
        if damaged:
            return Finding(
                "data",
                f"{source.describe()}: {', '.join(damaged)} fail torchvision's MD5 check",
                False,
                f"delete {cache_dir() / 'torchvision' / 'cifar-10-batches-py'} and load the data again.",
            )
        return Finding("data", f"{source.describe()}: {detail}; every batch file matches its MD5", True)
    return Finding("data", f"{source.describe()}: {detail}", True)


def _damaged_official_files() -> list[str]:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    folder = cache_dir() / "torchvision" / CIFAR10.base_folder
    files = [*CIFAR10.train_list, *CIFAR10.test_list]
    return [name for name, md5 in files if not check_integrity(str(folder / name), md5)]


def cache_finding() -> Finding:
    """The cache folder, opened: writable, free space, and the entry of the configured copy."""
    import shutil
    import zipfile

    from cifarlab.data import resolve_source
    from cifarlab.data.cache import CACHE_ENV_VAR, entries_of
    from cifarlab.files import human_bytes, unwritable

    directory = cache_dir()
    problem = unwritable(directory, create=False)
    if problem:
        return Finding(
            "cache", problem, False, f"every load decodes the data again: set {CACHE_ENV_VAR} to a writable folder."
        )
    detail = f"{directory} ({human_bytes(shutil.disk_usage(directory).free)} free)"
    try:
        source = resolve_source()
    except DataError:
        return Finding("cache", detail, True)
    if source.kind != "folder" or not source.path or not source.path.exists():
        return Finding("cache", detail, True)
    from cifarlab.data.folder import cache_source, content_key

    entries = entries_of(cache_source(source.path), directory)
    if not entries:
        return Finding("cache", f"{detail}: no entry for this copy yet (the first load decodes it)", True)
    current = content_key(source.path)[0]
    entry = entries[-1]
    try:
        with zipfile.ZipFile(entry) as stored:
            bad = stored.testzip()  # reads every byte, checking each array's CRC
    except (OSError, zipfile.BadZipFile) as error:
        bad = str(error)
    if bad:
        return Finding(
            "cache",
            f"{detail}: the entry {entry.name} is damaged ({bad})",
            None,
            "the next load decodes the data again.",
        )
    state = "up to date" if entry.stem.endswith(current) else "stale: the copy changed since (the next load decodes it)"
    return Finding("cache", f"{detail}: {entry.name}, {human_bytes(entry.stat().st_size)}, intact, {state}", True)


def profile_finding() -> Finding:
    try:
        profile = get_profile()
    except OptionError as error:
        return Finding("profile", "invalid", False, str(error))
    import os

    from cifarlab.profile import ENV_VAR

    sizes = "all" if profile.train_size is None else f"{profile.train_size}"
    why = (
        f"set by {ENV_VAR}"
        if os.environ.get(ENV_VAR)
        else f"the default {'with' if profile.name == 'full' else 'without'} a GPU"
    )
    return Finding(
        "profile",
        f"{profile.name} ({why}): train images {sizes}, {profile.epochs} epoch(s), batch {profile.batch_size}",
        None,
    )


def diagnose() -> list[Finding]:
    """Everything the doctor checks, in report order."""
    from cifarlab import __version__

    python_ok = sys.version_info >= (3, 10)
    return [
        Finding("cifarlab", __version__, None),
        Finding("python", platform.python_version(), python_ok, "" if python_ok else "use Python 3.10 or newer"),
        *package_findings(),
        device_finding(),
        cpu_finding(),
        data_finding(),
        cache_finding(),
        profile_finding(),
    ]


def report(findings: list[Finding] | None = None) -> str:
    """The doctor's report as text, ending with a one-line verdict."""
    findings = diagnose() if findings is None else findings
    problems = [f for f in findings if f.ok is False]
    verdict = "All set." if not problems else f"{len(problems)} problem(s): see the lines marked !! above."
    return "\n".join([f.line() for f in findings] + ["", verdict])


def run_header() -> str:
    """One line for the top of a notebook: version, profile, device and data source."""
    from cifarlab import __version__
    from cifarlab.data import resolve_source

    try:
        data = resolve_source().describe()
    except DataError as error:
        data = f"not usable ({error})"
    device, _ = device_summary()
    return f"cifarlab {__version__} | profile: {get_profile().name} | device: {device} | data: {data}"
