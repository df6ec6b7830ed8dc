"""The `cifarlab` command (also `python -m cifarlab`): doctor, data, build-lessons."""

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
    parser = argparse.ArgumentParser(prog="cifarlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="check versions, device, data and profile")
    doctor.set_defaults(run=_doctor)

    data = commands.add_parser("data", help="load the configured data and describe its splits")
    data.add_argument("--source", help="'torchvision', 'synthetic' or a path (default: $CIFARLAB_DATA)")
    data.add_argument("--profile", choices=["smoke", "full"], help="default: $CIFARLAB_PROFILE or full")
    data.add_argument("--per-class", action="store_true", help="also print counts per class")
    data.set_defaults(run=_data)

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


if __name__ == "__main__":
    sys.exit(main())
