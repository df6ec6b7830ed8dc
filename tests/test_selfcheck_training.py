"""Self-checks of lessons 02-05 accept right answers and name what is wrong in broken ones."""

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cifarlab import selfcheck
from cifarlab.loop import train_epoch
from cifarlab.lr_finder import steepest_descent
from cifarlab.model import ResNet9
from cifarlab.schedule import one_cycle


def make_block(residual=True, bias=False, convs=2):
    class Block(nn.Module):
        def __init__(self, channels):
            super().__init__()
            layers = []
            for _ in range(convs):
                layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=bias), nn.BatchNorm2d(channels), nn.ReLU()]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.body(x) if residual else self.body(x)

    return Block


@pytest.mark.parametrize(
    "block, phrase",
    [
        (make_block(residual=False), "return x + ..."),
        (make_block(bias=True), "bias=False"),
        (make_block(convs=1), "1 conv(s)"),
    ],
)
def test_residual_block_check(capsys, block, phrase):
    assert selfcheck.residual_block(block) is not block
    assert phrase in capsys.readouterr().out
    good = make_block()
    assert selfcheck.residual_block(good) is good


def test_resnet9_check(capsys):
    assert selfcheck.resnet9(ResNet9) is ResNet9

    def narrow():
        return ResNet9(widths=(64, 128, 256, 256))

    assert selfcheck.resnet9(narrow) is ResNet9
    assert "parameters" in capsys.readouterr().out

    class Biased(ResNet9):
        def __init__(self):
            super().__init__()
            self.prep = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU())

    selfcheck.resnet9(Biased)
    assert "bias=False" in capsys.readouterr().out


def right_epoch(model, batches, optimizer, schedule):
    return train_epoch(model, batches, optimizer, schedule)["loss"]


def no_zero_grad(model, batches, optimizer, schedule):
    model.train()
    total = 0.0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item()
    return total / len(batches)


def no_schedule(model, batches, optimizer, schedule):
    model.train()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_train_one_epoch_check(capsys):
    assert selfcheck.train_one_epoch(right_epoch) is right_epoch
    assert selfcheck.train_one_epoch(no_zero_grad) is selfcheck.reference_train_one_epoch
    assert "zero_grad" in capsys.readouterr().out
    selfcheck.train_one_epoch(no_schedule)
    assert "schedule.step()" in capsys.readouterr().out


def make_lit(interval="step", optimizer="sgd"):
    class Lit(L.LightningModule):
        def __init__(self, model, max_lr):
            super().__init__()
            self.model, self.max_lr = model, max_lr

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.model(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            if optimizer == "sgd":
                opt = torch.optim.SGD(self.parameters(), lr=self.max_lr, momentum=0.9, nesterov=True)
            else:
                opt = torch.optim.Adam(self.parameters(), lr=self.max_lr)
            steps = self.trainer.estimated_stepping_batches if interval == "step" else self.trainer.max_epochs
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": one_cycle(opt, self.max_lr, int(steps)), "interval": interval},
            }

    return Lit


def test_lightning_module_check(capsys):
    good = make_lit()
    assert selfcheck.lightning_module(good) is good
    selfcheck.lightning_module(make_lit(interval="epoch"))
    assert "'interval': 'step'" in capsys.readouterr().out
    selfcheck.lightning_module(make_lit(optimizer="adam"))
    assert "nesterov=True" in capsys.readouterr().out


def test_steepest_lr_check(capsys):
    def right(lrs, losses):
        return selfcheck.reference_steepest_lr(lrs, losses)

    def lowest(lrs, losses):
        return float(lrs[int(np.argmin(losses))])

    def whole_curve(lrs, losses):  # log slope, but searched past the minimum too
        lr, loss = np.array(lrs[10:-1]), np.array(losses[10:-1])
        return float(lr[np.argmin(np.gradient(loss, np.log10(lr)))])

    assert selfcheck.steepest_lr(right) is right
    assert selfcheck.steepest_lr(lowest) is selfcheck.reference_steepest_lr
    assert "lowest loss" in capsys.readouterr().out
    selfcheck.steepest_lr(whole_curve)
    assert "past the lowest point" in capsys.readouterr().out


def test_log_slope_rule_ignores_noise_in_the_flat_part_where_the_linear_rule_fails(capsys):
    rng = np.random.default_rng(0)
    lrs = np.geomspace(1e-4, 10, 60)
    falls = 2.3 - 1.0 / (1 + np.exp(-4 * (np.log10(lrs) + 1)))  # the real descent is around 0.1
    losses = list(falls + rng.normal(0, 0.01, 60))
    assert 0.02 < selfcheck.reference_steepest_lr(list(lrs), losses) < 0.5
    linear = steepest_descent(list(lrs), losses, log_lr=False)
    assert linear < 0.01  # the slope against the rate itself lands in the noisy flat part

    def lightning_rule(lrs, losses):
        return steepest_descent(lrs, losses, log_lr=False)

    selfcheck.steepest_lr(lightning_rule)
    out = capsys.readouterr().out
    assert "np.log10" in out or "lowest loss" in out
