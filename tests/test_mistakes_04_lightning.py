"""Lesson 04's check against the mistakes students make in a LightningModule.

The class holds two exercises (the steps; configure_optimizers); each wrong class below has
one mistake, and the check must name it under the right exercise and pass the other one.
"""

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from cifarlab import selfcheck as check
from cifarlab.recipe import RECIPE
from cifarlab.schedule import one_cycle


class Right(L.LightningModule):
    def __init__(self, model, max_lr=RECIPE.max_lr):
        super().__init__()
        self.model, self.max_lr = model, max_lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(
            self.parameters(),
            lr=self.max_lr,
            momentum=RECIPE.momentum,
            nesterov=RECIPE.nesterov,
            weight_decay=RECIPE.weight_decay,
        )
        schedule = one_cycle(optimizer, self.max_lr, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def _optimizer(module, kind=torch.optim.SGD, **changes):
    options = dict(
        lr=module.max_lr, momentum=RECIPE.momentum, nesterov=RECIPE.nesterov, weight_decay=RECIPE.weight_decay
    )
    options.update(changes)
    if kind is not torch.optim.SGD:
        options = {"lr": module.max_lr}
    return kind(module.parameters(), **options)


class ReturnsNothing(Right):
    def training_step(self, batch, batch_idx):
        x, y = batch
        self.log("train_loss", F.cross_entropy(self.model(x), y))


class LogsUnderAnotherName(Right):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("loss", loss)
        return loss


class NllOnLogits(Right):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.nll_loss(self.model(x), y)
        self.log("train_loss", loss)
        return loss


class SoftmaxFirst(Right):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x).softmax(1), y)
        self.log("train_loss", loss)
        return loss


class BackwardByHand(Right):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.log("train_loss", loss)
        return loss


class ReturnsItem(Right):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train_loss", loss)
        return loss.item()


class CountsCorrect(Right):
    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).sum().float())


class NoValidationAccuracy(Right):
    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.model(x), y))


class PerEpochSchedule(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self)
        schedule = one_cycle(optimizer, self.max_lr, int(self.trainer.estimated_stepping_batches))
        return [optimizer], [schedule]


class OneEpochOfSteps(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self)
        schedule = one_cycle(optimizer, self.max_lr, self.trainer.max_epochs)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class Adam(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self, torch.optim.Adam)
        schedule = one_cycle(optimizer, self.max_lr, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class PlainMomentum(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self, nesterov=False)
        schedule = one_cycle(optimizer, self.max_lr, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class NoWeightDecay(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self, weight_decay=0.0)
        schedule = one_cycle(optimizer, self.max_lr, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class NoSchedule(Right):
    def configure_optimizers(self):
        return _optimizer(self)


class RecipePeak(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self)
        schedule = one_cycle(optimizer, RECIPE.max_lr, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class PyTorchDefaultShape(Right):
    def configure_optimizers(self):
        optimizer = _optimizer(self)
        total = int(self.trainer.estimated_stepping_batches)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.max_lr, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class PercentAccuracy(Right):
    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", 100 * (logits.argmax(1) == y).float().mean())


STEP_MISTAKES = {
    "training_step returns nothing": (ReturnsNothing, "returns nothing"),
    "logged under another name": (LogsUnderAnotherName, "nothing is logged as 'train_loss' (logged: ['loss'"),
    "nll_loss on logits": (NllOnLogits, "nll_loss expects log-probabilities"),
    "softmax before cross_entropy": (SoftmaxFirst, "softmax before cross_entropy"),
    "backward() inside training_step": (BackwardByHand, "calls backward() itself"),
    "returns loss.item()": (ReturnsItem, "not loss.item()"),
    "val_acc is a count": (CountsCorrect, "a count of right images"),
    "no val_acc logged": (NoValidationAccuracy, "logs no 'val_acc'"),
    "val_acc in percent": (PercentAccuracy, "a percentage"),
}
OPTIMIZER_MISTAKES = {
    "schedule stepped per epoch": (PerEpochSchedule, "'interval': 'step'"),
    "planned for the epochs, not the batches": (OneEpochOfSteps, "planned for 9 steps, but the run takes 3 epochs"),
    "Adam instead of SGD": (Adam, "the optimizer is Adam"),
    "no Nesterov": (PlainMomentum, "without Nesterov"),
    "no weight decay": (NoWeightDecay, "the weight decay is 0"),
    "no schedule": (NoSchedule, "no learning-rate schedule"),
    "the recipe's peak, not self.max_lr": (RecipePeak, "use self.max_lr"),
    "PyTorch's default OneCycle shape": (PyTorchDefaultShape, "PyTorch's default is 30%"),
}


def test_a_right_module_passes_both_exercises(capsys):
    assert check.lightning_module(Right) is Right
    out = capsys.readouterr().out
    assert "✅ lightning_steps: right" in out and "✅ lightning_optimizers: right" in out


@pytest.mark.parametrize("mistake", STEP_MISTAKES, ids=list(STEP_MISTAKES))
def test_step_mistakes_are_named_under_the_steps(capsys, mistake):
    wrong, phrase = STEP_MISTAKES[mistake]
    used = check.lightning_module(wrong)
    out = capsys.readouterr().out
    assert "❌ lightning_steps:" in out and phrase in out, out
    assert "✅ lightning_optimizers: right" in out, out
    assert used is not wrong


@pytest.mark.parametrize("mistake", OPTIMIZER_MISTAKES, ids=list(OPTIMIZER_MISTAKES))
def test_optimizer_mistakes_are_named_under_the_optimizers(capsys, mistake):
    wrong, phrase = OPTIMIZER_MISTAKES[mistake]
    used = check.lightning_module(wrong)
    out = capsys.readouterr().out
    assert "❌ lightning_optimizers:" in out and phrase in out, out
    assert "✅ lightning_steps: right" in out, out
    assert used is not wrong
