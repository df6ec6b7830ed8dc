"""Lightning training: learning, a clean history, reproducibility, resume, the LR finder, precision."""

import json
import math
import signal
import warnings

import lightning as L
import pytest
import torch

from cifarlab.datamodule import EpochSampler
from cifarlab.errors import OptionError
from cifarlab.history import COLUMNS, read_history
from cifarlab.lit import LitResNet9
from cifarlab.lr_finder import LRFindResult, find_lr, lr_find_figure
from cifarlab.profile import get_profile
from cifarlab.recipe import RECIPE
from cifarlab.train import TrainConfig, train

from .figures import PINNED, SMALL_WIDTHS

SMALL = {"widths": SMALL_WIDTHS}


def config(tmp_path, name="run", epochs=2, limit=3, extra=(), **changes):
    """A short synthetic run with pinned settings (fp32, NCHW, per-image augmentation), the
    same on every machine; "auto" would choose per CPU."""
    profile = get_profile("smoke").with_overrides(limit_batches=limit, lr_find_steps=20)
    changes = {**PINNED, **changes}
    return TrainConfig(
        out=str(tmp_path / name),
        profile=profile,
        source="synthetic",
        epochs=epochs,
        extra={**SMALL, **dict(extra)},
        **changes,
    )


def without_times(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_training_on_synthetic_data_beats_chance_by_far(synthetic_run):
    """The shared 6-epoch synthetic run (tests/figures.py: train_synthetic, seed 0). Measured
    over seeds 0-4, AVX-512 (1 and 2 threads) and AVX2 kernels, torch 2.14.1 and 2.15.0
    (benchmarks/threshold_spread.py): test accuracy 0.940 - 0.995 (mean 0.970, sd 0.014),
    last minus first validation accuracy 0.670 - 0.830 (mean 0.774, sd 0.042). Chance is 0.1."""
    summary = json.loads((synthetic_run / "summary.json").read_text())
    rows = read_history(synthetic_run / "metrics.csv")
    assert summary["test_acc"] > 0.88, rows
    assert rows[-1]["val_acc"] > rows[0]["val_acc"] + 0.5, rows


def test_run_folder_has_one_history_row_per_real_epoch(tmp_path):
    result = train(config(tmp_path, epochs=2, lr_find=True))
    out = result.out
    for name in (
        "config.json",
        "metrics.csv",
        "metrics.png",
        "lr_find.png",
        "summary.json",
        "summary.txt",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    ):
        assert (out / name).is_file(), name
    rows = read_history(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]  # no rows from the sanity check or the LR finder
    assert list(rows[0]) == list(COLUMNS) and all(math.isfinite(v) for r in rows for v in r.values())
    assert 0 < rows[-1]["lr"] < rows[0]["lr"]  # OneCycle ends low (and never negative)
    assert set(result.test) == {"test_loss", "test_acc"}
    summary = (out / "summary.txt").read_text()
    assert "test accuracy" in summary and "max LR" in summary and result.lr_find.reason in summary


def test_same_seed_same_history_and_weights(tmp_path):
    a, b = train(config(tmp_path, "a")), train(config(tmp_path, "b"))
    assert without_times(a.history) == without_times(b.history)
    wa, wb = (torch.load(r.last_checkpoint, weights_only=True)["state_dict"] for r in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = train(config(tmp_path, "c", seed=1))
    assert without_times(c.history) != without_times(a.history)


class InterruptDuring(L.Callback):
    """Presses Ctrl+C in the middle of an epoch (0-based), as a student's runtime dies."""

    def __init__(self, epoch: int, batch: int = 1) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "augment, dropout",
    [("albumentations", 0.0), ("batch", 0.0), ("batch", 0.1)],  # dropout draws from the global generator
)
def test_an_interrupted_run_resumes_and_ends_as_if_never_stopped(tmp_path, augment, dropout):
    extra = {"dropout": dropout}
    whole = train(config(tmp_path, "whole", epochs=3, augment=augment, extra=extra))
    with pytest.raises(KeyboardInterrupt, match="resume"):  # Lightning shuts down gracefully; we say how to go on
        train(config(tmp_path, "resumed", epochs=3, augment=augment, extra=extra), callbacks=[InterruptDuring(epoch=2)])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl+C works again afterwards
    with pytest.raises(ValueError, match="--resume"):
        train(config(tmp_path, "resumed", epochs=3, augment=augment, extra=extra))
    resumed = train(config(tmp_path, "resumed", epochs=3, augment=augment, extra=extra, resume=True))
    assert without_times(resumed.history) == without_times(whole.history)
    assert resumed.test == whole.test
    wa, wb = (torch.load(r.last_checkpoint, weights_only=True)["state_dict"] for r in (whole, resumed))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume"):
        train(config(tmp_path, resume=True))


def test_lr_find_on_several_devices_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="--max-lr"):
        train(config(tmp_path, lr_find=True, devices=2, strategy="ddp"))


def small_module_and_data(tmp_path):
    from cifarlab.datamodule import CIFAR10DataModule

    dm = CIFAR10DataModule("synthetic", get_profile("smoke"))
    dm.setup()
    return LitResNet9(**SMALL, mean=dm.mean, std=dm.std, classes=dm.classes), dm


def test_lr_finder_suggests_a_rate_and_restores_the_weights(tmp_path):
    module, dm = small_module_and_data(tmp_path)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    result = find_lr(module, dm, fallback=0.4, num_training=30, accelerator="cpu")
    assert result.suggestion is not None and 1e-4 <= result.suggestion <= 10
    assert module.max_lr == result.max_lr == result.suggestion and "steepest" in result.reason
    assert len(result.raw_losses) == len(result.lrs) == len(result.losses) == 30
    assert result.losses[0] == pytest.approx(result.raw_losses[0])  # smoothing starts at the first loss, unbiased
    assert result.losses[0] == pytest.approx(2.3, abs=0.3)  # an untrained 10-class model: about ln(10)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    fig = lr_find_figure(result)
    assert any("suggestion" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_lr_finder_never_fails_silently(tmp_path):
    module, dm = small_module_and_data(tmp_path)
    result = find_lr(module, dm, fallback=0.05, start_lr=10, end_lr=1e6, num_training=30, accelerator="cpu")
    assert result.suggestion is None and result.max_lr == module.max_lr == 0.05
    assert "diverged" in result.reason and "0.05" in result.reason and result.stopped_early
    fig = lr_find_figure(result)
    assert any("fallback" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_smoothing_is_unbiased_and_steepest_descent_finds_the_fall():
    from cifarlab.lr_finder import smooth, steepest_descent

    assert smooth([2.0] * 5) == pytest.approx([2.0] * 5)  # a constant loss stays constant from the first step
    lrs = [10 ** (-4 + 5 * i / 59) for i in range(60)]
    losses = [2.3 - 1.0 / (1 + math.exp(-4 * (math.log10(lr) + 1.5))) for lr in lrs]
    assert 10**-2 < steepest_descent(lrs, losses) < 10**-1
    assert steepest_descent(lrs[:12], losses[:12]) is None  # too few points after skipping
    blown_up = losses[:45] + [losses[44] + 2 - 0.1 * i for i in range(15)]  # explodes, then "recovers"
    assert 10**-2 < steepest_descent(lrs, blown_up) < 10**-1


def test_lr_finder_with_too_few_points_says_why():
    empty = LRFindResult([], [], None, 0.1, "no suggestion: only 0 finite points")
    assert "0.1" in empty.describe() and "no suggestion" in empty.describe()


def test_bf16_mixed_and_channels_last_train_on_the_cpu(tmp_path):
    """Asked for explicitly, bf16 runs on any CPU; where it is emulated it warns why (one batch
    per split: an emulated bf16 step is 20-130x slower than fp32)."""
    from cifarlab.hardware import cpu_features
    from cifarlab.precision import SlowPrecisionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SlowPrecisionWarning)
        result = train(config(tmp_path, epochs=1, limit=1, precision="bf16-mixed", channels_last=True))
    slow = [w for w in caught if issubclass(w.category, SlowPrecisionWarning)]
    assert bool(slow) == (not cpu_features().native_bf16), [str(w.message) for w in slow]
    assert result.summary["precision"] == "bf16-mixed" and math.isfinite(result.history[0]["train_loss"])
    assert result.summary["chosen_for_this_machine"] == []  # nothing was left to "auto"


def test_auto_settings_are_chosen_for_the_machine_and_the_summary_says_why(tmp_path):
    from cifarlab.precision import choose_settings

    expected = choose_settings(accelerator="cpu")
    result = train(config(tmp_path, epochs=1, limit=1, precision="auto", channels_last=None, augment="auto"))
    summary = result.summary
    assert (summary["precision"], summary["channels_last"], summary["augment"]) == (
        expected.precision,
        expected.channels_last,
        expected.augment,
    )
    assert [r.split(":")[0] for r in summary["chosen_for_this_machine"]] == [
        "precision " + expected.precision,
        "channels-last",
        "augmentation on whole batches on the CPU",
    ]
    assert "auto: precision" in (result.out / "summary.txt").read_text()


def test_epoch_sampler_shuffles_by_epoch_and_splits_ranks():
    sampler = EpochSampler(10, seed=0)
    first = list(sampler)
    assert sorted(i for _, i in first) == list(range(10)) and {e for e, _ in first} == {0}
    sampler.set_epoch(1)
    assert [i for _, i in sampler] != [i for _, i in first]
    sampler.set_epoch(0)
    assert list(sampler) == first
    shares = [EpochSampler(11, seed=0, rank=r, world_size=2) for r in (0, 1)]
    a, b = ({i for _, i in s} for s in shares)
    assert len(a) == len(b) == len(shares[0]) == 5 and not a & b
    with pytest.raises(ValueError, match="rank 2"):
        EpochSampler(10, rank=2, world_size=2)


def test_optimizer_choice_is_checked():
    with pytest.raises(ValueError, match="sgd"):
        LitResNet9(optimizer="rmsprop")
    assert LitResNet9(optimizer="adam", **SMALL).max_lr == RECIPE.adam_max_lr


def test_a_resumed_run_refuses_options_that_ask_for_another_recipe():
    from cifarlab.runfolder import check_resumable

    resumed = {"max_lr": 0.4, "widths": [16, 32, 64, 128], "label_smoothing": 0.2}
    same = TrainConfig(resume=True, max_lr=0.4, extra={"widths": SMALL_WIDTHS, "label_smoothing": 0.2})
    check_resumable(same, resumed)  # the same recipe again (tuples come back as lists): fine
    with pytest.raises(OptionError, match=r"label_smoothing=0\.1 \(the run has 0\.2\).*Drop those options"):
        check_resumable(TrainConfig(resume=True, extra={"label_smoothing": 0.1}), resumed)
    with pytest.raises(OptionError, match=r"max_lr=0\.1"):
        check_resumable(TrainConfig(resume=True, max_lr=0.1), resumed)


def test_make_trainer_keeps_its_best_checkpoint_first(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from cifarlab.rng import RandomStates
    from cifarlab.train import make_trainer

    mine = ModelCheckpoint(tmp_path / "mine", monitor="train_loss")
    trainer = make_trainer(tmp_path, get_profile("smoke"), callbacks=[mine])
    assert trainer.checkpoint_callback.filename == "best" and mine in trainer.checkpoint_callbacks
    assert any(isinstance(c, RandomStates) for c in trainer.callbacks)
    assert trainer.max_epochs == get_profile("smoke").epochs and trainer.limit_train_batches == 4


def test_lr_finder_says_why_when_the_loss_never_falls():
    # the review's case: `cifarlab train --profile smoke --lr-find`, 24 finite points, and a smoothed
    # loss that only rises after the skipped start; it was told "too few points. Raise num_training"
    from cifarlab.lr_finder import _why_no_suggestion, steepest_descent

    lrs = [10 ** (-4 + 5 * i / 23) for i in range(24)]
    rising = [2.3 + 0.05 * i for i in range(24)]
    assert steepest_descent(lrs, rising) is None
    why = _why_no_suggestion(lrs, rising, num_training=24, early_stop_threshold=4.0)
    assert "never fell below" in why and "step 11" in why and "too few" not in why
    assert "--max-lr" in why and "lr_find_steps" in why and "Raise num_training" not in why
    few = _why_no_suggestion(lrs[:12], rising[:12], num_training=12, early_stop_threshold=4.0)
    assert "only 1 finite point(s) of 12" in few and "--max-lr" in few
    assert "diverged" in _why_no_suggestion(lrs[:8], rising[:8], num_training=24, early_stop_threshold=4.0)


def test_a_final_model_trains_on_every_image_and_keeps_its_last_epoch(tmp_path):
    # Page's 94% trained on all 50,000 images; with nothing held out, no epoch is chosen on validation
    final = config(tmp_path, epochs=2, final=True)
    final.profile = final.profile.with_overrides(train_size=None)  # no cap: every image the source has
    result = train(final)
    assert result.summary["final"] and result.summary["best_val_acc"] is None
    assert result.summary["train_images"] == get_profile("smoke").synthetic_train
    assert all(math.isnan(row["val_acc"]) for row in result.history) and result.test["test_acc"] is not None
    best, last = (
        torch.load(result.best_checkpoint, weights_only=True),
        torch.load(result.last_checkpoint, weights_only=True),
    )
    assert best["epoch"] == last["epoch"] == 1 and torch.equal(
        best["state_dict"]["model.fc.weight"], last["state_dict"]["model.fc.weight"]
    )
    text = (result.out / "summary.txt").read_text()
    assert "a final model" in text and "nan" not in text
    stored = json.loads((result.out / "config.json").read_text())
    assert stored["final"] and stored["resolved"]["profile"]["val_size"] == 0
    with pytest.raises(OptionError, match="cannot be resumed as a final model"):
        plain = train(config(tmp_path, name="plain", epochs=1))
        train(config(tmp_path, name="plain", epochs=None, resume=True, final=True))
    assert plain.summary["final"] is False


def test_a_compiled_run_trains_and_saves_weights_an_uncompiled_model_loads(tmp_path, monkeypatch):
    from cifarlab import lit
    from cifarlab.checkpoint import load_model

    # dynamo's graph capture with the eager backend: the same plumbing as inductor, without a minute of codegen
    monkeypatch.setattr(lit, "COMPILE_BACKEND", "eager")
    result = train(config(tmp_path, compile=True, epochs=1, limit=2))
    assert result.summary["compiled"] and "torch.compile" in (result.out / "summary.txt").read_text()
    assert LitResNet9(**SMALL, compile=True).model._compiled_call_impl is not None
    state = torch.load(result.last_checkpoint, weights_only=True)["state_dict"]
    assert not any("_orig_mod" in name for name in state)  # compiled in place: the weights keep their names
    loaded = load_model(result.last_checkpoint)
    assert loaded.model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
