"""The plain training loop of lesson 03 and the OneCycle schedule."""

import torch
from torch.utils.data import DataLoader, TensorDataset

from cifarlab.data import make_synthetic
from cifarlab.loop import evaluate_batches, fit
from cifarlab.model import CustomResNet
from cifarlab.schedule import schedule_curve, schedule_figure


def loaders():
    train, val = make_synthetic(600, seed=0), make_synthetic(200, seed=0, split="test")
    as_tensors = lambda s: TensorDataset(torch.from_numpy(s.images).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.25), torch.from_numpy(s.labels))  # noqa: E731
    return DataLoader(as_tensors(train), batch_size=50, shuffle=True, generator=torch.Generator().manual_seed(0)), DataLoader(as_tensors(val), batch_size=100)


def test_plain_loop_learns_the_synthetic_shapes():
    torch.manual_seed(0)
    model = CustomResNet(widths=(16, 32, 64, 128))
    train, val = loaders()
    before = evaluate_batches(model, val)["acc"]
    history = fit(model, train, val, epochs=4, label_smoothing=0.0)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert history[-1]["val_acc"] > max(0.4, before + 0.25), history  # chance is 0.1


def test_one_cycle_warms_up_peaks_and_ends_low_never_negative():
    rates, momenta = schedule_curve(100, max_lr=0.4, pct_start=0.25)
    peak = max(range(100), key=rates.__getitem__)
    assert 20 <= peak <= 26 and abs(rates[peak] - 0.4) < 0.01
    assert abs(rates[0] - 0.4 / 25) < 1e-6 and 0 < rates[-1] < rates[0]
    assert momenta[peak] < momenta[0]  # momentum dips while the rate is high
    assert len(schedule_curve(3, 0.4)[0]) == 3  # tiny runs work too
    fig = schedule_figure(100, 0.4, steps_per_epoch=10)
    assert fig.axes[0].get_xlabel() == "epoch"


def test_limited_caps_batches_and_reports_its_length():
    from cifarlab.loop import Limited

    assert len(Limited(range(10), 3)) == 3 and list(Limited(range(10), 3)) == [0, 1, 2]
    assert len(Limited(range(10), None)) == 10 and len(Limited(range(2), 5)) == 2


def test_throughput_comparison_on_the_cpu():
    from cifarlab.speed import comparison_table, compare, default_settings, throughput_figure

    import pytest

    settings = default_settings("cpu")
    assert ("16-mixed", False) not in settings and ("bf16-mixed", True) in settings
    results = compare([("32-true", False), ("bf16-mixed", False)], batch_size=4, steps=1, warmup=1, device="cpu", widths=(8, 16, 16, 16))
    assert all(r.images_per_second > 0 for r in results)
    assert "1.00x" in comparison_table(results) and len(throughput_figure(results).axes[0].patches) == 2
    with pytest.raises(ValueError, match="needs a GPU"):
        compare([("16-mixed", False)], device="cpu")


def test_metrics_figure_leaves_out_series_the_rows_lack():
    from cifarlab.history import metrics_figure

    rows = [{"epoch": e, "train_loss": 2.0 / e, "val_loss": 2.1 / e, "val_acc": 0.2 * e} for e in (1, 2, 3)]
    loss_ax, acc_ax = metrics_figure(rows).axes
    assert len(loss_ax.lines) == 2 and [line.get_label() for line in acc_ax.lines] == ["val"]
