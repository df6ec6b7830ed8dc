"""The package's layers (docs/architecture.md): every module has one, and imports point down only."""

from __future__ import annotations

import ast

from .conftest import REPO

PACKAGE = REPO / "cifarlab"
SELFCHECKS = [
    f"selfcheck.{m}"
    for m in (
        *("_core", "_cases", "hints", "data", "model", "loop", "lightning", "schedule", "evaluation", "inference"),
        "speedrun",
    )
]
QUIZ = ["quiz", *(f"quiz.{m}" for m in ("question", "answers", "bank"))]
# lowest first; a module may import from its own layer and the ones before it, never from later ones
LAYERS = {
    "foundations": ["errors", "files", "options", "recipe", "profile", "hardware", "versions", "logs", "progress"],
    "data": [
        "data",
        *(f"data.{m}" for m in ("cache", "imageset", "integrity", "folder", "official", "synthetic", "sources")),
        "plots",
    ],
    "augmentation": ["augment", "batch_augment"],
    "model": ["model", "checkpoint"],
    "training": [
        "schedule",
        "loop",
        "device_loader",
        "datamodule",
        "lit",
        "ema",
        "precision",
        "rng",
        "history",
        "lr_finder",
        "speed",
        "feeding",
        "runfolder",
        "runreport",
        "train",
    ],
    "evaluation": ["tta", "evaluation", "gradcam", "reproduce"],
    "inference and app": ["inference", "pretrained", "widgets", "app"],
    "the course": [
        "solutions",
        "repository",
        "lessons",
        "expectations",
        *QUIZ,
        "grade",
        "doctor",
        "cli",
        "__main__",
        "selfcheck",
        *SELFCHECKS,
    ],
}
RANK = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text())
    return found


def imported(tree: ast.Module) -> set[str]:
    """The cifarlab modules a module imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cifarlab."):
            names.add(node.module.removeprefix("cifarlab."))
        elif isinstance(node, ast.Import):
            names |= {a.name.removeprefix("cifarlab.") for a in node.names if a.name.startswith("cifarlab.")}
    return names


def test_every_module_has_a_layer_and_a_line_in_the_map():
    found = set(modules()) - {""}  # "": the package itself, the door to all of them
    assert found == set(RANK), f"unplaced: {sorted(found - set(RANK))}; gone: {sorted(set(RANK) - found)}"
    architecture = (REPO / "docs" / "architecture.md").read_text()
    described = [m.split(".")[-1] for m in RANK if m not in ("__main__", "selfcheck._core")]
    missing = [m for m in described if f"`{m}`" not in architecture]
    assert not missing, f"docs/architecture.md does not describe {missing}"


def test_imports_point_down_the_layers():
    upward = [
        f"{name} ({layer_of(name)}) imports {dep} ({layer_of(dep)})"
        for name, tree in modules().items()
        if name
        for dep in imported(tree)
        if RANK[dep] > RANK[name]
    ]
    assert not upward, "an arrow points up the layers:\n" + "\n".join(upward)


def layer_of(module: str) -> str:
    return list(LAYERS)[RANK[module]]


def test_the_scan_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from cifarlab.train import train\n")
    assert imported(tree) == {"train"}
