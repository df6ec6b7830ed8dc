"""pyproject.toml, environment.yml, README and CI must tell the same story."""

import re

import yaml
from packaging.requirements import Requirement

from .conftest import REPO, tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def normalised(specs):
    parsed = [Requirement(s) for s in specs]
    return {r.name.lower(): (str(r.specifier), str(r.marker or "")) for r in parsed}


def test_environment_yml_installs_what_pyproject_declares():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    wanted = normalised(project["dependencies"] + extras["dev"] + extras["app"])
    listed = normalised([p for p in pip if not p.startswith("-e")])
    assert listed == wanted
    assert any(p.startswith("-e") and "[dev,app]" in p for p in pip)
    python = next(d for d in conda if d.startswith("python"))
    assert python.replace("python", "") == project["requires-python"]


def test_albumentations_stays_on_its_mit_line():
    assert normalised(PYPROJECT["project"]["dependencies"])["albumentations"][0] in ("<2.1,>=2", ">=2,<2.1")


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    marker = re.search(r"^# test command: (.+)\n(.+)$", ci, re.M)
    assert marker, ".ci/run must mark the README's test command and run it on the next line"
    command, next_line = marker.group(1).strip(), marker.group(2).strip()
    assert next_line.startswith(command), "the line after the marker must run the command"
    assert f"\n{command}\n" in readme, "README must show the same test command on a line of its own"


def test_setup_and_ci_install_the_app_extra_the_app_tests_need():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev,app]"' in readme
    assert '-e ".[dev,app]"' in ci


def test_every_data_file_of_the_package_ships_with_it():
    # the weights, the exercise catalogue, lesson 07's example image: a wheel without them breaks lessons
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["cifarlab"]
    package = REPO / "cifarlab"
    data = [p.relative_to(package) for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert data, "the package should have data files (the pretrained weights at least)"
    unshipped = [str(p) for p in data if not any(p.match(pattern) for pattern in patterns)]
    assert not unshipped, f"add these to [tool.setuptools.package-data] in pyproject.toml: {unshipped}"


def test_readme_lists_the_recipe_options_train_has():
    from cifarlab.cli import RECIPE_OPTIONS

    readme = " ".join((REPO / "README.md").read_text().split())
    listed = re.search(r"the recipe options \(([^)]*)\)", readme)
    assert listed, "README must list the recipe options of `cifarlab train`"
    assert set(re.findall(r"`--([a-z-]+)`", listed.group(1))) == {o.replace("_", "-") for o in RECIPE_OPTIONS}
