"""Evaluating a trained model on a set of images: loss, accuracy, per-class accuracy, predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy
from tqdm.auto import tqdm

from cifarlab.augment import normalize_batch
from cifarlab.data.imageset import ImageSet


@dataclass
class Evaluation:
    """A model's results on one ImageSet."""

    loss: float
    accuracy: float
    per_class: dict[str, float]
    predictions: np.ndarray  # predicted class per image
    probabilities: np.ndarray  # (N, classes) softmax
    labels: np.ndarray

    def report(self) -> str:
        width = max(len(c) for c in self.per_class)
        lines = [f"test loss {self.loss:.4f}   accuracy {self.accuracy:.2%}   ({len(self.labels)} images)", ""]
        lines += [f"{name:<{width}}  {acc:7.2%}" for name, acc in self.per_class.items()]
        return "\n".join(lines)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    images: ImageSet,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 500,
    device: str | torch.device | None = None,
) -> Evaluation:
    """Run `model` over every image (in eval mode, in fp32) and measure it."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval().to(device)
    classes = images.classes
    per_class = MulticlassAccuracy(num_classes=len(classes), average=None).to(device)
    total_loss, probabilities = 0.0, []
    try:
        for start in tqdm(range(0, len(images), batch_size), desc="evaluating", leave=False):
            x = normalize_batch(images.images[start : start + batch_size], mean, std, device)
            y = torch.from_numpy(images.labels[start : start + batch_size]).to(device)
            logits = model(x).float()
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            per_class.update(logits, y)
            probabilities.append(logits.softmax(1).cpu())
    finally:
        model.train(was_training)
    probs = torch.cat(probabilities).numpy()
    predictions = probs.argmax(1)
    return Evaluation(
        loss=total_loss / len(images),
        accuracy=float((predictions == images.labels).mean()),
        per_class={c: float(a) for c, a in zip(classes, per_class.compute().tolist())},
        predictions=predictions,
        probabilities=probs,
        labels=images.labels.copy(),
    )
