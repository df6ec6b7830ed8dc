"""What this machine's processor can do fast: native bf16 (AVX512-BF16, AMX, Arm's BF16).

Mixed precision is a hardware feature, not a software one. A GPU with tensor cores (or a
CPU with bf16 instructions) multiplies 16-bit matrices several times faster than fp32 ones;
a CPU without them has to *emulate* bf16, converting every value to fp32 and back, and a
bf16 training step there runs 20 to 130 times slower than fp32 (measured on AMD EPYC CPUs
without AVX512-BF16). So the course asks the processor before it chooses a precision.

oneDNN, the library behind PyTorch's CPU convolutions, can be told to use less of the CPU
than it has with `ONEDNN_MAX_CPU_ISA` (e.g. `AVX2`): then bf16 is emulated even on a CPU
that has the instructions. `cpu_features()` honours that cap, so the choice follows what
the convolutions will really do.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# oneDNN's instruction-set levels, lowest first (its documentation, "CPU dispatcher control").
# Names that mean the same level are on one line.
_ONEDNN_LEVELS = [
    ("SSE41",),
    ("AVX",),
    ("AVX2",),
    ("AVX2_VNNI",),
    ("AVX2_VNNI_2",),
    ("AVX512_CORE",),
    ("AVX512_CORE_VNNI",),
    ("AVX512_CORE_BF16",),  # the first level with native bf16 dot products
    ("AVX512_CORE_FP16", "AVX10_1_512"),
    ("AVX512_CORE_AMX", "AVX10_1_512_AMX"),  # Intel's matrix units (AMX tiles, bf16 and int8)
    ("AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16"),
    ("ALL", "DEFAULT"),
]
_BF16_LEVEL = 7
_AMX_LEVEL = 9


def _onednn_level(name: str) -> int | None:
    """oneDNN's rank of an ISA name (None: a name it does not know, which it ignores)."""
    for rank, names in enumerate(_ONEDNN_LEVELS):
        if name.strip().upper() in names:
            return rank
    return None


def _cpuinfo() -> tuple[str, set[str]]:
    """The CPU's name and the feature flags Linux reports (`flags` on x86, `Features` on Arm);
    elsewhere the platform's name and no flags."""
    name, flags = "", set()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and not name:
            name = value
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return name or platform.processor() or platform.machine(), flags


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's name and the features that decide mixed precision on it."""

    name: str
    bf16_instructions: bool  # the CPU has them: AVX512-BF16 or AMX-BF16 (x86), BF16 (Arm)
    amx: bool  # Intel AMX matrix tiles (Sapphire Rapids and newer)
    onednn_cap: str | None  # ONEDNN_MAX_CPU_ISA, when set

    @property
    def native_bf16(self) -> bool:
        """bf16 convolutions run natively: the instructions are there and oneDNN may use them."""
        return self.bf16_instructions and self._cap_allows(_BF16_LEVEL)

    @property
    def native_amx(self) -> bool:
        return self.amx and self._cap_allows(_AMX_LEVEL)

    def _cap_allows(self, level: int) -> bool:
        if not self.onednn_cap:
            return True
        rank = _onednn_level(self.onednn_cap)
        return rank is None or rank >= level

    @property
    def bf16_units(self) -> str:
        """The name of the bf16 hardware oneDNN uses here ("" when bf16 is emulated)."""
        if not self.native_bf16:
            return ""
        if self.native_amx:
            return "AMX"
        return "AVX512-BF16" if platform.machine() in ("x86_64", "AMD64") else "BF16"

    def describe(self) -> str:
        """One line, e.g. 'AMD EPYC: native bf16 (AVX512-BF16), no AMX'."""
        if self.native_bf16:
            text = f"native bf16 ({self.bf16_units})" + ("" if self.native_amx else ", no AMX")
        elif self.bf16_instructions:
            text = f"bf16 instructions present but capped by ONEDNN_MAX_CPU_ISA={self.onednn_cap}: bf16 is emulated"
        else:
            text = "no native bf16 (no AVX512-BF16 or AMX): bf16 is emulated, far slower than fp32"
        return f"{self.name}: {text}"


@lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    """This machine's CPU features (read once; `cpu_features.cache_clear()` to read again)."""
    import torch

    name, flags = _cpuinfo()
    bf16 = bool({"avx512_bf16", "amx_bf16", "bf16"} & flags)
    amx = "amx_bf16" in flags or "amx_tile" in flags
    probe = getattr(torch, "cpu", None)
    if not flags and probe is not None and hasattr(probe, "_is_avx512_bf16_supported"):
        bf16 = probe._is_avx512_bf16_supported() or probe._is_amx_tile_supported()  # no /proc: ask torch's cpuinfo
        amx = probe._is_amx_tile_supported()
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or None
    return CpuFeatures(name, bf16, amx, cap)
