"""The `cifarlab` command (also `python -m cifarlab`): doctor, data, train, evaluate, export, reproduce, app,
build-lessons, run-solutions, grade."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cifarlab.errors import CifarlabError, DataError, OptionError
from cifarlab.files import describe_os_error, is_environment_fault
from cifarlab.options import (
    COUNT,
    PORT,
    POSITIVE,
    RECIPE_OPTIONS,
    RECIPE_RANGES,
    SEED,
    WORKERS,
    Range,
    argparse_number,
)


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

    # the train options are named after TrainConfig's fields and the recipe's, so they map one to one
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    recipe = {name: getattr(args, name) for name in RECIPE_OPTIONS if getattr(args, name) is not None}
    result = train(TrainConfig(**options, extra=recipe))
    if not result.global_zero:  # the other processes of a multi-device run stay quiet
        return 0
    print()
    print((result.out / "summary.txt").read_text())
    print(f"run folder: {result.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from cifarlab.data import load_splits, resolve_source
    from cifarlab.evaluation import evaluate
    from cifarlab.pretrained import load_any
    from cifarlab.profile import get_profile

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    _check_device(device)
    loaded = load_any(args.checkpoint, device)
    splits = load_splits(resolve_source(args.source), get_profile(args.profile))
    if tuple(splits.classes) != tuple(loaded.classes):
        raise OptionError(
            f"the checkpoint was trained on classes {loaded.classes} but the data has {splits.classes}: "
            "evaluate it on the data it was trained for (--source)."
        )
    result = evaluate(loaded.model, splits.test, loaded.mean, loaded.std, args.batch_size, tta=args.tta)
    print(f"{args.checkpoint or 'the pretrained model'} on {splits.test.source} test split")
    print(result.report())
    return 0


def _check_device(device: str) -> None:
    """A device torch knows and this machine has, or an OptionError."""
    import torch

    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise OptionError(f"--device {device!r} is not a device: use cpu, cuda or cuda:N.") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"--device {device}, but this machine has no CUDA GPU: use --device cpu (or leave it out).")
    if chosen.type == "cuda" and (chosen.index or 0) >= torch.cuda.device_count():
        raise OptionError(f"--device {device}, but this machine has {torch.cuda.device_count()} GPU(s).")


def _check_port_free(host: str, port: int | None) -> None:
    """Refuse a port something else listens on, before loading the model and the data."""
    import socket

    if port is None:
        return  # Gradio takes the first free one from 7860
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OptionError(
                f"cannot serve on {host}:{port} ({error.strerror or error}): another program uses that port. "
                "Pass another --port, or leave --port out to take the first free one from 7860."
            ) from None


def _export(args: argparse.Namespace) -> int:
    import json

    from cifarlab.pretrained import export_pretrained

    weights = export_pretrained(args.run, args.name, args.out, force=args.force)
    info = json.loads(weights.with_suffix(".json").read_text())  # what was written, not the shipped model
    print(f"wrote {weights} ({weights.stat().st_size / 2**20:.1f} MiB) and {weights.with_suffix('.json')}")
    measured = info["measured"]
    tta = ", ".join(f"{level} {acc:.2%}" for level, acc in measured["tta_accuracy"].items())
    print(f"test accuracy {measured['test_accuracy']:.2%} ({tta} with TTA) on {measured['test_images']:,} test images")
    print(f"sha256 {info['sha256']}")
    print(f"use it with: cifarlab app {weights}   (or load_any({str(weights)!r}) in a notebook)")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from cifarlab.reproduce import reproduce

    report = reproduce(args.out, args.profile, args.source, args.seed)
    print(report.read_text())
    print(f"written to {report} (and results.json beside it)")
    return 0


def _app(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise OptionError(
            'the app needs Gradio, which is the `app` extra: pip install -e ".[app]" (or pip install "cifarlab[app]").'
        )
    _check_port_free(args.host, args.port)
    from cifarlab.app import build_app, launch
    from cifarlab.data import load_splits, resolve_source
    from cifarlab.pretrained import load_any
    from cifarlab.profile import get_profile

    loaded = load_any(args.checkpoint)
    test = None
    if not args.no_data:
        try:
            test = load_splits(resolve_source(args.source), get_profile(args.profile)).test
        except DataError as error:
            print(f"Without test images (no examples, no gallery of mistakes): {error}", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost"):
        print(f"Serving on {args.host}: anyone who can reach this machine can use the app.", file=sys.stderr)
    launch(build_app(loaded, test, gallery_size=args.gallery), host=args.host, port=args.port)
    return 0


def _build_lessons(args: argparse.Namespace) -> int:
    from cifarlab.lessons import build_lessons

    catalogue = Path(args.catalogue) if args.catalogue else None
    stale = build_lessons(Path(args.solutions), Path(args.lessons), check=args.check, catalogue=catalogue)
    if args.check:
        if stale:
            print("lessons/ is stale:\n  " + "\n  ".join(stale))
            print("Run `cifarlab build-lessons` and commit the result.")
            return 1
        print("lessons/ is up to date with solutions/.")
        return 0
    print("\n".join(f"wrote: {s}" for s in stale) or "lessons/ was already up to date.")
    return 0


def _run_solutions(args: argparse.Namespace) -> int:
    from cifarlab.data import resolve_source
    from cifarlab.lessons import build_lessons
    from cifarlab.repository import read_repository
    from cifarlab.solutions import STORED_PROFILE, find_solutions, run_solutions

    paths = find_solutions(args.lessons_to_run, args.solutions)
    if not Path(args.lessons).is_dir():
        raise OptionError(f"--lessons '{args.lessons}' is not a folder: run this from the repository root.")
    source = resolve_source(None)  # fails now, not after the first notebook, when CIFARLAB_DATA points nowhere
    repository = read_repository(Path(args.solutions).parent / "pyproject.toml")  # the same: before any work
    print(f"Running {len(paths)} solution notebook(s) in the {STORED_PROFILE} profile on {source.describe()}.")
    run_solutions(paths, timeout=args.timeout)
    stale = build_lessons(Path(args.solutions), Path(args.lessons), repository=repository)
    print("\n".join(f"wrote: {s}" for s in stale) or "lessons/ was already up to date.")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from cifarlab.grade import grade, table

    rows = grade(args.notebooks, args.out, timeout=args.timeout, profile=args.profile)
    print()
    print(table(rows))
    print(f"\nreport: {args.out}")
    return 0


def _add_recipe_options(train: argparse.ArgumentParser) -> None:
    """--momentum, --weight-decay, ...: one option per RECIPE_OPTIONS field, its help from the recipe."""
    from dataclasses import fields

    from cifarlab.recipe import RECIPE

    group = train.add_argument_group("the recipe (cifarlab.recipe; default: the value shown)")
    for f in fields(RECIPE):
        if f.name in RECIPE_OPTIONS:
            group.add_argument(
                "--" + f.name.replace("_", "-"),
                type=argparse_number(RECIPE_RANGES[f.name]),
                metavar="X",
                help=f"{getattr(RECIPE, f.name):g} ({f.metadata['unit']}): {f.metadata['why']}",
            )


SOURCE_HELP = "'torchvision', 'synthetic' or a path (default: $CIFARLAB_DATA)"
PROFILE_HELP = "default: $CIFARLAB_PROFILE, else full on a GPU, cpu without"
MODEL_HELP = (
    "a .ckpt from a run folder, a saved state dict or a pretrained model's name (default: the pretrained model)"
)


def _devices(text: str) -> int | str:
    """--devices: a number of devices, or 'auto'."""
    if text == "auto":
        return text
    try:
        return argparse_number(COUNT)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 or 'auto', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The `cifarlab` command line: one subcommand per job, each with its handler."""
    parser = argparse.ArgumentParser(prog="cifarlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check versions, device, data and profile")
    doctor.set_defaults(handler=_doctor)
    _add_data_command(commands)
    _add_train_command(commands)
    _add_evaluate_command(commands)
    _add_export_command(commands)
    _add_reproduce_command(commands)
    _add_app_command(commands)
    lessons = commands.add_parser("build-lessons", help="write lessons/ and the exercises' hints from solutions/")
    lessons.add_argument("--check", action="store_true", help="fail if lessons/ is stale; write nothing")
    lessons.add_argument("--solutions", default="solutions")
    lessons.add_argument("--lessons", default="lessons")
    lessons.add_argument(
        "--catalogue",
        help="where the exercises' hints go (default: cifarlab/selfcheck/exercises.json beside solutions/)",
    )
    lessons.set_defaults(handler=_build_lessons)
    _add_run_solutions_command(commands)
    _add_grade_command(commands)
    return parser


def _add_data_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.profile import PROFILE_NAMES

    data = commands.add_parser("data", help="load the configured data and describe its splits")
    data.add_argument("--source", help=SOURCE_HELP)
    data.add_argument("--profile", choices=PROFILE_NAMES, help=PROFILE_HELP)
    data.add_argument("--per-class", action="store_true", help="also print counts per class")
    data.set_defaults(handler=_data)


def _add_train_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.profile import PROFILE_NAMES
    from cifarlab.recipe import AUGMENT_MODES, OPTIMIZERS, RECIPE

    train = commands.add_parser("train", help="train the ResNet9 into a run folder (resumable)")
    train.add_argument("--out", default="runs/latest", help="run folder (default: runs/latest)")
    train.add_argument("--profile", choices=PROFILE_NAMES, help=PROFILE_HELP)
    train.add_argument("--source", help=SOURCE_HELP)
    train.add_argument(
        "--epochs", type=argparse_number(COUNT), help=f"default: the profile's (full: the recipe's {RECIPE.epochs})"
    )
    train.add_argument(
        "--batch-size",
        type=argparse_number(COUNT),
        help=f"default: the profile's (full: the recipe's {RECIPE.batch_size})",
    )
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=RECIPE.optimizer, help="SGD (Nesterov) or AdamW")
    rate = train.add_mutually_exclusive_group()
    peak = f"default: {RECIPE.max_lr:g} for sgd, {RECIPE.adam_max_lr:g} for adam"
    rate.add_argument("--max-lr", type=argparse_number(POSITIVE), help=f"OneCycle's peak rate ({peak})")
    rate.add_argument("--lr-find", action="store_true", help="find the peak rate with the range test first")
    train.add_argument(
        "--precision",
        default="auto",
        help="auto (mixed on a GPU; bf16 on a CPU with native bf16, else fp32), 32-true, 16-mixed, bf16-mixed",
    )
    train.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        help="NHWC memory layout (default: on; faster on tensor cores and in oneDNN's CPU convolutions)",
    )
    train.add_argument(
        "--augment",
        choices=("auto", *AUGMENT_MODES),
        default="auto",
        help="'batch': whole batches on the device; 'albumentations': per image in the loader (auto: batch)",
    )
    train.add_argument(
        "--compile", action="store_true", help="torch.compile the network: faster steps after a minute of compiling"
    )
    train.add_argument(
        "--data-on-device",
        action=argparse.BooleanOptionalAction,
        help="hold the data on the device and cut batches there, no DataLoader (default: on a GPU)",
    )
    train.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], help="default: the profile's")
    train.add_argument(
        "--devices", type=_devices, default=1, help="how many devices (e.g. 2, or 'auto'); >1 needs --strategy ddp"
    )
    train.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    train.add_argument(
        "--workers",
        dest="num_workers",
        type=argparse_number(WORKERS),
        help="DataLoader processes (default: the profile's)",
    )
    train.add_argument("--seed", type=argparse_number(SEED), default=0)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument(
        "--ema", action="store_true", help="validate, checkpoint and test an EMA of the weights (cifarlab.ema)"
    )
    train.add_argument(
        "--final",
        action="store_true",
        help="a final model: train on every training image (no validation hold-out); best.ckpt is the last epoch",
    )
    _add_recipe_options(train)
    train.set_defaults(handler=_train)


def _add_evaluate_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.profile import PROFILE_NAMES
    from cifarlab.recipe import TTA_LEVELS

    evaluate = commands.add_parser("evaluate", help="test loss, accuracy and per-class accuracy of a checkpoint")
    evaluate.add_argument("checkpoint", nargs="?", help=MODEL_HELP)
    evaluate.add_argument("--source", help=SOURCE_HELP)
    evaluate.add_argument("--profile", choices=PROFILE_NAMES, help="how much of the test split (default as for train)")
    evaluate.add_argument("--batch-size", type=argparse_number(COUNT), default=500)
    evaluate.add_argument("--device", help="cpu or cuda (default: cuda when there is a GPU)")
    evaluate.add_argument(
        "--tta",
        choices=TTA_LEVELS,
        default="flip-translate",
        help="also report test-time augmentation up to this level (default: all; 'none' is 6x faster)",
    )
    evaluate.set_defaults(handler=_evaluate)


def _add_export_command(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="ship a run's best weights as a pretrained model (fp16 + provenance)")
    export.add_argument("run", help="a finished run folder of `cifarlab train`")
    export.add_argument("--name", default="resnet9-cifar10", help="the model's name (default: resnet9-cifar10)")
    export.add_argument("--out", help="folder to write into (default: RUN/export)")
    export.add_argument("--force", action="store_true", help="replace NAME.pt and NAME.json if they exist")
    export.set_defaults(handler=_export)


def _add_reproduce_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.profile import PROFILE_NAMES

    reproduce = commands.add_parser(
        "reproduce",
        help="every GPU figure: the recipe with and without the data on the device, TTA, speed table -> REPORT.md",
    )
    reproduce.add_argument("--out", default="runs/reproduce", help="an empty or new folder (default: runs/reproduce)")
    reproduce.add_argument("--profile", choices=PROFILE_NAMES, help="default: full on a GPU, smoke on a CPU")
    reproduce.add_argument("--source", help=SOURCE_HELP)
    reproduce.add_argument("--seed", type=argparse_number(SEED), default=0)
    reproduce.set_defaults(handler=_reproduce)


def _add_app_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.profile import PROFILE_NAMES

    app = commands.add_parser(
        "app", help="the Gradio app: upload an image, top classes, GradCAM, mistakes (extra `app`)"
    )
    app.add_argument("checkpoint", nargs="?", help=MODEL_HELP)
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    app.add_argument("--port", type=argparse_number(PORT), help="port (default: Gradio's, 7860 or the next free one)")
    app.add_argument("--source", help="test images for the examples and the gallery (default: $CIFARLAB_DATA)")
    app.add_argument("--profile", choices=PROFILE_NAMES, help="how many test images (default as for train)")
    app.add_argument(
        "--gallery",
        type=argparse_number(Range(integer=True, minimum=0)),
        default=24,
        help="how many mistakes to show (default 24)",
    )
    app.add_argument("--no-data", action="store_true", help="start without test images")
    app.set_defaults(handler=_app)


def _add_run_solutions_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.solutions import STORED_PROFILE

    run = commands.add_parser(
        "run-solutions",
        help=f"run solutions/ in the {STORED_PROFILE} profile, store their outputs, then rebuild lessons/",
    )
    run.add_argument(
        "lessons_to_run", nargs="*", metavar="LESSON", help="lesson numbers, e.g. 03 07 (default: all of them)"
    )
    run.add_argument(
        "--timeout", type=argparse_number(POSITIVE), default=900, help="seconds a cell may run (default 900)"
    )
    run.add_argument("--solutions", default="solutions")
    run.add_argument("--lessons", default="lessons")
    run.set_defaults(handler=_run_solutions)


def _add_grade_command(commands: argparse._SubParsersAction) -> None:
    from cifarlab.profile import PROFILE_NAMES

    grade = commands.add_parser("grade", help="run students' notebooks and report each exercise's verdict as CSV")
    grade.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="the students' .ipynb files")
    grade.add_argument("--out", required=True, help="the report, a CSV file (its folder must exist)")
    grade.add_argument(
        "--timeout", type=argparse_number(POSITIVE), default=300, help="seconds a cell may run (default 300)"
    )
    grade.add_argument(
        "--profile", choices=PROFILE_NAMES, default="smoke", help="the profile the notebooks run in (default smoke)"
    )
    grade.set_defaults(handler=_grade)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cifarlab` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CifarlabError as error:  # a problem the user can fix; any other exception is a bug: its traceback shows
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if not is_environment_fault(error):
            raise
        # the machine's state (disk full, permissions, a file where a folder should be): not a bug
        print(
            f"error: {describe_os_error(error)}. Free some space or fix the path, then run it again.", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt as interrupt:
        print(f"\ninterrupted: {interrupt}" if str(interrupt) else "\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
