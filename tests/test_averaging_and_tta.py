"""The recipe's momentum, the EMA of the weights (cifarlab.ema) and test-time augmentation (cifarlab.tta)."""

import pytest
import torch
from torch import nn

from cifarlab.checkpoint import hyper_parameters, load_model
from cifarlab.data import make_synthetic
from cifarlab.ema import WeightAveraging, ema_decay
from cifarlab.errors import CheckpointError, OptionError
from cifarlab.evaluation import evaluate
from cifarlab.recipe import RECIPE
from cifarlab.schedule import one_cycle, schedule_curve
from cifarlab.train import train
from cifarlab.tta import logits_by_level, tta_logits

from .test_training import config


def momenta(momentum: float, **cycle) -> list[float]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.4, momentum=momentum, nesterov=True)
    schedule = one_cycle(optimizer, 0.4, 870, **cycle)
    seen = []
    for _ in range(870):
        seen.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        schedule.step()
    return seen


def test_one_cycle_keeps_the_momentum_sgd_was_given():
    # the review's reproduction: with PyTorch's default cycle, momentum=0.5 and 0.9 gave the same run
    assert set(momenta(0.5)) == {0.5} and set(momenta(0.9)) == {0.9}
    cycled = momenta(0.5, cycle_momentum=True)
    assert cycled == momenta(0.9, cycle_momentum=True)  # the defect, still there when asked for
    assert max(cycled) == pytest.approx(RECIPE.max_momentum) and min(cycled) == pytest.approx(
        RECIPE.base_momentum, abs=1e-3
    )
    assert set(schedule_curve(100, 0.4)[1]) == {RECIPE.momentum}  # what lesson 05 draws


def test_older_checkpoints_resume_with_the_momentum_cycle_and_cutout_they_had():
    old = hyper_parameters({"hyper_parameters": {"lr": 0.4}})
    assert old["max_lr"] == 0.4 and old["cycle_momentum"] is True and old["cutout_p"] == 0.5
    new = hyper_parameters({"hyper_parameters": {"max_lr": 0.4, "cycle_momentum": False, "cutout_p": 1.0}})
    assert new["cycle_momentum"] is False and new["cutout_p"] == 1.0
    assert "cycle_momentum" not in hyper_parameters({"state_dict": {}})  # a bare state dict gets nothing added


class MirrorDetector(nn.Module):
    """Class 0's logit: left half minus right half of the image; class 1's: its negative."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.shape[-1] // 2
        score = x[..., :w].mean(dim=(1, 2, 3)) - x[..., w:].mean(dim=(1, 2, 3))
        return torch.stack([score, -score], dim=1)


def test_flip_tta_averages_the_image_with_its_mirror():
    x = torch.randn(5, 3, 32, 32)
    model = MirrorDetector()
    assert torch.equal(tta_logits(model, x, "none"), model(x))
    assert torch.allclose(tta_logits(model, x, "flip"), torch.zeros(5, 2), atol=1e-6)  # mirror cancels it
    levels = logits_by_level(model, x, "flip-translate")
    assert list(levels) == ["none", "flip", "flip-translate"] and levels["flip-translate"].shape == (5, 2)
    assert list(logits_by_level(model, x, "flip")) == ["none", "flip"]
    with pytest.raises(OptionError, match="flip-translate"):
        tta_logits(model, x, "mirror")


def test_translate_tta_shifts_by_one_pixel_each_way():
    from cifarlab.tta import _shifted

    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    down_right, up_left = _shifted(x, 1, 1), _shifted(x, -1, -1)
    assert torch.equal(down_right[..., 1:, 1:], x[..., :-1, :-1]) and torch.equal(
        up_left[..., :-1, :-1], x[..., 1:, 1:]
    )
    assert torch.equal(down_right[..., 0, 1:], x[..., 1, :-1])  # the gap is reflected, not black

    seen = []

    class Recorder(nn.Module):
        def forward(self, batch):
            seen.append(batch.clone())
            return batch.mean(dim=(2, 3))[:, :2]

    tta_logits(Recorder(), x, "flip-translate")
    assert len(seen) == 6  # the image, its mirror, and both of them shifted two ways


def test_evaluate_reports_each_tta_level_beside_the_plain_accuracy():
    images = make_synthetic(64, seed=3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    plain = evaluate(model, images, (0.5,) * 3, (0.25,) * 3)
    both = evaluate(model, images, (0.5,) * 3, (0.25,) * 3, tta="flip-translate")
    assert plain.tta == {"none": plain.accuracy} and both.accuracy == plain.accuracy
    assert list(both.tta) == ["none", "flip", "flip-translate"] and both.tta["none"] == plain.accuracy
    assert "flip-translate" in both.report() and "flip-translate" not in plain.report()
    with pytest.raises(OptionError):
        evaluate(model, images, (0.5,) * 3, (0.25,) * 3, tta="all")


def test_the_ema_callback_averages_like_the_exercise_and_copies_the_batch_count():
    """cifarlab.ema's average, through torch's AveragedModel as Lightning drives it, is lesson 08's
    ema_update: parameters and running statistics averaged, num_batches_tracked copied."""
    import copy

    from torch.optim.swa_utils import AveragedModel

    from cifarlab.ema import ema_callback
    from cifarlab.selfcheck import reference_ema_update

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    callback = ema_callback()
    callback.decay = 0.9
    averaged = AveragedModel(model, avg_fn=callback._average, use_buffers=True)
    by_hand = None
    for _ in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        model.train()(torch.randn(5, 3, 8, 8))  # new running statistics, and one more batch counted
        averaged.update_parameters(model)  # its first update copies the model: the average starts there
        if by_hand is None:
            by_hand = copy.deepcopy(model)
        else:
            reference_ema_update(by_hand, model, 0.9)
    ours, reference = averaged.module.state_dict(), by_hand.state_dict()
    for name, tensor in reference.items():
        torch.testing.assert_close(ours[name], tensor, msg=name)
    assert int(ours["1.num_batches_tracked"]) == int(model.state_dict()["1.num_batches_tracked"]) == 3


def test_accuracy_of_any_logits_function_agrees_with_evaluate():
    from cifarlab.evaluation import accuracy_of
    from cifarlab.selfcheck import reference_flip_tta

    images = make_synthetic(70, seed=4)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 30 * 30, 10)).eval()
    stats = (0.5,) * 3, (0.25,) * 3
    both = evaluate(model, images, *stats, tta="flip")
    assert accuracy_of(model, images, *stats, batch_size=32) == pytest.approx(both.accuracy)  # 32, 32, 6
    flipped = accuracy_of(lambda x: reference_flip_tta(model, x), images, *stats, batch_size=32)
    assert flipped == pytest.approx(both.tta["flip"])
    for bad in (0, -1, 2.5):
        with pytest.raises(OptionError, match="whole number of images"):
            accuracy_of(model, images, *stats, batch_size=bad)
    with pytest.raises(OptionError, match="no images"):
        accuracy_of(model, make_synthetic(0, seed=4), *stats)


def test_ema_decay_follows_the_length_of_the_run():
    assert ema_decay(1000, 0.2) == pytest.approx(1 - 1 / 200)
    assert ema_decay(2, 0.2) == 0.0  # a memory under one step: the average is the weights
    for bad in (0, -0.1, 1.5):
        with pytest.raises(OptionError, match="ema_horizon"):
            ema_decay(100, bad)


def test_without_lightnings_weight_averaging_ema_says_which_lightning_it_needs(monkeypatch):
    from cifarlab import ema

    monkeypatch.setattr(ema, "WeightAveraging", None)  # Lightning 2.4-2.5 (.ci/lowest installs 2.4)
    with pytest.raises(OptionError, match="Lightning 2.6 or later"):
        ema.ema_callback()


@pytest.mark.skipif(
    WeightAveraging is None,
    reason="Lightning before 2.6 has no WeightAveraging: --ema says so (the test above), and runs without it",
)
def test_an_ema_run_checkpoints_the_average_and_keeps_the_trained_weights(tmp_path):
    result = train(config(tmp_path, ema=True, epochs=2, limit=4))
    last = result.last_checkpoint
    contents = torch.load(last, weights_only=True)
    assert contents["hyper_parameters"]["ema_horizon"] == RECIPE.ema_horizon and result.summary["ema"]
    average, trained = contents["state_dict"], contents["current_model_state"]
    differ = [k for k in trained if k.endswith("weight") and not torch.equal(average[k], trained[k])]
    assert differ, "the EMA's weights are the trained ones"
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(load_model(last).model(x), load_model(last, trained_weights=True).model(x))
    assert "EMA of the weights" in (result.out / "summary.txt").read_text()
    # the test scored the average that best.ckpt holds, not the trained weights beneath it
    from cifarlab.data import load_splits

    run_config = config(tmp_path, ema=True, epochs=2, limit=4)
    test = load_splits("synthetic", run_config.profile).test
    best = load_model(result.best_checkpoint)
    assert result.test["test_acc"] == pytest.approx(evaluate(best.model, test, best.mean, best.std).accuracy, abs=1e-6)
    # it resumes as it started (with its EMA), and a run without one cannot gain one on resume
    resumed = train(config(tmp_path, epochs=None, resume=True))
    assert resumed.summary["ema"]
    plain = train(config(tmp_path, name="plain", epochs=1))
    with pytest.raises(CheckpointError, match="not from a run with an EMA"):
        load_model(plain.last_checkpoint, trained_weights=True)
    with pytest.raises(OptionError, match="ema_horizon"):
        train(config(tmp_path, name="plain", epochs=None, resume=True, ema=True))


def test_the_valley_picture_shows_the_average_nearer_the_floor():
    import re

    from cifarlab.ema import noisy_valley_figure
    from cifarlab.selfcheck import reference_ema_update

    def distances(update):
        title = noisy_valley_figure(update, decay=0.9).axes[0].get_title()
        return [float(d) for d in re.findall(r"(?:weights|EMA) (\d+\.\d+)", title)]

    weights, average = distances(reference_ema_update)
    assert average < 0.8 * weights  # measured: 0.38 against 0.63
    weights_again, frozen = distances(lambda average, model, decay: None)  # an average that never moves
    assert weights_again == weights and frozen > 2 * weights
