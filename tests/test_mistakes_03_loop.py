"""Lesson 03's checks against the mistakes students make in a training epoch and in evaluation.

Each wrong function below is written the way a student would write it; the check must answer
❌ with a message that names that mistake, and hand back a stand-in that says so.
"""

import pytest
import torch
import torch.nn.functional as F

from cifarlab import selfcheck as check
from cifarlab.selfcheck import loop as loop_checks
from cifarlab.selfcheck._cases import random_batches

DEVICE = "cpu"


def right_epoch(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        x, y = x.to(DEVICE), y.to(DEVICE)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(y)
        seen += len(y)
    return total / seen


def epoch_without_train_mode(model, batches, optimizer, schedule):
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(y)
        seen += len(y)
    return total / seen


def epoch_without_zero_grad(model, batches, optimizer, schedule):
    model.train()
    losses = []
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item() * len(y))
    return sum(losses) / 19


def epoch_zero_grad_after_backward(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        schedule.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


def epoch_step_before_backward(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        optimizer.step()
        loss.backward()
        schedule.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


def epoch_schedule_per_epoch(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    schedule.step()
    return total / seen


def epoch_without_schedule(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


def epoch_mean_of_batch_means(model, batches, optimizer, schedule):
    model.train()
    losses = []
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def epoch_returns_last_loss(model, batches, optimizer, schedule):
    model.train()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return loss.item()


def epoch_keeps_the_graph(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total, seen = total + loss * len(y), seen + len(y)
    return total / seen


def epoch_softmax_first(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x).softmax(1), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


EPOCH_MISTAKES = {
    "no model.train()": (epoch_without_train_mode, "eval mode"),
    "no zero_grad": (epoch_without_zero_grad, "never cleared"),
    "zero_grad after backward": (epoch_zero_grad_after_backward, "between backward() and step()"),
    "step before backward": (epoch_step_before_backward, "step() comes before backward()"),
    "schedule stepped per epoch": (epoch_schedule_per_epoch, "stepped 1 time(s) in an epoch of 3 batches"),
    "schedule never stepped": (epoch_without_schedule, "never moved"),
    "mean of per-batch losses": (epoch_mean_of_batch_means, "mean of the per-batch losses"),
    "last batch's loss": (epoch_returns_last_loss, "last batch's loss"),
    "loss kept with its graph": (epoch_keeps_the_graph, "attached to the gradient graph"),
    "softmax before cross_entropy": (epoch_softmax_first, "no softmax before it"),
}


def test_a_right_epoch_is_kept(capsys):
    assert check.train_one_epoch(right_epoch, device=DEVICE) is right_epoch
    assert "✅ train_one_epoch: right" in capsys.readouterr().out
    assert check.outcomes()["train_one_epoch"].passed


@pytest.mark.parametrize("mistake", EPOCH_MISTAKES, ids=list(EPOCH_MISTAKES))
def test_epoch_mistakes_are_named(capsys, mistake):
    wrong, phrase = EPOCH_MISTAKES[mistake]
    used = check.train_one_epoch(wrong, device=DEVICE)
    out = capsys.readouterr().out
    assert "❌ train_one_epoch:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["train_one_epoch"].passed


def test_the_stand_in_says_so_every_time_it_runs(capsys):
    used = check.train_one_epoch(epoch_without_train_mode, device=DEVICE)
    capsys.readouterr()
    model, optimizer, schedule = loop_checks._setup(DEVICE)
    loss = used(model, random_batches(loop_checks.BATCH_SIZES, 0), optimizer, schedule)
    out = capsys.readouterr().out
    assert "⚠ [cifarlab's reference epoch_without_train_mode stands in here" in out and loss > 0


def test_a_model_on_another_device_than_the_batches_is_named():
    from cifarlab.selfcheck._core import _crash_message

    error = RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
    )
    assert "x.to(device)" in _crash_message(error)


def right_evaluate(model, batches):
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            x, y = x.to(DEVICE), y.to(DEVICE)
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total / seen, correct / seen


def evaluate_in_train_mode(model, batches):
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total / seen, correct / seen


def evaluate_with_gradients(model, batches):
    model.eval()
    total, correct, seen = 0.0, 0, 0
    for x, y in batches:
        logits = model(x)
        total += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return total / seen, correct / seen


def evaluate_batch_mean_accuracy(model, batches):
    model.eval()
    losses, accuracies, sizes = [], [], []
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            accuracies.append((logits.argmax(1) == y).float().mean().item())
            sizes.append(len(y))
    return sum(losses) / sum(sizes), sum(accuracies) / len(accuracies)


def evaluate_batch_mean_loss(model, batches):
    model.eval()
    losses, correct, seen = [], 0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            losses.append(F.cross_entropy(logits, y).item())
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return sum(losses) / len(losses), correct / seen


def evaluate_argmax_over_batch(model, batches):
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(0) == y).sum().item()
            seen += len(y)
    return total / seen, correct / seen


def evaluate_in_percent(model, batches):
    loss, accuracy = right_evaluate(model, batches)
    return loss, 100 * accuracy


def evaluate_count(model, batches):
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total / seen, correct


EVALUATE_MISTAKES = {
    "no model.eval()": (evaluate_in_train_mode, "ran in training mode"),
    "no torch.no_grad()": (evaluate_with_gradients, "torch.no_grad()"),
    "accuracy averaged per batch": (evaluate_batch_mean_accuracy, "mean of the per-batch accuracies"),
    "loss averaged per batch": (evaluate_batch_mean_loss, "mean of the per-batch means"),
    "argmax over the batch axis": (evaluate_argmax_over_batch, "batch axis (dimension 0)"),
    "accuracy in percent": (evaluate_in_percent, "in percent"),
    "a count, not a fraction": (evaluate_count, "number of correct images"),
}


def test_a_right_evaluation_is_kept(capsys):
    assert check.evaluate(right_evaluate, device=DEVICE) is right_evaluate
    assert "✅ evaluate: right" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", EVALUATE_MISTAKES, ids=list(EVALUATE_MISTAKES))
def test_evaluation_mistakes_are_named(capsys, mistake):
    wrong, phrase = EVALUATE_MISTAKES[mistake]
    used = check.evaluate(wrong, device=DEVICE)
    out = capsys.readouterr().out
    assert "❌ evaluate:" in out and phrase in out, out
    assert used is not wrong


def epoch_model_zero_grad(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


def epoch_grads_set_to_none(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        for p in model.parameters():
            p.grad = None
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        schedule.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


@pytest.mark.parametrize(
    "right", [epoch_model_zero_grad, epoch_grads_set_to_none], ids=["model.zero_grad", "grad=None"]
)
def test_other_right_ways_to_clear_the_gradients_are_accepted(capsys, right):
    assert check.train_one_epoch(right, device=DEVICE) is right, capsys.readouterr().out


def epoch_with_label_smoothing(model, batches, optimizer, schedule):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
    return total / seen


def test_a_changed_loss_is_described_by_what_can_change_it(capsys):
    check.train_one_epoch(epoch_with_label_smoothing, device=DEVICE)
    out = capsys.readouterr().out
    assert "❌ train_one_epoch:" in out and "label smoothing" in out and "clipping" in out


def evaluate_as_a_list(model, batches):
    return list(right_evaluate(model, batches))


def evaluate_error_rate(model, batches):
    loss, accuracy = right_evaluate(model, batches)
    return loss, 1 - accuracy


def evaluate_integer_division(model, batches):
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total / seen, correct // seen


def test_a_list_pair_is_as_good_as_a_tuple(capsys):
    assert check.evaluate(evaluate_as_a_list, device=DEVICE) is evaluate_as_a_list


@pytest.mark.parametrize(
    "wrong, phrase",
    [(evaluate_error_rate, "the error rate"), (evaluate_integer_division, "integer division")],
    ids=["error rate", "integer division"],
)
def test_more_accuracy_mistakes_are_named(capsys, wrong, phrase):
    check.evaluate(wrong, device=DEVICE)
    out = capsys.readouterr().out
    assert "❌ evaluate:" in out and phrase in out, out
