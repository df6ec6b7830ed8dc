"""Benchmark: what `torch.compile` buys a ResNet-9 training step, and what the compile costs.

    python benchmarks/compile.py [--batch-size 128] [--steps 5] [--repeats 3] [--channels-last]
        [--precision 32-true|bf16-mixed]

The same network, optimizer and random batch, run eagerly and compiled (`cifarlab.lit`'s
backend, inductor: C++ kernels on a CPU, Triton on a GPU). The first compiled steps include
the compile itself and are reported apart; then blocks of `--steps` steps take turns, eager
and compiled, `--repeats` times, and the median step time of each is kept, so that a busy
machine slows both alike. On a CPU read the ratio; absolute times belong to a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cifarlab.lit import COMPILE_BACKEND
from cifarlab.model import ResNet9
from cifarlab.recipe import RECIPE


def training_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, bf16: bool
) -> None:
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = F.cross_entropy(model(x), y, label_smoothing=RECIPE.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed(steps: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, x, y, bf16: bool) -> float:
    """Seconds per step over `steps` steps (the GPU's queue emptied before and after)."""
    if x.is_cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        training_step(model, optimizer, x, y, bf16)
    if x.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--precision", choices=("32-true", "bf16-mixed"), default="32-true")
    args = parser.parse_args()
    bf16 = args.precision == "bf16-mixed"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 3, RECIPE.image_size, RECIPE.image_size, device=device)
    y = torch.randint(0, RECIPE.num_classes, (args.batch_size,), device=device)
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=layout)
    runs = {}
    for name in ("eager", "compiled"):
        model = ResNet9().to(device, memory_format=layout)
        if name == "compiled":
            model.compile(backend=COMPILE_BACKEND)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=RECIPE.momentum, nesterov=True)
        first = timed(2, model, optimizer, x, y, bf16) * 2  # the compile happens in these (and allocations)
        runs[name] = (model, optimizer, first)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (model, optimizer, _) in runs.items():
            seconds[name].append(timed(args.steps, model, optimizer, x, y, bf16))
    eager, compiled = (statistics.median(seconds[n]) for n in ("eager", "compiled"))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"{where}; batch {args.batch_size}, {args.precision}, {'channels-last' if args.channels_last else 'NCHW'}")
    print(f"first two steps: eager {runs['eager'][2]:.1f} s, compiled {runs['compiled'][2]:.1f} s (the compile)")
    print(f"step: eager {eager * 1e3:.0f} ms, compiled {compiled * 1e3:.0f} ms -> compiled is {eager / compiled:.2f}x")


if __name__ == "__main__":
    main()
