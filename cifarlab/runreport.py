"""What a finished run reports: summary.json, summary.txt, metrics.csv and metrics.png.

`run_summary` gathers the result, how it was reached (precision, layout, data path, rate, EMA) and
on what (device, versions, commit); `write_reports` writes it with the per-epoch table and
figure into the run folder, each file whole or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import torch

from cifarlab.files import write_text
from cifarlab.hardware import cpu_features
from cifarlab.history import History, metrics_figure
from cifarlab.lit import LitResNet9
from cifarlab.lr_finder import LRFindResult
from cifarlab.precision import Settings
from cifarlab.profile import Profile
from cifarlab.runfolder import save_figure, write_json
from cifarlab.versions import package_versions, source_commit

if TYPE_CHECKING:
    from cifarlab.datamodule import CIFAR10DataModule
    from cifarlab.train import TrainConfig


def run_summary(
    config: TrainConfig,
    profile: Profile,
    settings: Settings,
    datamodule: CIFAR10DataModule,
    trainer: L.Trainer,
    module: LitResNet9,
    history: History,
    found: LRFindResult | None,
    seconds: float,
) -> dict[str, Any]:
    """What summary.json records: the result, how it was reached, and on what."""
    best = trainer.checkpoint_callback
    given = "from the resumed run" if config.resume else "given" if config.max_lr else "the recipe's default"
    return {
        "test_acc": history.test.get("test_acc"),
        "test_loss": history.test.get("test_loss"),
        "best_val_acc": float(best.best_model_score) if best.best_model_score is not None else None,
        "epochs": len(history.rows),
        "train_seconds": round(seconds, 2),
        "max_lr": module.max_lr,
        "lr_choice": found.reason if found else given,
        "precision": settings.precision,
        "channels_last": bool(module.hparams.channels_last),
        "label_smoothing": float(module.hparams.label_smoothing),
        "ema": bool(module.hparams.get("ema_horizon")),
        "augment": settings.augment,
        "data_on_device": settings.on_device,
        "compiled": bool(module.hparams.get("compile")),
        "chosen_for_this_machine": list(settings.reasons),
        "device": device_name(trainer),
        "devices": trainer.world_size,
        "profile": profile.name,
        "data": datamodule.splits.source if datamodule.splits else None,
        "train_images": len(datamodule.train_set),
        "final": not profile.val_size,
        "interrupted": trainer.interrupted,
        "versions": package_versions(),
        "commit": source_commit(),
    }


def device_name(trainer: L.Trainer) -> str:
    """The GPU's name, or the CPU's cores and features, as a run records it."""
    root = trainer.strategy.root_device
    if root.type == "cuda":
        return torch.cuda.get_device_name(root)
    return f"{root.type} ({os.cpu_count()} cores; {cpu_features().describe()})"


def write_reports(out: Path, history: History, summary: dict[str, Any]) -> None:
    history.write_csv(out / "metrics.csv")
    if history.rows:
        title = f"{summary['profile']} profile, {summary['device']}"
        figure = metrics_figure(history.rows, title=title, label_smoothing=summary["label_smoothing"])
        save_figure(figure, out / "metrics.png")
    write_json(out / "summary.json", summary)
    write_text(out / "summary.txt", summary_text(history, summary))


def summary_text(history: History, summary: dict[str, Any]) -> str:
    """A few readable lines: the result, how it was reached, and the per-epoch table."""
    test = summary["test_acc"]
    lines = [
        f"test accuracy: {test:.2%}" if test is not None else "test accuracy: (not tested: the run was interrupted)",
        f"training time: {summary['train_seconds']:.1f} s for {summary['epochs']} epochs on "
        f"{summary['device']} x{summary['devices']}",
        f"precision {summary['precision']}, channels_last {summary['channels_last']}, augmentation "
        f"{summary['augment']}"
        + (", data on the device" if summary.get("data_on_device") else "")
        + (", torch.compile" if summary.get("compiled") else "")
        + (", EMA of the weights" if summary.get("ema") else ""),
        *(f"  auto: {reason}" for reason in summary.get("chosen_for_this_machine", [])),
        f"max LR {summary['max_lr']:.3g} ({summary['lr_choice']})",
        f"data: {summary['data']} ({summary['train_images']} training images, {summary['profile']} profile"
        + (", a final model: no validation hold-out, the last epoch is best.ckpt)" if summary.get("final") else ")"),
        "",
        history.table(),
    ]
    return "\n".join(lines) + "\n"
