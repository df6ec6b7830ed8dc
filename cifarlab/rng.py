"""The global random states, saved in every checkpoint and restored when a run resumes.

The data's order and augmentation are seeded by (seed, epoch, image) and need no state. What
still draws from the global generators is the model itself (dropout) and the DataLoader (the
base seed of each epoch's iterator). `seed_everything` on resume would restart those streams
from the seed, so a resumed run would see other dropout masks than an uninterrupted one.
`RandomStates` stores torch's (CPU and CUDA), NumPy's and Python's states with each
checkpoint and puts them back when training starts after a resume: after the sanity check
and the rest of Lightning's start-up, which may draw from them, and before the first batch.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


def collect() -> dict[str, Any]:
    """The global random states, as plain tensors, ints and tuples (loadable with weights_only)."""
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (str(kind), torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)),
        "python": random.getstate(),
    }


def restore(states: dict[str, Any]) -> None:
    """Set the global random states to what `collect` returned."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


class RandomStates(L.Callback):
    """Saves the global random states in each checkpoint; restores them when training resumes."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return collect()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict  # applied when training starts (on_train_start)

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self._pending is not None:
            restore(self._pending)
            self._pending = None

    def on_test_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._pending = None  # testing a checkpoint restores callbacks too; that is no resume
