"""`cifarlab reproduce`: every figure the course quotes about GPU training, from one command.

It trains the recipe twice on the configured data, once with the data on the device (the
fast path, `cifarlab.device_loader`) and once through a DataLoader (the path every course
notebook used before), tests each best checkpoint plainly and with test-time augmentation,
times every precision x memory layout (`cifarlab.speed`), and writes REPORT.md and
results.json into --out: the device, images/s, seconds per epoch and in all, the time to
91.8% (the seed course's headline) and to 93.5% validation accuracy, test accuracy plain
and with TTA, and peak GPU memory.

On a GPU it runs the full profile (24 epochs, all the data). On a CPU it runs the smoke
profile unless told otherwise, so that the same code and report are tested in CI.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cifarlab.checkpoint import load_model
from cifarlab.data import load_splits
from cifarlab.errors import OptionError
from cifarlab.evaluation import evaluate
from cifarlab.files import write_text
from cifarlab.hardware import cpu_features
from cifarlab.profile import Profile, get_profile
from cifarlab.speed import compare, comparison_table
from cifarlab.train import TrainConfig, train

TARGETS = (0.918, 0.935)  # the seed course's 91.8%, and airbench's 94% less the JPEG copy's loss
PATHS = {
    "data on the device": {"data_on_device": True, "augment": "batch"},
    "DataLoader": {"data_on_device": False, "augment": "batch"},
}


@dataclass
class PathResult:
    """One training path's figures."""

    name: str
    epochs: int
    train_images: int
    seconds: float
    epoch_seconds: list[float]
    val_acc: list[float]
    test_acc: float
    tta_acc: dict[str, float]
    peak_memory: int | None  # bytes of GPU memory at the peak; None on a CPU

    @property
    def images_per_second(self) -> float:
        return self.train_images * self.epochs / self.seconds

    def time_to(self, target: float) -> float | None:
        """Training seconds until the first epoch whose validation accuracy reaches `target`."""
        elapsed = 0.0
        for seconds, accuracy in zip(self.epoch_seconds, self.val_acc):
            elapsed += seconds
            if accuracy >= target:
                return elapsed
        return None


def device_name() -> str:
    """The GPU's name, or the CPU's cores and features."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({torch.get_num_threads()} threads; {cpu_features().describe()})"


def reproduce(out: str | Path, profile: str | None = None, source: str | None = None, seed: int = 0) -> Path:
    """Train each of PATHS, measure them and the speed table, and write <out>/REPORT.md (returned)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} is a file: reproduce writes a folder of runs and a report there.")
    if out.exists() and any(out.iterdir()):
        raise OptionError(f"{out} is not empty: reproduce writes a new report and runs; choose another --out.")
    gpu = torch.cuda.is_available()
    chosen = get_profile(profile or ("full" if gpu else "smoke"))
    started = time.perf_counter()
    results = [_run_path(name, options, out, chosen, source, seed, gpu) for name, options in PATHS.items()]
    speed = comparison_table(compare(seconds=chosen.timing_seconds, batch_size=chosen.batch_size))
    report = _report(results, speed, chosen.name, time.perf_counter() - started)
    write_text(out / "results.json", json.dumps([vars(r) for r in results], indent=1) + "\n")
    write_text(out / "REPORT.md", report)
    return out / "REPORT.md"


def _run_path(
    name: str, options: dict[str, Any], out: Path, profile: Profile, source: str | None, seed: int, gpu: bool
) -> PathResult:
    """Train one path into <out>/<name>, then test its best checkpoint plainly and with TTA."""
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    folder = out / name.replace(" ", "-").lower()
    run = train(TrainConfig(out=str(folder), profile=profile.name, source=source, seed=seed, quiet=True, **options))
    peak = torch.cuda.max_memory_allocated() if gpu else None
    loaded = load_model(run.best_checkpoint, "cuda" if gpu else "cpu")
    test = load_splits(source, profile, seed=seed).test
    tested = evaluate(loaded.model, test, loaded.mean, loaded.std, tta="flip-translate")
    return PathResult(
        name=name,
        epochs=len(run.history),
        # the images an epoch trains on (a profile that limits the batches trains on fewer)
        train_images=min(run.summary["train_images"], (profile.limit_batches or 10**9) * profile.batch_size),
        seconds=run.seconds,
        epoch_seconds=[row["seconds"] for row in run.history],
        val_acc=[row["val_acc"] for row in run.history],
        test_acc=tested.accuracy,
        tta_acc={level: acc for level, acc in tested.tta.items() if level != "none"},
        peak_memory=peak,
    )


def _report(results: list[PathResult], speed: str, profile: str, seconds: float) -> str:
    def when(value: float | None) -> str:
        return f"{value:.1f} s" if value is not None else "not reached"

    rows = [
        "| path | images/s | s/epoch (mean) | total s | "
        + " | ".join(f"to {t:.1%} val" for t in TARGETS)
        + " | test | flip TTA | flip+translate TTA | peak GPU memory |",
        "|---" * (8 + len(TARGETS)) + "|",
    ]
    for r in results:
        memory = f"{r.peak_memory / 2**30:.2f} GiB" if r.peak_memory is not None else "n/a (CPU)"
        rows.append(
            f"| {r.name} | {r.images_per_second:,.0f} | {sum(r.epoch_seconds) / len(r.epoch_seconds):.2f} | "
            f"{r.seconds:.1f} | "
            + " | ".join(when(r.time_to(t)) for t in TARGETS)
            + f" | {r.test_acc:.2%} | {r.tta_acc['flip']:.2%} | {r.tta_acc['flip-translate']:.2%} | {memory} |"
        )
    return "\n".join(
        [
            "# cifarlab reproduce",
            "",
            f"Device: **{device_name()}**; profile {profile} ({results[0].epochs} epochs, "
            f"{results[0].train_images:,} training images); torch {torch.__version__}; the whole report took "
            f"{seconds:.0f} s.",
            "",
            "Times are Lightning's `fit` (the data copied to the device, the sanity check and validation "
            "included; testing not). The targets are read on the validation hold-out at each epoch's end; test "
            "accuracy is the best checkpoint's, once.",
            "",
            *rows,
            "",
            "## Throughput of each precision and memory layout (`cifarlab.speed`, random data, training steps)",
            "",
            "```",
            speed,
            "```",
            "",
        ]
    )
