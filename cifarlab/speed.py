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

import cifarlab.plots  # noqa: F401  (registers the PNG display of figures)
from cifarlab.model import WIDTHS, CustomResNet

DTYPES = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


@dataclass
class Throughput:
    """Training images per second for one setting."""

    precision: str
    channels_last: bool
    images_per_second: float
    device: str

    @property
    def label(self) -> str:
        return self.precision + (" + channels_last" if self.channels_last else "")


def training_throughput(
    precision: str = "32-true",
    channels_last: bool = False,
    batch_size: int = 128,
    steps: int = 10,
    warmup: int = 3,
    device: str | torch.device | None = None,
    widths: tuple[int, ...] = WIDTHS,
) -> Throughput:
    """Time `steps` full training steps (forward, backward, SGD step) on random data.

    The first `warmup` steps are not timed (they pay for memory allocation and, on a GPU,
    for cuDNN choosing its algorithms).
    """
    if precision not in DTYPES:
        raise ValueError(f"precision {precision!r} is not one of {tuple(DTYPES)}.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if precision == "16-mixed" and device.type != "cuda":
        raise ValueError("fp16 mixed precision needs a GPU; on the CPU compare 32-true with bf16-mixed.")
    torch.manual_seed(0)
    model = CustomResNet(widths).to(device)
    x = torch.randn(batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    dtype = DTYPES[precision]
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")

    def step() -> None:
        with autocast:
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return Throughput(precision, channels_last, batch_size * steps / seconds, name)


def default_settings(device: str | torch.device | None = None) -> list[tuple[str, bool]]:
    """The settings worth comparing on this device: fp16 only where there is a GPU."""
    on_gpu = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type == "cuda"
    precisions = ["32-true", "bf16-mixed"] + (["16-mixed"] if on_gpu else [])
    return [(p, cl) for p in precisions for cl in (False, True)]


def compare(settings: list[tuple[str, bool]] | None = None, **kwargs: object) -> list[Throughput]:
    """`training_throughput` for each (precision, channels_last) setting, in one run."""
    return [training_throughput(p, cl, **kwargs) for p, cl in (settings or default_settings(kwargs.get("device")))]  # type: ignore[arg-type]


def comparison_table(results: list[Throughput]) -> str:
    """Images/s and the speed-up over the first setting, one line each."""
    base = results[0].images_per_second
    lines = [f"{'setting':<28} {'images/s':>10} {'vs ' + results[0].label:>18}"]
    lines += [f"{r.label:<28} {r.images_per_second:>10.0f} {r.images_per_second / base:>17.2f}x" for r in results]
    return "\n".join(lines) + f"\n(device: {results[0].device})"


def throughput_figure(results: list[Throughput]) -> Figure:
    """Horizontal bars of images/s per setting, labelled with the speed-up over the first."""
    fig = Figure(figsize=(7, 0.5 * len(results) + 1.2), layout="constrained")
    ax = fig.subplots()
    rates = [r.images_per_second for r in results]
    ax.barh([r.label for r in results], rates, color=["tab:gray" if r.precision == "32-true" else "tab:green" for r in results])
    for i, rate in enumerate(rates):
        ax.text(rate, i, f" {rate / rates[0]:.2f}x", va="center")
    ax.invert_yaxis()
    ax.set(xlabel="training images / s", title=f"training throughput on {results[0].device}")
    ax.set_xlim(0, max(rates) * 1.2)
    return fig
