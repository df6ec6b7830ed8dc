"""Lesson 02's self-checks: the residual block and the ResNet9."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cifarlab.selfcheck._core import _Problem, _report


def _conv_and_norm_counts(module: Any) -> tuple[int, int, int]:
    from torch import nn

    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    biased = sum(m.bias is not None for m in convs)
    return len(convs), len(norms), biased


def residual_block(student: Callable[[int], Any]) -> Callable:
    """Check a residual block class: `student(channels)` maps (N, C, H, W) to x + f(x)."""
    from cifarlab.model import ResidualBlock

    def test() -> str:
        import torch
        from torch import nn

        block = student(8)
        x = torch.randn(2, 8, 6, 6)
        out = block(x)
        if tuple(out.shape) != tuple(x.shape):
            raise _Problem(
                f"(2, 8, 6, 6) in gave {tuple(out.shape)} out; both convs keep the width: padding=1, no pooling."
            )
        convs, norms, biased = _conv_and_norm_counts(block)
        if convs != 2 or norms != 2:
            raise _Problem(
                f"it has {convs} conv(s) and {norms} BatchNorm(s); the block is two conv -> BatchNorm -> ReLU."
            )
        if biased:
            raise _Problem("its convs have a bias; BatchNorm right after adds its own, so use bias=False.")
        block = student(8)  # fresh BatchNorm statistics
        for m in block.modules():  # with zero convs, f(x) = 0: a residual block returns x itself
            if isinstance(m, nn.Conv2d):
                nn.init.zeros_(m.weight)
        block.eval()
        if not torch.allclose(block(x), x, atol=1e-6):
            raise _Problem("with all conv weights zero the output should equal the input; is `return x + ...` there?")
        return "Same shape in and out, two conv-BN-ReLU, and the identity path."

    return _report(student, ResidualBlock, test)


def resnet9(student: Callable[[], Any]) -> Callable:
    """Check the assembled network: 6,573,130 parameters, (N, 3, 32, 32) -> (N, 10)."""
    from cifarlab.model import PARAMETERS_AT_DEFAULTS, SIZE, ResNet9, count_parameters
    from cifarlab.recipe import RECIPE

    def test() -> str:
        import torch

        widths = ", ".join(str(w) for w in RECIPE.widths)

        model = student()
        n = count_parameters(model)
        convs, norms, biased = _conv_and_norm_counts(model)
        if biased:
            raise _Problem(f"{biased} conv(s) have a bias; use bias=False (the BatchNorm after each has one).")
        if convs != 8 or norms != 8:
            raise _Problem(
                f"it has {convs} convs and {norms} BatchNorms; ResNet-9 has 8 of each (prep, layer1 x3, "
                "layer2, layer3 x3)."
            )
        if n != PARAMETERS_AT_DEFAULTS:
            raise _Problem(
                f"it has {n:,} parameters, {n - PARAMETERS_AT_DEFAULTS:+,} off the {PARAMETERS_AT_DEFAULTS:,} "
                f"expected: check the widths {widths}."
            )
        model.eval()
        out = model(torch.randn(2, 3, SIZE, SIZE))
        if tuple(out.shape) != (2, RECIPE.num_classes):
            raise _Problem(
                f"a batch of 2 images gave output {tuple(out.shape)}; expected (2, {RECIPE.num_classes}): "
                "pool globally, flatten, then the linear layer."
            )
        return f"{n:,} parameters and 10 logits per image."

    return _report(student, ResNet9, test)
