"""Loading trained ResNet9s safely, with errors that say what does not match.

`torch.load(..., weights_only=True)` only unpickles tensors and plain containers, so a
checkpoint from the internet cannot run code on your machine. And unlike
`load_state_dict(strict=False)`, which silently loads nothing when the names differ, every
parameter must be there with the right shape, or the error names the ones that are not.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cifarlab.errors import CheckpointError
from cifarlab.model import ResNet9
from cifarlab.recipe import RECIPE


@dataclass
class LoadedModel:
    """A model in eval mode, with what it needs to read images: mean, std, class names."""

    model: ResNet9
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    classes: tuple[str, ...]
    hparams: dict[str, Any]


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's contents, loaded with weights_only=True, or a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: check the path (runs keep theirs in <run>/checkpoints/).")
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain containers, so it is not loaded "
            f"(weights_only=True keeps unknown files from running code). Details: {str(error).splitlines()[0]}"
        ) from None
    except Exception as error:  # a truncated or foreign file
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}: {error})."
        ) from None
    if not isinstance(contents, dict):
        raise CheckpointError(f"{path} holds a {type(contents).__name__}, not a checkpoint dictionary.")
    return contents


RENAMED = {"lr": "max_lr"}  # hyperparameters saved under an older name -> today's
# What runs saved before a hyperparameter existed were trained with (the recipe's value then):
# they resume as they started.
EARLIER_DEFAULTS = {"cycle_momentum": True, "cutout_p": 0.5}


def hyper_parameters(contents: dict[str, Any]) -> dict[str, Any]:
    """The LitResNet9 keywords a checkpoint was trained with, under today's names.

    Checkpoints from before the rename of `lr` to `max_lr` (the shipped model is one) load as
    if they had been saved today, and those from before `cycle_momentum` and `cutout_p` were
    recorded get the values they were trained with.
    """
    hparams = dict(contents.get("hyper_parameters") or contents.get("hparams") or {})
    hparams = {RENAMED.get(name, name): value for name, value in hparams.items()}
    if "max_lr" in hparams:  # a LitResNet9's: fill in what it was trained with but did not record
        hparams = {**EARLIER_DEFAULTS, **hparams}
    return hparams


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu", trained_weights: bool = False
) -> LoadedModel:
    """Load a ResNet9 from a Lightning checkpoint (.ckpt) or a saved state dict (.pt).

    A Lightning checkpoint carries the architecture and the data's mean, std and classes in
    its hyperparameters; a bare state dict gets the default architecture and no statistics
    (mean 0, std 1), so prefer checkpoints. Raises CheckpointError on any mismatch.

    A checkpoint of a run with an EMA (`cifarlab.ema`) holds the average as its weights;
    trained_weights=True loads the weights as trained instead (to compare the two).
    """
    contents = read_checkpoint(path)
    hparams = hyper_parameters(contents)
    if trained_weights and "current_model_state" not in contents:
        raise CheckpointError(f"{path} is not from a run with an EMA: its weights are the trained ones.")
    state = contents["current_model_state"] if trained_weights else contents.get("state_dict", contents)
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} has no state dict of tensors (keys: {sorted(contents)[:6]}).")
    state = {k.removeprefix("model."): v for k, v in state.items()}  # LitResNet9 keeps the network as .model
    classes = tuple(hparams.get("classes") or (f"class {i}" for i in range(RECIPE.num_classes)))
    model = ResNet9(
        widths=hparams.get("widths", RECIPE.widths),
        num_classes=len(classes),
        dropout=hparams.get("dropout", 0.0),
        logit_scale=hparams.get("logit_scale", RECIPE.logit_scale),
    )
    check_state_dict(model, state, path)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval().to(device)
    mean = tuple(hparams.get("mean", (0.0, 0.0, 0.0)))
    std = tuple(hparams.get("std", (1.0, 1.0, 1.0)))
    return LoadedModel(model, mean, std, classes, hparams)


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], where: object = "the checkpoint") -> None:
    """Raise CheckpointError naming missing, unexpected and mis-shaped parameters."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if not (missing or unexpected or wrong):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[:3]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    if wrong:
        problems.append(f"{len(wrong)} of another shape (e.g. {wrong[:2]})")
    raise CheckpointError(
        f"{where} is not a checkpoint of this ResNet9: " + "; ".join(problems) + ". "
        "Was it saved from another model, or with other widths or classes?"
    )
