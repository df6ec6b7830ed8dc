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

import contextlib
import signal
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from cifarlab.checkpoint import hyper_parameters
from cifarlab.datamodule import CIFAR10DataModule
from cifarlab.ema import ema_callback
from cifarlab.errors import OptionError
from cifarlab.files import FolderLock
from cifarlab.history import History
from cifarlab.lit import LitResNet9
from cifarlab.logs import info_off, quiet_lightning
from cifarlab.lr_finder import LRFindResult, find_lr, lr_find_figure
from cifarlab.precision import Settings, choose_settings
from cifarlab.profile import Profile, get_profile
from cifarlab.recipe import RECIPE
from cifarlab.rng import RandomStates
from cifarlab.runfolder import (
    AtomicCheckpointIO,
    as_it_started,
    check_accelerator,
    check_numbers,
    check_out_folder,
    check_resumable,
    check_start,
    checkpoint_paths,
    is_rank_zero,
    misconfiguration_as_option_error,
    resume_checkpoint,
    save_figure,
    stored_config,
    write_json,
)
from cifarlab.runreport import run_summary, write_reports


@dataclass
class TrainConfig:
    """Everything a run depends on. None means "the profile's value" or "the recipe's default"."""

    out: str = "runs/latest"
    profile: str | Profile | None = None  # a name, or a Profile for custom sizes
    source: str | None = None  # 'torchvision', 'synthetic' or a path; None: $CIFARLAB_DATA
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = RECIPE.optimizer
    max_lr: float | None = None  # OneCycle's peak rate; None: the recipe's for the optimizer
    lr_find: bool = False  # find the peak rate with the range test instead
    precision: str = "auto"  # auto: chosen for this machine (cifarlab.precision), or 32-true, bf16-mixed, 16-mixed
    channels_last: bool | None = None  # None: chosen for this machine
    augment: str = "auto"  # "batch" (on the device), "albumentations" (per image, in the loader), "none"; auto: batch
    data_on_device: bool | None = None  # hold the data on the device, no DataLoader; None: on a GPU
    compile: bool = False  # torch.compile the network (cifarlab.lit)
    accelerator: str | None = None
    devices: int | str = 1
    strategy: str = "auto"
    num_workers: int | None = None
    seed: int = 0
    resume: bool = False
    ema: bool = False  # validate, checkpoint and test an EMA of the weights (cifarlab.ema)
    final: bool = False  # a final model: every training image, no validation, best.ckpt = the last epoch
    extra: dict[str, Any] = field(default_factory=dict)  # more LitResNet9 keywords (label_smoothing, ...)
    quiet: bool = False  # no progress bars, model summary or Lightning info lines (a side run in a lesson)


@dataclass
class RunResult:
    """What a finished run produced."""

    out: Path
    history: list[dict[str, float]]
    test: dict[str, float]
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    max_lr: float
    lr_find: LRFindResult | None
    seconds: float
    interrupted: bool
    summary: dict[str, Any]
    global_zero: bool  # False in the other processes of a multi-device run


def train(config: TrainConfig, callbacks: Sequence[L.Callback] = ()) -> RunResult:
    """Train (or resume) a LitResNet9 as `config` says; test the best checkpoint once at the end.

    Every option is checked before any work; the run folder is locked while the run writes
    into it (see `cifarlab.runfolder`).
    """
    out = Path(config.out)
    # every option, before the folder is made or locked: a typo costs nothing
    check_numbers(config)
    profile = config.profile if isinstance(config.profile, Profile) else get_profile(config.profile)
    accelerator = config.accelerator or profile.accelerator
    check_accelerator(accelerator)
    # raises on a bad name or combination
    choose_settings(config.precision, config.channels_last, config.augment, accelerator, config.data_on_device)
    check_out_folder(out)
    # the other processes of a multi-device run write into the folder their first process locked
    with FolderLock(out, "run") if is_rank_zero() else contextlib.nullcontext():
        return _train(config, out, callbacks)


def _train(config: TrainConfig, out: Path, callbacks: Sequence[L.Callback]) -> RunResult:
    last, best = checkpoint_paths(out)
    check_start(config, last, best)
    start_from, resumed, started = None, None, None
    if config.resume:
        start_from, contents, note = resume_checkpoint(out)
        if note:
            print(f"note: {note}", file=sys.stderr)
        resumed = hyper_parameters(contents)
        started = stored_config(out)
        config = as_it_started(config, started)
    check_resumable(config, resumed)
    profile = _final(config, config.profile if isinstance(config.profile, Profile) else get_profile(config.profile))
    epochs = profile.epochs if config.epochs is None else config.epochs
    accelerator = config.accelerator or profile.accelerator
    check_accelerator(accelerator)
    settings = _settings(config, accelerator, resumed)
    L.seed_everything(config.seed, workers=True, verbose=False)
    # the per-image path needs the recipe's cutout share too (the batch path reads it from the module)
    cutout_p = (resumed or config.extra).get("cutout_p", RECIPE.cutout_p)
    datamodule = CIFAR10DataModule(
        config.source,
        profile,
        config.batch_size,
        config.num_workers,
        seed=config.seed,
        augment=settings.augment,
        on_device=settings.on_device,
        **({"cutout_p": cutout_p} if settings.augment == "albumentations" else {}),
    )
    datamodule.prepare_data()
    datamodule.setup()
    module = _module(config, settings, datamodule, resumed)
    resolved = {"epochs": epochs, "batch_size": datamodule.batch_size, "profile": asdict(profile)}
    # what started the run (a resume adds nothing to ask for, and keeps what that asked for)
    asked = started if started is not None else asdict(config)
    write_json(out / "config.json", {**asked, "resolved": asked.get("resolved") or resolved})
    found = _find_rate(config, module, datamodule, profile, accelerator, settings, out)
    history = History()
    trainer = make_trainer(
        out,
        profile,
        epochs=epochs,
        accelerator=accelerator,
        precision=settings.precision,
        devices=config.devices,
        strategy=config.strategy,
        callbacks=[history, *_averaging(module), *callbacks],
        quiet=config.quiet,
    )
    with info_off() if config.quiet else contextlib.nullcontext():
        seconds = _fit(trainer, module, datamodule, start_from, last)
        if not trainer.interrupted:
            _test_best(trainer, module, datamodule)
    best = trainer.checkpoint_callback
    summary = run_summary(config, profile, settings, datamodule, trainer, module, history, found, seconds)
    if trainer.is_global_zero:
        write_reports(out, history, summary)
    return RunResult(
        out,
        history.rows,
        history.test,
        Path(best.best_model_path) if best.best_model_path else None,
        last if last.exists() else None,
        module.max_lr,
        found,
        seconds,
        trainer.interrupted,
        summary,
        trainer.is_global_zero,
    )


class TextProgressBar(TQDMProgressBar):
    """Lightning's tqdm bars, drawn as text (see `cifarlab.progress`): in Jupyter, Lightning would
    draw widgets (or, with rich installed, a live display) that a saved notebook keeps as
    `0%` or `Output()`; a text bar is saved where it ended."""

    def init_sanity_tqdm(self) -> Any:
        with _text_bars():
            return super().init_sanity_tqdm()

    def init_train_tqdm(self) -> Any:
        with _text_bars():
            return super().init_train_tqdm()

    def init_validation_tqdm(self) -> Any:
        with _text_bars():
            return super().init_validation_tqdm()

    def init_test_tqdm(self) -> Any:
        with _text_bars():
            return super().init_test_tqdm()

    def init_predict_tqdm(self) -> Any:
        with _text_bars():
            return super().init_predict_tqdm()


@contextlib.contextmanager
def _text_bars() -> Iterator[None]:
    """Lightning builds its bars from `tqdm_progress.Tqdm`; for a moment, that is a text bar."""
    from lightning.pytorch.callbacks.progress import tqdm_progress
    from tqdm.std import tqdm as text_tqdm

    widget_tqdm = tqdm_progress.Tqdm
    tqdm_progress.Tqdm = type("TextTqdm", (text_tqdm,), {"format_num": staticmethod(widget_tqdm.format_num)})
    try:
        yield
    finally:
        tqdm_progress.Tqdm = widget_tqdm


def make_trainer(
    out: str | Path,
    profile: Profile,
    epochs: int | None = None,
    accelerator: str | None = None,
    precision: str = "32-true",
    devices: int | str = 1,
    strategy: str = "auto",
    callbacks: Sequence[L.Callback] = (),
    quiet: bool = False,
) -> L.Trainer:
    """The course's Trainer: checkpoints of the best and the latest epoch, a CSV log, exact resumes.

    Callbacks: `RandomStates` (every random generator's state goes into the checkpoints, so a
    resumed run draws the same dropout), the best epoch by validation accuracy
    (`<out>/checkpoints/best.ckpt`, what `trainer.checkpoint_callback` gives, even if
    `callbacks` holds checkpoints of its own; the last epoch when the profile holds out no
    validation images), the latest epoch (`last.ckpt`, to resume from), then `callbacks`. epochs and accelerator
    default to the profile's; in the smoke profile every split is cut to a few batches.
    quiet: no progress bars, model summary or info lines.
    """
    quiet_lightning()
    accelerator = accelerator or profile.accelerator
    validate = profile.val_size > 0  # a final model (val_size 0) has no validation: its last epoch is "best"
    # no version counter: a lesson run again rewrites best.ckpt instead of adding best-v1.ckpt
    best = ModelCheckpoint(
        Path(out) / "checkpoints",
        filename="best",
        monitor="val_acc" if validate else None,
        mode="max",
        enable_version_counter=False,
    )
    # A separate callback for the latest epoch: Lightning 2.6's save_last=True writes last.ckpt
    # only in epochs where the best one improved, and a resume must start from the latest.
    latest = ModelCheckpoint(
        Path(out) / "checkpoints", filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )
    with info_off() if quiet else contextlib.nullcontext(), misconfiguration_as_option_error():
        return L.Trainer(
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            precision=precision,
            max_epochs=profile.epochs if epochs is None else epochs,
            limit_train_batches=profile.limit_batches,
            limit_val_batches=profile.limit_batches if validate else 0,
            limit_test_batches=profile.limit_batches,
            callbacks=[RandomStates(), best, latest, *([] if quiet else [TextProgressBar()]), *callbacks],
            plugins=[AtomicCheckpointIO()],  # checkpoints whole or not at all (cifarlab.runfolder)
            enable_progress_bar=not quiet,
            enable_model_summary=not quiet,
            logger=CSVLogger(out, name="logs"),
            use_distributed_sampler=False,  # EpochSampler shares the data out itself, seeded by epoch
            deterministic=accelerator == "cpu",
            log_every_n_steps=10,
        )


def _final(config: TrainConfig, profile: Profile) -> Profile:
    """A final model's profile holds nothing out for validation (Page's 94% trained on all 50,000).

    With no validation there is nothing to choose an epoch by: the schedule is fixed, and the
    last epoch is the model (`best.ckpt` then holds it). A resumed final run keeps its profile.
    """
    if not config.final:
        return profile
    if config.resume and profile.val_size:
        raise OptionError(
            f"{config.out} holds out {profile.val_size} validation images: it cannot be resumed as a final model. "
            "Drop --final to continue it, or start the final run with another --out."
        )
    return profile.with_overrides(val_size=0)


def _settings(config: TrainConfig, accelerator: str, resumed: dict[str, Any] | None) -> Settings:
    """Precision, layout and augmentation path; a resumed run keeps the layout and path it started with."""
    settings = choose_settings(
        config.precision, config.channels_last, config.augment, accelerator, config.data_on_device
    )
    if resumed is None:
        return settings
    augment = settings.augment
    if config.augment == "auto":
        augment = "batch" if resumed.get("batch_augment") else "albumentations"
    if config.data_on_device and augment == "albumentations":
        raise OptionError(
            f"{config.out} augments image by image in a DataLoader, so it cannot resume with its data on the device: "
            "drop --data-on-device."
        )
    on_device = settings.on_device and augment != "albumentations"  # the same batches either way
    kept = [r for r in settings.reasons if r.startswith("precision") or (on_device and r.startswith("data on"))] + [
        "channels-last and augmentation: as the run started"
    ]
    return replace(
        settings,
        channels_last=bool(resumed.get("channels_last")),
        augment=augment,
        reasons=tuple(kept),
        on_device=on_device,
    )


def _module(
    config: TrainConfig, settings: Settings, datamodule: CIFAR10DataModule, resumed: dict[str, Any] | None
) -> LitResNet9:
    """The LitResNet9 to train: the resumed run's own (its rate and recipe), or a new one."""
    if resumed is not None:  # its recipe, compiled or not as asked now (the same weights either way)
        return LitResNet9(**{**resumed, "compile": config.compile})
    return LitResNet9(
        optimizer=config.optimizer,
        max_lr=config.max_lr,
        batch_augment=settings.augment == "batch",
        channels_last=settings.channels_last,
        seed=config.seed,
        ema_horizon=RECIPE.ema_horizon if config.ema else None,
        compile=config.compile,
        mean=datamodule.mean,
        std=datamodule.std,
        classes=datamodule.classes,
        **config.extra,
    )


def _averaging(module: LitResNet9) -> list[L.Callback]:
    """The EMA callback when the module records one (a resumed run keeps what it started with)."""
    horizon = module.hparams.get("ema_horizon")
    return [ema_callback(horizon)] if horizon else []


def _find_rate(
    config: TrainConfig,
    module: LitResNet9,
    datamodule: CIFAR10DataModule,
    profile: Profile,
    accelerator: str,
    settings: Settings,
    out: Path,
) -> LRFindResult | None:
    """The range test, when asked for (not on resume): sets the module's max_lr and draws lr_find.png."""
    if not config.lr_find or config.resume:
        return None
    fallback = config.max_lr or RECIPE.default_max_lr(config.optimizer)
    found = find_lr(
        module,
        datamodule,
        fallback,
        num_training=profile.lr_find_steps,
        accelerator=accelerator,
        precision=settings.precision,
    )
    print(f"LR finder: {found.describe()}")
    save_figure(lr_find_figure(found), out / "lr_find.png")
    module.hparams.max_lr = module.max_lr = found.max_lr
    return found


def _fit(
    trainer: L.Trainer, module: LitResNet9, datamodule: CIFAR10DataModule, start_from: Path | None, last: Path
) -> float:
    """trainer.fit (from `start_from` when resuming), timed.

    Ctrl+C says how to resume, and leaves a kernel that can be interrupted again.
    """
    started = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(start_from) if start_from else None)
    except SystemExit:
        if not trainer.interrupted:
            raise
        # Ctrl+C: Lightning shut down cleanly, then set SIGINT to be ignored and called
        # sys.exit, which in a notebook would leave a kernel that no longer interrupts.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt(
            f"training interrupted; the last finished epoch is in {last}: continue with resume=True (--resume)."
        ) from None
    return time.perf_counter() - started


def _test_best(trainer: L.Trainer, module: LitResNet9, datamodule: CIFAR10DataModule) -> None:
    """The test split, once, with the best epoch's weights."""
    with warnings.catch_warnings():  # "best" is the monitored checkpoint's, the first callback: as intended
        warnings.filterwarnings("ignore", message=r".*multiple `ModelCheckpoint` callbacks")
        trainer.test(module, datamodule=datamodule, ckpt_path="best", verbose=False)
