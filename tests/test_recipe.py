"""The recipe has one home: `cifarlab.recipe.RECIPE`. Its numbers appear nowhere else in the package."""

from __future__ import annotations

import ast
import json
from dataclasses import fields, replace
from pathlib import Path

import pytest

from cifarlab.errors import OptionError
from cifarlab.recipe import RECIPE, Recipe

from .conftest import REPO

PACKAGE = REPO / "cifarlab"
NUMBERS = {f.name: getattr(RECIPE, f.name) for f in fields(RECIPE) if type(getattr(RECIPE, f.name)) in (int, float)}
# other names under which the package passes a recipe number along
ALIASES = {"lr": ("max_lr", "adam_max_lr"), "size": ("image_size",), "p": ("flip_p", "cutout_p")}
# values distinctive enough that, written anywhere as a literal, they can only be the recipe's
DISTINCTIVE = {RECIPE.logit_scale, RECIPE.weight_decay, RECIPE.final_div_factor, RECIPE.div_factor}
# in the notebooks, CIFAR-10's image size and class count are facts of the data a student writes down
DATA_FACTS = ("image shape", "image_size", "num_classes")


def recipe_names_for(name: str) -> tuple[str, ...]:
    """The recipe fields a keyword, parameter or variable called `name` stands for."""
    name = name.lower()
    if name in NUMBERS:
        return (name,)
    return ALIASES.get(name, ())


def literal_number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = literal_number(node.operand)
        return None if inner is None else -inner
    return None


def restated(source: str, where: str) -> list[str]:
    """Every place in `source` that writes one of the recipe's numbers as a literal."""
    found = []

    def flag(node: ast.AST, value: object, why: str) -> None:
        found.append(f"{where}:{node.lineno}: {value!r} ({why})")

    def check(name: str, node: ast.AST | None) -> None:
        value = None if node is None else literal_number(node)
        if value is not None and any(NUMBERS[n] == value for n in recipe_names_for(name)):
            flag(node, value, f"{name} = the recipe's {'/'.join(recipe_names_for(name))}")

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg:
            check(node.arg, node.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
                check(arg.arg, default)
            for arg, default in zip(args.kwonlyargs, args.kw_defaults):
                check(arg.arg, default)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    check(target.id, node.value)
        elif isinstance(node, (ast.Tuple, ast.List)) or isinstance(node, ast.Call):
            items = [literal_number(e) for e in (node.args if isinstance(node, ast.Call) else node.elts)]
            if tuple(items) == RECIPE.widths:
                flag(node, RECIPE.widths, "the recipe's widths")
            for a, b in zip(items, items[1:]):
                if a == b == RECIPE.image_size:
                    flag(node, (a, b), "an image shape: the recipe's image_size")
        value = literal_number(node)
        if isinstance(node, ast.Constant) and type(value) is float and value in DISTINCTIVE:
            flag(node, value, "a value only the recipe has")
    return sorted(set(found))


def package_sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "recipe.py")


def test_no_recipe_number_is_written_outside_the_recipe():
    problems = [p for path in package_sources() for p in restated(path.read_text(), str(path.relative_to(REPO)))]
    assert not problems, "read these from cifarlab.recipe.RECIPE instead:\n" + "\n".join(problems)


def test_the_solution_notebooks_read_the_recipe_too():
    problems = []
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()  # magics (%pip) become `pass`: ast reads Python only
                code = "\n".join(
                    f"{line.split('%')[0]}pass" if line.lstrip().startswith("%") else line for line in lines
                )
                found = restated(code, f"{path.name} cell {cell.get('id')}")
                problems += [p for p in found if not any(fact in p for fact in DATA_FACTS)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    [
        "def fit(model, max_lr: float = 0.4): ...",
        "optimizer = SGD(params, lr=0.4, momentum=0.9)",
        "x = torch.randn(2, 3, 32, 32)",
        "SIZE = 32",
        "model = Net(widths=(64, 128, 256, 512))",
        "scale = logits * 0.125",
        "A.HorizontalFlip(p=0.5)",
        "one_cycle(optimizer, 1.0, 100, pct_start=0.25)",
    ],
)
def test_the_scan_catches_each_way_of_restating_a_number(line):
    assert restated(line, "example"), line


def test_the_scan_leaves_other_numbers_alone():
    assert restated("figure = Figure(figsize=(8, 3.2))\nrate = 0.1\nx = torch.randn(2, 3, 8, 8)", "ok") == []


def test_every_number_has_a_unit_and_a_reason_and_prints():
    shown = str(RECIPE)
    for f in fields(Recipe):
        assert f.metadata["unit"] and len(f.metadata["why"]) > 10, f.name
        assert f.name in shown and f.metadata["why"] in shown
    assert RECIPE.describe("max_lr").startswith("max_lr") and len(RECIPE.describe("max_lr").splitlines()) == 1
    with pytest.raises(OptionError, match="no \\[.max_rate.\\]"):
        RECIPE.describe("max_rate")


def test_a_changed_recipe_reaches_the_code_that_reads_it(monkeypatch):
    """The modules read the recipe's values, not copies: a changed recipe changes what they build."""
    import torch

    from cifarlab import recipe, schedule
    from cifarlab.cli import build_parser

    assert RECIPE.default_max_lr("adam") == RECIPE.adam_max_lr and RECIPE.default_max_lr("sgd") == RECIPE.max_lr
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    monkeypatch.setattr(schedule, "RECIPE", replace(RECIPE, base_momentum=0.5, max_momentum=0.6))
    cycle = schedule.one_cycle(optimizer, 1.0, 100, cycle_momentum=True)
    group = optimizer.param_groups[0]
    assert (group["base_momentum"], group["max_momentum"]) == (0.5, 0.6) and cycle.total_steps == 101
    changed = replace(RECIPE, weight_decay=0.00123, label_smoothing=0.345, epochs=77, max_lr=0.678)
    monkeypatch.setattr(recipe, "RECIPE", changed)
    train_help = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    for shown in ("--weight-decay X 0.00123", "--label-smoothing X 0.345", "the recipe's 77", "0.678 for sgd"):
        assert shown in train_help, shown


def test_checkpoints_from_before_the_rename_read_lr_as_max_lr():
    from cifarlab.checkpoint import EARLIER_DEFAULTS, hyper_parameters, read_checkpoint
    from cifarlab.lit import LitResNet9
    from cifarlab.pretrained import pretrained_path

    today = read_checkpoint(pretrained_path())["hyper_parameters"]
    assert "max_lr" in today and "lr" not in today
    # A checkpoint as the course saved them before the rename, and before momentum's cycle and
    # cutout's probability were recorded: the peak rate under `lr`, the other two missing.
    old = {("lr" if k == "max_lr" else k): v for k, v in today.items() if k not in EARLIER_DEFAULTS}
    hparams = hyper_parameters({"hyper_parameters": old})
    assert "lr" not in hparams and hparams["max_lr"] == today["max_lr"]
    assert {k: hparams[k] for k in EARLIER_DEFAULTS} == EARLIER_DEFAULTS  # what such runs were trained with
    assert LitResNet9(**hparams).max_lr == hparams["max_lr"]
    # What a checkpoint records wins over the earlier defaults.
    recorded = hyper_parameters({"hyper_parameters": {**today, "cycle_momentum": False, "cutout_p": 1.0}})
    assert (recorded["cycle_momentum"], recorded["cutout_p"]) == (False, 1.0)
