"""The run folder `cifarlab train` writes, made so that no work is lost.

- One run at a time: `train()` holds the folder's lock (`cifarlab.files.FolderLock`), so a
  second run started into the same --out stops at once instead of writing into the first
  one's checkpoints.
- Checkpoints are saved whole or not at all (`AtomicCheckpointIO`): Lightning's own save
  goes through a temporary file in the system's temp folder and is then *copied* (not
  renamed) into place, so a full disk or a kill mid-copy leaves half a `last.ckpt`. Here a
  failed save leaves the previous checkpoint as it was, and says why.
- A resume starts from the newest intact checkpoint (`resume_checkpoint`): `last.ckpt`, or
  `best.ckpt` if the last one is damaged, or a message that says what to delete.
- Every report (config, summary, metrics, figures) is written atomically too.
- What a run may start or resume with is checked before anything is made: every number
  (`check_numbers`), the machine (`check_accelerator`), an existing run (`check_start`), and
  a resume keeps the recipe and the schedule it started with (`check_resumable`,
  `as_it_started`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from matplotlib.figure import Figure

from cifarlab.checkpoint import read_checkpoint
from cifarlab.errors import CheckpointError, OptionError
from cifarlab.files import atomic_path, describe_os_error, remove_orphans, unwritable, write_text
from cifarlab.options import COUNT, RECIPE_OPTIONS, RECIPE_RANGES, SEED, WORKERS, check_number
from cifarlab.profile import Profile
from cifarlab.recipe import RECIPE

if TYPE_CHECKING:
    from cifarlab.train import TrainConfig

CHECKPOINTS = "checkpoints"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, saving to a temporary file beside the target, then renaming it."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(path.parent)  # what a killed save left behind
        try:
            with atomic_path(path) as temporary:
                torch.save(checkpoint, temporary)
        except OSError as error:
            kept = f"the previous {path.name} is intact" if path.exists() else f"there is no {path.name} yet"
            raise CheckpointError(
                f"could not save {path} ({describe_os_error(error)}); {kept}. Fix that, then continue the "
                "run with --resume (resume=True)."
            ) from None


def check_out_folder(out: Path) -> None:
    """Refuse a run folder that is a file or cannot be written, before any work."""
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} is a file; a run writes a folder there. Choose another --out.")
    problem = unwritable(out, create=False)
    if problem:
        raise OptionError(f"cannot write the run folder: {problem}. Choose another --out.")


def checkpoint_paths(out: Path) -> tuple[Path, Path]:
    """(last.ckpt, best.ckpt) of a run folder."""
    return out / CHECKPOINTS / "last.ckpt", out / CHECKPOINTS / "best.ckpt"


def resume_checkpoint(out: Path) -> tuple[Path, dict[str, Any], str]:
    """The newest intact checkpoint to resume from: (path, contents, a note when it is not last.ckpt).

    Raises CheckpointError naming what to delete when none can be read.
    """
    last, best = checkpoint_paths(out)
    problems = []
    for candidate in (last, best):
        if not candidate.exists():
            continue
        try:
            contents = read_checkpoint(candidate)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if candidate == last:
            return candidate, contents, ""
        epoch = contents.get("epoch", "?")
        note = f"resuming from {best.name} (epoch {epoch}), so the epochs after it are trained again."
        if problems:  # kept for a look, out of the way of the next save
            os.replace(last, last.with_name(last.name + ".damaged"))
            note = f"{last.name} is damaged ({problems[0]}); moved to {last.name}.damaged; {note}"
        return candidate, contents, note
    if not problems:
        raise OptionError(f"nothing to resume in {out}: there is no {CHECKPOINTS}/last.ckpt.")
    raise CheckpointError(
        f"no checkpoint in {out / CHECKPOINTS} can be read: {' '.join(problems)} Delete {out / CHECKPOINTS} "
        f"to start the run again there, or train into another --out."
    )


def stored_config(out: Path) -> dict[str, Any] | None:
    """The config.json of the run in `out` (None for a run that has none, or a damaged one)."""
    try:
        return json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, contents: dict[str, Any]) -> None:
    """Write a JSON report atomically."""
    write_text(path, json.dumps(contents, indent=2) + "\n")


def save_figure(figure: Figure, path: Path, dpi: int = 120) -> None:
    """Save a figure as PNG atomically."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format="png")


def is_rank_zero() -> bool:
    """Whether this process is the first of its run (the only one in a single-device run)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def check_numbers(config: TrainConfig) -> None:
    """Every number finite and in range, before any work; None alone means "the profile's" or "the recipe's"."""
    for name, value, allowed in (
        ("epochs", config.epochs, COUNT),
        ("batch_size", config.batch_size, COUNT),
        ("num_workers", config.num_workers, WORKERS),
        ("seed", config.seed, SEED),
        ("max_lr", config.max_lr, RECIPE_RANGES["max_lr"]),
        *((name, value, RECIPE_RANGES[name]) for name, value in config.extra.items() if name in RECIPE_RANGES),
    ):
        if value is not None:
            check_number(name, value, allowed)
    if config.optimizer == "adam" and "momentum" in config.extra:
        raise OptionError("--momentum is SGD's; AdamW keeps its own averages (betas): drop it, or train with sgd.")


def check_start(config: TrainConfig, last: Path, best: Path) -> None:
    """Refuse contradictory options before any work is done."""
    if (last.exists() or best.exists()) and not config.resume:
        raise OptionError(
            f"{config.out} already holds a run (checkpoints/{(last if last.exists() else best).name}). Pass "
            "--resume to continue it, or choose another --out."
        )
    if config.lr_find and str(config.devices) != "1":
        raise OptionError(
            "--lr-find runs on one device: find the rate with --devices 1 first, then pass it as --max-lr."
        )


def check_accelerator(accelerator: str) -> None:
    """An accelerator this machine has, or an OptionError that says what it has."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise OptionError(
            f"--accelerator {accelerator}, but this machine has no CUDA GPU that torch can use "
            "(torch.cuda.is_available() is False). Use --accelerator cpu (or auto); on Colab, choose "
            "Runtime > Change runtime type > GPU first."
        )
    if accelerator == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise OptionError("--accelerator mps, but this machine has no Apple GPU: use --accelerator cpu (or auto).")


@contextlib.contextmanager
def misconfiguration_as_option_error() -> Iterator[None]:
    """Lightning's "you asked for what this machine lacks" (devices, strategy) as an OptionError."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except MisconfigurationException as error:
        raise OptionError(f"Lightning cannot set up this run: {error}") from None


def as_it_started(config: TrainConfig, stored: dict[str, Any] | None) -> TrainConfig:
    """A resumed run keeps its epochs, batch size and profile: OneCycle's schedule was laid out for them.

    Options left out are taken from the run; options that differ are refused, naming them.
    """
    resolved = (stored or {}).get("resolved")
    if not resolved:  # a run from before config.json recorded them: as asked
        return config
    asked_profile = config.profile.name if isinstance(config.profile, Profile) else config.profile
    asked = {"epochs": config.epochs, "batch_size": config.batch_size, "profile": asked_profile}
    had = {"epochs": resolved["epochs"], "batch_size": resolved["batch_size"], "profile": resolved["profile"]["name"]}
    changed = [
        f"{name} {asked[name]} (the run has {had[name]})" for name in asked if asked[name] not in (None, had[name])
    ]
    if changed:
        raise OptionError(
            f"{config.out} cannot be resumed with {', '.join(changed)}: its OneCycle schedule was laid out for "
            f"{had['epochs']} epochs of batches of {had['batch_size']} when it started. Drop those options to "
            "continue the run as it started, or start a new run with another --out."
        )
    return replace(config, epochs=had["epochs"], batch_size=had["batch_size"], profile=Profile(**resolved["profile"]))


def check_resumable(config: TrainConfig, resumed: dict[str, Any] | None) -> None:
    """A resumed run continues with its own recipe: refuse options that ask for another one."""
    if resumed is None:
        return
    asked = {
        **config.extra,
        **({"max_lr": config.max_lr} if config.max_lr is not None else {}),
        **({"ema_horizon": RECIPE.ema_horizon} if config.ema else {}),
    }

    def plain(value: Any) -> Any:  # checkpoints keep tuples as lists
        return list(value) if isinstance(value, (list, tuple)) else value

    changed = [
        f"{k}={v!r} (the run has {resumed.get(k)!r})" for k, v in asked.items() if plain(resumed.get(k)) != plain(v)
    ]
    if changed:
        raise OptionError(
            f"{config.out} continues with the recipe it started with, but this asks for {', '.join(changed)}. "
            "Drop those options to resume, or start a new run with another --out."
        )


def train_command(config: dict[str, Any]) -> str:
    """The `cifarlab train` command line that asks for what a run's config.json records.

    Options left at their defaults are left out; `--resume` is too (a resumed run is the same run).
    Recipe numbers the command line has no option for (given from Python) follow as a comment.
    """
    flags = {"lr_find": "--lr-find", "ema": "--ema", "final": "--final", "compile": "--compile"}
    named = {"lr": "--max-lr", "max_lr": "--max-lr", "num_workers": "--workers"}
    defaults = {"optimizer": "sgd", "precision": "auto", "augment": "auto", "devices": 1, "strategy": "auto", "seed": 0}
    parts = ["cifarlab", "train"]
    for name, value in config.items():
        if name in ("resume", "extra", "resolved", "quiet") or value is None or defaults.get(name) == value:
            continue
        if name in flags:
            parts += [flags[name]] if value else []
        elif name in ("channels_last", "data_on_device"):
            option = name.replace("_", "-")
            parts.append(f"--{option}" if value else f"--no-{option}")
        else:
            value = value["name"] if name == "profile" and isinstance(value, dict) else value
            parts += [named.get(name, f"--{name.replace('_', '-')}"), str(value)]
    extra = config.get("extra") or {}
    for name, value in extra.items():
        if name in RECIPE_OPTIONS:
            parts += [f"--{name.replace('_', '-')}", str(value)]
    command = shlex.join(parts)
    unlisted = {name: value for name, value in extra.items() if name not in RECIPE_OPTIONS}
    return command + (f"  # and from Python: TrainConfig(extra={unlisted!r})" if unlisted else "")
