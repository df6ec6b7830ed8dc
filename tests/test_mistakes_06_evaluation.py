"""Lesson 06's checks against the mistakes students make collecting mistakes and writing GradCAM.

Each wrong function below is written the way a student would write it; the check must answer
❌ with a message that names that mistake, and hand back a stand-in that says so.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cifarlab import selfcheck as check
from cifarlab.gradcam import target_layer
from cifarlab.selfcheck import evaluation as evaluation_checks

# ----------------------------------------------------------------------------------------
# collect_misclassified


def right_collect(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.cpu().numpy(), predicted[wrong].cpu().numpy(), confidence[wrong].cpu().numpy()


def collect_without_eval(model, x, labels):
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_without_no_grad(model, x, labels):
    model.eval()
    probs = model(x).softmax(1).detach()
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_without_no_grad_crashing(model, x, labels):
    model.eval()
    probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_logits(model, x, labels):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    confidence, predicted = logits.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_softmax_over_batch(model, x, labels):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    predicted = logits.argmax(1)
    confidence = logits.softmax(0).gather(1, predicted[:, None])[:, 0]
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_least_confident_first(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong])]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_unsorted(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_the_right_ones(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    right = torch.nonzero(predicted == labels).flatten()
    right = right[torch.argsort(confidence[right], descending=True)]
    return right.numpy(), predicted[right].numpy(), confidence[right].numpy()


def collect_true_labels_as_predicted(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), labels[wrong].numpy(), confidence[wrong].numpy()


def collect_true_class_confidence(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    predicted = probs.argmax(1)
    confidence = probs[torch.arange(len(x)), labels]
    wrong = torch.nonzero(predicted != labels).flatten()
    wrong = wrong[torch.argsort(confidence[wrong], descending=True)]
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


def collect_argmax_over_batch(model, x, labels):
    model.eval()
    with torch.no_grad():
        probs = model(x).softmax(1)
    confidence, predicted = probs.max(0)
    wrong = torch.nonzero(predicted != labels).flatten()
    return wrong.numpy(), predicted[wrong].numpy(), confidence[wrong].numpy()


COLLECT_MISTAKES = {
    "no model.eval()": (collect_without_eval, "ran in training mode"),
    "no torch.no_grad()": (collect_without_no_grad, "under torch.no_grad()"),
    "no torch.no_grad(), .numpy() crashes": (collect_without_no_grad_crashing, "under torch.no_grad()"),
    "logits as confidence": (collect_logits, "the logits"),
    "softmax over the batch": (collect_softmax_over_batch, "softmax over the batch axis"),
    "least confident first": (collect_least_confident_first, "least confident first"),
    "not sorted": (collect_unsorted, "in the batch's order"),
    "the right predictions": (collect_the_right_ones, "images the model got right, not the 13 it got wrong"),
    "true labels as predicted": (collect_true_labels_as_predicted, "are the true labels"),
    "true class's confidence": (collect_true_class_confidence, "probabilities of the true class"),
    "argmax over the batch": (collect_argmax_over_batch, "along the batch axis"),
}


def test_a_right_collection_is_kept(capsys):
    assert check.collect_misclassified(right_collect) is right_collect
    assert "✅ collect_misclassified: right" in capsys.readouterr().out
    assert check.outcomes()["collect_misclassified"].passed


def test_the_reference_passes_its_own_check(capsys):
    reference = check.reference_collect_misclassified
    assert check.collect_misclassified(reference) is reference
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", COLLECT_MISTAKES, ids=list(COLLECT_MISTAKES))
def test_collect_mistakes_are_named(capsys, mistake):
    wrong, phrase = COLLECT_MISTAKES[mistake]
    used = check.collect_misclassified(wrong)
    out = capsys.readouterr().out
    assert "❌ collect_misclassified:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["collect_misclassified"].passed


def test_the_check_starts_from_training_mode_and_the_lesson_model_would_hide_it():
    model, x, labels = evaluation_checks._misclassified_case("cpu")
    assert model.training  # a model forgetting model.eval() is caught only because of this
    with torch.no_grad():
        train_mode = model(x).argmax(1)
        eval_mode = model.eval()(x).argmax(1)
    assert not torch.equal(train_mode, eval_mode)  # and the two modes give different answers here
    assert 0 < int((eval_mode != labels).sum()) < len(x) / 2


def test_the_collect_stand_in_says_so_every_time_it_runs(capsys):
    used = check.collect_misclassified(collect_logits)
    capsys.readouterr()
    model, x, labels = evaluation_checks._misclassified_case("cpu")
    indices, _, confidence = used(model, x, labels)
    out = capsys.readouterr().out
    assert "⚠ [cifarlab's reference collect_logits stands in here" in out
    assert len(indices) == 13 and (np.diff(confidence) <= 0).all()


# ----------------------------------------------------------------------------------------
# gradcam_by_hand


def cam_steps(model, x, layer, score, weights=lambda g: g.mean(dim=(2, 3), keepdim=True), relu=True, remove=True):
    """The usual GradCAM by hand, with the step a mistake changes passed in."""
    saved = {}

    def keep(module, inputs, output):
        saved["A"] = output
        output.register_hook(lambda grad: saved.__setitem__("G", grad))

    handle = target_layer(model, layer).register_forward_hook(keep)
    with torch.enable_grad():
        score(model(x)).backward()
    if remove:
        handle.remove()
    model.zero_grad()
    cam = (weights(saved["G"]) * saved["A"].detach()).sum(1)
    return F.relu(cam) if relu else cam


def to_unit(maps):
    maps = maps - maps.flatten(1).min(1).values.view(-1, 1, 1)
    return maps / (maps.flatten(1).max(1).values.view(-1, 1, 1) + 1e-7)


def resized(cam):
    return to_unit(F.interpolate(to_unit(cam)[:, None], size=(32, 32), mode="bilinear")[:, 0]).cpu().numpy()


def target_scores(targets):
    return lambda scores: scores[torch.arange(len(scores)), torch.as_tensor(targets)].sum()


def right_cam(model, x, layer, targets):
    return resized(cam_steps(model, x, layer, target_scores(targets)))


def cam_hook_left(model, x, layer, targets):
    return resized(cam_steps(model, x, layer, target_scores(targets), remove=False))


def cam_without_relu(model, x, layer, targets):
    return resized(cam_steps(model, x, layer, target_scores(targets), relu=False))


def cam_relu_after_scaling(model, x, layer, targets):
    cam = cam_steps(model, x, layer, target_scores(targets), relu=False)
    return F.relu(torch.from_numpy(resized(cam))).numpy()


def cam_channel_mean(model, x, layer, targets):
    return resized(cam_steps(model, x, layer, target_scores(targets), weights=lambda g: g.mean(1, keepdim=True)))


def cam_not_scaled(model, x, layer, targets):
    cam = cam_steps(model, x, layer, target_scores(targets))
    return F.interpolate(cam[:, None], size=(32, 32), mode="bilinear")[:, 0].numpy()


def cam_scaled_over_the_batch(model, x, layer, targets):
    cam = F.interpolate(cam_steps(model, x, layer, target_scores(targets))[:, None], size=(32, 32), mode="bilinear")
    cam = cam[:, 0] - cam.min()
    return (cam / cam.max()).numpy()


def cam_not_resized(model, x, layer, targets):
    return to_unit(cam_steps(model, x, layer, target_scores(targets))).numpy()


def cam_of_softmax(model, x, layer, targets):
    score = lambda scores: scores.softmax(1)[torch.arange(len(scores)), torch.as_tensor(targets)].sum()  # noqa: E731
    return resized(cam_steps(model, x, layer, score))


def cam_ignoring_targets(model, x, layer, targets):
    return resized(cam_steps(model, x, layer, lambda scores: scores.max(1).values.sum()))


def cam_every_target(model, x, layer, targets):
    return resized(cam_steps(model, x, layer, lambda scores: scores[:, targets].sum()))


def cam_fixed_layer(model, x, layer, targets):
    return resized(cam_steps(model, x, "layer3", target_scores(targets)))


CAM_MISTAKES = {
    "hook not removed": (cam_hook_left, "hook(s) on the layer"),
    "no ReLU": (cam_without_relu, "no ReLU"),
    "ReLU after scaling": (cam_relu_after_scaling, "a ReLU after the map was scaled"),
    "gradient averaged over channels": (cam_channel_mean, "averaged over the channels"),
    "not scaled to 0..1": (cam_not_scaled, "not scaled to 0..1"),
    "scaled over the whole batch": (cam_scaled_over_the_batch, "scaled together"),
    "not resized": (cam_not_resized, "maps of 8x8, the layer's own size"),
    "softmax backpropagated": (cam_of_softmax, "the softmax probability was backpropagated"),
    "targets ignored": (cam_ignoring_targets, "explains the predicted class"),
    "scores[:, targets]": (cam_every_target, "all the targets at once"),
    "layer ignored": (cam_fixed_layer, "explain layer3 whatever layer is asked for"),
}


def test_a_right_gradcam_is_kept(capsys):
    assert check.gradcam_by_hand(right_cam) is right_cam
    out = capsys.readouterr().out
    assert "✅ gradcam_by_hand: right. it matches pytorch-grad-cam" in out, out
    assert check.outcomes()["gradcam_by_hand"].passed


def test_the_reference_gradcam_passes_its_own_check(capsys):
    reference = check.reference_gradcam_by_hand
    assert check.gradcam_by_hand(reference) is reference
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", CAM_MISTAKES, ids=list(CAM_MISTAKES))
def test_gradcam_mistakes_are_named(capsys, mistake):
    wrong, phrase = CAM_MISTAKES[mistake]
    used = check.gradcam_by_hand(wrong)
    out = capsys.readouterr().out
    assert "❌ gradcam_by_hand:" in out and phrase in out, out
    assert used is not wrong and not check.outcomes()["gradcam_by_hand"].passed


def test_the_mistakes_maps_are_told_apart():
    """Each mistake's maps differ from the right ones and from every other mistake's: else the
    check could name the wrong one."""
    model, x, targets = evaluation_checks._cam_case("cpu")
    variants = list(evaluation_checks._cam_variants(model, x, targets).values())
    for i, a in enumerate(variants):
        for b in variants[i + 1 :]:
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < evaluation_checks.MATCH - 0.05


def test_the_gradcam_stand_in_says_so_every_time_it_runs(capsys):
    used = check.gradcam_by_hand(cam_without_relu)
    capsys.readouterr()
    model, x, targets = evaluation_checks._cam_case("cpu")
    maps = used(model, x, "layer3", targets)
    out = capsys.readouterr().out
    assert "⚠ [cifarlab's reference cam_without_relu stands in here" in out
    assert maps.shape == (6, 32, 32) and maps.min() >= 0 and maps.max() <= 1
