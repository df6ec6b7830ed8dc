"""Self-checks for the notebooks' exercises.

Each check runs the student's function on a small case, says in plain words what is right
or wrong, and returns the function the rest of the notebook should use: the student's own
when it is right, else cifarlab's reference implementation (and it says so). So the cells
after an exercise always run, solved or not.

Usage in a notebook, right after the exercise cell::

    compute_mean_std = check.mean_std(compute_mean_std)

One module per part of the course: `data` (lesson 01), `model` (02), `training` (03-05),
`evaluation` (06), `inference` (07).
"""

from cifarlab.selfcheck._core import OK, WRONG
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
from cifarlab.selfcheck.inference import prepare_image, reference_prepare
from cifarlab.selfcheck.model import residual_block, resnet9
from cifarlab.selfcheck.training import (
    lightning_module,
    reference_steepest_lr,
    reference_train_one_epoch,
    steepest_lr,
    train_one_epoch,
)

__all__ = [
    "EXPECTED_STEPS", "OK", "WRONG",
    "collect_misclassified", "gradcam_by_hand", "lightning_module", "mean_std", "prepare_image", "reference_prepare",
    "reference_collect_misclassified", "reference_gradcam_by_hand", "reference_mean_std",
    "reference_steepest_lr", "reference_train_one_epoch", "reference_train_transforms",
    "residual_block", "resnet9", "steepest_lr", "train_one_epoch", "train_transforms",
]  # fmt: skip
