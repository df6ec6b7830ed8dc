"""Benchmark: the spread of every learning and localisation figure a test holds to a threshold.

    python benchmarks/threshold_spread.py [--seeds 5] [--threads N]

Runs the functions in `tests/figures.py` (the very code the tests run) over several seeds and
prints, per figure, min / mean / max / sd and the value of each seed (GradCAM figures with
their control: the same maps scored against another image's mask). Run it
on each torch build and CPU you care about; for a CPU without AVX-512 or bf16 on one that has
them:

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/threshold_spread.py

The thresholds in the tests were set from its output on several builds and kernel paths; the
figures are quoted beside each assertion.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` is importable from the repo root

import torch

from cifarlab.checkpoint import load_model
from tests import figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, kernels "
        f"{torch.backends.cpu.get_cpu_capability()}, "
        f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}"
    )
    rows: dict[str, list[float]] = {}
    test = figures.synthetic_test_set()
    started = time.perf_counter()
    for seed in range(args.seeds):
        before, after = figures.plain_loop_accuracy(seed)
        rows.setdefault("plain loop: val acc after 6 epochs", []).append(after)
        rows.setdefault("plain loop: gain over the untrained model", []).append(after - before)
        rows.setdefault("small CNN: test acc", []).append(figures.small_cnn_accuracy(seed))
        with tempfile.TemporaryDirectory() as folder:
            run = figures.train_synthetic(Path(folder) / "run", seed=seed)
            rows.setdefault("synthetic run: test acc", []).append(run.test["test_acc"])
            rows.setdefault("synthetic run: last - first val acc", []).append(
                run.history[-1]["val_acc"] - run.history[0]["val_acc"]
            )
            loaded = load_model(run.best_checkpoint)
        for layer in ("layer3", "layer2", "layer1"):
            cam = figures.cam_localisation(loaded.model, loaded.mean, loaded.std, test, layer)
            rows.setdefault(f"GradCAM {layer}: mass / share", []).append(cam["ratio"])
            rows.setdefault(f"GradCAM {layer}: images above share", []).append(cam["above"])
            rows.setdefault(f"GradCAM {layer} control: mass / share", []).append(cam["control_ratio"])
            rows.setdefault(f"GradCAM {layer} control: images above", []).append(cam["control_above"])
        print(f"seed {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\n{'figure':<44} {'min':>7} {'mean':>7} {'max':>7} {'sd':>7}   per seed")
    for name, values in rows.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        per_seed = " ".join(f"{v:.3f}" for v in values)
        print(
            f"{name:<44} {min(values):>7.3f} {statistics.mean(values):>7.3f} {max(values):>7.3f} {sd:>7.3f}   "
            f"{per_seed}"
        )


if __name__ == "__main__":
    main()
