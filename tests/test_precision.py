"""Precision that knows the machine: CPU features, the auto policy, the time-boxed timing."""

import pytest
import torch

from cifarlab import doctor, hardware, precision
from cifarlab.hardware import CpuFeatures
from cifarlab.speed import compare, comparison_table, default_settings, throughput_figure, training_throughput

WITH_BF16 = CpuFeatures("test CPU", bf16_instructions=True, amx=False, onednn_cap=None)
WITHOUT_BF16 = CpuFeatures("test CPU", bf16_instructions=False, amx=False, onednn_cap=None)
TINY = (8, 16, 16, 16)


@pytest.fixture()
def cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def use(features: CpuFeatures) -> None:
        monkeypatch.setattr(precision, "cpu_features", lambda: features)

    return use


@pytest.mark.parametrize(
    "cap, bf16, amx",
    [
        (None, True, True),
        ("AVX2", False, False),  # what makes a bf16 CPU behave like one without
        ("avx512_core", False, False),  # AVX-512 without its bf16 extension: emulated too
        ("AVX512_CORE_BF16", True, False),
        ("AVX512_CORE_AMX", True, True),
        ("ALL", True, True),
        ("NOT_A_LEVEL", True, True),  # oneDNN ignores a name it does not know
    ],
)
def test_onednn_cap_decides_what_is_native(cap, bf16, amx):
    features = CpuFeatures("x", bf16_instructions=True, amx=True, onednn_cap=cap)
    assert (features.native_bf16, features.native_amx) == (bf16, amx)


def test_cpu_description_says_whether_bf16_is_native():
    assert "native bf16" in WITH_BF16.describe() and "no AMX" in WITH_BF16.describe()
    assert "no native bf16" in WITHOUT_BF16.describe() and "emulated" in WITHOUT_BF16.describe()
    capped = CpuFeatures("x", True, False, "AVX2")
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in capped.describe() and "emulated" in capped.describe()


def test_features_of_this_machine_follow_cpuinfo_and_the_cap(monkeypatch):
    _, flags = hardware._cpuinfo()
    hardware.cpu_features.cache_clear()
    try:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
        if flags:
            assert hardware.cpu_features().native_bf16 == bool({"avx512_bf16", "amx_bf16", "bf16"} & flags)
        hardware.cpu_features.cache_clear()
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
        assert not hardware.cpu_features().native_bf16
    finally:
        hardware.cpu_features.cache_clear()


def test_auto_on_a_cpu_with_native_bf16(cpu_only):
    cpu_only(WITH_BF16)
    chosen = precision.choose_settings()
    assert (chosen.precision, chosen.channels_last, chosen.augment) == ("bf16-mixed", True, "batch")
    assert len(chosen.reasons) == 3 and "has bf16 units" in chosen.reasons[0]


def test_auto_on_a_cpu_without_bf16_stays_in_fp32(cpu_only):
    cpu_only(WITHOUT_BF16)
    chosen = precision.choose_settings()
    assert (chosen.precision, chosen.channels_last, chosen.augment) == ("32-true", True, "batch")
    assert "emulated" in chosen.reasons[0]


def test_what_the_user_names_is_kept_without_reasons(cpu_only):
    cpu_only(WITH_BF16)
    chosen = precision.choose_settings("32-true", False, "albumentations")
    assert (chosen.precision, chosen.channels_last, chosen.augment, chosen.reasons) == (
        "32-true",
        False,
        "albumentations",
        (),
    )
    with pytest.raises(ValueError, match="augment='fast'"):
        precision.choose_settings(augment="fast")


def test_bf16_on_a_cpu_that_emulates_it_warns_with_the_reason(cpu_only):
    cpu_only(WITHOUT_BF16)
    with pytest.warns(precision.SlowPrecisionWarning, match="emulated.*32-true"):
        assert precision.choose_precision("bf16") == "bf16-mixed"
    cpu_only(WITH_BF16)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision.choose_precision("bf16-mixed") == "bf16-mixed"


def test_precision_follows_the_device(monkeypatch, cpu_only):
    cpu_only(WITHOUT_BF16)
    assert precision.choose_precision("auto") == "32-true"
    with pytest.raises(ValueError, match="needs a GPU"):
        precision.choose_precision("16-mixed")
    with pytest.raises(ValueError, match="not one of"):
        precision.choose_precision("8-bit")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert precision.choose_settings().precision == "bf16-mixed"
    assert "tensor cores" in precision.choose_settings().reasons[1]
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert precision.choose_precision("auto") == "16-mixed"
    assert precision.choose_precision("auto", accelerator="cpu") == "32-true"


def test_doctor_reports_the_cpu_and_what_auto_uses(cpu_only, monkeypatch):
    cpu_only(WITHOUT_BF16)
    monkeypatch.setattr(hardware, "cpu_features", lambda: WITHOUT_BF16)
    finding = doctor.cpu_finding()
    assert "no native bf16" in finding.detail and "32-true" in finding.advice and "emulated" in finding.advice


def test_a_setting_that_cannot_finish_a_step_in_its_budget_is_skipped_with_the_reason():
    result = training_throughput("32-true", batch_size=512, seconds=1e-4, device="cpu", widths=TINY)
    assert result.images_per_second is None and result.steps == 0
    assert "one step of 512 images would take" in result.skipped and "budget" in result.skipped
    with pytest.raises(ValueError, match="seconds"):
        training_throughput(seconds=0)


def test_throughput_comparison_is_time_boxed_and_reports_skips():
    settings = default_settings("cpu")
    assert ("16-mixed", False) not in settings and ("bf16-mixed", True) in settings
    # a budget no loaded machine misses, with max_steps bounding the cost on any machine
    results = compare(
        [("32-true", False), ("32-true", True)], seconds=60.0, batch_size=4, device="cpu", widths=TINY, max_steps=2
    )
    assert all(r.images_per_second > 0 and 1 <= r.steps <= 2 for r in results), results
    skipped = training_throughput("32-true", batch_size=512, seconds=1e-4, device="cpu", widths=TINY)
    table = comparison_table([*results, skipped])
    assert "1.00x" in table and skipped.skipped in table and "device: cpu" in table
    figure = throughput_figure([*results, skipped])
    assert len(figure.axes[0].patches) == 2 and "skipped" in figure.axes[0].get_title()
    # a machine too busy to measure anything in the budget: the lesson's figure says so instead of failing
    nothing = throughput_figure([skipped])
    assert not nothing.axes[0].patches and "no setting could be measured" in nothing.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="needs a GPU"):
        compare([("16-mixed", False)], device="cpu")
