"""The cost profile: one switch that says how much work every lesson, test and command does.

- `full`: the real course, all the data and the full 24-epoch recipe (made for a GPU).
- `cpu`: the real CIFAR-10 on a budget a laptop CPU manages in minutes per training run:
  5,000 training images, 3 epochs. The accuracy is far from the GPU's, and says so.
- `smoke`: tiny subsets, 4 batches of one epoch on the CPU, so a notebook finishes in well
  under two minutes on two cores (that is what CI uses).

Unset, `CIFARLAB_PROFILE` means `full` when a GPU is present and `cpu` when not. This
module is the only place that reads it. Notebooks and the CLI ask `get_profile()` for
sizes instead of keeping test-mode flags of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from cifarlab.errors import OptionError
from cifarlab.recipe import RECIPE

ENV_VAR = "CIFARLAB_PROFILE"
CIFAR10_TRAIN_IMAGES = 50_000  # CIFAR-10's training split, before the validation hold-out
CIFAR10_TEST_IMAGES = 10_000


@dataclass(frozen=True)
class Profile:
    """How much data and compute a run uses. `None` for a size means "all of it"."""

    name: str
    train_size: int | None  # training images kept after the validation hold-out
    val_size: int  # images held out of the training set for validation
    test_size: int | None  # test images used for the final report
    synthetic_train: int  # how many training images the synthetic data set generates
    synthetic_test: int  # ... and how many test images
    batch_size: int
    epochs: int
    limit_batches: int | None  # cap on batches per epoch and split
    lr_find_steps: int  # steps of the learning-rate range test
    timing_seconds: float  # the whole precision x layout timing of lesson 05 (`cifarlab.speed.compare`)
    num_workers: int  # DataLoader worker processes
    accelerator: str  # "cpu", or "auto" to use a GPU when there is one

    def with_overrides(self, **changes: object) -> Profile:
        """A copy with some fields changed, e.g. `profile.with_overrides(batch_size=128)`."""
        return replace(self, **changes)


def _default_workers() -> int:
    return max(0, min(4, (os.cpu_count() or 1)))


def _profiles() -> dict[str, Profile]:
    return {
        "full": Profile(
            name="full",
            train_size=None,
            val_size=5_000,
            test_size=None,
            synthetic_train=10_000,
            synthetic_test=2_000,
            batch_size=RECIPE.batch_size,
            epochs=RECIPE.epochs,
            limit_batches=None,
            lr_find_steps=100,
            timing_seconds=40,
            num_workers=_default_workers(),
            accelerator="auto",
        ),
        "cpu": Profile(
            name="cpu",
            train_size=5_000,
            val_size=1_000,
            test_size=2_000,
            synthetic_train=5_000,
            synthetic_test=2_000,
            batch_size=128,
            epochs=3,
            limit_batches=None,
            lr_find_steps=60,
            timing_seconds=80,
            num_workers=_default_workers(),
            accelerator="auto",
        ),
        "smoke": Profile(
            name="smoke",
            train_size=1_000,
            val_size=200,
            test_size=200,
            synthetic_train=1_200,
            synthetic_test=300,
            batch_size=64,
            epochs=1,
            limit_batches=4,
            lr_find_steps=24,
            timing_seconds=16,
            num_workers=0,
            accelerator="cpu",
        ),
    }


PROFILE_NAMES = ("smoke", "cpu", "full")


def default_profile_name() -> str:
    """`full` when torch sees a GPU, `cpu` when not (what an unset CIFARLAB_PROFILE means)."""
    import torch

    return "full" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile called `name`, or the one `CIFARLAB_PROFILE` selects (default: see above)."""
    chosen = name if name is not None else os.environ.get(ENV_VAR) or default_profile_name()
    chosen = chosen.strip().lower()
    profiles = _profiles()
    if chosen not in profiles:
        where = f"{ENV_VAR}={chosen!r}" if name is None else f"profile {chosen!r}"
        raise OptionError(
            f"{where} is not a profile cifarlab knows. Use 'smoke' (tiny, CPU, for tests), 'cpu' "
            f"(real data on a CPU budget) or 'full' (the real course), e.g. `export {ENV_VAR}=smoke`."
        )
    return profiles[chosen]


def full_training_images() -> int:
    """How many images the full course trains on: CIFAR-10's training split less the validation hold-out."""
    return CIFAR10_TRAIN_IMAGES - _profiles()["full"].val_size


def profiles_table() -> str:
    """The three profiles side by side: what each one trains on, for how long, and where."""
    profiles = _profiles()
    all_train = full_training_images()
    rows = [
        ("training images", lambda p: f"{p.train_size:,}" if p.train_size else f"all ({all_train:,})"),
        ("validation images", lambda p: f"{p.val_size:,}"),
        ("test images", lambda p: f"{p.test_size:,}" if p.test_size else f"all ({CIFAR10_TEST_IMAGES:,})"),
        ("epochs", lambda p: str(p.epochs)),
        ("batch size", lambda p: str(p.batch_size)),
        ("batches per epoch", lambda p: f"at most {p.limit_batches}" if p.limit_batches else "all"),
        ("device", lambda p: "the GPU if any" if p.accelerator == "auto" else p.accelerator),
    ]
    lines = [f"{'':<19}" + "".join(f"{name:>16}" for name in PROFILE_NAMES)]
    for label, show in rows:
        lines.append(f"{label:<19}" + "".join(f"{show(profiles[name]):>16}" for name in PROFILE_NAMES))
    return "\n".join(lines)
