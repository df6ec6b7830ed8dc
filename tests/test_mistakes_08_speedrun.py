"""Lesson 08's checks against the mistakes students make in label smoothing, the EMA and flip TTA."""

import pytest
import torch
import torch.nn.functional as F

from cifarlab import selfcheck as check

# --- label smoothing's targets ----------------------------------------------------------------


def right_targets(labels, num_classes, smoothing):
    return (1 - smoothing) * F.one_hot(labels, num_classes).float() + smoothing / num_classes


def right_targets_by_filling(labels, num_classes, smoothing):
    targets = torch.full((len(labels), num_classes), smoothing / num_classes)
    targets[torch.arange(len(labels)), labels] += 1 - smoothing
    return targets


def over_the_others(labels, num_classes, smoothing):
    targets = torch.full((len(labels), num_classes), smoothing / (num_classes - 1))
    targets[torch.arange(len(labels)), labels] = 1 - smoothing
    return targets


def true_class_without_its_share(labels, num_classes, smoothing):
    targets = torch.full((len(labels), num_classes), smoothing / num_classes)
    targets[torch.arange(len(labels)), labels] = 1 - smoothing
    return targets


def the_other_way_round(labels, num_classes, smoothing):
    return smoothing * F.one_hot(labels, num_classes).float() + (1 - smoothing) / num_classes


def ten_classes_written_in(labels, num_classes, smoothing):
    return right_targets(labels, 10, smoothing)


def smoothing_written_in(labels, num_classes, smoothing):
    return right_targets(labels, num_classes, 0.2)


def integer_one_hot(labels, num_classes, smoothing):
    return F.one_hot(labels, num_classes)


def transposed(labels, num_classes, smoothing):
    return right_targets(labels, num_classes, smoothing).T


def one_hot_guesses_the_classes(labels, num_classes, smoothing):
    return (1 - smoothing) * F.one_hot(labels).float() + smoothing / num_classes


def added_on_top(labels, num_classes, smoothing):
    return F.one_hot(labels, num_classes).float() + smoothing / num_classes


TARGET_MISTAKES = {
    "spread over K - 1": (over_the_others, "other classes (s / (K - 1))"),
    "true class without its share": (true_class_without_its_share, "gets only 1 - s"),
    "the other way round": (the_other_way_round, "the other way round"),
    "10 classes written in": (ten_classes_written_in, "use num_classes"),
    "the recipe's 0.2 written in": (smoothing_written_in, "use the smoothing argument"),
    "no smoothing, integer one-hot": (integer_one_hot, "make them float"),
    "classes by images": (transposed, "one row per image"),
    "a numpy array": (lambda labels, k, s: right_targets(labels, k, s).numpy(), "returns a ndarray"),
    "added on top": (added_on_top, "sum to more than 1"),
    "one_hot without num_classes": (one_hot_guesses_the_classes, "F.one_hot(labels, num_classes)"),
}


def test_right_targets_are_praised_with_the_loss_they_make(capsys):
    check.smoothed_targets(right_targets)
    assert "label_smoothing=s" in capsys.readouterr().out


def test_plain_one_hot_float_targets_are_named(capsys):
    check.smoothed_targets(lambda labels, k, s: F.one_hot(labels, k).float())
    assert "the smoothing is not applied" in capsys.readouterr().out


# --- the EMA of the weights -------------------------------------------------------------------


@torch.no_grad()
def right_ema(average, model, decay):
    for mine, theirs in zip(average.state_dict().values(), model.state_dict().values()):
        if mine.is_floating_point():
            mine.mul_(decay).add_(theirs, alpha=1 - decay)
        else:
            mine.copy_(theirs)


@torch.no_grad()
def right_ema_by_parts(average, model, decay):
    for mine, theirs in zip(average.parameters(), model.parameters()):
        mine.lerp_(theirs, 1 - decay)
    for mine, theirs in zip(average.buffers(), model.buffers()):
        mine.copy_(mine * decay + theirs * (1 - decay) if mine.is_floating_point() else theirs)


def without_no_grad(average, model, decay):
    for mine, theirs in zip(average.parameters(), model.parameters()):
        mine.mul_(decay).add_(theirs, alpha=1 - decay)


@torch.no_grad()
def rebinds_a_loop_variable(average, model, decay):
    for mine, theirs in zip(average.parameters(), model.parameters()):
        mine = decay * mine + (1 - decay) * theirs  # the mistake: this changes nothing


@torch.no_grad()
def swapped(average, model, decay):
    for mine, theirs in zip(average.state_dict().values(), model.state_dict().values()):
        if mine.is_floating_point():
            mine.mul_(1 - decay).add_(theirs, alpha=decay)
        else:
            mine.copy_(theirs)


@torch.no_grad()
def updates_the_model(average, model, decay):
    for theirs, mine in zip(average.state_dict().values(), model.state_dict().values()):
        if mine.is_floating_point():
            mine.mul_(decay).add_(theirs, alpha=1 - decay)


@torch.no_grad()
def parameters_only(average, model, decay):
    for mine, theirs in zip(average.parameters(), model.parameters()):
        mine.lerp_(theirs, 1 - decay)


@torch.no_grad()
def everything_averaged(average, model, decay):
    for mine, theirs in zip(average.state_dict().values(), model.state_dict().values()):
        mine.mul_(decay).add_(theirs, alpha=1 - decay)


@torch.no_grad()
def statistics_copied(average, model, decay):
    for mine, theirs in zip(average.parameters(), model.parameters()):
        mine.lerp_(theirs, 1 - decay)
    for mine, theirs in zip(average.buffers(), model.buffers()):
        mine.copy_(theirs)


@torch.no_grad()
def count_left_behind(average, model, decay):
    for mine, theirs in zip(average.state_dict().values(), model.state_dict().values()):
        if mine.is_floating_point():
            mine.lerp_(theirs, 1 - decay)


@torch.no_grad()
def model_not_weighted(average, model, decay):
    for mine, theirs in zip(average.state_dict().values(), model.state_dict().values()):
        if mine.is_floating_point():
            mine.mul_(decay).add_(theirs)


@torch.no_grad()
def copies_the_weights(average, model, decay):
    average.load_state_dict(model.state_dict())


@torch.no_grad()
def decay_written_in(average, model, decay):
    right_ema(average, model, 0.9)


EMA_MISTAKES = {
    "no torch.no_grad": (without_no_grad, "torch.no_grad()"),
    "rebinding a loop variable": (rebinds_a_loop_variable, "the average did not change"),
    "decay swapped": (swapped, "swapped"),
    "the model updated": (updates_the_model, "it changed the model"),
    "BatchNorm statistics forgotten": (parameters_only, "running mean and variance were left"),
    "the integer count averaged": (everything_averaged, "num_batches_tracked"),
    "statistics copied": (statistics_copied, "copied, not averaged"),
    "count not copied": (count_left_behind, "num_batches_tracked"),
    "weights copied": (copies_the_weights, "copied the weights"),
    "0.9 written in": (decay_written_in, "use the decay it is given"),
    "the model's part not weighted": (model_not_weighted, "1 - decay for the model"),
}


def test_the_ema_reference_is_what_lightnings_average_keeps():
    """The exercise's rule is the package's: cifarlab.ema's decay step on a parameter."""
    from cifarlab.ema import ema_decay

    decay = ema_decay(100, 0.2)
    assert decay == pytest.approx(0.95)
    average, model = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    before = average.weight.detach().clone()
    check.reference_ema_update(average, model, decay)
    assert torch.allclose(average.weight, decay * before + (1 - decay) * model.weight)


# --- flip test-time augmentation --------------------------------------------------------------


@torch.no_grad()
def right_tta(model, images):
    model.eval()
    return (model(images) + model(images.flip(-1))) / 2


@torch.inference_mode()
def right_tta_stacked(model, images):
    model.eval()
    return torch.stack([model(images), model(torch.flip(images, dims=[3]))]).mean(0)


def flipped(dim):
    @torch.no_grad()
    def tta(model, images):
        model.eval()
        return (model(images) + model(images.flip(dim))) / 2

    return tta


@torch.no_grad()
def train_mode(model, images):
    return (model(images) + model(images.flip(-1))) / 2


def with_a_graph(model, images):
    model.eval()
    return (model(images) + model(images.flip(-1))) / 2


@torch.no_grad()
def mirror_only(model, images):
    model.eval()
    return model(images.flip(-1))


@torch.no_grad()
def summed(model, images):
    model.eval()
    return model(images) + model(images.flip(-1))


@torch.no_grad()
def probabilities(model, images):
    model.eval()
    return (model(images).softmax(1) + model(images.flip(-1)).softmax(1)) / 2


@torch.no_grad()
def eval_afterwards(model, images):
    logits = (model(images) + model(images.flip(-1))) / 2
    model.eval()
    return logits


@torch.no_grad()
def right_but_back_in_training(model, images):
    model.eval()
    logits = (model(images) + model(images.flip(-1))) / 2
    model.train()
    return logits


@torch.no_grad()
def mirrors_the_callers_batch(model, images):
    model.eval()
    plain = model(images)
    images[:] = images.flip(3)
    return (plain + model(images)) / 2


@torch.no_grad()
def plain_only(model, images):
    model.eval()
    return model(images)


@torch.no_grad()
def a_list_of_two(model, images):
    model.eval()
    return [model(images), model(images.flip(-1))]


@torch.no_grad()
def mean_over_the_batch(model, images):
    model.eval()
    return torch.cat([model(images), model(images.flip(-1))]).mean(0)


TTA_MISTAKES = {
    "upside down": (flipped(2), "upside down"),
    "colour channels": (flipped(1), "colour channels"),
    "the batch reversed": (flipped(0), "order of the batch"),
    "training mode": (train_mode, "training mode"),
    "model.eval() too late": (eval_afterwards, "training mode"),
    "a gradient graph": (with_a_graph, "torch.no_grad()"),
    "the mirror alone": (mirror_only, "mirror images' logits alone"),
    "a sum": (summed, "divide by 2"),
    "probabilities": (probabilities, "mean of the logits"),
    "the caller's batch mirrored in place": (mirrors_the_callers_batch, "changed the images it was given"),
    "the images as they are, only": (plain_only, "the mirror images are not used"),
    "a list of the two views": (a_list_of_two, "returns a list"),
    "the mean over the batch": (mean_over_the_batch, "one row of logits per image"),
}


def test_the_tta_reference_agrees_with_the_package():
    from cifarlab.model import ResNet9
    from cifarlab.tta import tta_logits

    model = ResNet9().eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(check.reference_flip_tta(model, x), tta_logits(model, x, "flip"), atol=1e-5)


# --- every check: the right answers kept, each mistake named -----------------------------------

CHECKS = {  # exercise: (its check, right answers, its mistakes with the phrase the verdict must contain)
    "smoothed_targets": (check.smoothed_targets, [right_targets, right_targets_by_filling], TARGET_MISTAKES),
    "ema_update": (check.ema_update, [right_ema, right_ema_by_parts], EMA_MISTAKES),
    "flip_tta": (check.flip_tta, [right_tta, right_tta_stacked, right_but_back_in_training], TTA_MISTAKES),
}
RIGHT = [(name, right) for name, (_, rights, _) in CHECKS.items() for right in rights]
WRONG = [(name, mistake) for name, (_, _, mistakes) in CHECKS.items() for mistake in mistakes]


@pytest.mark.parametrize(("exercise", "right"), RIGHT, ids=[f"{n}: {r.__name__}" for n, r in RIGHT])
def test_right_answers_are_kept(capsys, exercise, right):
    assert CHECKS[exercise][0](right) is right
    assert f"✅ {exercise}: right" in capsys.readouterr().out


@pytest.mark.parametrize(("exercise", "mistake"), WRONG, ids=[f"{n}: {m}" for n, m in WRONG])
def test_mistakes_are_named(capsys, exercise, mistake):
    run_check, _, mistakes = CHECKS[exercise]
    wrong, phrase = mistakes[mistake]
    assert run_check(wrong) is not wrong
    out = capsys.readouterr().out
    assert f"❌ {exercise}:" in out and phrase in out, out
