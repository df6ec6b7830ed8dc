"""Self-checks of lessons 03-05: one epoch of the plain loop, the LightningModule, the LR suggestion."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cifarlab.logs import quiet_lightning
from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import SIZE, _Problem, _report


def reference_train_one_epoch(model: Any, batches: Any, optimizer: Any, schedule: Any) -> float:
    """One epoch of cifarlab's plain loop; returns the mean training loss."""
    from cifarlab.loop import train_epoch

    return train_epoch(model, batches, optimizer, schedule)["loss"]


def train_one_epoch(student: Callable[..., float]) -> Callable:
    """Check `train_one_epoch(model, batches, optimizer, schedule) -> mean loss` against the reference."""

    def test() -> str:
        import torch

        from cifarlab.model import ResNet9
        from cifarlab.schedule import one_cycle

        torch.manual_seed(0)
        batches = [(torch.randn(8, 3, SIZE, SIZE), torch.randint(0, RECIPE.num_classes, (8,))) for _ in range(3)]
        results = []
        for fn in (student, reference_train_one_epoch):
            torch.manual_seed(1)
            model = ResNet9(widths=(4, 8, 8, 8))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=RECIPE.momentum, nesterov=RECIPE.nesterov)
            schedule = one_cycle(optimizer, 0.1, 6)
            loss = fn(model, batches, optimizer, schedule)
            results.append((model, optimizer, float(loss) if loss is not None else None))
        (mine, my_opt, my_loss), (ref, ref_opt, ref_loss) = results
        if my_loss is None:
            raise _Problem("it returns nothing; return the mean loss over the epoch.")
        if abs(my_opt.param_groups[0]["lr"] - ref_opt.param_groups[0]["lr"]) > 1e-9:
            raise _Problem(
                "the learning rate did not move as it should: call schedule.step() after every optimizer.step()."
            )
        if not mine.training:
            raise _Problem(
                "the model is in eval mode: call model.train() at the start (BatchNorm behaves differently)."
            )
        same = all(
            torch.allclose(a, b, atol=1e-5) for a, b in zip(mine.state_dict().values(), ref.state_dict().values())
        )
        if not same:
            raise _Problem(
                "after one epoch the weights differ from the reference. The order per batch is: forward, "
                "loss, optimizer.zero_grad(), loss.backward(), optimizer.step(), schedule.step()."
            )
        if abs(my_loss - ref_loss) > 1e-4:
            raise _Problem(
                f"the weights are right but the returned loss is {my_loss:.4f}, not the mean {ref_loss:.4f}."
            )
        return "Same weights and loss as the reference after an epoch."

    return _report(student, reference_train_one_epoch, test)


def lightning_module(student: Callable[..., Any]) -> Callable:
    """Check a LightningModule class built as `student(model, max_lr)`: a loss, SGD, OneCycle per step."""
    from cifarlab.lit import LitResNet9

    def reference(model: Any = None, max_lr: float = RECIPE.max_lr) -> Any:
        return LitResNet9(max_lr=max_lr)

    def test() -> str:
        import lightning as L
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        from cifarlab.model import ResNet9

        quiet_lightning()
        torch.manual_seed(0)
        module = student(ResNet9(widths=(4, 8, 8, 8)), 0.1)
        data = TensorDataset(torch.randn(32, 3, SIZE, SIZE), torch.randint(0, RECIPE.num_classes, (32,)))
        before = [p.detach().clone() for p in module.parameters()]
        trainer = L.Trainer(
            max_epochs=2,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, DataLoader(data, batch_size=8))
        if all(torch.equal(a, b) for a, b in zip(before, module.parameters())):
            raise _Problem("training changed no weight: does training_step return the loss?")
        optimizer = trainer.optimizers[0]
        if not isinstance(optimizer, torch.optim.SGD) or not optimizer.defaults.get("nesterov"):
            raise _Problem(
                f"the optimizer is {type(optimizer).__name__}; use SGD with momentum={RECIPE.momentum}, nesterov=True."
            )
        configs = trainer.lr_scheduler_configs
        if not configs or not isinstance(configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR):
            raise _Problem(
                "there is no OneCycleLR: return "
                "{'optimizer': ..., 'lr_scheduler': {'scheduler': ..., 'interval': 'step'}}."
            )
        if configs[0].interval != "step":
            raise _Problem("the schedule steps once per epoch; OneCycle must step per batch: 'interval': 'step'.")
        if configs[0].scheduler.total_steps < trainer.estimated_stepping_batches:
            raise _Problem(
                "OneCycle's total_steps should cover every batch: use self.trainer.estimated_stepping_batches."
            )
        if "train_loss" not in trainer.callback_metrics:
            raise _Problem("nothing is logged as 'train_loss': add self.log('train_loss', loss) in training_step.")
        return "It trains, with SGD (Nesterov) and OneCycle stepped per batch."

    return _report(student, reference, test)


def reference_steepest_lr(
    lrs: Sequence[float], losses: Sequence[float], skip_begin: int = 10, skip_end: int = 1
) -> float:
    """The rate where the loss falls fastest against log10 of the rate."""
    from cifarlab.lr_finder import steepest_descent

    return steepest_descent(lrs, losses, skip_begin, skip_end)


def steepest_lr(student: Callable[..., float]) -> Callable:
    """Check `steepest_lr(lrs, losses)` on a made-up range-test curve."""

    from cifarlab.lr_finder import steepest_descent

    def test() -> str:
        lrs = np.geomspace(1e-4, 10, 100)
        x = np.log10(lrs)
        losses = 2.3 - 1.2 / (1 + np.exp(-3 * (x + 1.5))) + 0.002 * np.exp(2.2 * (x + 1))  # falls, then rises
        losses = np.where(x > 0.3, 3.5 - 2.0 * (x - 0.3), losses)  # blows up, then "recovers" as it collapses
        want = reference_steepest_lr(list(lrs), list(losses))
        got = student(list(lrs), list(losses))
        if not isinstance(got, (float, np.floating)) or not np.isfinite(got):
            raise _Problem(f"it should return one learning rate (a float), got {got!r}.")
        if np.isclose(got, lrs[int(np.argmin(losses))]):
            raise _Problem(
                "that is the rate of the lowest loss, which is already close to diverging; look for the "
                "steepest descent."
            )
        if got > lrs[int(np.argmin(losses))]:
            raise _Problem(
                f"it gives {got:.3g}, past the lowest point of the curve, where the loss falls only because "
                "the network collapsed. Search up to np.argmin(loss) only."
            )
        if not np.isclose(got, want, rtol=1e-6):
            hint = ""
            if np.isclose(got, steepest_descent(list(lrs), list(losses), log_lr=False)):
                hint = " That is the slope against the rate itself; take it against np.log10(lrs)."
            raise _Problem(
                f"it gives {got:.3g}, the steepest descent is at {want:.3g}.{hint} Skip the first 10 and the "
                "last point."
            )
        return f"{got:.3g}, where the loss falls fastest."

    return _report(student, reference_steepest_lr, test)
