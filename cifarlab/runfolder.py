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
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from matplotlib.figure import Figure

from cifarlab.checkpoint import read_checkpoint
from cifarlab.errors import CheckpointError, OptionError
from cifarlab.files import atomic_path, describe_os_error, remove_orphans, unwritable, write_text

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
