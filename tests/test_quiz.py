"""The lessons' "Check your understanding" quizzes: questions, grading, computed answers, the widget."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from cifarlab.errors import OptionError
from cifarlab.model import ResNet9, block_outputs, count_parameters, shape_walk
from cifarlab.quiz import BLANK, OK, QUESTIONS, WRONG, Question, as_html, lesson_key, parse_number, questions, quiz
from cifarlab.quiz import answers as computed
from cifarlab.quiz.question import MAX_CHOICE_LENGTH, RIGHT, multiple_choice
from cifarlab.recipe import RECIPE

from .conftest import REPO

LESSONS = sorted(p.name[:2] for p in (REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))
ALL = [pytest.param(lesson, q, id=f"{lesson}-{q.key}") for lesson, qs in QUESTIONS.items() for q in qs]
CHOICES = [p for p in ALL if p.values[1].is_choice]
NUMBERS = [p for p in ALL if not p.values[1].is_choice]


def find(lesson: str, key: str) -> Question:
    return next(q for q in QUESTIONS[lesson] if q.key == key)


def right_response(question: Question) -> object:
    answer = question.correct()
    return question.choices[answer] if question.is_choice else answer


def test_every_lesson_ends_with_three_to_five_questions():
    assert LESSONS == [f"{n:02d}" for n in range(9)] and sorted(QUESTIONS) == LESSONS
    for lesson, asked in QUESTIONS.items():
        assert 3 <= len(asked) <= 5, lesson
        keys = [q.key for q in asked]
        assert all(keys) and len(set(keys)) == len(keys), lesson
        assert any(q.is_choice for q in asked), lesson


@pytest.mark.parametrize(("lesson", "question"), ALL)
def test_the_right_answer_is_accepted_with_its_explanation(lesson, question):
    right, message = question.grade(right_response(question))
    assert right and message.startswith(f"{OK} Right. ")
    explanation = message.removeprefix(f"{OK} Right. ")
    assert len(explanation) > 80 and "{" not in explanation  # every placeholder filled in
    if question.is_choice:  # the index works too, and the computed answer is the choice marked RIGHT
        assert question.grade(question.correct())[0]
        assert question.why_not[question.correct()] == RIGHT


@pytest.mark.parametrize(("lesson", "question"), CHOICES)
def test_every_wrong_choice_is_rejected_saying_why(lesson, question):
    right = question.correct()
    explanation = question.grade(right)[1].removeprefix(f"{OK} Right. ")
    for index, choice in enumerate(question.choices):
        if index == right:
            continue
        accepted, message = question.grade(choice)
        why = question.why_not[index]
        assert not accepted and message.startswith(f"{WRONG} Not “{choice}”."), choice
        assert why and "{" not in message and explanation in message, choice
        assert why.split("{")[0] in message  # this choice's own reason (with its facts filled in)


@pytest.mark.parametrize(("lesson", "question"), NUMBERS)
def test_a_number_counts_within_its_tolerance_only(lesson, question):
    answer = question.correct()
    outside = question.tolerance * 1.5 if question.tolerance else 1  # a count off by one is wrong
    for wrong, side in ((answer + outside, "high"), (answer - outside, "low")):
        accepted, message = question.grade(wrong)
        assert not accepted and message.startswith(WRONG) and f"too {side}" in message
        assert message.endswith(question.grade(answer)[1].removeprefix(f"{OK} Right. "))
    for near in (answer + question.tolerance / 2, answer - question.tolerance / 2, f"{answer:,}"):
        assert question.grade(near)[0], near  # typed with thousands separators too


def test_nothing_chosen_or_typed_is_not_graded():
    choice, number = find("02", "layer2_shape"), find("02", "conv_weights")
    for question, empty in ((choice, None), (number, ""), (number, "   "), (number, None)):
        assert question.grade(empty) == (False, BLANK)
    assert OK not in BLANK and WRONG not in BLANK and "choose an answer first" in BLANK.lower()
    accepted, message = number.grade("two million")
    assert not accepted and WRONG not in message and "is not a number" in message


@pytest.mark.parametrize(
    ("typed", "value"),
    [("2,359,296", 2359296), ("0,82", 0.82), ("0.82", 0.82), ("1/4", 0.25), ("1e-3", 0.001), ("72 %", 72), (3, 3)],
)
def test_typed_numbers_are_read_as_people_type_them(typed, value):
    assert parse_number(typed) == pytest.approx(value)


@pytest.mark.parametrize("typed", ["abc", "1/0", "", True, float("nan"), "1,2,3,4"])
def test_what_is_not_a_number_is_none(typed):
    assert parse_number(typed) is None


def test_a_response_that_is_no_choice_is_an_option_error():
    question = find("03", "train_eval")
    with pytest.raises(OptionError, match="not one of this question's choices"):
        question.grade("something else")
    with pytest.raises(OptionError, match="not one of"):
        question.grade(len(question.choices))


def test_malformed_questions_are_refused():
    with pytest.raises(OptionError, match="one text per choice"):
        Question("p", "e", choices=("a", "b"), why_not=("",))
    with pytest.raises(OptionError, match=f"{MAX_CHOICE_LENGTH} characters"):
        Question("p", "e", choices=("a", "b" * (MAX_CHOICE_LENGTH + 1)))
    with pytest.raises(OptionError, match="no why_not"):
        Question("p", "e", answer=1, why_not=("x",))
    made = multiple_choice("k", "p", [("a", "wrong because"), ("b", RIGHT)], "e")
    assert made.correct() == 1 and made.grade("a") == (False, "❌ Not “a”. wrong because\n\ne")
    broken = multiple_choice("k", "p", [("a", "why"), ("b", RIGHT)], "e", answer=lambda: "c")
    with pytest.raises(OptionError, match="computed answer 'c' is none of its choices"):
        broken.grade("a")


@pytest.mark.parametrize("lesson", [3, "3", "03", "03_training_loop.ipynb", "solutions/03_training_loop.ipynb"])
def test_a_lesson_is_named_as_people_name_it(lesson):
    assert lesson_key(lesson) == "03" and questions(lesson) == QUESTIONS["03"]


@pytest.mark.parametrize("lesson", ["09", 9, "intro", "", True, -1])
def test_a_lesson_without_a_quiz_is_an_option_error_naming_the_lessons(lesson):
    with pytest.raises(OptionError, match="00, 01, 02, 03, 04, 05, 06, 07, 08") as raised:
        quiz(lesson)
    assert repr(lesson) in str(raised.value)


# --- the computed answers are what the package computes ---


def test_lesson_00_an_image_is_what_the_data_sources_store():
    from cifarlab.data import make_synthetic

    images = make_synthetic(3, seed=1).images
    assert images.dtype == np.uint8 and find("00", "image_bytes").correct() == images[0].size == images.nbytes // 3


def test_lesson_01_padding_and_pipeline_are_the_packages():
    from cifarlab.augment import train_transforms
    from cifarlab.data import channel_stats, make_synthetic

    assert find("01", "padded_width").correct() == RECIPE.image_size + 2 * RECIPE.pad
    data = make_synthetic(4)
    mean, std = channel_stats(data.images)
    out = train_transforms(mean, std)(image=data.images[0])["image"]
    right = find("01", "pipeline_output")
    assert right.choices[right.correct()] == f"{tuple(out.shape)}, {out.dtype}"
    axes = find("01", "axes")
    assert data.images.mean(axis=computed.AXES[axes.correct()]).shape == (3,)


def test_lesson_02_shapes_and_counts_are_the_models():
    model = ResNet9()
    walk = {line.split()[0]: line for line in shape_walk(model).splitlines()}
    layer2 = find("02", "layer2_shape")
    assert layer2.choices[layer2.correct()] in walk["layer2"]  # what the lesson's shape walk prints
    width = RECIPE.widths[-1]
    conv = nn.Conv2d(width, width, 3, padding=1, bias=False)
    assert find("02", "conv_weights").correct() == count_parameters(conv)
    halved = ResNet9(widths=tuple(w // 2 for w in RECIPE.widths))
    ratio = find("02", "halved_widths").correct()
    assert ratio == count_parameters(model) / count_parameters(halved) and round(ratio) == 4


def test_the_answers_follow_the_package_rather_than_a_stored_number(monkeypatch):
    import cifarlab.model

    computed.resnet9.cache_clear()
    computed.block_shapes.cache_clear()
    monkeypatch.setattr(cifarlab.model, "ResNet9", lambda widths: ResNet9(widths=tuple(2 * w for w in widths)))
    try:
        assert find("02", "conv_weights").correct() == 4 * count_parameters(ResNet9().layer3[1].body[0][0])
        with pytest.raises(OptionError, match="the package changed under the quiz"):
            find("02", "layer2_shape").grade("(1, 256, 8, 8)")  # a wider layer2 is none of the choices
    finally:
        computed.resnet9.cache_clear()
        computed.block_shapes.cache_clear()


def test_lesson_03_a_step_before_backward_never_changes_the_weights():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    start = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=RECIPE.momentum)
    for _ in range(3):  # forward, loss, zero_grad, step, backward: the order the question describes
        loss = nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 2, (8,)))
        optimizer.zero_grad()
        optimizer.step()
        loss.backward()
    assert all(torch.equal(a, b) for a, b in zip(start, model.parameters()))
    question = find("03", "step_order")
    assert "never learns" in question.choices[question.correct()]


def test_lesson_03_and_05_the_schedule_facts_are_onecycles():
    from cifarlab.schedule import one_cycle

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=RECIPE.max_lr, momentum=RECIPE.momentum)
    one_cycle(optimizer, RECIPE.max_lr, computed.full_run_steps())
    assert find("05", "start_rate").correct() == pytest.approx(optimizer.param_groups[0]["lr"])
    assert find("05", "start_rate").correct() == pytest.approx(RECIPE.max_lr / RECIPE.div_factor)
    facts = computed.schedule_facts()
    assert facts["start"] < facts["late"] < facts["peak"] / 5  # one step per epoch never gets near the peak
    momentum = find("05", "momentum_at_peak")
    assert not RECIPE.cycle_momentum and computed.momentum_facts() == {"low": RECIPE.momentum, "high": RECIPE.momentum}
    assert momentum.choices[momentum.correct()] == "Unchanged: it stays at RECIPE.momentum"


def test_lesson_04_label_smoothing_and_strict_false_do_what_the_answers_say():
    s, n = RECIPE.label_smoothing, RECIPE.num_classes
    assert find("04", "label_smoothing").correct() == pytest.approx(1 - s + s / n, abs=1e-6)
    model = nn.Linear(3, 2)
    saved = {f"renamed.{name}": torch.ones_like(value) for name, value in model.state_dict().items()}
    before = [p.detach().clone() for p in model.parameters()]
    model.load_state_dict(saved, strict=False)  # no error...
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # ...and nothing loaded


def test_lesson_06_map_cells_and_a_blind_maps_mass():
    from cifarlab.data import make_synthetic
    from cifarlab.gradcam import mass_in_mask

    layer3 = block_outputs(ResNet9().eval(), torch.zeros(1, 3, RECIPE.image_size, RECIPE.image_size))["layer3.1"]
    assert find("06", "cam_cell").correct() * layer3.shape[-1] == RECIPE.image_size
    masks = make_synthetic(6, split="test").masks
    blind = np.ones(masks.shape, np.float32)
    assert mass_in_mask(blind, masks) == pytest.approx(masks.mean(axis=(1, 2)))
    question = find("06", "mass_in_mask")
    assert "area fraction" in question.choices[question.correct()]


def test_lesson_07_the_model_image_and_transparency_are_to_model_images():
    from PIL import Image

    from cifarlab.inference import to_model_image

    photo = to_model_image(Image.new("RGB", (640, 480), (10, 20, 30)))
    shape = find("07", "model_image")
    assert shape.choices[shape.correct()] == f"{photo.shape}, {photo.dtype}"
    clear = to_model_image(Image.new("RGBA", (64, 48), (0, 0, 0, 0)))
    transparent = find("07", "transparent")
    assert (clear == 255).all() and transparent.choices[transparent.correct()].startswith("White")


def test_importing_the_quiz_computes_nothing():
    code = "import sys, cifarlab.quiz; print('torch' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --- the widget ---


def widgets_of(widget, kind):
    found = [widget] if isinstance(widget, kind) else []
    for child in getattr(widget, "children", ()):
        found += widgets_of(child, kind)
    return found


@pytest.mark.parametrize("lesson", sorted(QUESTIONS))
def test_the_widget_checks_each_answer_on_the_spot(lesson):
    import ipywidgets as widgets

    shown = quiz(lesson)
    heading, *boxes = shown.children
    assert isinstance(shown, widgets.VBox) and "Check your understanding" in heading.value
    assert len(boxes) == len(QUESTIONS[lesson])
    assert repr(shown).startswith(f"Check your understanding: lesson {lesson}, {len(boxes)} questions")  # saved copies
    for number, (box, question) in enumerate(zip(boxes, QUESTIONS[lesson]), 1):
        prompt, *_ = box.children
        assert prompt.value.startswith(f"<b>{number}.</b> ") and as_html(question.prompt) in prompt.value
        (button,) = widgets_of(box, widgets.Button)
        verdict = box.children[-1]
        kind = widgets.RadioButtons if question.is_choice else widgets.Text
        (entry,) = widgets_of(box, kind)
        assert entry.value in (None, "")  # nothing preselected
        button.click()
        assert verdict.value == as_html(BLANK)
        wrong = next(c for c in question.choices if c != right_response(question)) if question.is_choice else "-1e9"
        entry.value = wrong
        button.click()
        assert verdict.value.startswith(WRONG)
        right = right_response(question)
        entry.value = right if question.is_choice else str(right)
        button.click()
        assert verdict.value.startswith(f"{OK} Right.")


def test_prompts_are_shown_as_html():
    assert as_html("a `x < y` and **b**\n\nc *d*") == "a <code>x &lt; y</code> and <b>b</b><br>c <i>d</i>"
