from pathlib import Path

import pytest

import cifarlab
from cifarlab.profile import ENV_VAR, get_profile


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    profile = get_profile()
    assert profile.name == "full"
    assert profile.train_size is None and profile.val_size == 5_000 and profile.test_size is None


def test_smoke_profile_is_small_and_on_cpu(monkeypatch):
    monkeypatch.setenv(ENV_VAR, " Smoke ")
    profile = get_profile()
    assert profile.name == "smoke"
    assert profile.accelerator == "cpu"
    assert profile.train_size <= 2_000 and profile.epochs <= 2 and profile.limit_batches


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"CIFARLAB_PROFILE='fast'.*'smoke'.*'full'"):
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
