"""One training run with Lightning, start to finish, into a run folder.

    <out>/
      config.json              what was asked for
      checkpoints/best.ckpt    the epoch with the best validation accuracy
      checkpoints/last.ckpt    the latest epoch: `resume=True` continues from it
      metrics.csv, metrics.png one row per epoch (train and val loss and accuracy, lr, time)
      lr_find.png              the range test, when the rate was found rather than given
      summary.json, summary.txt  test metrics, time, device, precision, chosen rate

This is what `cifarlab train` runs and what lessons 04 and 05 call.
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from cifarlab.checkpoint import read_checkpoint
from cifarlab.datamodule import CIFAR10DataModule
from cifarlab.doctor import package_versions
from cifarlab.hardware import cpu_features
from cifarlab.history import History, metrics_figure
from cifarlab.lit import LitResNet
from cifarlab.lr_finder import LRFindResult, find_lr, lr_find_figure
from cifarlab.precision import choose_settings
from cifarlab.profile import Profile, get_profile
from cifarlab.recipe import DEFAULT_LR
from cifarlab.rng import RandomStates


@dataclass
class TrainConfig:
    """Everything a run depends on. None means "the profile's value" or "the recipe's default"."""

    out: str = "runs/latest"
    profile: str | Profile | None = None  # a name, or a Profile for custom sizes
    source: str | None = None  # 'torchvision', 'synthetic' or a path; None: $CIFARLAB_DATA
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = "sgd"
    lr: float | None = None  # OneCycle's peak rate
    lr_find: bool = False  # find the peak rate with the range test instead
    precision: str = "auto"  # auto: chosen for this machine (cifarlab.precision), or 32-true, bf16-mixed, 16-mixed
    channels_last: bool | None = None  # None: chosen for this machine
    augment: str = "auto"  # "batch" (on the device), "albumentations" (per image, in the loader), "none"; auto: batch
    accelerator: str | None = None
    devices: int | str = 1
    strategy: str = "auto"
    num_workers: int | None = None
    seed: int = 0
    resume: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # more LitResNet keywords (label_smoothing, ...)


@dataclass
class RunResult:
    """What a finished run produced."""

    out: Path
    history: list[dict[str, float]]
    test: dict[str, float]
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    lr: float
    lr_find: LRFindResult | None
    seconds: float
    interrupted: bool
    summary: dict[str, Any]
    global_zero: bool  # False in the other processes of a multi-device run


def train(config: TrainConfig, callbacks: Sequence[L.Callback] = ()) -> RunResult:
    """Train (or resume) a LitResNet as `config` says; test the best checkpoint once at the end."""
    out = Path(config.out)
    last = out / "checkpoints" / "last.ckpt"
    if last.exists() and not config.resume:
        raise ValueError(f"{out} already holds a run (checkpoints/last.ckpt). Pass --resume to continue it, or choose another --out.")
    if config.lr_find and str(config.devices) != "1":
        raise ValueError("--lr-find runs on one device: find the rate with --devices 1 first, then pass it as --max-lr.")
    if config.resume and not last.exists():
        raise ValueError(f"nothing to resume in {out}: there is no checkpoints/last.ckpt.")
    profile = config.profile if isinstance(config.profile, Profile) else get_profile(config.profile)
    accelerator = config.accelerator or profile.accelerator
    settings = choose_settings(config.precision, config.channels_last, config.augment, accelerator)
    resumed = read_checkpoint(last)["hyper_parameters"] if config.resume else None
    augment = settings.augment
    if resumed is not None:  # a resumed run keeps the layout and augmentation path it started with
        if config.augment == "auto":
            augment = "batch" if resumed.get("batch_augment") else "albumentations"
        kept = [r for r in settings.reasons if r.startswith("precision")] + ["channels-last and augmentation: as the run started"]
        settings = replace(settings, channels_last=bool(resumed.get("channels_last")), reasons=tuple(kept))
    out.mkdir(parents=True, exist_ok=True)
    epochs = config.epochs or profile.epochs
    L.seed_everything(config.seed, workers=True, verbose=False)
    datamodule = CIFAR10DataModule(config.source, profile, config.batch_size, config.num_workers, seed=config.seed, augment=augment)
    datamodule.prepare_data()
    datamodule.setup()
    if resumed is not None:  # the rate (found or given) and the recipe come from the run itself
        module = LitResNet(**resumed)
    else:
        module = LitResNet(
            optimizer=config.optimizer,
            lr=config.lr,
            batch_augment=augment == "batch",
            channels_last=settings.channels_last,
            seed=config.seed,
            mean=datamodule.mean,
            std=datamodule.std,
            classes=datamodule.classes,
            **config.extra,
        )
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")

    found = None
    if config.lr_find and not config.resume:
        fallback = config.lr or DEFAULT_LR[config.optimizer]
        found = find_lr(
            module, datamodule, fallback, num_training=profile.lr_find_steps, accelerator=accelerator, precision=settings.precision
        )
        print(f"LR finder: {found.describe()}")
        lr_find_figure(found).savefig(out / "lr_find.png", dpi=120)
        module.hparams.lr = module.lr = found.lr

    history = History()
    best = ModelCheckpoint(out / "checkpoints", filename="best", monitor="val_acc", mode="max")
    # A separate callback for the latest epoch: Lightning 2.6's save_last=True writes last.ckpt
    # only in epochs where the best one improved, and a resume must start from the latest.
    latest = ModelCheckpoint(out / "checkpoints", filename="last", monitor=None, save_top_k=1, enable_version_counter=False)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=config.devices,
        strategy=config.strategy,
        precision=settings.precision,
        max_epochs=epochs,
        limit_train_batches=profile.limit_batches,
        limit_val_batches=profile.limit_batches,
        limit_test_batches=profile.limit_batches,
        callbacks=[history, RandomStates(), best, latest, *callbacks],  # RandomStates: exact resume with dropout
        logger=CSVLogger(out, name="logs"),
        use_distributed_sampler=False,  # EpochSampler shares the data out itself, seeded by epoch
        deterministic=accelerator == "cpu",
        log_every_n_steps=10,
    )
    started = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if config.resume else None)
    except SystemExit:
        if not trainer.interrupted:
            raise
        # Ctrl+C: Lightning shut down cleanly, then set SIGINT to be ignored and called
        # sys.exit, which in a notebook would leave a kernel that no longer interrupts.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt(f"training interrupted; the last finished epoch is in {last}: continue with resume=True (--resume).") from None
    seconds = time.perf_counter() - started
    interrupted = trainer.interrupted
    if not interrupted:
        with warnings.catch_warnings():  # "best" is the monitored checkpoint's, the first callback: as intended
            warnings.filterwarnings("ignore", message=r".*multiple `ModelCheckpoint` callbacks")
            trainer.test(module, datamodule=datamodule, ckpt_path="best", verbose=False)
    best_path = Path(best.best_model_path) if best.best_model_path else None
    summary = {
        "test_acc": history.test.get("test_acc"),
        "test_loss": history.test.get("test_loss"),
        "best_val_acc": float(best.best_model_score) if best.best_model_score is not None else None,
        "epochs": len(history.rows),
        "train_seconds": round(seconds, 2),
        "lr": module.lr,
        "lr_choice": found.reason if found else ("from the resumed run" if config.resume else "given" if config.lr else "the recipe's default"),
        "precision": settings.precision,
        "channels_last": bool(module.hparams.channels_last),
        "augment": augment,
        "chosen_for_this_machine": list(settings.reasons),
        "device": _device_name(trainer),
        "devices": trainer.world_size,
        "profile": profile.name,
        "data": datamodule.splits.source if datamodule.splits else None,
        "train_images": len(datamodule.train_set),
        "interrupted": interrupted,
        "versions": package_versions(),
    }
    if trainer.is_global_zero:
        _write_run_folder(out, history, summary)
    return RunResult(
        out, history.rows, history.test, best_path, last if last.exists() else None, module.lr, found, seconds, interrupted, summary, trainer.is_global_zero
    )


def _device_name(trainer: L.Trainer) -> str:
    root = trainer.strategy.root_device
    if root.type == "cuda":
        return torch.cuda.get_device_name(root)
    return f"{root.type} ({os.cpu_count()} cores; {cpu_features().describe()})"


def _write_run_folder(out: Path, history: History, summary: dict[str, Any]) -> None:
    history.write_csv(out / "metrics.csv")
    if history.rows:
        metrics_figure(history.rows, title=f"{summary['profile']} profile, {summary['device']}").savefig(out / "metrics.png", dpi=120)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.txt").write_text(summary_text(history, summary))


def summary_text(history: History, summary: dict[str, Any]) -> str:
    """A few readable lines: the result, how it was reached, and the per-epoch table."""
    test = summary["test_acc"]
    lines = [
        f"test accuracy: {test:.2%}" if test is not None else "test accuracy: (not tested: the run was interrupted)",
        f"training time: {summary['train_seconds']:.1f} s for {summary['epochs']} epochs on {summary['device']} x{summary['devices']}",
        f"precision {summary['precision']}, channels_last {summary['channels_last']}, augmentation {summary['augment']}",
        *(f"  auto: {reason}" for reason in summary.get("chosen_for_this_machine", [])),
        f"max LR {summary['lr']:.3g} ({summary['lr_choice']})",
        f"data: {summary['data']} ({summary['train_images']} training images, {summary['profile']} profile)",
        "",
        history.table(),
    ]
    return "\n".join(lines) + "\n"

