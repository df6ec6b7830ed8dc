"""The ResNet-9 (in the style of David Page's DAWNBench entry), its blocks, and views inside it.

    prep    conv 3->64                                    32x32
    layer1  conv 64->128, max-pool, + residual(128)       16x16
    layer2  conv 128->256, max-pool                         8x8
    layer3  conv 256->512, max-pool, + residual(512)        4x4
    pool    global max-pool                                 1x1
    fc      linear 512->10, times the logit scale

Every conv is 3x3 without a bias (the BatchNorm after it has one), so at the recipe's widths
the model has exactly 6,573,130 parameters. `CustomResNet` is the same class under the name
the course's seed notebooks used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from cifarlab.errors import ImageError, OptionError
from cifarlab.recipe import RECIPE

SIZE = RECIPE.image_size
PARAMETERS_AT_DEFAULTS = 6_573_130  # at RECIPE.widths: a fact of the architecture, checked by the tests


class ConvBlock(nn.Sequential):
    """conv 3x3 -> (max-pool 2) -> BatchNorm -> ReLU (-> dropout).

    Pooling before the BatchNorm normalises the 4x smaller map, which is cheaper and what
    the ResNet-9 recipe does.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: bool = False, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
        if pool:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x + f(x), where f is two ConvBlocks that keep the width and the size.

    The identity path lets the gradient reach earlier layers unchanged, so the two convs only
    have to learn a correction to x.
    """

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(channels, channels, dropout=dropout), ConvBlock(channels, channels, dropout=dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    """The course's ResNet-9. Inputs are normalised float images of shape (N, 3, 32, 32).

    widths: channels of prep, layer1, layer2, layer3. dropout: after every ReLU (0 = none).
    logit_scale: the logits are multiplied by it; a small scale keeps the softmax from
    saturating early in training, which acts like a temperature. Defaults: the RECIPE's.
    """

    def __init__(
        self,
        widths: Sequence[int] = RECIPE.widths,
        num_classes: int = RECIPE.num_classes,
        dropout: float = 0.0,
        logit_scale: float = RECIPE.logit_scale,
    ) -> None:
        super().__init__()
        if len(widths) != 4:
            raise OptionError(f"widths needs 4 numbers (prep, layer1, layer2, layer3), got {tuple(widths)}.")
        w0, w1, w2, w3 = (int(w) for w in widths)
        self.widths = (w0, w1, w2, w3)
        self.num_classes = num_classes
        self.logit_scale = logit_scale
        self.prep = ConvBlock(3, w0, dropout=dropout)
        self.layer1 = nn.Sequential(ConvBlock(w0, w1, pool=True, dropout=dropout), ResidualBlock(w1, dropout))
        self.layer2 = ConvBlock(w1, w2, pool=True, dropout=dropout)
        self.layer3 = nn.Sequential(ConvBlock(w2, w3, pool=True, dropout=dropout), ResidualBlock(w3, dropout))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(w3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(torch.flatten(self.pool(x), 1)) * self.logit_scale


CustomResNet = ResNet9  # the seed notebooks' name for the same class


def check_input(x: torch.Tensor) -> None:
    """Raise an ImageError that names the expected input when `x` is not (N, 3, 32, 32) floats."""
    expected = f"a float tensor of shape (N, 3, {SIZE}, {SIZE}) (a batch of normalised RGB images)"
    if not isinstance(x, torch.Tensor):
        raise ImageError(f"ResNet9 expects {expected}, got a {type(x).__name__}.")
    if not x.is_floating_point():
        raise ImageError(
            f"ResNet9 expects {expected}, got dtype {x.dtype}. Convert and normalise the "
            "images first, e.g. with cifarlab.augment.eval_transforms(mean, std)."
        )
    if x.ndim == 3:
        raise ImageError(
            f"ResNet9 expects {expected}, got one image of shape {tuple(x.shape)}: add a batch axis with "
            "x.unsqueeze(0)."
        )
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2:] != (SIZE, SIZE):
        hint = ""
        if x.ndim == 4 and x.shape[-1] == 3:
            hint = " The channels are last (NHWC): use x.permute(0, 3, 1, 2)."
        raise ImageError(f"ResNet9 expects {expected}, got shape {tuple(x.shape)}.{hint}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


BLOCKS = ("prep", "layer1.0", "layer1.1", "layer2", "layer3.0", "layer3.1", "pool", "fc")


def _named_blocks(model: nn.Module, blocks: Sequence[str]) -> dict[str, nn.Module]:
    """The model's modules by name; an OptionError naming the model's own blocks if one of `blocks` is not there."""
    modules = dict(model.named_modules())
    unknown = [b for b in blocks if b not in modules]
    if unknown:
        own = [name for name in modules if name and name.count(".") <= 1]
        raise OptionError(
            f"the model has no block named {unknown}. Its blocks are {own}; cifarlab's ResNet9 has {list(BLOCKS)}."
        )
    return modules


def block_outputs(model: nn.Module, images: torch.Tensor, blocks: Sequence[str] = BLOCKS) -> dict[str, torch.Tensor]:
    """Each named block's output for `images`, in order (forward hooks; no gradients).

    The names are those of `model.named_modules()`: prep, layer1.0 (conv + pool),
    layer1.1 (the residual block), layer2, layer3.0, layer3.1, pool, fc.
    """
    modules = _named_blocks(model, blocks)
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        modules[name].register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach()))
        for name in blocks
    ]
    try:
        with torch.no_grad():
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return {name: outputs[name] for name in blocks}


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode for a `with` block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def feature_maps(model: nn.Module, x: torch.Tensor, block: str, first: int = 0, count: int = 16) -> np.ndarray:
    """`count` channels of `block`'s output for one normalised image x (3, 32, 32), from channel `first`.

    In eval mode (BatchNorm's running statistics), as the trained model sees the image;
    `first` is clipped so that `count` channels always come back.
    """
    with eval_mode(model):
        out = block_outputs(model, x[None], blocks=(block,))[block][0]
    first = max(0, min(first, out.shape[0] - count))
    return out[first : first + count].float().cpu().numpy()


def shape_walk(model: nn.Module, batch_size: int = 1) -> str:
    """The seed's "layer structure": each block's output shape and parameters, as a table."""
    with eval_mode(model):
        device = next(model.parameters()).device
        outputs = block_outputs(model, torch.zeros(batch_size, 3, SIZE, SIZE, device=device))
    modules = dict(model.named_modules())
    rows = [
        f"{'block':<10} {'output shape':<22} {'parameters':>12}",
        f"{'input':<10} {str((batch_size, 3, SIZE, SIZE)):<22} {'':>12}",
    ]
    for name, out in outputs.items():
        rows.append(f"{name:<10} {str(tuple(out.shape)):<22} {count_parameters(modules[name]):>12,}")
    rows.append(f"{'total':<10} {'':<22} {count_parameters(model):>12,}")
    return "\n".join(rows)


def summary(model: nn.Module, batch_size: int = RECIPE.batch_size, depth: int = 3) -> object:
    """torchinfo's summary: every layer's output shape, parameters and multiply-adds.

    The total of multiply-adds is printed as a whole number, like the table's rows (torchinfo's
    own unit label prints as "Units.GIGABYTES" on recent Pythons, and the count is no size in bytes).
    """
    from torchinfo import Units
    from torchinfo import summary as torchinfo_summary

    stats = torchinfo_summary(
        model,
        input_size=(batch_size, 3, SIZE, SIZE),
        depth=depth,
        col_names=("output_size", "num_params", "mult_adds"),
        device=next(model.parameters()).device,
        verbose=0,
    )
    stats.formatting.macs_units = Units.NONE
    return stats


def block_costs(
    model: nn.Module, batch_size: int = RECIPE.batch_size, blocks: Sequence[str] = BLOCKS
) -> dict[str, tuple[int, int]]:
    """(parameters, multiply-adds for one batch) of each named block, as torchinfo counts them.

    The multiply-adds are those of the block's layers, added up from `summary`'s rows.
    """
    modules = _named_blocks(model, blocks)
    names = {id(module): name for name, module in modules.items()}
    macs = dict.fromkeys(blocks, 0)
    for layer in summary(model, batch_size=batch_size).summary_list:
        if not layer.is_leaf_layer:
            continue
        name = names.get(id(layer.module), "")
        for block in blocks:
            if name == block or name.startswith(block + "."):
                macs[block] += layer.macs
                break
    return {block: (count_parameters(modules[block]), macs[block]) for block in blocks}
