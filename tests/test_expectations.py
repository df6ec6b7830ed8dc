"""What a training lesson promises per profile, and the check of a run's history against it."""

import math

from cifarlab.expectations import ACCURACY_FLOOR, judge_history, what_to_expect
from cifarlab.profile import get_profile

CPU, SMOKE = get_profile("cpu"), get_profile("smoke")
GOOD_CPU_RUN = [  # lesson 03's run in the cpu profile
    {"epoch": 1, "train_loss": 2.020, "val_loss": 2.070, "val_acc": 0.326},
    {"epoch": 2, "train_loss": 1.547, "val_loss": 1.410, "val_acc": 0.482},
    {"epoch": 3, "train_loss": 1.241, "val_loss": 1.256, "val_acc": 0.547},
]


def test_a_smoke_run_is_judged_only_on_what_it_can_show():
    text = judge_history([{"epoch": 1, "train_loss": 3.178, "val_loss": 139.527, "val_acc": 0.075}], SMOKE)
    assert "✗" not in text and "✓ every loss is a finite number" in text and "say nothing" in text
    assert "only shows the code runs" in what_to_expect(SMOKE)


def test_a_smoke_run_with_a_nan_loss_fails():
    assert "✗ every loss is a finite number" in judge_history([{"epoch": 1, "train_loss": math.nan}], SMOKE)


def test_a_good_cpu_run_keeps_every_promise():
    text = judge_history(GOOD_CPU_RUN, CPU)
    assert "✗" not in text and text.count("✓") == 4, text
    assert f"above {ACCURACY_FLOOR['cpu']:.0%}" in what_to_expect(CPU)


def test_a_cpu_run_that_does_not_learn_is_flagged():
    stuck = [dict(row, train_loss=2.6 + row["epoch"] / 100, val_acc=0.11) for row in GOOD_CPU_RUN]
    text = judge_history(stuck, CPU)
    assert "✗ the training loss fell every epoch" in text and "✗ the validation accuracy (11.0%)" in text
    assert "✗ the last training loss" in text
