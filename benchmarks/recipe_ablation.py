"""Benchmark: what each recipe change buys, as test-accuracy differences over seeds.

    CIFARLAB_DATA=../shared/data/cifar10-jpeg.tar.gz python benchmarks/recipe_ablation.py \\
        [--profile cpu] [--seeds 0 1 2] [--out runs/ablation]

Recipes, each trained once per seed (the cpu profile: 5,000 images, 3 epochs, about
7 minutes a run on 2 cores), all with an EMA kept beside the weights so that one run
measures both:

- before:   OneCycle's momentum cycle (0.95 -> 0.85 -> 0.95) and cutout on half the images,
- momentum: constant Nesterov momentum 0.9 (Page's), cutout on half the images,
- now:      constant momentum and cutout on every image (Page's; today's RECIPE),
- no-smoothing: today's recipe without label smoothing (Page's 94% baseline had none),
- logit-scale-1: today's recipe with the logits unscaled (no 0.125 temperature),
- logit-scale-1-lr/8: the same with the peak rate divided by 8 (the scale's factor), since
  without the scale the recipe's rate diverges.

The last epoch's checkpoint of each run is evaluated on the profile's test images four
ways: the trained weights as they are, with flip TTA, with flip+translate TTA, and the
EMA's weights. Differences are paired (same seed, same data order), so they are read
against their spread over seeds, printed beside them. Finished runs are kept in --out and
not trained again, so an interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from cifarlab.checkpoint import load_model
from cifarlab.data import load_splits
from cifarlab.evaluation import evaluate
from cifarlab.files import write_text
from cifarlab.profile import get_profile
from cifarlab.recipe import RECIPE
from cifarlab.train import TrainConfig, train

RECIPES = {
    "before": {"cycle_momentum": True, "cutout_p": 0.5},
    "momentum": {"cycle_momentum": False, "cutout_p": 0.5},
    "now": {"cycle_momentum": False, "cutout_p": 1.0},
    "no-smoothing": {"label_smoothing": 0.0},
    "logit-scale-1": {"logit_scale": 1.0},
    "logit-scale-1-lr/8": {"logit_scale": 1.0, "max_lr": RECIPE.max_lr / 8},
}
# The paired differences reported: (the recipe changed from, the recipe changed to).
CHANGES = [
    ("before", "now"),  # both of Page's settings at once
    ("before", "momentum"),
    ("momentum", "now"),
    ("now", "no-smoothing"),
    ("now", "logit-scale-1"),
    ("now", "logit-scale-1-lr/8"),
]
MEASURES = ("trained", "flip TTA", "flip+translate TTA", "EMA")


def measure(run: Path, test_images, plain: bool = False) -> dict[str, float]:
    """The four test accuracies of a finished run's last checkpoint (plain: the trained weights'
    alone, without TTA, for runs whose test set makes the other three slow on a CPU)."""
    last = run / "checkpoints" / "last.ckpt"
    if plain:  # a run without an EMA: its checkpoint's weights are the trained ones
        trained = load_model(last)
        return {"trained": evaluate(trained.model, test_images, trained.mean, trained.std).accuracy}
    trained = load_model(last, trained_weights=True)
    tta = evaluate(trained.model, test_images, trained.mean, trained.std, tta="flip-translate").tta
    average = load_model(last)
    ema = evaluate(average.model, test_images, average.mean, average.std).accuracy
    return {"trained": tta["none"], "flip TTA": tta["flip"], "flip+translate TTA": tta["flip-translate"], "EMA": ema}


def spread(values: list[float], signed: bool = False) -> str:
    """'mean ± sd' of accuracies (or, signed, of differences)."""
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{mean:+.2%} ± {sd:.2%}" if signed else f"{mean:.2%} ± {sd:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--epochs", type=int, help="instead of the profile's (full: 24)")
    parser.add_argument("--plain", action="store_true", help="measure the trained weights only: no TTA, no EMA")
    args = parser.parse_args()
    out = Path(args.out)
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    test_images = load_splits(None, get_profile(args.profile)).test
    for seed in args.seeds:  # seed by seed: a stopped benchmark has whole comparisons
        for name in args.recipes:
            key = f"{name}-seed{seed}"
            if key in results:
                continue
            run = out / key.replace("/", "_")
            extra = dict(RECIPES[name])
            config = TrainConfig(
                out=str(run), profile=args.profile, seed=seed, augment="batch", ema=not args.plain, quiet=True,
                epochs=args.epochs,
                max_lr=extra.pop("max_lr", None), extra=extra, resume=(run / "checkpoints" / "last.ckpt").exists(),
            )  # fmt: skip
            result = train(config)
            results[key] = {**measure(run, test_images, args.plain), "seconds": result.seconds}
            out.mkdir(parents=True, exist_ok=True)
            write_text(results_file, json.dumps(results, indent=1))  # whole: a stopped benchmark resumes from it
            print(
                f"{key}: " + ", ".join(f"{m} {results[key][m]:.2%}" for m in MEASURES if m in results[key]), flush=True
            )
    report(results, args.recipes, args.seeds, args.profile)


def report(results: dict, recipes: list[str], seeds: list[int], profile: str) -> None:
    done = [s for s in seeds if all(f"{r}-seed{s}" in results for r in recipes)]
    runs = [results[f"{r}-seed{s}"] for r in recipes for s in done]
    measures = [m for m in MEASURES if all(m in run for run in runs)]  # --plain runs have "trained" only
    print(f"\n{profile} profile, seeds {done}: test accuracy, mean ± sd over seeds")
    print(f"{'recipe':<20}" + "".join(f"{m:>22}" for m in measures))
    for name in recipes:
        cells = [spread([results[f"{name}-seed{s}"][m] for s in done]) for m in measures]
        print(f"{name:<20}" + "".join(f"{c:>22}" for c in cells))
    print("\npaired differences (same seed), mean ± sd:")
    for a, b in [(a, b) for a, b in CHANGES if a in recipes and b in recipes]:
        diffs = [results[f"{b}-seed{s}"]["trained"] - results[f"{a}-seed{s}"]["trained"] for s in done]
        print(f"  {b} - {a}: {spread(diffs, signed=True)}   per seed: {', '.join(f'{d:+.2%}' for d in diffs)}")
    print("\neach recipe's EMA and TTA against its trained weights (paired by run), mean ± sd:")
    for name in recipes:  # per recipe: a diverged recipe's runs say nothing about averaging or TTA
        for m in measures[1:]:
            diffs = [results[f"{name}-seed{s}"][m] - results[f"{name}-seed{s}"]["trained"] for s in done]
            each = ", ".join(f"{d:+.2%}" for d in diffs)
            print(f"  {name:<20} {m + ' - trained':<30} {spread(diffs, signed=True)}   per seed: {each}")


if __name__ == "__main__":
    main()
