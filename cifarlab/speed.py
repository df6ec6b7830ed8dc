"""Training-step throughput under different precisions and memory layouts (lesson 05, benchmarks).

Mixed precision runs most of the forward and backward pass in 16-bit floats: half the
memory traffic, and on a GPU's tensor cores many times the arithmetic rate. Weights and
the optimizer step stay in fp32. bf16 has fp32's exponent range, so it needs no loss
scaling; fp16 has more mantissa but a narrow range, so small gradients would underflow
to zero without a GradScaler. channels_last (NHWC) is the layout tensor-core convolutions
want; in the default NCHW layout they must transpose first.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cifarlab.errors import OptionError
from cifarlab.hardware import cpu_features
from cifarlab.model import ResNet9
from cifarlab.recipe import RECIPE

# not the recipe's rate: small, so that steps on random data stay finite (the rate does not change a
# step's cost, but a diverged fp16 run would make the gradient scaler skip steps)
TIMING_LR = 0.01
DTYPES = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


@dataclass
class Throughput:
    """Training images per second for one setting, or why it was not measured."""

    precision: str
    channels_last: bool
    images_per_second: float | None
    device: str
    steps: int = 0  # timed steps
    skipped: str = ""  # the reason, when the setting could not finish a step in its budget

    @property
    def label(self) -> str:
        return self.precision + (" + channels_last" if self.channels_last else "")


def _model_and_step(
    precision: str, channels_last: bool, batch_size: int, device: torch.device, widths: tuple[int, ...]
):
    """A fresh model and a function that runs one full training step on `n` random images."""
    torch.manual_seed(0)
    model = ResNet9(widths).to(device)
    x = torch.randn(batch_size, 3, RECIPE.image_size, RECIPE.image_size, device=device)
    y = torch.randint(0, RECIPE.num_classes, (batch_size,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=TIMING_LR, momentum=RECIPE.momentum, nesterov=RECIPE.nesterov)
    dtype = DTYPES[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")

    def step(n: int = batch_size) -> float:
        started = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
            loss = F.cross_entropy(model(x[:n]), y[:n])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    return step


def training_throughput(
    precision: str = "32-true",
    channels_last: bool = False,
    batch_size: int = 128,
    seconds: float = 5.0,
    device: str | torch.device | None = None,
    widths: tuple[int, ...] = RECIPE.widths,
    max_steps: int | None = None,
) -> Throughput:
    """Time full training steps (forward, backward, SGD step) on random data for about `seconds`.

    A fixed time, not a fixed number of steps: a setting this device can only emulate (bf16
    on a CPU without bf16 units) can be 100x slower, and a cell must not wait minutes for it.
    First small steps (2 and, if needed, 8 images) predict the cost of a full step; a setting
    whose full step would not fit in `seconds` is skipped, with the reason. Then one untimed
    warm-up step (memory allocation, cuDNN choosing its algorithms), then timed steps until
    `seconds` have passed since the start (at least one, at most `max_steps`).
    """
    if precision not in DTYPES:
        raise OptionError(f"precision {precision!r} is not one of {tuple(DTYPES)}.")
    if not seconds > 0:
        raise OptionError(f"seconds={seconds!r}: give the time budget per setting in seconds, e.g. 5.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if precision == "16-mixed" and device.type != "cuda":
        raise OptionError("fp16 mixed precision needs a GPU; on the CPU compare 32-true with bf16-mixed.")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu: {cpu_features().describe()}"
    result = Throughput(precision, channels_last, None, name)
    started = time.perf_counter()
    step = _model_and_step(precision, channels_last, batch_size, device, widths)
    small, large = min(2, batch_size), min(8, batch_size)
    step(small)  # the first call also sets up the kernels: not a measurement
    t_small = step(small)
    predicted = t_small * batch_size / small  # pessimistic: pays a step's fixed cost every `small` images
    if predicted > seconds and large > small:  # fit time = fixed + per image * n on two sizes
        per_image = max(step(large) - t_small, 0.0) / (large - small)
        predicted = t_small + per_image * (batch_size - small)
    if predicted > seconds:
        emulated = device.type == "cpu" and precision == "bf16-mixed" and not cpu_features().native_bf16
        why = ": this CPU has no native bf16, so it is emulated" if emulated else ""
        cost = f"one step of {batch_size} images would take about {predicted:.0f} s"
        result.skipped = f"skipped: {cost}, over its {seconds:g} s budget{why}"
        return result
    step()  # warm-up
    timed = 0.0
    while result.steps == 0 or (
        time.perf_counter() - started < seconds and (max_steps is None or result.steps < max_steps)
    ):
        timed += step()
        result.steps += 1
    result.images_per_second = batch_size * result.steps / timed
    return result


def default_settings(device: str | torch.device | None = None) -> list[tuple[str, bool]]:
    """The settings worth comparing on this device: fp16 only where there is a GPU."""
    on_gpu = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type == "cuda"
    precisions = ["32-true", "bf16-mixed"] + (["16-mixed"] if on_gpu else [])
    return [(p, cl) for p in precisions for cl in (False, True)]


def compare(
    settings: list[tuple[str, bool]] | None = None, seconds: float = 20.0, **kwargs: object
) -> list[Throughput]:
    """`training_throughput` for each (precision, channels_last) setting, in one run, with
    `seconds` shared out evenly: the whole comparison costs about `seconds` on any machine."""
    settings = settings or default_settings(kwargs.get("device"))
    return [training_throughput(p, cl, seconds=seconds / len(settings), **kwargs) for p, cl in settings]


def comparison_table(results: list[Throughput]) -> str:
    """Images/s and the speed-up over the first measured setting, one line each; a skipped
    setting gets its one-line reason instead."""
    measured = [r for r in results if r.images_per_second]
    base = measured[0] if measured else None
    lines = [f"{'setting':<28} {'images/s':>10} {'vs ' + (base.label if base else '-'):>18}"]
    for r in results:
        if r.images_per_second and base:
            lines.append(
                f"{r.label:<28} {r.images_per_second:>10.0f} {r.images_per_second / base.images_per_second:>17.2f}x"
            )
        else:
            lines.append(f"{r.label:<28} {r.skipped}")
    return "\n".join(lines) + f"\n(device: {results[0].device})"


def throughput_figure(results: list[Throughput]) -> Figure:
    """Horizontal bars of images/s per measured setting, labelled with the speed-up over the
    first; skipped settings are named in the title (and if all were, the figure says so)."""
    fig = Figure(figsize=(7, 0.5 * len(results) + 1.2), layout="constrained")
    ax = fig.subplots()
    measured = [r for r in results if r.images_per_second]
    if not measured:  # a busy or slow machine: say so in the figure rather than fail the lesson
        ax.text(0.5, 0.5, "no setting could be measured in its time budget here:\ngive compare() more seconds",
                ha="center", va="center", transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        ax.set_title(f"training throughput on {results[0].device.split(':')[0]}" if results else "")
        return fig
    rates = [r.images_per_second for r in measured]
    ax.barh(
        [r.label for r in measured],
        rates,
        color=["tab:gray" if r.precision == "32-true" else "tab:green" for r in measured],
    )
    for i, rate in enumerate(rates):
        ax.text(rate, i, f" {rate / rates[0]:.2f}x", va="center")
    ax.invert_yaxis()
    title = f"training throughput on {measured[0].device.split(':')[0]}"
    skipped = [r.label for r in results if not r.images_per_second]
    if skipped:
        title += "\n(skipped, too slow here: " + ", ".join(skipped) + ")"
    ax.set(xlabel="training images / s", title=title)
    ax.set_xlim(0, max(rates) * 1.2)
    return fig
