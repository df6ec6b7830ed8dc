import subprocess
import sys
from pathlib import Path

import pytest

from cifarlab import cli, doctor

from .conftest import REPO


def test_doctor_reports_each_dependency_device_data_and_profile(monkeypatch):
    monkeypatch.setenv("CIFARLAB_DATA", "synthetic")
    findings = {f.topic: f for f in doctor.diagnose()}
    for topic in ("python", "torch", "torchvision", "lightning", "albumentations", "device", "data", "profile"):
        assert topic in findings, topic
    assert findings["albumentations"].ok and "<2.1" in findings["albumentations"].detail
    assert findings["data"].ok and "synthetic" in findings["data"].detail


def test_doctor_flags_a_wrong_data_path_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("CIFARLAB_DATA", str(tmp_path / "missing"))
    finding = doctor.data_finding()
    assert finding.ok is False and "does not exist" in finding.advice
    assert "1 problem(s)" in doctor.report([finding])


def test_doctor_flags_an_outdated_package(monkeypatch):
    monkeypatch.setattr(doctor.metadata, "version", lambda name: "0.0.1")
    bad = [f for f in doctor.package_findings() if f.ok is False]
    assert bad and all(f.advice.startswith("pip install") for f in bad)


def test_doctor_without_gpu_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(doctor, "device_summary", lambda: ("cpu (x86_64, no GPU)", False))
    assert "Change runtime type" in doctor.device_finding().advice


def test_run_header_names_profile_device_and_data(monkeypatch):
    monkeypatch.setenv("CIFARLAB_PROFILE", "smoke")
    monkeypatch.setenv("CIFARLAB_DATA", "synthetic")
    header = doctor.run_header()
    assert "profile: smoke" in header and "device: " in header and "data: synthetic" in header


def test_data_command_prints_splits_and_counts(monkeypatch, capsys):
    assert cli.main(["data", "--source", "synthetic", "--profile", "smoke", "--per-class"]) == 0
    out = capsys.readouterr().out
    assert "train  :   1000 images" in out and "val    :    200 images" in out
    assert "mean" in out and "disc" in out and "loaded in" in out


def test_data_command_turns_bad_input_into_an_error_line(tmp_path, capsys):
    assert cli.main(["data", "--source", str(tmp_path / "nope")]) == 2
    assert "error: data source" in capsys.readouterr().err


def test_build_lessons_check_command(tmp_path, capsys):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "00_x.ipynb").write_text((REPO / "solutions" / "01_data_and_augmentation.ipynb").read_text())
    args = ["build-lessons", "--solutions", str(solutions), "--lessons", str(tmp_path / "lessons")]
    assert cli.main([*args, "--check"]) == 2  # no pyproject.toml beside solutions/ to take the address from
    assert "pyproject.toml: run this from the repository root" in capsys.readouterr().err
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    assert cli.main([*args, "--check"]) == 1 and "stale" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert cli.main([*args, "--check"]) == 0
    assert "mean_std" in (tmp_path / "cifarlab" / "selfcheck" / "exercises.json").read_text()


SCRIPT = str(Path(sys.executable).parent / "cifarlab")  # installed beside the interpreter


@pytest.mark.parametrize("entry", [[SCRIPT], [sys.executable, "-m", "cifarlab"]])
def test_console_script_and_module_run(entry):
    result = subprocess.run([*entry, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "doctor" in result.stdout and "build-lessons" in result.stdout
