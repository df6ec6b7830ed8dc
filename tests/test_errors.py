"""One error base class: what a user can fix is a CifarlabError; anything else is a bug and says so."""

from __future__ import annotations

import ast
import inspect

import pytest

from cifarlab import cli, errors
from cifarlab.errors import CifarlabError

from .conftest import REPO

USER_ERRORS = {name for name, cls in vars(errors).items() if inspect.isclass(cls) and issubclass(cls, CifarlabError)}
# raised on purpose: Ctrl+C (with how to resume), the stub a lesson's exercise starts with, and
# Gradio's gr.Error, which the app raises to show a user's mistake (carrying an ImageError's words) in the page
# ArgumentTypeError: argparse turns it into its own `error:` line and exit code 2, like ours
NOT_USER_ERRORS = {"KeyboardInterrupt", "NotImplementedError", "Error", "ArgumentTypeError"}


def raised_names(source: str) -> list[tuple[int, str]]:
    """(line, class name) of every `raise X(...)`, `raise module.X(...)` and `raise X` in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = raised.attr if isinstance(raised, ast.Attribute) else getattr(raised, "id", None)
            if name and name[0].isupper():  # a class, not `raise error` (re-raising a caught instance)
                found.append((node.lineno, name))
    return found


def test_every_error_class_derives_from_the_base_and_lives_in_errors():
    assert {"OptionError", "DataError", "ImageError", "CheckpointError", "LessonBuildError"} <= USER_ERRORS
    for path in (REPO / "cifarlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error") and path.name != "errors.py":
                pytest.fail(f"{path.name} defines {node.name}: user errors live in cifarlab/errors.py")


def test_the_package_raises_only_user_errors():
    """A ValueError or RuntimeError raised by cifarlab would reach the CLI as a bug: each is one of ours."""
    wrong = []
    for path in sorted((REPO / "cifarlab").rglob("*.py")):
        for line, name in raised_names(path.read_text()):
            # Problem (_Problem): a self-check's verdict, caught and printed by the check itself
            if name not in USER_ERRORS | NOT_USER_ERRORS | {"Problem"} and not name.startswith("_"):
                wrong.append(f"{path.relative_to(REPO)}:{line} raises {name}")
    assert not wrong, "raise an error from cifarlab.errors instead:\n" + "\n".join(wrong)


def test_the_scan_sees_every_form_of_raise():
    source = "def f():\n    raise ValueError('x')\n    raise builtins.TypeError('y')\n    raise RuntimeError\n"
    assert raised_names(source) == [(2, "ValueError"), (3, "TypeError"), (4, "RuntimeError")]


def test_the_cli_prints_a_user_error_as_one_line(monkeypatch, capsys):
    def fails(args):
        raise errors.DataError("no data at /nowhere: set CIFARLAB_DATA to the tarball")

    monkeypatch.setattr(cli, "_doctor", fails)
    assert cli.main(["doctor"]) == 2
    assert capsys.readouterr().err == "error: no data at /nowhere: set CIFARLAB_DATA to the tarball\n"


def test_the_cli_lets_a_bug_show_its_traceback(monkeypatch):
    """A plain ValueError is a bug in cifarlab, not a typo of the user's: it is not dressed up as `error:`."""

    def bug(args):
        raise ValueError("too many values to unpack")

    monkeypatch.setattr(cli, "_doctor", bug)
    with pytest.raises(ValueError, match="too many values"):
        cli.main(["doctor"])


def test_a_wrong_option_is_a_user_error_found_before_any_work(capsys, tmp_path):
    out = tmp_path / "run"
    command = ["train", "--profile", "smoke", "--source", "synthetic", "--precision", "fp8", "--out", str(out)]
    assert cli.main(command) == 2
    assert "error: precision 'fp8' is not one of" in capsys.readouterr().err
    assert not out.exists()
