"""A quiz question and how an answer to it is graded: pure functions, no widgets.

A `Question` is multiple choice (choices, with why each wrong one is wrong) or asks for a
number (within a tolerance). Its answer may be a function that computes it with the package's
code (`cifarlab.quiz.answers`), called only when an answer is checked. `grade` says ✅ or ❌
and always explains why; an empty answer (nothing chosen or typed) gets BLANK instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cifarlab.errors import OptionError
from cifarlab.recipe import RECIPE

Answer = int | float | str
OK, WRONG = "✅", "❌"
BLANK = "Choose an answer first, then press Check."
RIGHT = ""  # the why_not of the right choice: nothing is wrong with it
MAX_CHOICE_LENGTH = 80  # characters: a radio button's label is one line, and must fit a notebook's width


@dataclass(frozen=True)
class Question:
    """One question: multiple choice when it has `choices`, else a number within `tolerance`.

    answer: the right choice (its index or its text) or the number; or a function that computes
        it with the package's code, called each time an answer is checked.
    explanation: why the answer is right, shown after every check. `{answer}` (the number, or
        the right choice's text), `{recipe}` (RECIPE) and the names `facts()` returns are filled in.
    why_not: for each choice, why it is wrong (RIGHT, the empty string, for the right one).
    facts: a function returning more computed values for the explanation and the why_not texts.
    unit: shown after a number's box. key: a short name, unique within the lesson.
    """

    prompt: str
    explanation: str
    choices: tuple[str, ...] = ()
    answer: Answer | Callable[[], Answer] = 0
    tolerance: float = 0.0
    why_not: tuple[str, ...] = ()
    facts: Callable[[], Mapping[str, Any]] | None = None
    unit: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if self.choices:
            if len(self.choices) < 2 or len(set(self.choices)) != len(self.choices):
                raise OptionError(f"question {self.key!r}: give at least two different choices, got {self.choices}.")
            if max(len(c) for c in self.choices) > MAX_CHOICE_LENGTH:
                raise OptionError(f"question {self.key!r}: keep each choice to {MAX_CHOICE_LENGTH} characters.")
            if self.why_not and len(self.why_not) != len(self.choices):
                raise OptionError(f"question {self.key!r}: why_not needs one text per choice ({len(self.choices)}).")
        elif self.tolerance < 0 or self.why_not:
            raise OptionError(f"question {self.key!r}: a number question takes a tolerance >= 0 and no why_not.")

    @property
    def is_choice(self) -> bool:
        """Whether this is a multiple-choice question (else the answer is a number)."""
        return bool(self.choices)

    def correct(self) -> Answer:
        """The right answer, computed now where it is computed: a choice's index, or the number."""
        answer = self.answer() if callable(self.answer) else self.answer
        if not self.is_choice:
            return answer
        if isinstance(answer, str):
            if answer not in self.choices:
                raise OptionError(
                    f"question {self.key!r}: its computed answer {answer!r} is none of its choices {self.choices}; "
                    "the package changed under the quiz: update the question in cifarlab/quiz/bank.py."
                )
            return self.choices.index(answer)
        return int(answer)

    def grade(self, response: object) -> tuple[bool, str]:
        """(right?, what to show): ✅ or ❌, why a wrong choice is wrong, and the explanation.

        response: the chosen choice (its text or index), or a number (also as text, such as
        "6,573,130" or "1/4"). Nothing chosen or typed gets BLANK, neither ✅ nor ❌.
        """
        if response is None or (isinstance(response, str) and not response.strip()):
            return False, BLANK
        return self._grade_choice(response) if self.is_choice else self._grade_number(response)

    def _grade_choice(self, response: object) -> tuple[bool, str]:
        picked = self._index(response)
        right = self.correct()
        context = self._context(self.choices[right])
        if picked == right:
            return True, f"{OK} Right. {self.explanation.format(**context)}"
        why = self.why_not[picked].format(**context) if self.why_not else ""
        return False, f"{WRONG} Not “{self.choices[picked]}”. {why}\n\n{self.explanation.format(**context)}".strip()

    def _grade_number(self, response: object) -> tuple[bool, str]:
        value = parse_number(response)
        if value is None:
            return False, f"“{response}” is not a number: type one such as 42, 0.5, 1e-3 or 1/4."
        answer = self.correct()
        context = self._context(answer)
        if abs(value - answer) <= self.tolerance:
            return True, f"{OK} Right. {self.explanation.format(**context)}"
        side = "high" if value > answer else "low"
        return False, f"{WRONG} {_show(value)} is too {side}.\n\n{self.explanation.format(**context)}"

    def _index(self, response: object) -> int:
        if isinstance(response, int) and not isinstance(response, bool) and 0 <= response < len(self.choices):
            return response
        if isinstance(response, str) and response in self.choices:
            return self.choices.index(response)
        raise OptionError(f"{response!r} is not one of this question's choices: {list(self.choices)}.")

    def _context(self, answer: Answer) -> dict[str, Any]:
        return {**(self.facts() if self.facts else {}), "answer": answer, "recipe": RECIPE}


def parse_number(response: object) -> float | None:
    """A typed number as a float: "2,359,296", "0,82" (a decimal comma), "1e-3", "1/4", "72%"; None if none."""
    if isinstance(response, bool):
        return None
    if isinstance(response, (int, float)):
        return float(response) if math.isfinite(response) else None
    text = str(response).strip().replace(" ", "").replace("_", "").removesuffix("%")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", text):
        text = text.replace(",", "")  # thousands
    elif text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a decimal comma
    numerator, slash, denominator = text.partition("/")
    try:
        value = float(numerator) / float(denominator) if slash else float(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def _show(value: float) -> str:
    return f"{int(value):,}" if value == int(value) and abs(value) < 1e15 else f"{value:.4g}"


def multiple_choice(
    key: str,
    prompt: str,
    options: Sequence[tuple[str, str]],
    explanation: str,
    answer: Callable[[], str] | None = None,
    facts: Callable[[], Mapping[str, Any]] | None = None,
) -> Question:
    """A multiple-choice question from (choice, why it is wrong) pairs; RIGHT marks the right one.

    answer: a function computing the right choice's text; the tests check it picks the RIGHT one.
    """
    choices = tuple(text for text, _ in options)
    why_not = tuple(why for _, why in options)
    chosen = answer if answer is not None else why_not.index(RIGHT)
    return Question(prompt, explanation, choices, chosen, why_not=why_not, facts=facts, key=key)
