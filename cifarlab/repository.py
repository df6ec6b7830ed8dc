"""The course's GitHub address, written once in pyproject.toml and copied from there into
every place that names it: each notebook's "Open in Colab" badge, the Colab setup cell's
`pip install "cifarlab @ git+https://github.com/..."`, and the README's lesson table.

    [project.urls]
    Repository = "https://github.com/<owner>/<name>"

Publishing the course under another address is that one line and `cifarlab build-lessons`,
which rewrites the links in solutions/, lessons/ and README.md (`--check` fails while one
names another address).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cifarlab.errors import LessonBuildError

_GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?")
_COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/blob/")
_INSTALL = re.compile(r"cifarlab @ git\+https://[^\s\"'\\]+")


@dataclass(frozen=True)
class Repository:
    """A GitHub repository: Colab opens notebooks from GitHub by owner and name."""

    owner: str
    name: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"

    def colab(self, path: str, branch: str = "main") -> str:
        """The address that opens `path` (a notebook in the repository) in Colab."""
        return f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/{branch}/{path}"

    def write_into(self, text: str) -> str:
        """`text` with every Colab link and `cifarlab @ git+...` requirement naming this repository."""
        text = _COLAB_LINK.sub(f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/", text)
        return _INSTALL.sub(f"cifarlab @ git+{self.url}", text)


def read_repository(pyproject: Path) -> Repository:
    """The repository that `pyproject`'s [project.urls] Repository names.

    Raises LessonBuildError when the file or the entry is missing, or is not a GitHub address.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise LessonBuildError(
                "reading pyproject.toml on Python 3.10 needs tomli: pip install -e '.[dev]'."
            ) from None
    pyproject = Path(pyproject)
    if not pyproject.is_file():
        raise LessonBuildError(f"no {pyproject}: run this from the repository root.")
    url = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("urls", {}).get("Repository")
    match = _GITHUB.fullmatch(url or "")
    if match is None:
        raise LessonBuildError(
            f"{pyproject}'s [project.urls] Repository must be the course's GitHub address, "
            f"https://github.com/<owner>/<name> (Colab opens notebooks from GitHub); it is {url!r}."
        )
    return Repository(match.group(1), match.group(2))
