"""`cifarlab reproduce`: one command writes every GPU figure; on a CPU the same report, in the smoke profile."""

import json

import pytest

from cifarlab.cli import main
from cifarlab.reproduce import PathResult


def test_time_to_a_target_counts_training_seconds_until_the_first_epoch_that_reaches_it():
    r = PathResult("x", 3, 100, 6.0, [1.0, 2.0, 3.0], [0.5, 0.93, 0.95], 0.9, {"flip": 0.91}, None)
    assert r.time_to(0.918) == 3.0 and r.time_to(0.95) == 6.0 and r.time_to(0.96) is None
    assert r.images_per_second == pytest.approx(50.0)


def test_reproduce_writes_the_report_on_a_cpu_in_the_smoke_profile(tmp_path, capsys):
    out = tmp_path / "reference"
    assert main(["reproduce", "--out", str(out), "--source", "synthetic"]) == 0
    report = (out / "REPORT.md").read_text()
    assert report in capsys.readouterr().out  # printed as written
    assert "Device: **CPU" in report and "profile smoke" in report
    for row in ("| data on the device |", "| DataLoader |", "n/a (CPU)", "32-true", "flip+translate TTA"):
        assert row in report, row
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results] == ["data on the device", "DataLoader"]
    assert all(0 <= r["test_acc"] <= 1 and set(r["tta_acc"]) == {"flip", "flip-translate"} for r in results)
    assert all(
        (out / folder / "checkpoints" / "best.ckpt").is_file() for folder in ("data-on-the-device", "dataloader")
    )
    # nothing is overwritten: a second report needs another folder
    assert main(["reproduce", "--out", str(out), "--source", "synthetic"]) == 2
    assert "not empty" in capsys.readouterr().err
