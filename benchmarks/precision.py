"""Benchmark: training-step throughput for fp32, bf16 and fp16 mixed precision, +/- channels_last.

    python benchmarks/precision.py [--batch-size 512] [--steps 20]

On a CPU only fp32 and bf16 are compared (fp16 autocast is a GPU feature); read the ratios,
not the absolute numbers. On a GPU both are meaningful.
"""

from __future__ import annotations

import argparse

from cifarlab.speed import compare, comparison_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(comparison_table(compare(batch_size=args.batch_size, steps=args.steps, warmup=args.warmup)))


if __name__ == "__main__":
    main()
