"""Evaluating a trained model on a set of images, and the figures that show how it did.

`evaluate` measures (loss, accuracy, per-class accuracy, confusion matrix, every prediction),
`accuracy_of` the accuracy of any function from a batch to logits;
`confusion_matrix_figure`, `per_class_figure` and `misclassified_figure` draw the results,
and `misclassified` picks out the mistakes, most confident first. The training curves are
`cifarlab.history.metrics_figure`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from cifarlab.augment import normalize_batch
from cifarlab.data.imageset import ImageSet
from cifarlab.errors import CifarlabError, OptionError
from cifarlab.model import eval_mode
from cifarlab.plots import image_grid
from cifarlab.progress import progress
from cifarlab.recipe import TTA_LEVELS
from cifarlab.tta import VIEWS, check_level, logits_by_level


@dataclass
class Evaluation:
    """A model's results on one ImageSet."""

    loss: float
    accuracy: float
    per_class: dict[str, float]
    predictions: np.ndarray  # predicted class per image
    probabilities: np.ndarray  # (N, classes) softmax
    labels: np.ndarray
    confusion: np.ndarray  # (true, predicted) counts
    tta: dict[str, float] = field(default_factory=dict)  # accuracy with test-time augmentation, by level

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.per_class)

    def most_confused(self, count: int = 5) -> list[tuple[str, str, float]]:
        """The largest confusions: (true class, predicted class, share of the true class's images
        taken for the predicted one), largest first."""
        taken_for = self.confusion / np.maximum(self.confusion.sum(axis=1, keepdims=True), 1)
        np.fill_diagonal(taken_for, 0)
        largest = np.argsort(-taken_for, axis=None, kind="stable")[:count]
        pairs = (np.unravel_index(flat, taken_for.shape) for flat in largest)
        return [(self.classes[t], self.classes[p], float(taken_for[t, p])) for t, p in pairs]

    def report(self) -> str:
        width = max(len(c) for c in self.per_class)
        lines = [f"test loss {self.loss:.4f}   accuracy {self.accuracy:.2%}   ({len(self.labels)} images)", ""]
        lines += [f"{name:<{width}}  {acc:7.2%}" for name, acc in self.per_class.items()]
        if len(self.tta) > 1:
            lines += ["", "with test-time augmentation (cifarlab.tta): the model's logits averaged over views"]
            lines += [f"  {level:<15} {acc:7.2%}  ({VIEWS[level]})" for level, acc in self.tta.items()]
        return "\n".join(lines)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    images: ImageSet,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 500,
    device: str | torch.device | None = None,
    tta: str = "none",
) -> Evaluation:
    """Run `model` over every image (in eval mode, in fp32) and measure it.

    Everything but `tta` is measured on the images as they are. tta="flip" or "flip-translate"
    also measures the accuracy of every test-time augmentation level up to that one
    (`Evaluation.tta`), for two or six forward passes per image.
    """
    check_level(tta)
    device = device or next(model.parameters()).device
    model.to(device)
    classes = images.classes
    per_class = MulticlassAccuracy(num_classes=len(classes), average=None).to(device)
    confusion = MulticlassConfusionMatrix(num_classes=len(classes)).to(device)
    total_loss, probabilities = 0.0, []
    correct = dict.fromkeys(TTA_LEVELS[: TTA_LEVELS.index(tta) + 1], 0)
    with eval_mode(model):
        for start in progress(range(0, len(images), batch_size), desc="evaluating", leave=False):
            x = normalize_batch(images.images[start : start + batch_size], mean, std, device)
            y = torch.from_numpy(images.labels[start : start + batch_size]).to(device)
            by_level = logits_by_level(model, x, tta)
            logits = by_level["none"]
            for level, level_logits in by_level.items():
                correct[level] += int((level_logits.argmax(1) == y).sum())
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            per_class.update(logits, y)
            confusion.update(logits, y)
            probabilities.append(logits.softmax(1).cpu())
    probs = torch.cat(probabilities).numpy()
    predictions = probs.argmax(1)
    return Evaluation(
        loss=total_loss / len(images),
        accuracy=float((predictions == images.labels).mean()),
        per_class={c: float(a) for c, a in zip(classes, per_class.compute().tolist())},
        predictions=predictions,
        probabilities=probs,
        labels=images.labels.copy(),
        confusion=confusion.compute().cpu().numpy(),
        tta={level: count / len(images) for level, count in correct.items()},
    )


@torch.no_grad()
def accuracy_of(
    logits: Callable[[torch.Tensor], torch.Tensor],
    images: ImageSet,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 500,
    device: str | torch.device = "cpu",
) -> float:
    """The accuracy of any function from a normalised batch (N, 3, H, W) to logits over `images`,
    batch by batch: a test-time augmentation written in a lesson, or a model with a twist.

    The batches are made on `device`: the device of the model the function calls.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise OptionError(f"batch_size={batch_size!r}: give a whole number of images per batch, e.g. 500.")
    if len(images) == 0:
        raise OptionError("there are no images to measure the accuracy on.")
    correct = 0
    for start in range(0, len(images), batch_size):
        x = normalize_batch(images.images[start : start + batch_size], mean, std, device)
        y = torch.from_numpy(images.labels[start : start + batch_size]).to(device)
        correct += int((logits(x).argmax(1) == y).sum())
    return correct / len(images)


@dataclass
class Misclassified:
    """The images a model got wrong: indices into the evaluated set, what it said, how sure."""

    indices: np.ndarray
    images: np.ndarray  # uint8 NHWC
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray  # the probability the model gave its (wrong) answer

    def __len__(self) -> int:
        return len(self.indices)

    def titles(self, classes: Sequence[str]) -> list[str]:
        """'true -> predicted (confidence)' for each image."""
        return [
            f"{classes[t]} → {classes[p]}\n({c:.0%})" for t, p, c in zip(self.true, self.predicted, self.confidence)
        ]


def misclassified(evaluation: Evaluation, images: ImageSet, limit: int | None = None) -> Misclassified:
    """The mistakes in `evaluation` (of `images`), the most confident first."""
    if len(images) != len(evaluation.labels) or not np.array_equal(images.labels, evaluation.labels):
        raise OptionError("these images are not the ones evaluated: pass the same ImageSet you gave evaluate().")
    wrong = np.flatnonzero(evaluation.predictions != evaluation.labels)
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    order = np.argsort(-confidence, kind="stable")[:limit]
    chosen = wrong[order]
    return Misclassified(
        indices=chosen,
        images=images.images[chosen],
        true=evaluation.labels[chosen],
        predicted=evaluation.predictions[chosen],
        confidence=confidence[order],
    )


def misclassified_figure(mistakes: Misclassified, classes: Sequence[str], ncols: int = 8, size: float = 1.4) -> Figure:
    """A grid of misclassified images titled 'true → predicted (confidence)'."""
    if len(mistakes) == 0:
        raise CifarlabError("there are no misclassified images to show.")
    return image_grid(mistakes.images, mistakes.titles(classes), ncols=ncols, size=size)


def confusion_matrix_figure(evaluation: Evaluation, normalize: bool = True, size: float = 6.0) -> Figure:
    """Rows: the true class; columns: the predicted one. Normalised rows read as rates."""
    counts = evaluation.confusion
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    classes = evaluation.classes
    fig = Figure(figsize=(size, size * 0.9), layout="constrained")
    ax = fig.subplots()
    shown = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(shown, ax=ax, shrink=0.8, label="share of the true class" if normalize else "images")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = values.max() / 2
    for (i, j), value in np.ndenumerate(values):
        text = f"{value:.2f}".lstrip("0") if normalize else str(int(value))
        if value > 0:
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if value > threshold else "black")
    ax.set_title(
        f"confusion matrix ({len(evaluation.labels):,} images, accuracy {evaluation.accuracy:.1%})", fontsize=10
    )
    return fig


def per_class_figure(evaluation: Evaluation, size: tuple[float, float] = (6.0, 3.2)) -> Figure:
    """Accuracy per class as bars, worst first, with the overall accuracy as a line."""
    names = sorted(evaluation.per_class, key=evaluation.per_class.get)
    values = [evaluation.per_class[n] for n in names]
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.barh(names, values, color="tab:blue")
    ax.axvline(evaluation.accuracy, color="tab:red", linestyle="--", label=f"overall {evaluation.accuracy:.1%}")
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:.1%}", va="center", fontsize=8)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("accuracy")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("accuracy per class", fontsize=10)
    return fig
