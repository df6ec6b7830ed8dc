"""Benchmark: training-step throughput for fp32, bf16 and fp16 mixed precision, +/- channels_last.

    python benchmarks/precision.py [--batch-size 512] [--seconds 120]

On a CPU only fp32 and bf16 are compared (fp16 autocast is a GPU feature); read the ratios,
not the absolute numbers. On a GPU both are meaningful. Each setting gets an equal share of
`--seconds`; one that cannot finish a step in its share (bf16 on a CPU without bf16 units,
where it is emulated) is skipped with the reason. To see a CPU without bf16 on one that has
it: `ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/precision.py`.
"""

from __future__ import annotations

import argparse

from cifarlab.speed import compare, comparison_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=120.0, help="time for the whole comparison")
    args = parser.parse_args()
    print(comparison_table(compare(batch_size=args.batch_size, seconds=args.seconds)))


if __name__ == "__main__":
    main()
