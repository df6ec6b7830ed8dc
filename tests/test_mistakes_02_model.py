"""Lesson 02's checks against the mistakes students make in the residual block and the ResNet9.

Each wrong class below is written the way a student would write it in the lesson (with the
package's ConvBlock); the check must answer ❌ with a message that names that mistake, and
hand back the reference (a stand-in that says so).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cifarlab import selfcheck as check
from cifarlab.model import ConvBlock, ResidualBlock
from cifarlab.model import ResNet9 as PackageResNet

# ---------------------------------------------------------------------------------------------
# Exercise 1: ResidualBlock


class RightBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(ConvBlock(channels, channels), ConvBlock(channels, channels))

    def forward(self, x):
        return x + self.body(x)


class TwoAttributes(nn.Module):  # another right answer: two attributes, the sum written the other way
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvBlock(channels, channels)
        self.conv2 = ConvBlock(channels, channels)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return out + x


class NoIdentity(RightBlock):
    def forward(self, x):
        return self.body(x)


class ReluAfterSum(RightBlock):
    def forward(self, x):
        return F.relu(x + self.body(x))


class OneConvBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = ConvBlock(channels, channels)

    def forward(self, x):
        return x + self.body(x)


class PoolInside(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(ConvBlock(channels, channels, pool=True), ConvBlock(channels, channels))

    def forward(self, x):
        return x + self.body(x)


class Widening(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(ConvBlock(channels, 2 * channels), ConvBlock(2 * channels, channels))

    def forward(self, x):
        return x + self.body(x)


class WideningToTheEnd(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(ConvBlock(channels, 2 * channels), ConvBlock(2 * channels, 2 * channels))

    def forward(self, x):
        return x + self.body(x)


class SharedWeights(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = ConvBlock(channels, channels)

    def forward(self, x):
        return x + self.conv(self.conv(x))


class SecondBlockUnused(TwoAttributes):
    def forward(self, x):
        return x + self.conv1(self.conv1(x))


class Biased(nn.Module):
    def __init__(self, channels):
        super().__init__()
        layers = []
        for _ in range(2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


class NoPadding(nn.Module):
    def __init__(self, channels):
        super().__init__()
        layers = []
        for _ in range(2):
            layers += [nn.Conv2d(channels, channels, 3, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


class SideBySide(TwoAttributes):
    def forward(self, x):
        return x + self.conv1(x) + self.conv2(x)


class BuiltInForward(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels

    def forward(self, x):
        f = nn.Sequential(ConvBlock(self.channels, self.channels), ConvBlock(self.channels, self.channels))
        return x + f(x)


class BatchNormLast(nn.Module):  # conv -> ReLU -> BatchNorm: another order inside f
    def __init__(self, channels):
        super().__init__()
        layers = []
        for _ in range(2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.ReLU(), nn.BatchNorm2d(channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


BLOCK_MISTAKES = {
    "no identity": (NoIdentity, "the identity path is missing"),
    "ReLU after the sum": (ReluAfterSum, "a ReLU after the sum"),
    "one ConvBlock": (OneConvBlock, "only one conv runs"),
    "pool=True inside": (PoolInside, "a pooling layer runs inside the block"),
    "widening c -> 2c -> c": (Widening, "maps 8 -> 16 channels"),
    "widening c -> 2c -> 2c": (WideningToTheEnd, "maps 8 -> 16 channels"),
    "one ConvBlock used twice": (SharedWeights, "half of two ConvBlocks'"),
    "second ConvBlock unused": (SecondBlockUnused, "the same ConvBlock object runs twice"),
    "bias=True": (Biased, "its convs have a bias"),
    "no padding": (NoPadding, "needs padding=1"),
    "ConvBlocks side by side": (SideBySide, "side by side"),
    "layers built in forward": (BuiltInForward, "has no parameters"),
    "BatchNorm after ReLU": (BatchNormLast, "with the same weights as cifarlab's block"),
}


@pytest.mark.parametrize("right", [RightBlock, TwoAttributes, ResidualBlock], ids=["body", "two attributes", "package"])
def test_a_right_residual_block_is_kept(capsys, right):
    assert check.residual_block(right) is right
    assert "✅ residual_block: right" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", BLOCK_MISTAKES, ids=list(BLOCK_MISTAKES))
def test_residual_block_mistakes_are_named(capsys, mistake):
    wrong, phrase = BLOCK_MISTAKES[mistake]
    used = check.residual_block(wrong)
    out = capsys.readouterr().out
    assert "❌ residual_block:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["residual_block"].passed


def test_each_residual_block_mistake_gets_its_own_message(capsys):
    messages = {}
    for name, (wrong, _) in BLOCK_MISTAKES.items():
        check.residual_block(wrong)
        messages[name] = check.outcomes()["residual_block"].message
    alike = {"widening c -> 2c -> c", "widening c -> 2c -> 2c"}  # one mistake, two ways to write it
    assert len({m for n, m in messages.items() if n not in alike}) == len(BLOCK_MISTAKES) - len(alike)
    assert all("return x + ..." not in m for m in messages.values())


def test_the_residual_block_stand_in_says_so(capsys):
    used = check.residual_block(NoIdentity)
    capsys.readouterr()
    block = used(4)
    assert "⚠ [cifarlab's reference NoIdentity stands in here: exercise residual_block is still open]" in (
        capsys.readouterr().out
    )
    assert isinstance(block, ResidualBlock) and block(torch.randn(1, 4, 3, 3)).shape == (1, 4, 3, 3)


# ---------------------------------------------------------------------------------------------
# Exercise 2: ResNet9, as the lesson's class (no widths argument, no logit scale)


class RightNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.prep = ConvBlock(3, 64)
        self.layer1 = nn.Sequential(ConvBlock(64, 128, pool=True), ResidualBlock(128))
        self.layer2 = ConvBlock(128, 256, pool=True)
        self.layer3 = nn.Sequential(ConvBlock(256, 512, pool=True), ResidualBlock(512))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class FlattenInPool(RightNet):  # another right answer: the flatten as a layer, a view instead of flatten
    def __init__(self):
        super().__init__()
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())

    def forward(self, x):
        x = self.prep(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.fc(self.pool(x))


class AvgPool(RightNet):
    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)


def without_pool_in(layer):
    class MissingPool(RightNet):
        def __init__(self):
            super().__init__()
            if layer == "layer1":
                self.layer1 = nn.Sequential(ConvBlock(64, 128), ResidualBlock(128))
            elif layer == "layer2":
                self.layer2 = ConvBlock(128, 256)
            else:
                self.layer3 = nn.Sequential(ConvBlock(256, 512), ResidualBlock(512))

    return MissingPool


class ResidualInLayer2(RightNet):
    def __init__(self):
        super().__init__()
        self.layer2 = nn.Sequential(ConvBlock(128, 256, pool=True), ResidualBlock(256))
        self.layer3 = ConvBlock(256, 512, pool=True)


class OtherNames(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBlock(3, 64)
        self.res1 = nn.Sequential(ConvBlock(64, 128, pool=True), ResidualBlock(128))
        self.conv2 = ConvBlock(128, 256, pool=True)
        self.res2 = nn.Sequential(ConvBlock(256, 512, pool=True), ResidualBlock(512))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        x = self.res2(self.conv2(self.res1(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class Squeezed(RightNet):
    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(self.pool(x).squeeze())


class NoFlatten(RightNet):
    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(self.pool(x))


class NoGlobalPool(RightNet):  # flatten the 4x4 maps and size the linear layer to fit
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(512 * 4 * 4, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(torch.flatten(x, 1))


class WrongOrder(RightNet):
    def forward(self, x):
        x = self.layer3(self.layer1(self.layer2(self.prep(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class PoolSkipped(RightNet):
    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(torch.flatten(F.adaptive_max_pool2d(x, 1), 1))


class Softmax(RightNet):
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=1)


class BiasedPrep(RightNet):
    def __init__(self):
        super().__init__()
        self.prep = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU())


class NarrowLayer3(RightNet):
    def __init__(self):
        super().__init__()
        self.layer3 = nn.Sequential(ConvBlock(256, 256, pool=True), ResidualBlock(256))
        self.fc = nn.Linear(256, 10)


class PoolAfterResidual(RightNet):  # layer1 pools after its residual block, not before
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(ConvBlock(64, 128), ResidualBlock(128), nn.MaxPool2d(2))


NET_MISTAKES = {
    "avg-pool at the end": (AvgPool, "an average pool"),
    "no max-pool in layer1": (without_pool_in("layer1"), "layer1 gives 128 x 32 x 32 per image"),
    "no max-pool in layer2": (without_pool_in("layer2"), "a max-pool is missing"),
    "no max-pool in layer3": (without_pool_in("layer3"), "layer3 gives 512 x 8 x 8"),
    "residual block in layer2": (
        ResidualInLayer2,
        "The residual block sits in layer2, but the table puts it in layer3",
    ),
    "other names": (OtherNames, "your model's blocks are named ['conv1', 'res1', 'conv2', 'res2', 'pool', 'fc']"),
    "squeeze": (Squeezed, "squeeze() removed the batch axis"),
    "no flatten": (NoFlatten, "flatten them"),
    "no global pool": (NoGlobalPool, "fc is ['Linear(8192, 10)'] (layer3's maps unpooled?)"),
    "layer2 before layer1": (WrongOrder, "forward runs prep -> layer2"),
    "pool block never run": (PoolSkipped, "forward never runs ['pool']"),
    "softmax": (Softmax, "returns probabilities"),
    "bias in prep": (BiasedPrep, "convs in ['prep'] have a bias"),
    "layer3 too narrow": (NarrowLayer3, "a conv in layer3 maps 256 -> 256 channels"),
    "pool after the residual block": (PoolAfterResidual, "layer1 gives the right shape but other values"),
}


@pytest.mark.parametrize("right", [RightNet, FlattenInPool, PackageResNet], ids=["lesson", "flatten layer", "package"])
def test_a_right_resnet9_is_kept(capsys, right):
    assert check.resnet9(right) is right
    out = capsys.readouterr().out
    assert "✅ resnet9: right" in out and "6,573,130 parameters" in out, out


@pytest.mark.parametrize("mistake", NET_MISTAKES, ids=list(NET_MISTAKES))
def test_resnet9_mistakes_are_named(capsys, mistake):
    wrong, phrase = NET_MISTAKES[mistake]
    used = check.resnet9(wrong)
    out = capsys.readouterr().out
    assert "❌ resnet9:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["resnet9"].passed
    assert "mat1 and mat2" not in out and "Given groups" not in out and "expected input" not in out


def test_same_parameter_count_is_not_enough(capsys):
    """The old check accepted any model with 6,573,130 parameters: an avg-pool or a missing max-pool has them."""
    for wrong in (AvgPool, without_pool_in("layer2")):
        assert sum(p.numel() for p in wrong().parameters()) == sum(p.numel() for p in RightNet().parameters())
        assert check.resnet9(wrong) is not wrong


def test_the_resnet9_stand_in_says_so(capsys):
    used = check.resnet9(Squeezed)
    capsys.readouterr()
    model = used()
    assert "⚠ [cifarlab's reference Squeezed stands in here: exercise resnet9 is still open]" in capsys.readouterr().out
    assert isinstance(model, PackageResNet)
