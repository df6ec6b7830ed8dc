"""The shipped pretrained model: loaded by name, hash-checked, provenance complete, as good as it says."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from cifarlab import pretrained
from cifarlab.checkpoint import CheckpointError, load_model
from cifarlab.cli import main
from cifarlab.data import load_splits, resolve_source
from cifarlab.evaluation import evaluate
from cifarlab.model import PARAMETERS_AT_DEFAULTS, count_parameters
from cifarlab.profile import get_profile

PROVENANCE_FIELDS = {
    "data",
    "recipe",
    "epochs",
    "test_accuracy",
    "device",
    "date",
    "versions",
    "sha256",
    "history",
    "train_config",
}


def test_the_shipped_model_is_small_complete_and_loads():
    assert pretrained.DEFAULT in pretrained.available()
    info = pretrained.provenance()
    assert PROVENANCE_FIELDS <= set(info)
    path = pretrained.WEIGHTS_DIR / info["file"]
    assert path.stat().st_size == info["bytes"] < 15 * 2**20
    assert pretrained.sha256(path) == info["sha256"]
    state = torch.load(path, weights_only=True)["state_dict"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    loaded = pretrained.load_pretrained()
    assert count_parameters(loaded.model) == PARAMETERS_AT_DEFAULTS
    assert loaded.classes[:3] == ("airplane", "automobile", "bird") and len(loaded.classes) == 10
    assert len(info["history"]) == info["epochs"]
    assert info["versions"]["torch"] and info["versions"]["lightning"]


def test_the_shipped_model_is_as_accurate_as_its_provenance_says(jpeg_tarball, shared_cache, monkeypatch):
    """On 1,000 test images the accuracy lies within 4 standard errors of the recorded one."""
    monkeypatch.setenv("CIFARLAB_CACHE", str(shared_cache))
    profile = get_profile("smoke").with_overrides(test_size=1000)
    test = load_splits(resolve_source(str(jpeg_tarball)), profile).test
    loaded = pretrained.load_pretrained()
    result = evaluate(loaded.model, test, loaded.mean, loaded.std)
    recorded = pretrained.provenance()["test_accuracy"]
    tolerance = 4 * math.sqrt(recorded * (1 - recorded) / len(test))
    print(
        f"pretrained on {len(test)} test images: {result.accuracy:.2%} (recorded on the full test set: {recorded:.2%})"
    )
    assert abs(result.accuracy - recorded) < tolerance


@pytest.fixture()
def shipped_here(synthetic_run, tmp_path, monkeypatch):
    """A model exported from the synthetic run into a private weights folder."""
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path / "weights")
    pretrained.export_pretrained(synthetic_run, "shapes", tmp_path / "weights")
    return tmp_path / "weights"


def test_export_writes_fp16_weights_and_provenance_that_predict_like_the_run(
    shipped_here, synthetic_run, synthetic_test
):
    info = pretrained.provenance("shapes")
    assert PROVENANCE_FIELDS <= set(info)
    assert info["test_accuracy"] == json.loads((synthetic_run / "summary.json").read_text())["test_acc"]
    assert info["recipe"]["optimizer"] == "sgd" and info["epochs"] == 6
    full = load_model(synthetic_run / "checkpoints" / "best.ckpt")
    half = pretrained.load_pretrained("shapes")
    a = evaluate(full.model, synthetic_test, full.mean, full.std)
    b = evaluate(half.model, synthetic_test, half.mean, half.std)
    assert (a.predictions == b.predictions).mean() > 0.98
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=0.02)
    assert half.classes == full.classes and half.mean == pytest.approx(full.mean)
    # the provenance says how to make it again and how well the file itself does, plain and with TTA
    stored = json.loads((synthetic_run / "config.json").read_text())
    assert info["command"].startswith("cifarlab train") and f"--epochs {stored['epochs']}" in info["command"]
    assert info["commit"] == json.loads((synthetic_run / "summary.json").read_text())["commit"]
    assert "constant momentum" in info["recipe"]["schedule"] and info["recipe"]["cutout_p"] == 1.0
    measured = info["measured"]
    # the run's own test split, fp16 weights against the run's fp32 ones: the same but for rounding
    assert measured["test_images"] > 0 and abs(measured["test_accuracy"] - info["test_accuracy"]) < 0.02
    assert set(measured["tta_accuracy"]) == {"flip", "flip-translate"}


def test_a_corrupt_or_placeholder_file_is_refused(shipped_here):
    weights = shipped_here / "shapes.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its provenance"):
        pretrained.load_pretrained("shapes")
    weights.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 13000000\n")
    with pytest.raises(CheckpointError, match="Git LFS pointer"):
        pretrained.load_pretrained("shapes")
    weights.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        pretrained.load_pretrained("shapes")
    with pytest.raises(CheckpointError, match="no pretrained model called 'nope'"):
        pretrained.load_pretrained("nope")


def test_export_refuses_an_unfinished_run(tmp_path, synthetic_run):
    partial = tmp_path / "partial"
    shutil.copytree(synthetic_run, partial)
    (partial / "summary.json").unlink()
    with pytest.raises(CheckpointError, match="no summary.json"):
        pretrained.export_pretrained(partial, "x", tmp_path / "w")


def test_cli_export_and_evaluate_by_name(shipped_here, synthetic_run, capsys, monkeypatch):
    assert main(["export", str(synthetic_run), "--name", "shapes2", "--out", str(shipped_here)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["evaluate", "shapes2", "--source", "synthetic", "--profile", "smoke"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_lesson_06_studies_any_model_with_its_history(synthetic_run, tmp_path):
    """MODEL = None, a run's checkpoint or an export: each comes with its training history."""
    _, history, about = pretrained.model_and_history()
    assert len(history) == pretrained.provenance()["epochs"] and about.startswith("pretrained: ")
    checkpoint = synthetic_run / "checkpoints" / "best.ckpt"
    loaded, history, about = pretrained.model_and_history(checkpoint)
    assert len(history) == 6 and "6 epochs of history from" in about and len(loaded.classes) == 10
    export = pretrained.export_pretrained(synthetic_run, "mine", tmp_path / "export")
    _, history, about = pretrained.model_and_history(export)
    assert len(history) == 6 and about.startswith(f"{export}: ") and "test accuracy" in about
