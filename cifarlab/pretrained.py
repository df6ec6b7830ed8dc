"""The course's pretrained ResNet9: shipped weights, loaded by name, checked by hash.

Each model is two files in `cifarlab/weights/`: NAME.pt (an fp16 state dict with the
hyperparameters a checkpoint carries: widths, mean, std, class names) and NAME.json, its
provenance (data, recipe, epochs, test accuracy, device, date, package versions, the
training history and the sha256 of NAME.pt). `load_pretrained` refuses a file whose hash
differs, e.g. a Git LFS pointer or a half-downloaded file, rather than loading noise.

`export_pretrained` makes such a pair from a `cifarlab train` run folder (`cifarlab export`), in
the run's `export/` folder or where `--out` says: never in the package unless told to, so an
export cannot replace the shipped model by accident.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import torch

from cifarlab.checkpoint import LoadedModel, hyper_parameters, load_model, read_checkpoint
from cifarlab.errors import CheckpointError, OptionError
from cifarlab.files import atomic_path, sha256, write_text
from cifarlab.history import read_history
from cifarlab.recipe import RECIPE
from cifarlab.runfolder import train_command
from cifarlab.versions import package_versions

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT = "resnet9-cifar10"
MAX_BYTES = 15 * 1024 * 1024  # what the repository accepts for a shipped model


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))


def provenance(name: str = DEFAULT) -> dict[str, Any]:
    """How the named model was made: data, recipe, accuracy, device, date, versions, history."""
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(f"no pretrained model called {name!r}; the shipped ones are {available()}.")
    return json.loads(path.read_text())


def pretrained_path(name: str = DEFAULT) -> Path:
    """The verified weights file of the named model (CheckpointError if it fails the hash)."""
    info = provenance(name)
    path = WEIGHTS_DIR / info["file"]
    if not path.is_file():
        raise CheckpointError(
            f"{path} is missing: reinstall cifarlab or `git checkout -- {path.name}` in cifarlab/weights."
        )
    found = sha256(path)
    if found != info["sha256"]:
        raise CheckpointError(
            f"{path} does not match its provenance file (sha256 {found[:12]}... instead of {info['sha256'][:12]}...): "
            f"it is corrupt, truncated or a placeholder such as a Git LFS pointer ({path.stat().st_size:,} bytes; "
            f"expected {info['bytes']:,}). Restore it with `git checkout -- cifarlab/weights/{path.name}` or "
            "reinstall cifarlab."
        )
    return path


def load_pretrained(name: str = DEFAULT, device: str | torch.device = "cpu") -> LoadedModel:
    """The named pretrained model, in eval mode, after checking its hash."""
    return load_model(pretrained_path(name), device)


def load_any(spec: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """A model from a checkpoint path, an export, a shipped model's name, or (None) the default pretrained one.

    An export (NAME.pt with its NAME.json beside it) is checked against the hash it records.
    """
    if spec is None:
        return load_pretrained(DEFAULT, device)
    if str(spec) in available() and not Path(spec).exists():
        return load_pretrained(str(spec), device)
    path = Path(spec)
    record = _export_record(path)
    if record and record.get("sha256") and sha256(path) != record["sha256"]:
        raise CheckpointError(
            f"{path} does not match the sha256 in {path.with_suffix('.json').name}: it was changed or damaged "
            "after the export. Export the run again."
        )
    return load_model(path, device)


def _export_record(path: Path) -> dict[str, Any] | None:
    """The provenance beside an export (NAME.pt with NAME.json), or None for anything else."""
    record = path.with_suffix(".json")
    if path.suffix == ".pt" and path.is_file() and record.is_file():
        return json.loads(record.read_text())
    return None


def model_and_history(
    spec: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> tuple[LoadedModel, list[dict[str, float]], str]:
    """A model to study, its training history, and a few lines on where it came from (lesson 06).

    spec: None for the shipped model, or your own: a shipped model's name, an export
    (NAME.pt beside its NAME.json) or a run's checkpoint (its history is the run's metrics.csv).
    """
    loaded = load_any(spec, device)
    if spec is None or (str(spec) in available() and not Path(spec).exists()):
        return (
            loaded,
            provenance(str(spec or DEFAULT))["history"],
            _about(provenance(str(spec or DEFAULT)), "pretrained"),
        )
    path = Path(spec)
    info = _export_record(path)
    if info:
        return loaded, info["history"], _about(info, str(path))
    metrics = path.parent.parent / "metrics.csv"  # <run>/checkpoints/best.ckpt -> <run>/metrics.csv
    history = read_history(metrics) if metrics.is_file() else []
    found = f"{len(history)} epochs of history from {metrics}" if history else f"no history (no {metrics})"
    return loaded, history, f"{path}: {found}"


def _about(info: dict[str, Any], name: str) -> str:
    """Three lines from a provenance record: size, training, data, device, accuracy."""
    profile = info["train_config"]["profile"]
    profile = profile.get("name") if isinstance(profile, dict) else profile
    return (
        f"{name}: {info['bytes'] / 1e6:.0f} MB of 16-bit weights, {info['epochs']} epochs on "
        f"{info['train_images']:,} images\n"
        f"of {info['data']}, on {info['device']}, {info['date']}\n"
        f"test accuracy {info['test_accuracy']:.2%} (measured when it was made, {profile} profile)"
    )


def _profile_batch_size(profile: str | dict[str, Any] | None) -> int:
    from cifarlab.profile import get_profile

    return profile["batch_size"] if isinstance(profile, dict) else get_profile(profile).batch_size


def export_pretrained(
    run: str | os.PathLike, name: str = DEFAULT, out: str | os.PathLike | None = None, force: bool = False
) -> Path:
    """Write NAME.pt (fp16 weights of the run's best checkpoint) and NAME.json (provenance).

    run: a folder written by `cifarlab train` (checkpoints/best.ckpt, summary.json,
    config.json, metrics.csv). out: where to write (default: <run>/export); existing files
    are replaced only with force=True. Both files are written whole or not at all, and the
    weights are loaded back before they are kept. The written fp16 file is then measured on
    the run's test split, plain and with test-time augmentation (`cifarlab.tta`), so the
    provenance quotes the file that ships, not the run. Returns the path of NAME.pt.
    """
    run = Path(run)
    out = run / "export" if out is None else Path(out)
    weights, record = out / f"{name}.pt", out / f"{name}.json"
    existing = [p for p in (weights, record) if p.exists()]
    if existing and not force:
        raise OptionError(
            f"{' and '.join(str(p) for p in existing)} already exist: pass --force (force=True) to replace them, "
            "or choose another --out or --name."
        )
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} is a file; an export writes two files into a folder there.")
    summary, config = _finished_run(run)
    contents = read_checkpoint(run / "checkpoints" / "best.ckpt")
    hparams = {
        k: v for k, v in hyper_parameters(contents).items() if isinstance(v, (int, float, str, bool, list, tuple))
    }
    state = {
        k.removeprefix("model."): (v.half() if v.is_floating_point() else v) for k, v in contents["state_dict"].items()
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(weights) as temporary:
        torch.save({"state_dict": state, "hyper_parameters": hparams}, temporary)
        load_model(temporary)  # what we ship must load
        measured = measure_export(temporary, config, summary)  # before it is kept: no file without its record
        size = temporary.stat().st_size
        if size > MAX_BYTES:
            raise CheckpointError(
                f"{weights.name} would be {size / 2**20:.1f} MiB, over the {MAX_BYTES / 2**20:.0f} MiB the repository "
                "accepts; nothing was written."
            )
    info = _provenance(name, weights, summary, config, read_history(run / "metrics.csv"), hparams)
    info["measured"] = measured
    write_text(record, json.dumps(info, indent=2) + "\n")
    return weights


def measure_export(weights: Path, config: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The exported file's test accuracy, plain and with each TTA level, on the run's own test split."""
    from cifarlab.data import load_splits, resolve_source
    from cifarlab.evaluation import evaluate
    from cifarlab.profile import Profile, get_profile

    resolved = (config.get("resolved") or {}).get("profile")
    name = summary.get("profile") or (config.get("profile") if isinstance(config.get("profile"), str) else None)
    if not resolved and not name:
        raise CheckpointError(
            "the run records no profile, so its test split is unknown: export a run of cifarlab train."
        )
    profile = Profile(**resolved) if resolved else get_profile(name)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded = load_model(weights, device)
    test = load_splits(resolve_source(config.get("source")), profile, seed=int(config.get("seed") or 0)).test
    result = evaluate(loaded.model, test, loaded.mean, loaded.std, tta="flip-translate")
    return {
        "what": "this file (fp16 weights, evaluated in fp32), by cifarlab.evaluation.evaluate",
        "test_images": len(test),
        "data": test.source,
        "test_accuracy": result.accuracy,
        "tta_accuracy": {level: acc for level, acc in result.tta.items() if level != "none"},
        "device": device,
    }


def _schedule(hparams: dict[str, Any]) -> str:
    """The optimizer and schedule a run used, in words, from its checkpoint's hyperparameters."""
    momentum = (
        f"momentum cycled {RECIPE.max_momentum:g} -> {RECIPE.base_momentum:g} by OneCycle"
        if hparams.get("cycle_momentum")
        else f"constant momentum {hparams.get('momentum', RECIPE.momentum):g}"
    )
    return (
        f"OneCycle per batch; SGD Nesterov, {momentum}, weight decay {hparams.get('weight_decay', 0):g}, "
        f"label smoothing {hparams.get('label_smoothing', 0):g} (cifarlab.lit)"
    )


def _finished_run(run: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary and config of a run that finished, or a CheckpointError that says what is missing."""
    for needed in ("checkpoints/best.ckpt", "summary.json", "config.json", "metrics.csv"):
        if not (run / needed).is_file():
            raise CheckpointError(f"{run} is not a finished `cifarlab train` run: it has no {needed}.")
    summary = json.loads((run / "summary.json").read_text())
    if summary.get("interrupted"):
        raise CheckpointError(
            f"the run in {run} was interrupted: finish it with `cifarlab train --resume --out {run}` first."
        )
    return summary, json.loads((run / "config.json").read_text())


def _provenance(
    name: str,
    weights: Path,
    summary: dict[str, Any],
    config: dict[str, Any],
    history: list[dict[str, float]],
    hparams: dict[str, Any],
) -> dict[str, Any]:
    """What NAME.json records: the file, how it was trained, on what, and how well it does."""
    return {
        "name": name,
        "file": weights.name,
        "sha256": sha256(weights),
        "bytes": weights.stat().st_size,
        "format": "fp16 state dict of cifarlab.model.ResNet9 with its hyper_parameters (torch.save)",
        "data": summary["data"],
        "train_images": summary["train_images"],
        "recipe": {
            "optimizer": config["optimizer"],
            "max_lr": summary.get("max_lr", summary.get("lr")),  # "lr" in runs from before the rename
            "lr_choice": summary["lr_choice"],
            "batch_size": config["batch_size"] or _profile_batch_size(config["profile"]),
            "precision": summary["precision"],
            "channels_last": summary["channels_last"],
            "augment": summary["augment"],
            "seed": config["seed"],
            "schedule": _schedule(hparams),
            "cutout_p": hparams.get("cutout_p"),
            "ema": bool(hparams.get("ema_horizon")),
            "final_model": bool(summary.get("final")),
        },
        "command": train_command(config),
        "commit": summary.get("commit"),  # runs from before 2026-12-02 did not record it
        "epochs": summary["epochs"],
        "test_accuracy": summary["test_acc"],
        "test_loss": summary["test_loss"],
        "best_val_accuracy": summary["best_val_acc"],
        "train_seconds": summary["train_seconds"],
        "device": summary["device"],
        "date": dt.date.today().isoformat(),
        # what the run recorded wins; older runs recorded fewer packages, so the rest are today's
        "versions": {**package_versions(), **summary.get("versions", {})},
        "train_config": {k: v for k, v in config.items() if k != "out"},  # cifarlab.train.TrainConfig
        "history": history,
    }
