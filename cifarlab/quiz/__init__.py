"""The "Check your understanding" quizzes that end each lesson, checked on the spot.

`quiz("03")` shows lesson 03's questions, each with a Check button that answers ✅ or ❌ and
explains why, for a right answer as for a wrong one (and, for a wrong choice, why that choice
is wrong). The questions ask what the lesson taught: predict a shape or a parameter count,
say what a curve does when a setting changes, or why a step is needed.

The answers live in the package, not in the notebooks: `bank` holds the questions,
`question` grades an answer (pure, tested directly), and `answers` computes every size,
count and shape with the package's own code when it is checked, so an answer cannot drift
from what the lessons run. This module only wires widgets to them.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cifarlab.errors import OptionError
from cifarlab.quiz.bank import QUESTIONS
from cifarlab.quiz.question import BLANK, OK, WRONG, Question, parse_number

if TYPE_CHECKING:
    import ipywidgets

__all__ = [
    "BLANK",
    "OK",
    "QUESTIONS",
    "WRONG",
    "Question",
    "as_html",
    "lesson_key",
    "parse_number",
    "questions",
    "quiz",
]


def lesson_key(lesson: str | int) -> str:
    """The lesson's key in QUESTIONS ("03" for 3, "3", "03" or "03_training_loop.ipynb"), or an OptionError."""
    text = Path(str(lesson).strip()).name
    match = None if isinstance(lesson, bool) else re.fullmatch(r"(\d{1,2})(_\w*)?(\.ipynb)?", text)
    key = f"{int(match.group(1)):02d}" if match else text
    if key not in QUESTIONS:
        raise OptionError(
            f"there is no quiz for lesson {lesson!r}: the lessons with one are {', '.join(QUESTIONS)}; "
            'pass one of those, e.g. quiz("03").'
        )
    return key


def questions(lesson: str | int) -> list[Question]:
    """The questions at the end of `lesson` ("00".."08", or its number)."""
    return list(QUESTIONS[lesson_key(lesson)])


def as_html(text: str) -> str:
    """Markdown-ish text as HTML: `code`, **bold**, *italic*, blank lines as paragraph breaks."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)
    return text.replace("\n\n", "<br>").replace("\n", " ")


def quiz(lesson: str | int) -> ipywidgets.VBox:
    """The lesson's questions as widgets: each with its answer box, a Check button and the verdict."""
    import ipywidgets as widgets

    key = lesson_key(lesson)
    asked = QUESTIONS[key]
    heading = widgets.HTML(
        f"<h3>Check your understanding</h3><p>Lesson {key}: {len(asked)} questions. Answer one, press "
        "<b>Check</b>, and read why. Nothing is recorded: try again as often as you like.</p>"
    )
    shown = _quiz_box()([heading, *(_question_box(widgets, n, q) for n, q in enumerate(asked, 1))])
    shown.summary = f"Check your understanding: lesson {key}, {len(asked)} questions (run the cell to answer them)."
    return shown


@functools.cache
def _quiz_box() -> type:
    """A VBox whose plain-text form, what a saved notebook shows without widget state, is one line."""
    import ipywidgets as widgets

    class QuizBox(widgets.VBox):
        summary = "Check your understanding"

        def __repr__(self) -> str:
            return self.summary

    return QuizBox


def _question_box(widgets: Any, number: int, question: Question) -> ipywidgets.VBox:
    prompt = widgets.HTML(f"<b>{number}.</b> {as_html(question.prompt)}")
    if question.is_choice:
        answer = widgets.RadioButtons(options=list(question.choices), value=None, layout=widgets.Layout(width="auto"))
        entry = answer
    else:
        answer = widgets.Text(value="", placeholder="a number", layout=widgets.Layout(width="14em"))
        entry = widgets.HBox([answer, widgets.HTML(f"&nbsp;{as_html(question.unit)}")])
    check = widgets.Button(description="Check", tooltip="check this answer")
    verdict = widgets.HTML("")

    def on_check(_button: object) -> None:
        verdict.value = as_html(question.grade(answer.value)[1])

    check.on_click(on_check)
    return widgets.VBox([prompt, entry, check, verdict], layout=widgets.Layout(margin="0 0 1em 0"))
