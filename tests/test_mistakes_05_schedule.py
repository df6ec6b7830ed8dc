"""Lesson 05's checks against the mistakes students make in the range test's rule and in OneCycle."""

import math

import numpy as np
import pytest

from cifarlab import selfcheck as check
from cifarlab.recipe import RECIPE


def right_steepest(lrs, losses, skip_begin=10, skip_end=1):
    lr = np.asarray(lrs[skip_begin:-skip_end], dtype=float)
    loss = np.asarray(losses[skip_begin:-skip_end], dtype=float)
    end = np.argmin(loss) + 1
    return float(lr[:end][np.argmin(np.gradient(loss[:end], np.log10(lr[:end])))])


def lowest_loss(lrs, losses, skip_begin=10, skip_end=1):
    return float(lrs[int(np.argmin(losses))])


def searches_past_the_minimum(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs[skip_begin:-skip_end]), np.asarray(losses[skip_begin:-skip_end])
    return float(lr[np.argmin(np.gradient(loss, np.log10(lr)))])


def slope_against_the_rate(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs[skip_begin:-skip_end]), np.asarray(losses[skip_begin:-skip_end])
    end = np.argmin(loss) + 1
    return float(lr[:end][np.argmin(np.gradient(loss[:end], lr[:end]))])


def no_skipping(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs), np.asarray(losses)
    end = np.argmin(loss) + 1
    return float(lr[:end][np.argmin(np.gradient(loss[:end], np.log10(lr[:end])))])


def steepest_ascent(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs[skip_begin:-skip_end]), np.asarray(losses[skip_begin:-skip_end])
    end = np.argmin(loss) + 1
    return float(lr[:end][np.argmax(np.gradient(loss[:end], np.log10(lr[:end])))])


def returns_the_index(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs), np.asarray(losses)
    end = np.argmin(loss) + 1
    return int(skip_begin + np.argmin(np.gradient(loss[skip_begin:end], np.log10(lr[skip_begin:end]))))


def with_diff(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs[skip_begin:-skip_end]), np.asarray(losses[skip_begin:-skip_end])
    end = np.argmin(loss) + 1
    slopes = np.diff(loss[:end]) / np.diff(np.log10(lr[:end]))
    return float(lr[np.argmin(slopes)])


def hard_coded_skips(lrs, losses, skip_begin=10, skip_end=1):
    return right_steepest(lrs, losses, 10, 1)


def diff_right_end(lrs, losses, skip_begin=10, skip_end=1):
    lr, loss = np.asarray(lrs[skip_begin:-skip_end]), np.asarray(losses[skip_begin:-skip_end])
    end = np.argmin(loss) + 1
    slopes = np.diff(loss[:end]) / np.diff(np.log10(lr[:end]))
    return float(lr[1:][np.argmin(slopes)])


STEEPEST_MISTAKES = {
    "the lowest loss": (lowest_loss, "rate of the lowest loss"),
    "past the minimum": (searches_past_the_minimum, "past the lowest point"),
    "slope against the rate": (slope_against_the_rate, "against log10 of the rate"),
    "first points not skipped": (no_skipping, "first 10 points"),
    "steepest ascent": (steepest_ascent, "rises fastest"),
    "an index, not a rate": (returns_the_index, "an index"),
    "skips written in, not taken": (hard_coded_skips, "use the skip_begin and skip_end it is given"),
}


@pytest.mark.parametrize(
    "rule",
    [right_steepest, with_diff, diff_right_end],
    ids=["np.gradient", "np.diff, which agrees here", "np.diff's right end, one point off"],
)
def test_the_right_rule_is_kept(capsys, rule):
    assert check.steepest_lr(rule) is rule
    assert "✅ steepest_lr: right" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", STEEPEST_MISTAKES, ids=list(STEEPEST_MISTAKES))
def test_suggestion_mistakes_are_named(capsys, mistake):
    wrong, phrase = STEEPEST_MISTAKES[mistake]
    assert check.steepest_lr(wrong) is not wrong
    out = capsys.readouterr().out
    assert "❌ steepest_lr:" in out and phrase in out, out


def one_cycle(step, total_steps, max_lr, cosine=False, peak_shift=1, end_shift=1, pct=None, start=None, end=None):
    """A student's OneCycle, with switches for the usual slips."""
    start = max_lr / RECIPE.div_factor if start is None else start
    end = start / RECIPE.final_div_factor if end is None else end
    peak = (RECIPE.pct_start if pct is None else pct) * total_steps - peak_shift
    last = total_steps - end_shift

    def blend(a, b, t):
        return b + (a - b) * (1 + math.cos(math.pi * t)) / 2 if cosine else a + (b - a) * t

    if peak > 0 and step <= peak:
        return blend(start, max_lr, step / peak)
    return blend(max_lr, end, (step - peak) / (last - peak))


ONE_CYCLE_MISTAKES = {
    "cosine annealing": (lambda s, t, m: one_cycle(s, t, m, cosine=True), "cosine"),
    "peak one step late": (lambda s, t, m: one_cycle(s, t, m, peak_shift=0), "the peak comes one step late"),
    "end one step late": (lambda s, t, m: one_cycle(s, t, m, end_shift=0), "the descent ends one step late"),
    "PyTorch's default warm-up": (lambda s, t, m: one_cycle(s, t, m, pct=0.3), "30% of the steps"),
    "div_factor multiplied": (lambda s, t, m: one_cycle(s, t, m, start=m * RECIPE.div_factor), "max_lr * div_factor"),
    "ends at zero": (lambda s, t, m: one_cycle(s, t, m, end=0.0), "ends at 0"),
    "ends where it started": (lambda s, t, m: one_cycle(s, t, m, end=m / RECIPE.div_factor), "ends where it started"),
    "no warm-up": (lambda s, t, m: one_cycle(s, t, m, pct=0.0, peak_shift=0), "no warm-up"),
    "the recipe's max_lr": (lambda s, t, m: one_cycle(s, t, RECIPE.max_lr), "not the max_lr passed in"),
}


def test_the_right_schedule_is_kept(capsys):
    def one_cycle_lr(step, total_steps, max_lr):
        return one_cycle(step, total_steps, max_lr)

    assert check.one_cycle_lr(one_cycle_lr) is one_cycle_lr
    assert "✅ one_cycle_lr: right" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", ONE_CYCLE_MISTAKES, ids=list(ONE_CYCLE_MISTAKES))
def test_schedule_mistakes_are_named(capsys, mistake):
    wrong, phrase = ONE_CYCLE_MISTAKES[mistake]
    assert check.one_cycle_lr(wrong) is not wrong
    out = capsys.readouterr().out
    assert "❌ one_cycle_lr:" in out and phrase in out, out


def test_the_log_slope_rule_ignores_noise_in_the_flat_part_where_the_linear_rule_fails():
    """Why the exercise takes the slope against log10 of the rate: on a noisy range test the
    linear rule (Lightning's suggestion) lands in the flat part."""
    from cifarlab.lr_finder import steepest_descent

    rng = np.random.default_rng(0)
    lrs = np.geomspace(1e-4, 10, 60)
    falls = 2.3 - 1.0 / (1 + np.exp(-4 * (np.log10(lrs) + 1)))  # the real descent is around 0.1
    losses = list(falls + rng.normal(0, 0.01, 60))
    assert 0.02 < check.reference_steepest_lr(list(lrs), losses) < 0.5
    assert steepest_descent(list(lrs), losses, log_lr=False) < 0.01
