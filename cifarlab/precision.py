"""How to train fast on this machine: precision, memory layout and where augmentation runs.

`choose_settings` turns "auto" into concrete choices, each with the reason a run summary
prints. The rules, and what they rest on (training images/s of the ResNet-9, measured with
`benchmarks/precision.py` on 2-core AMD EPYC CPUs):

- GPU: bf16 mixed where the GPU has it (Ampere and newer), else fp16 mixed with a gradient
  scaler; channels-last, the layout tensor-core convolutions read directly.
- CPU with native bf16 (AVX512-BF16 or AMX): bf16 mixed (about 2x fp32) and channels-last
  (about 1.1-1.25x on top).
- CPU without: fp32 (bf16 would be emulated, 20-130x slower) and channels-last (1.13-1.33x).
- Augmentation on whole batches on the device (`cifarlab.batch_augment`) on every device:
  on 2 CPU cores it augments 10.9x more images/s than the per-image Albumentations loader,
  and it leaves the cores to the training step; on a GPU it removes the loader bottleneck.
  Both follow the same law (tests/test_batch_augment.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from cifarlab.errors import OptionError
from cifarlab.hardware import cpu_features
from cifarlab.recipe import AUGMENT_MODES

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
_ALIASES = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed", **{p: p for p in PRECISIONS}}


class SlowPrecisionWarning(UserWarning):
    """A precision that this machine can only emulate, so it runs far slower than fp32."""


@dataclass(frozen=True)
class Settings:
    """What a run trains with, and why (one reason per choice that was made for the user)."""

    precision: str
    channels_last: bool
    augment: str
    reasons: tuple[str, ...] = ()
    on_device: bool = False  # the data held on the training device, no DataLoader (cifarlab.device_loader)


def on_gpu(accelerator: str | None = "auto") -> bool:
    """Whether training with this accelerator setting lands on a CUDA GPU."""
    return torch.cuda.is_available() and (accelerator or "auto") in ("auto", "gpu", "cuda")


def choose_precision(requested: str = "auto", accelerator: str | None = "auto") -> str:
    """The Lightning precision to train with: "auto" (see the module's rules) or a name.

    fp16 on a CPU is refused with the reason; bf16 on a CPU without native bf16 is allowed
    but warns (SlowPrecisionWarning), saying why and what to use instead.
    """
    gpu = on_gpu(accelerator)
    if requested == "auto":
        if gpu:
            return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        return "bf16-mixed" if cpu_features().native_bf16 else "32-true"
    if requested not in _ALIASES:
        raise OptionError(f"precision {requested!r} is not one of auto, 32-true, 16-mixed, bf16-mixed.")
    chosen = _ALIASES[requested]
    if chosen == "16-mixed" and not gpu:
        raise OptionError("fp16 mixed precision needs a GPU; on the CPU use 'bf16-mixed' or '32-true'.")
    if chosen == "bf16-mixed" and not gpu and not cpu_features().native_bf16:
        warnings.warn(
            f"bf16-mixed on a CPU without native bf16 ({cpu_features().describe()}): every bf16 operation is "
            "emulated, so training runs 20-130x slower than in fp32. Use --precision 32-true (or auto).",
            SlowPrecisionWarning,
            stacklevel=2,
        )
    return chosen


def choose_settings(
    precision: str = "auto",
    channels_last: bool | None = None,
    augment: str = "auto",
    accelerator: str | None = "auto",
    on_device: bool | None = None,
) -> Settings:
    """Resolve "auto" (precision, augment) and None (channels_last, on_device) for this machine."""
    if augment != "auto" and augment not in AUGMENT_MODES:
        raise OptionError(f"augment={augment!r}: choose one of auto, {', '.join(AUGMENT_MODES)}.")
    gpu = on_gpu(accelerator)
    reasons = []
    chosen = choose_precision(precision, accelerator)
    if precision == "auto":
        if gpu:
            why = "the GPU has bf16" if chosen == "bf16-mixed" else "the GPU lacks bf16, so fp16 with a gradient scaler"
        elif chosen == "bf16-mixed":
            why = f"this CPU has bf16 units ({cpu_features().bf16_units}), about 2x fp32"
        else:
            why = "this CPU has no bf16 units that oneDNN may use, so bf16 would be emulated, 20-130x slower"
        reasons.append(f"precision {chosen}: {why}")
    if channels_last is None:
        channels_last = True
        why = "tensor cores read NHWC directly" if gpu else "oneDNN's CPU convolutions are 1.1-1.33x faster in NHWC"
        reasons.append(f"channels-last: {why}")
    if augment == "auto":
        augment = "batch"
        where = "the GPU" if gpu else "the CPU"
        reasons.append(
            f"augmentation on whole batches on {where}: ~11x the per-image loader's throughput on 2 CPU cores, "
            "with no loader workers competing with training"
        )
    if on_device and augment == "albumentations":
        raise OptionError(
            "the data on the device (--data-on-device) has no DataLoader to augment image by image: "
            "use --augment batch (the same augmentation, on the device), or leave the data where it is."
        )
    if on_device is None:
        on_device = gpu and augment != "albumentations"
        if on_device:
            reasons.append(
                "data on the GPU: the training split held there as uint8 and cut into batches by indexing, "
                "no DataLoader workers in the hot loop"
            )
    return Settings(chosen, channels_last, augment, tuple(reasons), on_device)
