"""The training recipe: every number of the ResNet-9 recipe, once, with its unit and why.

The model, the plain loop, the LightningModule, the OneCycle schedule, both augmentation
paths, checkpoint loading, the self-checks and the `cifarlab train` options all read
`RECIPE` (most as their default arguments), and tests/test_recipe.py looks for copies of its
numbers elsewhere in the package and the solutions. The values follow David Page's ResNet-9
("How to train your ResNet", DAWNBench 2018). Change the recipe here; for one run, pass the
changed numbers as options (`cifarlab train --label-smoothing 0.1`, `TrainConfig(extra=...)`).

Importable without torch: the CLI builds its --help text from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from cifarlab.errors import OptionError

OPTIMIZERS = ("sgd", "adam")  # SGD with Nesterov momentum, or AdamW
AUGMENT_MODES = ("albumentations", "batch", "none")  # per image in the loader, per batch on the device, or none
TTA_LEVELS = ("none", "flip", "flip-translate")  # test-time augmentation: 1, 2 or 6 views (cifarlab.tta)


def choice(value: object, unit: str, why: str) -> Any:
    """A recipe field: its default, its unit and why it is what it is (shown by `print(RECIPE)`)."""
    return field(default=value, metadata={"unit": unit, "why": why})


@dataclass(frozen=True)
class Recipe:
    """The numbers of one training recipe: `print(RECIPE)` lists each with its unit and why."""

    # the model
    image_size: int = choice(32, "px", "CIFAR-10's images; the network's three pools take them to 4x4")
    widths: tuple[int, int, int, int] = choice(
        (64, 128, 256, 512), "channels", "of prep, layer1, layer2, layer3, as in Page's ResNet-9"
    )
    num_classes: int = choice(10, "classes", "CIFAR-10's: the outputs of the last layer")
    logit_scale: float = choice(
        0.125, "factor", "on the logits: a temperature that keeps the softmax from saturating early"
    )

    # the optimizer
    optimizer: str = choice("sgd", "name", "SGD with Nesterov momentum; 'adam' is AdamW")
    max_lr: float = choice(
        0.4, "rate", "OneCycle's peak for SGD at batch 512: the largest that stays stable (lesson 05)"
    )
    adam_max_lr: float = choice(0.01, "rate", "OneCycle's peak for AdamW, whose steps are normalised, so far smaller")
    momentum: float = choice(0.9, "factor", "SGD's, constant through the run, as in Page's 94% recipe")
    nesterov: bool = choice(True, "flag", "look-ahead momentum: a little faster and steadier than plain momentum")
    weight_decay: float = choice(5e-4, "per step x rate", "L2 penalty: keeps the weights small, as BatchNorm nets need")
    label_smoothing: float = choice(0.2, "fraction", "of the target spread over all classes: no push to extreme logits")

    # the OneCycle schedule, stepped after every batch
    pct_start: float = choice(0.25, "fraction of steps", "spent warming up to max_lr, so a fresh network settles first")
    div_factor: float = choice(25.0, "divisor", "the rate starts at max_lr / div_factor")
    final_div_factor: float = choice(
        1e3, "divisor", "and ends at max_lr / div_factor / final_div_factor: a long, low tail"
    )
    anneal_strategy: str = choice("linear", "name", "straight lines up and down, like Page's piecewise-linear schedule")
    cycle_momentum: bool = choice(
        False, "flag", "on: OneCycle swaps momentum for a max_momentum -> base_momentum -> max_momentum cycle"
    )
    base_momentum: float = choice(0.85, "factor", "momentum at the peak rate, only when cycle_momentum is on")
    max_momentum: float = choice(0.95, "factor", "momentum at the start and end, only when cycle_momentum is on")

    # weight averaging, an option (cifarlab.ema): off unless asked for
    ema_horizon: float = choice(
        0.2, "fraction of steps", "the average's memory: decay = 1 - 1 / (ema_horizon x the run's steps)"
    )

    # the run
    batch_size: int = choice(512, "images", "per step: fills a GPU, and max_lr is tuned for it")
    epochs: int = choice(24, "passes", "over the training images: Page's 94% recipe")

    # augmentation: per image (Albumentations) or per batch on the device, the same numbers
    pad: int = choice(4, "px", "reflect padding before the random crop back to image_size: shifts of up to 4 px")
    flip_p: float = choice(0.5, "probability", "of a left-right mirror: a mirrored cat is still a cat")
    holes: int = choice(1, "squares", "cut out per image")
    hole_size: int = choice(8, "px", "side of a cutout square: hides a telltale patch, not the object")
    cutout_p: float = choice(1.0, "probability", "that an image gets its cutout: every image, as in Page's recipe")

    def default_max_lr(self, optimizer: str) -> float:
        """OneCycle's peak rate for `optimizer` ("sgd" or "adam")."""
        return self.adam_max_lr if optimizer == "adam" else self.max_lr

    def describe(self, *names: str) -> str:
        """The named numbers (all of them by default), one per line with unit and why."""
        chosen = [f for f in fields(self) if not names or f.name in names]
        unknown = set(names) - {f.name for f in chosen}
        if unknown:
            raise OptionError(f"the recipe has no {sorted(unknown)}; it has {[f.name for f in fields(self)]}.")
        width = max(len(f.name) for f in chosen)
        return "\n".join(
            f"{f.name:<{width}}  {getattr(self, f.name)!s:<20} {f.metadata['unit']:<18} {f.metadata['why']}"
            for f in chosen
        )

    def __str__(self) -> str:
        """What `print(RECIPE)` shows in the notebooks: every number with its unit and why."""
        return self.describe()


RECIPE = Recipe()
