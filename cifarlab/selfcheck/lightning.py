"""Lesson 04's self-checks: the steps of a LightningModule, and how it is optimised.

One class holds both exercises, and each is checked on its own: the steps with cifarlab's
`configure_optimizers` put in for the student's, the optimisation with cifarlab's steps.
So a mistake in one exercise never shows up as a verdict on the other.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from cifarlab.logs import info_off, quiet_lightning
from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._cases import half_right, random_batches
from cifarlab.selfcheck._core import Problem, run_check
from cifarlab.selfcheck.loop import TINY_WIDTHS

CHECK_MAX_LR = 0.1  # not the recipe's: a module that ignores its own max_lr shows it
TRAIN_SIZES, VAL_SIZES = (8, 8, 8, 8), (8, 8, 3)  # the last validation batch is smaller on purpose


def _reference_steps() -> dict[str, Callable]:
    def training_step(self: Any, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self: Any, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    return {"training_step": training_step, "validation_step": validation_step}


def _reference_configure_optimizers(self: Any) -> dict:
    from cifarlab.schedule import one_cycle

    optimizer = torch.optim.SGD(
        self.parameters(),
        lr=self.max_lr,
        momentum=RECIPE.momentum,
        nesterov=RECIPE.nesterov,
        weight_decay=RECIPE.weight_decay,
    )
    schedule = one_cycle(optimizer, self.max_lr, int(self.trainer.estimated_stepping_batches))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def _loader(sizes: tuple[int, ...], seed: int) -> Any:
    """A DataLoader whose batches have these sizes (a list of batches would read as a list of loaders)."""
    return _as_loader(random_batches(sizes, seed))


def _as_loader(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    from torch.utils.data import DataLoader, TensorDataset

    bounds = [0]
    for _, y in batches:
        bounds.append(bounds[-1] + len(y))
    images, labels = torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])
    sampler = [list(range(a, b)) for a, b in zip(bounds, bounds[1:])]
    return DataLoader(TensorDataset(images, labels), batch_sampler=sampler)


def _trainer(epochs: int) -> Any:
    import lightning as L

    return L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def _build(cls: type) -> Any:
    from cifarlab.model import ResNet9

    torch.manual_seed(0)
    return cls(ResNet9(widths=TINY_WIDTHS), CHECK_MAX_LR)


def _fit(module: Any, epochs: int) -> Any:
    quiet_lightning()  # before catch_warnings, which would drop its filter again on the way out
    with info_off(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no `val_dataloader`")  # the check validates on its own
        return _fit_loudly(module, epochs)


def _fit_loudly(module: Any, epochs: int) -> Any:
    trainer = _trainer(epochs)
    try:
        trainer.fit(module, _loader(TRAIN_SIZES, 0))
    except RuntimeError as error:
        if "backward through the graph a second time" in str(error):
            raise Problem(
                "training_step calls backward() itself; Lightning calls it on the loss training_step returns "
                "(and zero_grad and step too). Only compute, log and return the loss."
            ) from None
        raise
    except ValueError as error:
        if "Tried to step" not in str(error):
            raise
        planned = str(error).rsplit(" ", 1)[-1]
        raise Problem(
            f"OneCycle ran out of steps: it is planned for {planned} steps, but the run takes {epochs} epochs of "
            f"{len(TRAIN_SIZES)} batches = {epochs * len(TRAIN_SIZES)}. Plan it for every batch of the run: "
            "self.trainer.estimated_stepping_batches."
        ) from None
    return trainer


def _check_steps(student: type) -> str:
    steps = type("StudentSteps", (student,), {"configure_optimizers": _reference_configure_optimizers})
    module = _build(steps)
    x, y = next(iter(_loader((8,), 5)))
    module.train()
    with warnings.catch_warnings():  # self.log outside a Trainer warns and does nothing: fine here
        warnings.simplefilter("ignore")
        returned = module.training_step((x, y), 0)
    if returned is None:
        raise Problem("training_step returns nothing, so Lightning has nothing to backpropagate: return the loss.")
    if isinstance(returned, dict):
        returned = returned.get("loss")
    if isinstance(returned, (int, float)):
        raise Problem(
            "training_step returns a plain number (loss.item()?), which carries no gradient: return the loss "
            "tensor itself, not loss.item()."
        )
    if not isinstance(returned, torch.Tensor) or returned.numel() != 1:
        raise Problem(f"training_step returns {type(returned).__name__}; return the loss, a one-number tensor.")
    if not returned.requires_grad:
        raise Problem("the returned loss has no gradient: return the loss tensor itself, not loss.item().")
    _check_loss_value(module, x, y, float(returned.detach()))
    before = [p.detach().clone() for p in module.parameters()]
    trainer = _fit(module, 1)
    if all(torch.equal(a, b) for a, b in zip(before, module.parameters())):
        raise Problem("training changed no weight: training_step must return the loss of the batch.")
    logged = sorted(trainer.callback_metrics)
    if "train_loss" not in trainer.callback_metrics:
        raise Problem(
            f"nothing is logged as 'train_loss' (logged: {logged or 'nothing'}); the course's curves read it."
        )
    validation = _as_loader(half_right(module.model, random_batches(VAL_SIZES, 1)))
    with info_off():
        trainer.validate(module, validation, verbose=False)
    _check_validation(module, trainer, validation)
    return "training_step returns and logs the cross-entropy; validation_step logs val_loss and val_acc."


def _check_loss_value(module: Any, x: torch.Tensor, y: torch.Tensor, loss: float) -> None:
    with torch.no_grad():
        logits = module.model(x)
    right = (
        F.cross_entropy(logits, y).item(),
        F.cross_entropy(logits, y, label_smoothing=RECIPE.label_smoothing).item(),
    )
    if any(math.isclose(loss, r, rel_tol=1e-4) for r in right):
        return
    if math.isclose(loss, F.nll_loss(logits, y).item(), rel_tol=1e-4):
        raise Problem(
            "the loss is nll_loss of the logits: nll_loss expects log-probabilities. cross_entropy takes the "
            "logits and applies log_softmax itself."
        )
    if math.isclose(loss, F.cross_entropy(logits.softmax(1), y).item(), rel_tol=1e-4):
        raise Problem("the loss applies softmax before cross_entropy, which already includes it: pass the logits.")
    raise Problem(f"training_step returns {loss:.4f}; the cross-entropy of this batch is {right[0]:.4f}.")


def _check_validation(module: Any, trainer: Any, loader: Any) -> None:
    metrics = trainer.callback_metrics
    for name in ("val_loss", "val_acc"):
        if name not in metrics:
            raise Problem(
                f"validation_step logs no '{name}' (logged: {sorted(metrics)}); the checkpoint callback picks "
                "the best epoch by val_acc."
            )
    module.eval()
    hits, total, losses = 0, 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            logits = module.model(x)
            hits += (logits.argmax(1) == y).sum().item()
            losses += F.cross_entropy(logits, y, reduction="sum").item()
            total += len(y)
    accuracy = float(metrics["val_acc"])
    if accuracy > 1:
        if math.isclose(accuracy, 100 * hits / total, rel_tol=1e-4):
            raise Problem(f"val_acc is {accuracy:.4g}: a percentage. Log the fraction (0..1); plots format it.")
        raise Problem(f"val_acc is {accuracy:g}: a count of right images, not a fraction. Take the mean.")
    if not math.isclose(accuracy, hits / total, abs_tol=1e-4):
        raise Problem(
            f"val_acc is {accuracy:.4f}, but {hits} of {total} images are right ({hits / total:.4f}): the predicted "
            "class is the largest logit along the class axis (dimension 1)."
        )
    if not math.isclose(float(metrics["val_loss"]), losses / total, rel_tol=1e-3):
        raise Problem(f"val_loss is {float(metrics['val_loss']):.4f}; the cross-entropy is {losses / total:.4f}.")


def _check_optimizers(student: type) -> str:
    optimizing = type("StudentOptimizers", (student,), _reference_steps())
    module = _build(optimizing)
    trainer = _fit(module, 3)  # 12 steps: more than one_cycle's minimum, so a plan per epoch falls short
    optimizer = trainer.optimizers[0]
    if not isinstance(optimizer, torch.optim.SGD):
        raise Problem(f"the optimizer is {type(optimizer).__name__}; the recipe uses SGD with Nesterov momentum.")
    if not optimizer.defaults.get("nesterov"):
        raise Problem("SGD runs without Nesterov momentum: pass nesterov=RECIPE.nesterov (and momentum).")
    if not math.isclose(optimizer.defaults.get("weight_decay", 0.0), RECIPE.weight_decay):
        raise Problem(
            f"the weight decay is {optimizer.defaults.get('weight_decay', 0.0):g}, not the recipe's "
            f"{RECIPE.weight_decay:g}: pass weight_decay=RECIPE.weight_decay."
        )
    configs = trainer.lr_scheduler_configs
    if not configs:
        raise Problem(
            "there is no learning-rate schedule: return the optimizer and the OneCycle schedule together, "
            "as a dict with 'optimizer' and 'lr_scheduler'."
        )
    schedule = configs[0].scheduler
    if not isinstance(schedule, torch.optim.lr_scheduler.OneCycleLR):
        raise Problem(f"the schedule is {type(schedule).__name__}; use cifarlab.schedule.one_cycle.")
    peak = optimizer.param_groups[0].get("max_lr")
    if peak is None or not math.isclose(peak, CHECK_MAX_LR):
        raise Problem(
            f"OneCycle's peak is {peak:g} for a module built with max_lr={CHECK_MAX_LR}: use self.max_lr, so "
            "that the rate the range test finds (lesson 05) is the one used."
        )
    if configs[0].interval != "step":
        raise Problem(
            "Lightning steps the schedule once per epoch: OneCycle is planned per batch, so ask for "
            "'interval': 'step' in the 'lr_scheduler' dict."
        )
    planned = trainer.estimated_stepping_batches
    if schedule.total_steps < planned:
        raise Problem(
            f"OneCycle is planned for {schedule.total_steps} steps but the run takes {planned} "
            f"({trainer.max_epochs} epochs of {len(TRAIN_SIZES)} batches): plan it for every batch of the "
            "run, self.trainer.estimated_stepping_batches."
        )
    _check_schedule_shape(schedule, optimizer.param_groups[0])
    return "SGD with Nesterov momentum and weight decay, OneCycle to self.max_lr, stepped every batch."


def _check_schedule_shape(schedule: Any, group: dict) -> None:
    """The recipe's OneCycle: its warm-up share, start and end rates, and linear annealing."""
    fix = "build it with cifarlab.schedule.one_cycle, which takes them from the recipe."
    warm_up = (schedule._schedule_phases[0]["end_step"] + 1) / schedule.total_steps
    if not math.isclose(warm_up, RECIPE.pct_start, abs_tol=0.02):
        raise Problem(
            f"OneCycle warms up for {warm_up:.0%} of the steps, not the recipe's pct_start "
            f"{RECIPE.pct_start:.0%} (PyTorch's default is 30%): {fix}"
        )
    if getattr(schedule, "_anneal_func_type", RECIPE.anneal_strategy) != RECIPE.anneal_strategy:
        raise Problem(f"OneCycle anneals along a cosine, the recipe's is '{RECIPE.anneal_strategy}': {fix}")
    start = group["max_lr"] / RECIPE.div_factor
    if not math.isclose(group["initial_lr"], start, rel_tol=1e-6):
        raise Problem(f"OneCycle starts at {group['initial_lr']:.3g}, not max_lr / div_factor = {start:.3g}: {fix}")
    if not math.isclose(group["min_lr"], start / RECIPE.final_div_factor, rel_tol=1e-6):
        raise Problem(
            f"OneCycle ends at {group['min_lr']:.3g}, not the start / final_div_factor = "
            f"{start / RECIPE.final_div_factor:.3g}: {fix}"
        )


def reference_lightning_module(model: Any = None, max_lr: float = RECIPE.max_lr) -> Any:
    """cifarlab's LitResNet9 (its own ResNet9), in place of the lesson's class."""
    from cifarlab.lit import LitResNet9

    return LitResNet9(max_lr=max_lr)


def lightning_module(student: type) -> Any:
    """Check a LightningModule class `student(model, max_lr)`: exercise `lightning_steps`
    (training_step, validation_step) and exercise `lightning_optimizers` (configure_optimizers)."""
    return run_check(
        student,
        reference_lightning_module,
        {"lightning_steps": lambda: _check_steps(student), "lightning_optimizers": lambda: _check_optimizers(student)},
        label=getattr(student, "__name__", "LitResNet9"),
    )
