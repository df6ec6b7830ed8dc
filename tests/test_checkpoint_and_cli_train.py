"""Checkpoints load safely or say why not; `cifarlab train` and `evaluate` end to end, DDP included."""

import json
import os
import subprocess
import sys

import pytest
import torch

from cifarlab.checkpoint import CheckpointError, load_model
from cifarlab.cli import main
from cifarlab.model import ResNet9

from .conftest import REPO

SMOKE = ["--profile", "smoke", "--source", "synthetic"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One smoke run through the CLI, with the LR finder, shared by the tests below."""
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", *SMOKE, "--epochs", "2", "--lr-find", "--out", str(out)]) == 0
    return out


def test_train_command_writes_the_run_folder(trained_run):
    summary = json.loads((trained_run / "summary.json").read_text())
    from cifarlab.precision import choose_settings

    auto = choose_settings(accelerator="cpu")  # what the CLI's defaults (auto) choose on this machine
    assert summary["epochs"] == 2 and summary["profile"] == "smoke"
    assert (summary["precision"], summary["channels_last"], summary["augment"]) == (
        auto.precision,
        auto.channels_last,
        auto.augment,
    )
    assert len(summary["chosen_for_this_machine"]) == 3
    assert summary["lr_choice"] and 0 <= summary["test_acc"] <= 1
    for name in (
        "metrics.csv",
        "metrics.png",
        "lr_find.png",
        "summary.txt",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    ):
        assert (trained_run / name).is_file(), name


def test_train_refuses_to_overwrite_a_run_and_names_the_fix(trained_run, capsys):
    assert main(["train", *SMOKE, "--out", str(trained_run)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_evaluate_command_prints_loss_accuracy_and_each_class(trained_run, capsys):
    assert main(["evaluate", str(trained_run / "checkpoints" / "best.ckpt"), *SMOKE]) == 0
    out = capsys.readouterr().out
    assert "test loss" in out and "accuracy" in out
    from cifarlab.data.synthetic import SHAPES

    assert all(any(line.startswith(name) and "%" in line for line in out.splitlines()) for name in SHAPES)
    # plain and test-time-augmented accuracy side by side (cifarlab.tta), by default
    assert all(any(line.split()[:1] == [level] for line in out.splitlines()) for level in ("flip", "flip-translate"))
    assert main(["evaluate", str(trained_run / "checkpoints" / "best.ckpt"), *SMOKE, "--tta", "none"]) == 0
    assert "flip-translate" not in capsys.readouterr().out


def test_checkpoint_loads_with_its_statistics_and_predicts_like_the_module(trained_run):
    loaded = load_model(trained_run / "checkpoints" / "best.ckpt")
    contents = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    assert loaded.mean == tuple(contents["hyper_parameters"]["mean"]) and len(loaded.classes) == 10
    assert not loaded.model.training
    from cifarlab.lit import LitResNet9

    module = LitResNet9(**contents["hyper_parameters"])
    module.load_state_dict(contents["state_dict"])
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(module.eval()(x), loaded.model(x), atol=1e-6)


def test_a_half_precision_state_dict_loads_too(trained_run, tmp_path):
    loaded = load_model(trained_run / "checkpoints" / "best.ckpt")
    torch.save(
        {k: v.half() if v.is_floating_point() else v for k, v in loaded.model.state_dict().items()}, tmp_path / "w.pt"
    )
    again = load_model(tmp_path / "w.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(again.model(x), loaded.model(x), atol=1e-2)


def test_a_checkpoint_of_another_model_is_refused_with_the_reason(tmp_path):
    torch.save(ResNet9(widths=(8, 16, 32, 64)).state_dict(), tmp_path / "narrow.pt")
    with pytest.raises(CheckpointError, match=r"not a checkpoint of this ResNet9.*another shape"):
        load_model(tmp_path / "narrow.pt")
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "linear.pt")
    with pytest.raises(CheckpointError, match=r"missing .*unexpected"):
        load_model(tmp_path / "linear.pt")


class NotTensors:
    pass


def test_unsafe_truncated_and_missing_files_are_refused(tmp_path, trained_run):
    torch.save({"state_dict": NotTensors()}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_model(tmp_path / "evil.ckpt")
    data = (trained_run / "checkpoints" / "best.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_model(tmp_path / "cut.ckpt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_model(tmp_path / "nothing.ckpt")
    assert main(["evaluate", str(tmp_path / "nothing.ckpt"), *SMOKE]) == 2


def test_the_cli_lists_the_same_choices_as_the_package():
    from cifarlab.cli import build_parser
    from cifarlab.datamodule import AUGMENT_MODES
    from cifarlab.lit import OPTIMIZERS

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = {a.dest: a.choices for a in train._actions if a.choices}
    assert tuple(choices["optimizer"]) == OPTIMIZERS and tuple(choices["augment"]) == ("auto", *AUGMENT_MODES)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], ("auto", None, "auto")),  # left to the machine
        (
            ["--precision", "32-true", "--no-channels-last", "--augment", "albumentations"],
            ("32-true", False, "albumentations"),
        ),
        (["--precision", "bf16-mixed", "--channels-last", "--augment", "batch"], ("bf16-mixed", True, "batch")),
    ],
)
def test_speed_options_reach_the_run_as_given(monkeypatch, flags, expected):
    import cifarlab.train

    seen = []

    def record(config, callbacks=()):
        seen.append((config.precision, config.channels_last, config.augment))
        raise KeyboardInterrupt("stop here")

    monkeypatch.setattr(cifarlab.train, "train", record)
    assert main(["train", *SMOKE, *flags, "--out", "unused"]) == 130
    assert seen == [expected]


def test_ddp_with_two_cpu_processes(tmp_path):
    """Lightning's DDP through --devices and --strategy: two processes, one run folder."""
    env = dict(os.environ, CIFARLAB_CACHE=str(tmp_path / "cache"), PYTHONWARNINGS="ignore")
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "cifarlab",
        "train",
        *SMOKE,
        "--accelerator",
        "cpu",
        "--devices",
        "2",
        "--strategy",
        "ddp",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["devices"] == 2 and summary["epochs"] == 1 and summary["test_acc"] is not None
    assert "x2" in done.stdout and done.stdout.count("test accuracy") == 1  # rank 0 alone reports
    load_model(out / "checkpoints" / "last.ckpt")


def test_an_interrupted_train_command_says_how_to_resume(monkeypatch, capsys):
    import cifarlab.train

    def interrupted(config, callbacks=()):
        raise KeyboardInterrupt("training interrupted; continue with resume=True (--resume).")

    monkeypatch.setattr(cifarlab.train, "train", interrupted)
    assert main(["train", *SMOKE, "--out", "unused"]) == 130
    assert "--resume" in capsys.readouterr().err


def test_a_runs_command_line_is_rebuilt_from_its_config():
    import shlex
    from dataclasses import asdict

    from cifarlab.cli import build_parser
    from cifarlab.runfolder import train_command
    from cifarlab.train import TrainConfig

    asked = TrainConfig(
        out="runs/x", profile="full", precision="bf16-mixed", channels_last=True, augment="batch",
        ema=True, final=True, seed=3, max_lr=0.2, extra={"cutout_p": 0.5},
    )  # fmt: skip
    command = train_command(asdict(asked))
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.out, args.profile, args.precision, args.augment) == ("runs/x", "full", "bf16-mixed", "batch")
    assert args.channels_last and args.ema and args.final and args.seed == 3 and args.max_lr == 0.2
    assert args.cutout_p == 0.5 and "--resume" not in command and "--optimizer" not in command
    assert "--no-channels-last" in train_command({**asdict(asked), "channels_last": False})
    # a Profile given from Python (or stored by a resume), workers, and recipe numbers the CLI lacks
    python_run = {**asdict(asked), "profile": {"name": "cpu", "val_size": 1000}, "num_workers": 3}
    python_run["extra"] = {"cutout_p": 0.5, "cycle_momentum": True}
    command, comment = train_command(python_run).split("  # ")
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.profile == "cpu" and args.num_workers == 3 and args.cutout_p == 0.5
    assert comment == "and from Python: TrainConfig(extra={'cycle_momentum': True})"
