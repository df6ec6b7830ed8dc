"""A clean per-epoch history of a Lightning run, and its plot.

Lightning's loggers write a row whenever something is logged, sanity checks and tuner runs
included; the seed course's per-epoch table got rows from both. `History` records one row
per real training epoch (after its validation), skips the sanity check, keeps the test
result apart, and is saved in checkpoints, so a resumed run keeps its earlier epochs.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
from matplotlib.figure import Figure

from cifarlab.errors import CifarlabError
from cifarlab.files import write_text

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


class History(L.Callback):
    """Collects `rows` (one dict per epoch, keys COLUMNS) and `test` (the final test metrics)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self.test: dict[str, float] = {}
        self._started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row: dict[str, float] = {"epoch": trainer.current_epoch + 1}
        for name in ("train_loss", "train_acc", "val_loss", "val_acc"):
            value = metrics.get(name)
            row[name] = float(value) if value is not None else math.nan
        row["lr"] = (
            trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else math.nan
        )  # where the schedule ended the epoch
        row["seconds"] = time.perf_counter() - self._started
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]

    def on_test_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.test = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test_")}

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Resuming fills in the epochs before the checkpoint. Testing the best checkpoint
        # after fit also loads it: the epochs recorded since then must stay.
        ours = {r["epoch"] for r in self.rows}
        earlier = [dict(r) for r in state_dict.get("rows", []) if r["epoch"] not in ours]
        self.rows = sorted(earlier + self.rows, key=lambda r: r["epoch"])

    def write_csv(self, path: str | Path) -> Path:
        """Write the rows to a CSV file with the COLUMNS as header."""
        path = Path(path)
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(path, text.getvalue())  # whole or not at all
        return path

    def table(self) -> str:
        """The rows as a fixed-width text table ("-" where a run measured nothing, e.g. no validation)."""

        def cell(value: float, spec: str, width: int) -> str:
            return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}{spec}}"

        lines = ["epoch  train_loss  train_acc  val_loss  val_acc        lr  seconds"]
        for r in self.rows:
            train = f"{cell(r['train_loss'], '.4f', 10)}  {cell(r['train_acc'], '.2%', 9)}"
            val = f"{cell(r['val_loss'], '.4f', 8)}  {cell(r['val_acc'], '.2%', 7)}"
            lines.append(f"{int(r['epoch']):>5}  {train}  {val}  {r['lr']:>8.2e}  {r['seconds']:>7.1f}")
        return "\n".join(lines)


def read_history(path: str | Path) -> list[dict[str, float]]:
    """Rows of a metrics.csv written by `History.write_csv`, or a CifarlabError that says what it is instead."""
    with Path(path).open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    if tuple(reader.fieldnames or ()) != COLUMNS or any("" in row.values() for row in rows):
        raise CifarlabError(
            f"{path} is not the per-epoch table cifarlab writes (columns {', '.join(COLUMNS)}, one full row per "
            f"epoch); it has columns {', '.join(reader.fieldnames or ())}. Lightning's own log is in <run>/logs/."
        )
    return [{k: float(v) for k, v in row.items()} for row in rows]


def metrics_figure(rows: list[dict[str, float]], title: str = "", label_smoothing: float = 0.0) -> Figure:
    """Loss and accuracy per epoch, train and validation side by side.

    A series the rows do not have (e.g. no train_acc from a loop that does not measure it)
    is left out. Pass the run's `label_smoothing` when its training loss includes it: the
    loss panel's title then says so (a smoothed loss cannot reach 0).
    """
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    for split, style in (("train", "-o"), ("val", "-s")):
        for ax, metric, scale in ((loss_ax, "loss", 1), (acc_ax, "acc", 100)):
            if all(f"{split}_{metric}" in r for r in rows):
                ax.plot(epochs, [scale * r[f"{split}_{metric}"] for r in rows], style, label=split, markersize=3)
    smoothing = f" (train with label smoothing {label_smoothing:g})" if label_smoothing else ""
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss" + smoothing)
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig
