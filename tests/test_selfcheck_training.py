"""Self-checks of lessons 02-05 accept right answers and name what is wrong in broken ones."""

import pytest
import torch.nn.functional as F
from torch import nn

from cifarlab import selfcheck
from cifarlab.loop import train_epoch
from cifarlab.model import ResNet9


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
        (make_block(residual=False), "the identity path is missing"),
        (make_block(bias=True), "bias=False"),
        (make_block(convs=1), "only one conv runs"),
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

    assert issubclass(selfcheck.resnet9(narrow), ResNet9)  # the reference, marked as a stand-in
    assert "a conv in layer3 maps 256 -> 256 channels" in capsys.readouterr().out

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
