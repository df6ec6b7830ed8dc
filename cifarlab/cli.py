"""The `cifarlab` command (also `python -m cifarlab`): doctor, data, train, evaluate, build-lessons."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _doctor(args: argparse.Namespace) -> int:
    from cifarlab.doctor import diagnose, report

    findings = diagnose()
    print(report(findings))
    return 1 if any(f.ok is False for f in findings) else 0


def _data(args: argparse.Namespace) -> int:
    from cifarlab.data import load_splits, resolve_source
    from cifarlab.profile import get_profile

    source = resolve_source(args.source)
    profile = get_profile(args.profile)
    print(f"Loading {source.describe()} with the {profile.name} profile ...", flush=True)
    start = time.perf_counter()
    splits = load_splits(source, profile)
    print(splits.summary())
    print(f"loaded in {time.perf_counter() - start:.1f} s")
    if args.per_class:
        width = max(len(c) for c in splits.classes)
        print(f"\n{'class':<{width}}  {'train':>6} {'val':>6} {'test':>6}")
        counts = [s.class_counts() for s in (splits.train, splits.val, splits.test)]
        for name in splits.classes:
            print(f"{name:<{width}}  " + " ".join(f"{c[name]:>6}" for c in counts))
    return 0


def _train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from cifarlab.train import TrainConfig, train

    # the train options are named after TrainConfig's fields, so they map one to one
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    if options["devices"].isdigit():
        options["devices"] = int(options["devices"])
    result = train(TrainConfig(**options))
    if not result.global_zero:  # the other processes of a multi-device run stay quiet
        return 0
    print()
    print((result.out / "summary.txt").read_text())
    print(f"run folder: {result.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from cifarlab.checkpoint import load_model
    from cifarlab.data import load_splits, resolve_source
    from cifarlab.evaluation import evaluate
    from cifarlab.profile import get_profile

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = load_model(args.checkpoint, device)
    splits = load_splits(resolve_source(args.source), get_profile(args.profile))
    if tuple(splits.classes) != tuple(loaded.classes):
        raise ValueError(
            f"the checkpoint was trained on classes {loaded.classes} but the data has {splits.classes}: "
            "evaluate it on the data it was trained for (--source)."
        )
    result = evaluate(loaded.model, splits.test, loaded.mean, loaded.std, args.batch_size)
    print(f"{args.checkpoint} on {splits.test.source} test split")
    print(result.report())
    return 0


def _build_lessons(args: argparse.Namespace) -> int:
    from cifarlab.lessons import build_lessons

    stale = build_lessons(Path(args.solutions), Path(args.lessons), check=args.check)
    if args.check:
        if stale:
            print("lessons/ is stale:\n  " + "\n  ".join(stale))
            print("Run `cifarlab build-lessons` and commit the result.")
            return 1
        print("lessons/ is up to date with solutions/.")
        return 0
    print("\n".join(f"wrote: {s}" for s in stale) or "lessons/ was already up to date.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cifarlab.profile import PROFILE_NAMES
    from cifarlab.recipe import AUGMENT_MODES, DEFAULT_LR, OPTIMIZERS
    parser = argparse.ArgumentParser(prog="cifarlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="check versions, device, data and profile")
    doctor.set_defaults(run=_doctor)

    data = commands.add_parser("data", help="load the configured data and describe its splits")
    data.add_argument("--source", help="'torchvision', 'synthetic' or a path (default: $CIFARLAB_DATA)")
    data.add_argument("--profile", choices=PROFILE_NAMES, help="default: $CIFARLAB_PROFILE, else full on a GPU, cpu without")
    data.add_argument("--per-class", action="store_true", help="also print counts per class")
    data.set_defaults(run=_data)

    train = commands.add_parser("train", help="train the CustomResNet into a run folder (resumable)")
    train.add_argument("--out", default="runs/latest", help="run folder (default: runs/latest)")
    train.add_argument("--profile", choices=PROFILE_NAMES, help="default: $CIFARLAB_PROFILE, else full on a GPU, cpu without")
    train.add_argument("--source", help="'torchvision', 'synthetic' or a path (default: $CIFARLAB_DATA)")
    train.add_argument("--epochs", type=int, help="default: the profile's")
    train.add_argument("--batch-size", type=int, help="default: the profile's")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="SGD with Nesterov momentum, or AdamW")
    rate = train.add_mutually_exclusive_group()
    rate.add_argument("--max-lr", dest="lr", metavar="MAX_LR", type=float, help=f"OneCycle's peak rate (default: {DEFAULT_LR})")
    rate.add_argument("--lr-find", action="store_true", help="find the peak rate with the range test first")
    train.add_argument("--precision", default="auto", help="auto (bf16/fp16 mixed on a GPU, fp32 on the CPU), 32-true, 16-mixed, bf16-mixed")
    train.add_argument("--channels-last", action="store_true", help="NHWC memory layout (faster on tensor cores)")
    train.add_argument("--augment", choices=AUGMENT_MODES, default="albumentations", help="'batch' augments on the device (fast on a GPU)")
    train.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], help="default: the profile's")
    train.add_argument("--devices", default="1", help="how many devices (e.g. 2, or 'auto'); >1 needs a --strategy such as ddp")
    train.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    train.add_argument("--workers", dest="num_workers", type=int, help="DataLoader worker processes (default: the profile's)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="test loss, accuracy and per-class accuracy of a checkpoint")
    evaluate.add_argument("checkpoint", help="a .ckpt from a run folder (or a saved state dict)")
    evaluate.add_argument("--source", help="'torchvision', 'synthetic' or a path (default: $CIFARLAB_DATA)")
    evaluate.add_argument("--profile", choices=PROFILE_NAMES, help="how much of the test split (default as for train)")
    evaluate.add_argument("--batch-size", type=int, default=500)
    evaluate.add_argument("--device", help="cpu or cuda (default: cuda when there is a GPU)")
    evaluate.set_defaults(run=_evaluate)

    lessons = commands.add_parser("build-lessons", help="write lessons/ from solutions/")
    lessons.add_argument("--check", action="store_true", help="fail if lessons/ is stale; write nothing")
    lessons.add_argument("--solutions", default="solutions")
    lessons.add_argument("--lessons", default="lessons")
    lessons.set_defaults(run=_build_lessons)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cifarlab` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # DataError, a bad profile name: problems the user can fix
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"\ninterrupted: {interrupt}" if str(interrupt) else "\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
