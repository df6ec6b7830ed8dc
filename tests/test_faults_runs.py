"""Fault suite, training runs: nothing lost, nothing half-written, nothing run twice into one folder.

Kills, full disks and damaged checkpoints (issue 14). The runs are tiny: smoke-sized
synthetic data, a narrow ResNet-9, a few batches per epoch.
"""

from __future__ import annotations

import errno
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cifarlab.runfolder as runfolder
from cifarlab.checkpoint import read_checkpoint
from cifarlab.cli import main
from cifarlab.errors import CheckpointError, OptionError
from cifarlab.files import FolderLock
from cifarlab.train import TrainConfig, train

from .figures import PINNED, SMALL_WIDTHS

pytestmark = pytest.mark.faults


def tiny(out: Path, epochs: int = 2, **changes) -> TrainConfig:
    """A run of a few seconds: smoke profile, synthetic shapes, narrow widths, fp32."""
    extra = {"widths": SMALL_WIDTHS, **changes.pop("extra", {})}
    profile = changes.pop("profile", "smoke")
    return TrainConfig(
        out=str(out), profile=profile, source="synthetic", epochs=epochs, extra=extra, quiet=True, **PINNED, **changes
    )


def temporaries(out: Path) -> list[Path]:
    return sorted((out / "checkpoints").glob(".*.tmp"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished two-epoch tiny run."""
    out = tmp_path_factory.mktemp("runs") / "finished"
    train(tiny(out))
    return out


# --- strict options: checked before any work, nothing silently replaced --------------------------------

BAD_NUMBERS = [
    ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
    ({"epochs": -1}, "epochs must be a whole number >= 1, got -1"),
    ({"epochs": 2.5}, "epochs must be a whole number"),
    ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
    ({"max_lr": math.nan}, "max_lr must be a finite number > 0, got nan"),
    ({"max_lr": math.inf}, "max_lr must be a finite number > 0, got inf"),
    ({"max_lr": -0.1}, "max_lr must be a finite number > 0"),
    ({"num_workers": -1}, "num_workers must be a whole number >= 0"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"extra": {"label_smoothing": 1.0}}, "label_smoothing must be a finite number >= 0 and < 1"),
    ({"extra": {"pct_start": 0.0}}, "pct_start must be a finite number > 0 and < 1"),
    ({"extra": {"weight_decay": math.nan}}, "weight_decay must be a finite number >= 0"),
    ({"extra": {"momentum": 0.0}}, "momentum must be a finite number > 0 and < 1"),  # Nesterov needs some
    ({"extra": {"cutout_p": 1.5}}, "cutout_p must be a finite number >= 0 and <= 1"),
    ({"optimizer": "adam", "extra": {"momentum": 0.5}}, "--momentum is SGD's"),  # else silently ignored
]


@pytest.mark.parametrize(("changes", "message"), BAD_NUMBERS, ids=[str(c) for c, _ in BAD_NUMBERS])
def test_a_bad_number_is_refused_before_any_work(tmp_path, changes, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train(tiny(tmp_path / "run", **changes))
    assert not (tmp_path / "run").exists()  # not even the folder


def test_a_file_where_the_run_folder_goes(tmp_path):
    (tmp_path / "run").write_text("notes")
    with pytest.raises(OptionError, match="is a file"):
        train(tiny(tmp_path / "run"))
    with pytest.raises(OptionError, match="cannot write the run folder.*a path component is a file"):
        train(tiny(tmp_path / "run" / "inside"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_asked_for_on_a_machine_without_one(tmp_path):
    with pytest.raises(OptionError, match="no CUDA GPU.*--accelerator cpu"):
        train(tiny(tmp_path / "run", accelerator="gpu"))


def test_resume_with_another_schedule_is_refused_and_without_it_continues(finished, tmp_path, monkeypatch):
    with pytest.raises(OptionError, match=r"cannot be resumed with epochs 4 \(the run has 2\).*OneCycle"):
        train(tiny(finished, epochs=4, resume=True))
    with pytest.raises(OptionError, match=r"batch_size 7 \(the run has"):
        train(tiny(finished, epochs=None, batch_size=7, resume=True))
    monkeypatch.setenv("CIFARLAB_PROFILE", "cpu")  # what the run started with wins over the environment
    result = train(tiny(finished, epochs=None, profile=None, resume=True))
    assert result.summary["profile"] == "smoke" and not result.interrupted


# --- one run per folder --------------------------------------------------------------------------------


def test_a_second_run_into_a_locked_folder_stops_at_once(tmp_path):
    out = tmp_path / "run"
    with FolderLock(out):  # another run holds it (a lock of another open file: as another process would)
        with pytest.raises(OptionError, match="another run is writing into .*run right now"):
            train(tiny(out))
    assert not (out / "checkpoints").exists()


# --- checkpoints whole or not at all -------------------------------------------------------------------

KILL_DURING_SAVE = """
import io, os, signal, sys
import torch
import cifarlab.runfolder as runfolder
from cifarlab.train import train
sys.path.insert(0, {repo!r})
from tests.test_faults_runs import tiny

real_save, saves = torch.save, []

def save(obj, path, *args, **kwargs):
    if ".last.ckpt." in str(path):
        saves.append(path)
        if len(saves) == 2:  # the second epoch's last.ckpt: half of it, then SIGKILL
            buffer = io.BytesIO()
            real_save(obj, buffer)
            with open(path, "wb") as file:
                file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, path, *args, **kwargs)

runfolder.torch.save = save
train(tiny({out!r}, epochs=3))
"""


def test_sigkill_during_a_checkpoint_save_then_resume(tmp_path):
    out = tmp_path / "run"
    script = KILL_DURING_SAVE.format(repo=str(Path(__file__).parents[1]), out=str(out))
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(temporaries(out)) == 1  # killed mid-write: the half file is a temporary, not last.ckpt
    assert read_checkpoint(out / "checkpoints" / "last.ckpt")["epoch"] == 0  # the first epoch's, intact
    result = train(tiny(out, epochs=3, resume=True))  # and the dead process's lock is gone with it
    assert not result.interrupted and [row["epoch"] for row in result.history] == [1, 2, 3]  # the whole run's
    assert read_checkpoint(out / "checkpoints" / "last.ckpt")["epoch"] == 2
    assert temporaries(out) == []  # the orphan was cleaned up


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    out, real_save, saves = tmp_path / "run", torch.save, []

    def save(obj, path, *args, **kwargs):
        if ".last.ckpt." in str(path):
            saves.append(path)
            if len(saves) == 2:
                Path(path).write_bytes(b"\0" * 1000)  # part of it got written, then the disk filled
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(runfolder.torch, "save", save)
    with pytest.raises(CheckpointError, match=r"could not save .*last.ckpt \(the disk is full.*last.ckpt is intact"):
        train(tiny(out, epochs=3))
    assert read_checkpoint(out / "checkpoints" / "last.ckpt")["epoch"] == 0 and temporaries(out) == []
    monkeypatch.setattr(runfolder.torch, "save", real_save)
    assert main(["train", "--resume", "--out", str(out), "--source", "synthetic", "--profile", "smoke"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_a_damaged_last_checkpoint_resumes_from_best(finished, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished, out)
    last, best = out / "checkpoints" / "last.ckpt", out / "checkpoints" / "best.ckpt"
    last.write_bytes(b"half a checkpoint")
    with pytest.raises(OptionError, match="already holds a run.*--resume"):
        train(tiny(out))
    best_epoch = read_checkpoint(best)["epoch"]
    result = train(tiny(out, epochs=None, resume=True))
    err = capsys.readouterr().err
    assert "last.ckpt is damaged" in err and f"resuming from best.ckpt (epoch {best_epoch})" in err
    assert not result.interrupted and [row["epoch"] for row in result.history] == [1, 2]
    assert (best_epoch == 1) != last.exists()  # the epochs after best were trained again, if any
    assert (out / "checkpoints" / "last.ckpt.damaged").read_bytes() == b"half a checkpoint"  # kept, not deleted
    with pytest.raises(OptionError, match="already holds a run"):  # best.ckpt alone still marks a run
        train(tiny(out))
    for path in (last, best):
        path.write_bytes(b"damaged")
    with pytest.raises(CheckpointError, match=r"no checkpoint in .*checkpoints can be read.*Delete .*checkpoints"):
        train(tiny(out, epochs=None, resume=True))


def test_reports_are_written_whole(finished):
    for name in ("config.json", "summary.json"):
        json.loads((finished / name).read_text())
    assert not list(finished.glob(".*.tmp"))
    assert json.loads((finished / "config.json").read_text())["resolved"]["epochs"] == 2
