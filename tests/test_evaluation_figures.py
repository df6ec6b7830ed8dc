"""Evaluation: confusion matrix, per-class accuracy, the misclassified images, and their figures."""

import numpy as np
import pytest

from cifarlab.evaluation import (
    confusion_matrix_figure,
    evaluate,
    misclassified,
    misclassified_figure,
    per_class_figure,
)
from cifarlab.history import metrics_figure, read_history


@pytest.fixture(scope="module")
def result(synthetic_model, synthetic_test):
    return evaluate(synthetic_model.model, synthetic_test, synthetic_model.mean, synthetic_model.std)


def test_confusion_matrix_counts_every_image_once(result, synthetic_test):
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (synthetic_test.labels, result.predictions), 1)
    np.testing.assert_array_equal(result.confusion, expected)
    assert np.trace(result.confusion) / len(synthetic_test) == pytest.approx(result.accuracy)
    for label, name in enumerate(result.classes):
        row = result.confusion[label]
        assert row[label] / row.sum() == pytest.approx(result.per_class[name], abs=1e-6)


def test_most_confused_are_the_largest_off_diagonal_shares(result):
    confused = result.most_confused(3)
    shares = [share for _, _, share in confused]
    assert shares == sorted(shares, reverse=True) and all(t != p for t, p, _ in confused)
    true, predicted, share = confused[0]
    row = result.confusion[result.classes.index(true)]
    assert share == pytest.approx(row[result.classes.index(predicted)] / row.sum())
    off_diagonal = [row[j] / row.sum() for i, row in enumerate(result.confusion) for j in range(len(row)) if i != j]
    assert share == pytest.approx(max(off_diagonal))


def test_misclassified_are_the_mistakes_most_confident_first(result, synthetic_test):
    wrong = misclassified(result, synthetic_test)
    assert len(wrong) == int((result.predictions != result.labels).sum()) > 0
    assert (wrong.true != wrong.predicted).all()
    assert (np.diff(wrong.confidence) <= 0).all()
    np.testing.assert_array_equal(wrong.images, synthetic_test.images[wrong.indices])
    assert len(misclassified(result, synthetic_test, limit=2)) == min(2, len(wrong))
    with pytest.raises(ValueError, match="not the ones evaluated"):
        misclassified(result, synthetic_test.subset(np.arange(10)))


def test_figures(result, synthetic_test, synthetic_run):
    wrong = misclassified(result, synthetic_test, limit=6)
    grid = misclassified_figure(wrong, synthetic_test.classes, ncols=3)
    titles = [ax.get_title() for ax in grid.axes if ax.get_title()]
    assert len(titles) == len(wrong) and "→" in titles[0] and "%" in titles[0]
    matrix = confusion_matrix_figure(result)
    assert [t.get_text() for t in matrix.axes[0].get_xticklabels()] == list(synthetic_test.classes)
    bars = per_class_figure(result)
    assert len(bars.axes[0].patches) == 10
    curves = metrics_figure(read_history(synthetic_run / "metrics.csv"))
    assert len(curves.axes) == 2  # loss, accuracy: train and val in each
