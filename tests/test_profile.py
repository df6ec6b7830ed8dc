from pathlib import Path

import pytest

import cifarlab
from cifarlab.profile import ENV_VAR, get_profile


@pytest.mark.parametrize("gpu, expected", [(True, "full"), (False, "cpu")])
def test_default_profile_is_full_on_a_gpu_and_cpu_without(monkeypatch, gpu, expected):
    import torch

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert get_profile().name == expected


def test_full_profile_is_the_whole_data_set_and_recipe():
    profile = get_profile("full")
    assert profile.train_size is None and profile.val_size == 5_000 and profile.test_size is None
    assert profile.epochs == 24 and profile.batch_size == 512 and profile.limit_batches is None


def test_cpu_profile_uses_real_data_on_a_budget():
    profile = get_profile("cpu")
    assert 1_000 < profile.train_size <= 10_000 and profile.epochs <= 5 and profile.limit_batches is None


def test_smoke_profile_is_small_and_on_cpu(monkeypatch):
    monkeypatch.setenv(ENV_VAR, " Smoke ")
    profile = get_profile()
    assert profile.name == "smoke"
    assert profile.accelerator == "cpu"
    assert profile.train_size <= 2_000 and profile.epochs <= 2 and profile.limit_batches


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"CIFARLAB_PROFILE='fast'.*'smoke'.*'cpu'.*'full'"):
        get_profile()


def test_overrides_make_a_changed_copy():
    smoke = get_profile("smoke")
    bigger = smoke.with_overrides(batch_size=128)
    assert bigger.batch_size == 128 and smoke.batch_size != 128


def test_only_the_profile_module_reads_the_variable():
    package = Path(cifarlab.__file__).parent
    literals = (f'"{ENV_VAR}"', f"'{ENV_VAR}'")
    readers = sorted(
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if any(lit in p.read_text() for lit in literals)
    )
    assert readers == ["profile.py"]
