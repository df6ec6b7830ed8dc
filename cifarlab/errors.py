"""The errors cifarlab raises for problems a person can fix, and nothing else.

Every one derives from `CifarlabError` and says in its message what was wrong and how to
fix it. The `cifarlab` command prints these as one `error:` line; any other exception is
a bug in cifarlab and keeps its traceback. Each also derives from ValueError, the builtin
for "a bad value", so code that catches ValueError keeps working.
"""

from __future__ import annotations


class CifarlabError(ValueError):
    """A problem the user can fix. The message says what was wrong and how to fix it."""


class OptionError(CifarlabError):
    """An option or argument outside what cifarlab accepts (a profile, a precision, a run folder)."""


class DataError(CifarlabError):
    """A data set is missing, corrupt or in the wrong form."""


class ImageError(CifarlabError):
    """Something given as an image is not one the model can read."""


class CheckpointError(CifarlabError):
    """A file that is not a usable ResNet9 checkpoint."""


class LessonBuildError(CifarlabError):
    """A solution notebook's exercise markers are malformed."""
