"""Lesson 02's self-checks: the residual block and the ResNet9.

Both checks watch the student's modules run (forward hooks) instead of counting them:

* `residual_block` records which convs and pools run on what, then zeroes the convs (so that
  f(x) = 0 and a right block returns x itself) and finally compares with cifarlab's block
  holding the same weights;
* `resnet9` compares the student's network with `cifarlab.model.ResNet9` block by block
  (prep, layer1, layer2, layer3, pool, fc): first what each block holds, then, with the
  reference's weights copied in, what each block makes of the input the table says it gets,
  and last what `forward` does with them, for a batch of 2 and a batch of 1. The first
  difference is named; a block that crashes is reported as "this block got that", never as a
  raw shape error about the check's own test tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cifarlab.model import SIZE, count_parameters
from cifarlab.recipe import RECIPE
from cifarlab.selfcheck._core import _Problem, check

CHANNELS = 8  # the residual block's test width: small, so the check is fast
BLOCK_INPUT = (2, CHANNELS, 6, 5)  # non-square, so that a transposed map would show
EXPECTED = ("prep", "layer1", "layer2", "layer3", "pool", "fc")  # the table's blocks, in forward's order


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def _per_image(shape: Any) -> str:
    return " x ".join(str(s) for s in tuple(shape)[1:]) or "a single number"


class _Calls:
    """Records, in order, each leaf module that runs: the module, its input and its output (None if it failed)."""

    def __init__(self, root: nn.Module) -> None:
        self.calls: list[list[Any]] = []
        self.handles = []
        for module in root.modules():
            if not any(module.children()):
                self.handles.append(module.register_forward_pre_hook(self._before))
                self.handles.append(module.register_forward_hook(self._after))

    def _before(self, module: nn.Module, inputs: tuple) -> None:
        self.calls.append([module, inputs[0] if inputs else None, None])

    def _after(self, module: nn.Module, _inputs: tuple, output: Any) -> None:
        for call in reversed(self.calls):
            if call[0] is module and call[2] is None:
                call[2] = output
                break

    def of(self, kind: type) -> list[list[Any]]:
        return [call for call in self.calls if isinstance(call[0], kind)]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


# ---------------------------------------------------------------------------------------------
# Exercise 1: the residual block


def _block_shape_problem(calls: _Calls, x: torch.Tensor) -> str | None:
    """A pool, a shrinking conv or a change of width inside the block, from what ran."""
    for module, given, out in calls.calls:
        if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d)):
            return (
                f"a pooling layer runs inside the block and halves the height and width ({_per_image(given.shape)}"
                f" -> {_per_image(out.shape) if out is not None else '?'}): x and f(x) then differ in shape and "
                "cannot be added. The block's ConvBlocks keep the size (no pool=True): the pooling belongs to "
                "the ConvBlock before the residual block."
            )
    for module, given, out in calls.of(nn.Conv2d):
        if module.out_channels != CHANNELS or module.in_channels != CHANNELS:
            return (
                f"a conv inside the block maps {module.in_channels} -> {module.out_channels} channels: for "
                f"ResidualBlock({CHANNELS}) both ConvBlocks keep the width, {CHANNELS} -> {CHANNELS}, so that "
                "f(x) has x's shape and the two can be added."
            )
        if out is not None and out.shape[2:] != given.shape[2:]:
            return (
                f"a conv inside the block shrinks each map ({_per_image(given.shape)} -> {_per_image(out.shape)}): "
                "a 3x3 conv needs padding=1 to keep the size. ConvBlock does that for you."
            )
    return None


def _residual_block_test(student: Callable[[int], Any]) -> str:
    from cifarlab.model import ResidualBlock

    torch.manual_seed(0)
    x = torch.randn(*BLOCK_INPUT)
    block = student(CHANNELS)
    if not isinstance(block, nn.Module):
        raise _Problem(f"ResidualBlock({CHANNELS}) should build an nn.Module, got {type(block).__name__}.")
    if count_parameters(block) == 0:
        raise _Problem(
            "the block has no parameters: create its two ConvBlocks in __init__ (as attributes of self), so "
            "that they are built once and trained; forward only uses them."
        )
    block.eval()
    calls = _Calls(block)
    try:
        with torch.no_grad():
            out = block(x)
    except Exception as error:
        problem = _block_shape_problem(calls, x)
        raise _Problem(problem or f"on a {tuple(x.shape)} input it raised {type(error).__name__}: {error}") from error
    finally:
        calls.remove()
    problem = _block_shape_problem(calls, x)
    if problem:
        raise _Problem(problem)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _Problem(f"a {tuple(x.shape)} input gave {got} out; a residual block keeps the shape.")
    convs = calls.of(nn.Conv2d)
    if len(convs) == 1:
        raise _Problem("only one conv runs: f is two ConvBlocks, one after the other, each conv -> BatchNorm -> ReLU.")
    if len(convs) != 2:
        raise _Problem(f"{len(convs)} convs run; f is two ConvBlocks, one after the other.")
    if convs[0][0] is convs[1][0]:
        half = f" (it has {count_parameters(block):,} parameters, half of two ConvBlocks')"
        shared = count_parameters(block) * 2 == count_parameters(ResidualBlock(CHANNELS))
        raise _Problem(
            "the same ConvBlock object runs twice, so both steps share one set of weights"
            f"{half if shared else ''}: create two ConvBlocks, and run each once."
        )
    if any(module.bias is not None for module, _, _ in convs):
        raise _Problem(
            "its convs have a bias: the BatchNorm right after each conv subtracts the mean, bias included, and "
            "adds its own shift. Use ConvBlock, whose convs have bias=False."
        )
    if torch.equal(convs[1][1], x):
        raise _Problem(
            "both ConvBlocks run on x, side by side: f runs them one after the other, the second on the first's output."
        )
    for module in block.modules():  # with zero convs, f(x) = 0: a residual block returns x itself
        if isinstance(module, nn.Conv2d):
            nn.init.zeros_(module.weight)
    with torch.no_grad():
        out = block(x)
    if not _close(out, x):
        if _close(out, torch.zeros_like(x)):
            raise _Problem(
                "it returns f(x) alone: the identity path is missing. With the convs' weights zeroed (f(x) = 0) "
                "the block should give back its input unchanged: add x to f(x)."
            )
        if _close(out, torch.relu(x)):
            raise _Problem(
                "it applies a ReLU after the sum: with f(x) = 0 the negative values of x come out as 0. This "
                "block returns x + f(x) as it is, so that the identity path passes x on unchanged."
            )
        raise _Problem(
            "with the convs' weights zeroed (f(x) = 0) the block should give back its input unchanged; it "
            "returns something else. Return x + f(x), nothing more."
        )
    reference = ResidualBlock(CHANNELS)
    mine, theirs = list(block.parameters()), list(reference.parameters())
    if [p.shape for p in mine] == [p.shape for p in theirs]:
        with torch.no_grad():
            for p, q in zip(mine, theirs):
                p.copy_(q)
            for model in (block, reference):
                model.train()  # BatchNorm on the batch's statistics, as in training
            if not _close(block(x), reference(x)):
                raise _Problem(
                    "with the same weights as cifarlab's block it computes something else: f is two "
                    "ConvBlocks, one after the other, and the block returns x + f(x)."
                )
    return "Same shape in and out, two conv-BN-ReLU one after the other, and the identity path."


def residual_block(student: Callable[[int], Any]) -> Callable:
    """Check a residual block class: `student(channels)` maps (N, C, H, W) to x + f(x)."""
    from cifarlab.model import ResidualBlock

    return check(student, ResidualBlock, "residual_block", lambda: _residual_block_test(student))


# ---------------------------------------------------------------------------------------------
# Exercise 2: the ResNet9


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _check_names(model: nn.Module) -> None:
    names = [name for name, _ in model.named_children()]
    missing = [name for name in EXPECTED if name not in names]
    if missing:
        raise _Problem(
            f"your model's blocks are named {names}; the table's are {list(EXPECTED)}, and later lessons ask for "
            f"them by name (layer3 for Grad-CAM). Missing: {missing}. Name the attributes of self as in the table."
        )
    extra = [name for name, child in model.named_children() if name not in EXPECTED and count_parameters(child)]
    if extra:
        raise _Problem(f"it has blocks with weights that the table does not have: {extra}.")


def _check_structure(model: nn.Module, reference: nn.Module) -> None:
    """Biases, where the residual blocks are, the channels of every conv, fc's size."""
    biased = [name for name in EXPECTED for conv in _convs(getattr(model, name)) if conv.bias is not None]
    if biased:
        raise _Problem(
            f"convs in {sorted(set(biased), key=EXPECTED.index)} have a bias: use bias=False (the BatchNorm after "
            "each conv adds its own shift). ConvBlock does that."
        )
    mine = {name: len(_convs(getattr(model, name))) for name in EXPECTED if name not in ("pool", "fc")}
    table = {name: len(_convs(getattr(reference, name))) for name in mine}
    if mine != table:
        extra = [n for n in mine if mine[n] > table[n]]
        lacking = [n for n in mine if mine[n] < table[n]]
        where = ""
        if extra and lacking:
            where = (
                f" The residual block sits in {' and '.join(extra)}, but the table puts it in {' and '.join(lacking)}."
            )
        raise _Problem(
            f"convs per block: yours {mine}, the table's {table}.{where} layer1 and layer3 are a ConvBlock "
            "followed by a residual block (3 convs); prep and layer2 are a single ConvBlock."
        )
    for name in EXPECTED:
        for conv, want in zip(_convs(getattr(model, name)), _convs(getattr(reference, name))):
            if (conv.in_channels, conv.out_channels) != (want.in_channels, want.out_channels):
                raise _Problem(
                    f"a conv in {name} maps {conv.in_channels} -> {conv.out_channels} channels; the table's "
                    f"{name} has {want.in_channels} -> {want.out_channels} there."
                )
    linears = [m for m in model.fc.modules() if isinstance(m, nn.Linear)]
    want = reference.fc
    if len(linears) != 1 or (linears[0].in_features, linears[0].out_features) != (want.in_features, want.out_features):
        sizes = [f"Linear({m.in_features}, {m.out_features})" for m in linears]
        unpooled = " (layer3's maps unpooled?)" if linears and linears[0].in_features > want.in_features else ""
        raise _Problem(
            f"fc is {sizes or 'not a linear layer'}{unpooled}; the table's is Linear({want.in_features}, "
            f"{want.out_features}): after the global pool and flatten, each image is {want.in_features} numbers."
        )


def _copy_weights(model: nn.Module, reference: nn.Module) -> None:
    """The reference's weights (and BatchNorm statistics) into the student's blocks, block by block, in order."""
    for name in EXPECTED:
        mine, theirs = getattr(model, name).state_dict(), getattr(reference, name).state_dict()
        shapes, wanted = [v.shape for v in mine.values()], [v.shape for v in theirs.values()]
        if shapes != wanted:
            raise _Problem(
                f"{name}'s weights have the shapes {[tuple(s) for s in shapes]}; the table's {name} has "
                f"{[tuple(s) for s in wanted]}."
            )
        getattr(model, name).load_state_dict(dict(zip(mine, theirs.values())))


def _run_blocks(model: nn.Module, x: torch.Tensor) -> tuple[list[str], dict, dict, Exception | None]:
    """Forward `x`, recording which named blocks run in which order, their inputs and outputs."""
    order: list[str] = []
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, Any] = {}

    def before(name: str) -> Callable:
        def hook(_module: nn.Module, given: tuple) -> None:
            order.append(name)
            inputs[name] = given[0]

        return hook

    def after(name: str) -> Callable:
        def hook(_module: nn.Module, _given: tuple, output: Any) -> None:
            outputs[name] = output

        return hook

    handles = []
    for name in EXPECTED:
        handles.append(getattr(model, name).register_forward_pre_hook(before(name)))
        handles.append(getattr(model, name).register_forward_hook(after(name)))
    error = None
    try:
        with torch.no_grad():
            outputs["model"] = model(x)
    except Exception as caught:  # the student's forward: named below by the block that failed
        error = caught
    finally:
        for handle in handles:
            handle.remove()
    return order, inputs, outputs, error


def _check_each_block(model: nn.Module, inputs: dict, outputs: dict) -> None:
    """Each block alone, on the input the table's block gets: its output's shape, then its values."""
    for index, name in enumerate(EXPECTED):
        given, want = inputs[name], outputs[name]
        source = f"what {EXPECTED[index - 1]} gives" if index else "a batch of images"
        try:
            with torch.no_grad():
                got = getattr(model, name)(given)
        except Exception as error:
            raise _Problem(
                f"{name} cannot take its input, {_per_image(given.shape)} per image ({source}): it raised "
                f"{type(error).__name__}. The table's {name} turns that into {_per_image(want.shape)}."
            ) from error
        if name == "pool" and got.ndim == 2:  # a pool that flattens too is fine
            got = got[:, :, None, None]
        if got.shape[1:] != want.shape[1:]:
            halved = (
                got.ndim == 4
                and got.shape[1] == want.shape[1]
                and got.shape[2:] == tuple(2 * s for s in want.shape[2:])
            )
            doubled = (
                got.ndim == 4
                and got.shape[1] == want.shape[1]
                and tuple(2 * s for s in got.shape[2:]) == want.shape[2:]
            )
            why = ""
            if halved:
                why = f": a max-pool is missing. The ConvBlock that starts {name} should pool, halving height and width"
            elif doubled:
                why = f": one max-pool too many in {name}"
            raise _Problem(
                f"{name} gives {_per_image(got.shape)} per image for the {_per_image(given.shape)} it gets; the "
                f"table's {name} gives {_per_image(want.shape)}{why}."
            )
        if not _close(got.reshape(want.shape), want):
            if name == "pool" and _close(got.reshape(want.shape), given.mean(dim=(2, 3), keepdim=True)):
                raise _Problem(
                    "pool averages each map (an average pool); the table's global pool is a max-pool: it keeps "
                    "each channel's strongest response, wherever in the image it is."
                )
            raise _Problem(
                f"{name} gives the right shape but other values than the table's {name}, with the same weights: "
                "check which layers it runs, and in which order."
            )


def _check_forward(model: nn.Module, reference: nn.Module, batch: int) -> None:
    """The whole forward: the blocks in order, each once, flatten between pool and fc, logits out."""
    torch.manual_seed(batch)
    x = torch.randn(batch, 3, SIZE, SIZE)
    _, _, want, _ = _run_blocks(reference, x)
    order, inputs, outputs, error = _run_blocks(model, x)
    route = " -> ".join(order)
    ran = [name for name in EXPECTED if name in order]
    if len(set(order)) < len(order) or order != (list(EXPECTED[: len(order)]) if error else ran):
        failed = ""
        if error is not None and len(order) > 1:
            failed = (
                f" ({order[-1]} got what {order[-2]} gives, {_per_image(inputs[order[-1]].shape)} per image, "
                "and failed)"
            )
        raise _Problem(
            f"forward runs {route}{failed}: run the blocks in the table's order, {' -> '.join(EXPECTED)}, each "
            "once, each on the previous one's output."
        )
    if error is not None:
        failed = order[-1] if order and order[-1] not in outputs else None
        if failed == "fc" and inputs["fc"].ndim > 2:
            raise _Problem(
                f"fc gets the pooled maps as they are, {tuple(inputs['fc'].shape)} for {batch} images: flatten them "
                "to one row of numbers per image (everything but the batch axis) between pool and fc."
            )
        if failed:
            raise _Problem(
                f"{failed} fails on the {_per_image(inputs[failed].shape)} per image that forward gives it "
                f"(it raised {type(error).__name__}); the table's {failed} gets {_per_image(want[failed].shape)}."
            )
        after = f" after {order[-1]}" if order else ""
        raise _Problem(
            f"forward raised {type(error).__name__}{after}: {str(error).splitlines()[0] if str(error) else ''}"
        )
    missing = [name for name in EXPECTED if name not in order]
    if missing:
        raise _Problem(f"forward never runs {missing}: it runs {route}; the table's order is {' -> '.join(EXPECTED)}.")
    fc_in, out = inputs["fc"], outputs["model"]
    if batch == 1 and fc_in.ndim == 1:
        raise _Problem(
            f"for a batch of 1 image, fc gets a tensor of shape {tuple(fc_in.shape)} and the model returns "
            f"{tuple(getattr(out, 'shape', ()))}: squeeze() removed the batch axis too. Flatten everything but "
            "the batch axis instead."
        )
    for name in EXPECTED:
        got = outputs[name]
        if got.reshape(-1).shape != want[name].reshape(-1).shape or not _close(
            got.reshape(want[name].shape), want[name]
        ):
            raise _Problem(
                f"in forward, {name} gives other values than alone on the same input: forward changes the "
                f"tensor between blocks (before {name}). Run each block on the previous one's output."
            )
    classes = reference.fc.out_features
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch, classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _Problem(
            f"a batch of {batch} images gave {got}; expected ({batch}, {classes}): one row of logits per image."
        )
    logits = outputs["fc"]
    if not (_close(out, logits) or _close(out, logits * RECIPE.logit_scale)):
        if _close(out, torch.softmax(logits, dim=1)):
            raise _Problem(
                "forward returns probabilities (a softmax): return fc's scores as they are (logits); the loss "
                "function applies the softmax itself."
            )
        raise _Problem("forward changes fc's output before returning it: return the logits fc gives.")


def _resnet9_test(student: Callable[[], Any]) -> str:
    from cifarlab.model import ResNet9

    torch.manual_seed(0)
    model = student()
    if not isinstance(model, nn.Module):
        raise _Problem(f"ResNet9() should build an nn.Module, got {type(model).__name__}.")
    _check_names(model)
    reference = ResNet9().eval()
    _check_structure(model, reference)
    _copy_weights(model, reference)
    model.eval()
    torch.manual_seed(2)
    _, inputs, outputs, _ = _run_blocks(reference, torch.randn(2, 3, SIZE, SIZE))
    _check_each_block(model, inputs, outputs)
    for batch in (2, 1):
        _check_forward(model, reference, batch)
    return (
        f"Block by block the same as cifarlab's ResNet9: {count_parameters(model):,} parameters, "
        f"one row of {reference.fc.out_features} logits per image, also for a batch of 1."
    )


def resnet9(student: Callable[[], Any]) -> Callable:
    """Check the assembled network, block by block, against cifarlab's ResNet9."""
    from cifarlab.model import ResNet9

    return check(student, ResNet9, "resnet9", lambda: _resnet9_test(student))
