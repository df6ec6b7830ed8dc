"""Self-checks for the notebooks' exercises.

Each check runs the student's code on cases chosen to expose the typical mistakes, says in
plain words which mistake it found (or that the answer is right), and returns what the
notebook should use from then on: the student's own code when it is right, else cifarlab's
reference, marked so that every output it produces says it stands in. So the cells after an
exercise always run, solved or not, and a ❌ cannot go unnoticed.

Usage in a notebook, right after the exercise cell::

    compute_mean_std = check.mean_std(compute_mean_std)

and, when stuck, `check.hint("mean_std")` (a hint per call; the answer last). The lesson's
last cell, `check.summary("01")`, lists the exercises still open.

One module per part of the course: `data` (lesson 01), `model` (02), `loop` (03),
`lightning` (04), `schedule` (05), `evaluation` (06), `inference` (07), `speedrun` (08); `hints` holds
the hints, `_core` the verdicts.
"""

from cifarlab.selfcheck._core import OK, OPEN, WRONG, outcomes, outcomes_json
from cifarlab.selfcheck.data import (
    EXPECTED_STEPS,
    mean_std,
    reference_mean_std,
    reference_train_transforms,
    train_transforms,
)
from cifarlab.selfcheck.evaluation import (
    collect_misclassified,
    gradcam_by_hand,
    reference_collect_misclassified,
    reference_gradcam_by_hand,
)
from cifarlab.selfcheck.hints import catalogue, exercises, hint, summary
from cifarlab.selfcheck.inference import prepare_image, reference_prepare, reference_top_k, top_k
from cifarlab.selfcheck.lightning import lightning_module, reference_lightning_module
from cifarlab.selfcheck.loop import evaluate, reference_evaluate, reference_train_one_epoch, train_one_epoch
from cifarlab.selfcheck.model import residual_block, resnet9
from cifarlab.selfcheck.schedule import one_cycle_lr, reference_one_cycle_lr, reference_steepest_lr, steepest_lr
from cifarlab.selfcheck.speedrun import (
    ema_update,
    flip_tta,
    reference_ema_update,
    reference_flip_tta,
    reference_smoothed_targets,
    smoothed_targets,
)

__all__ = [
    "EXPECTED_STEPS", "OK", "OPEN", "WRONG", "catalogue", "collect_misclassified", "ema_update", "evaluate",
    "exercises", "flip_tta", "gradcam_by_hand", "hint", "lightning_module", "mean_std", "one_cycle_lr",
    "outcomes", "outcomes_json", "prepare_image", "reference_collect_misclassified", "reference_ema_update",
    "reference_evaluate", "reference_flip_tta", "reference_gradcam_by_hand", "reference_lightning_module",
    "reference_mean_std", "reference_one_cycle_lr", "reference_prepare", "reference_smoothed_targets",
    "reference_steepest_lr", "reference_top_k", "reference_train_one_epoch", "reference_train_transforms",
    "residual_block", "resnet9", "smoothed_targets", "steepest_lr", "summary", "top_k", "train_one_epoch",
    "train_transforms",
]  # fmt: skip
