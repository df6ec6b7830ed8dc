"""Fault suite, the command line: every bad number is one `error:` line and exit code 2 before any
work; environment faults are one `error:` line, never a traceback; export never touches the package."""

from __future__ import annotations

import errno
import importlib.util
import json
import socket

import pytest
import torch

from cifarlab import cli, pretrained
from cifarlab.cli import main
from cifarlab.errors import CheckpointError
from cifarlab.files import sha256

pytestmark = pytest.mark.faults

BAD_OPTIONS = [
    (["train", "--epochs", "0"], "--epochs: must be a whole number >= 1, got '0'"),
    (["train", "--epochs", "-1"], "--epochs: must be a whole number >= 1, got '-1'"),
    (["train", "--epochs", "1.5"], "--epochs: must be a whole number >= 1, got '1.5'"),
    (["train", "--batch-size", "0"], "--batch-size: must be a whole number >= 1"),
    (["train", "--max-lr", "nan"], "--max-lr: must be a finite number > 0, got 'nan'"),
    (["train", "--max-lr", "inf"], "--max-lr: must be a finite number > 0, got 'inf'"),
    (["train", "--max-lr", "-0.1"], "--max-lr: must be a finite number > 0"),
    (["train", "--max-lr", "fast"], "--max-lr: must be a finite number > 0, got 'fast'"),
    (["train", "--workers", "-1"], "--workers: must be a whole number >= 0"),
    (["train", "--seed", "-3"], "--seed: must be a whole number >= 0"),
    (["train", "--devices", "0"], "--devices: must be a whole number >= 1 or 'auto'"),
    (["train", "--label-smoothing", "1"], "--label-smoothing: must be a finite number >= 0 and < 1"),
    (["train", "--pct-start", "0"], "--pct-start: must be a finite number > 0 and < 1"),
    (["train", "--weight-decay", "-0.0001"], "--weight-decay: must be a finite number >= 0"),
    (["train", "--div-factor", "inf"], "--div-factor: must be a finite number > 0"),
    (["train", "--momentum", "0"], "--momentum: must be a finite number > 0 and < 1"),
    (["train", "--cutout-p", "2"], "--cutout-p: must be a finite number >= 0 and <= 1"),
    (["evaluate", "--batch-size", "0"], "--batch-size: must be a whole number >= 1"),
    (["app", "--port", "0"], "--port: must be a whole number >= 1 and <= 65535"),
    (["app", "--port", "70000"], "--port: must be a whole number >= 1 and <= 65535"),
    (["app", "--gallery", "-1"], "--gallery: must be a whole number >= 0"),
    (["grade", "x.ipynb", "--out", "r.csv", "--timeout", "0"], "--timeout: must be a finite number > 0"),
    (["run-solutions", "--timeout", "nan"], "--timeout: must be a finite number > 0"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_a_bad_number_is_one_error_line_and_exit_code_2(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_train", lambda args: pytest.fail("work started with a bad option"))
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err and "error:" in err and "Traceback" not in err


def error_line(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_that_is_not_there(capsys, tmp_path):
    code, err = error_line(
        ["train", "--accelerator", "gpu", "--out", str(tmp_path / "r"), "--source", "synthetic"], capsys
    )
    assert code == 2 and err.startswith("error: --accelerator gpu, but this machine has no CUDA GPU")
    code, err = error_line(["evaluate", "--device", "cuda", "--source", "synthetic"], capsys)
    assert code == 2 and err.startswith("error: --device cuda, but this machine has no CUDA GPU")
    code, err = error_line(["evaluate", "--device", "gpu0", "--source", "synthetic"], capsys)
    assert code == 2 and "is not a device" in err


def test_out_that_is_a_file(capsys, tmp_path):
    (tmp_path / "r").write_text("")
    code, err = error_line(["train", "--out", str(tmp_path / "r"), "--source", "synthetic"], capsys)
    assert code == 2 and err.startswith("error: --out") and "is a file" in err


@pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="the app extra is not installed")
def test_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = error_line(["app", "--no-data", "--port", str(port)], capsys)
    assert code == 2 and f"cannot serve on 127.0.0.1:{port}" in err and "another program uses that port" in err


@pytest.mark.parametrize("fault", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_an_environment_fault_anywhere_is_one_error_line(fault, capsys, monkeypatch):
    def failing(args):
        raise OSError(fault, "from the operating system", "/some/where/file")

    monkeypatch.setattr(cli, "_data", failing)
    code, err = error_line(["data"], capsys)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 0 and "/some/where/file" in err


def test_a_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(cli, "_data", lambda args: [][1])
    with pytest.raises(IndexError):
        main(["data"])


# --- export never touches the package -------------------------------------------------------------------


def test_export_writes_beside_the_run_refuses_to_overwrite_and_reports_what_it_wrote(synthetic_run, capsys):
    shipped = {p.name: sha256(p) for p in pretrained.WEIGHTS_DIR.iterdir()}
    assert main(["export", str(synthetic_run), "--name", "shapes"]) == 0
    out = capsys.readouterr().out
    written = synthetic_run / "export" / "shapes.pt"
    info = json.loads(written.with_suffix(".json").read_text())
    assert f"sha256 {sha256(written)}" in out and f"test accuracy {info['test_accuracy']:.2%}" in out
    assert {p.name: sha256(p) for p in pretrained.WEIGHTS_DIR.iterdir()} == shipped  # untouched
    code, err = main(["export", str(synthetic_run), "--name", "shapes"]), capsys.readouterr().err
    assert code == 2 and "already exist: pass --force" in err
    assert main(["export", str(synthetic_run), "--name", "shapes", "--force"]) == 0
    assert len(pretrained.load_any(written).classes) == 10  # an export loads by its path, checked by its hash
    damaged = bytearray(written.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    written.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="does not match the sha256 in shapes.json"):
        pretrained.load_any(written)
