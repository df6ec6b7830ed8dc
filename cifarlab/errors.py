"""Exceptions cifarlab raises for problems a person can fix."""

from __future__ import annotations


class DataError(ValueError):
    """A data set is missing, corrupt or in the wrong form. The message says how to fix it."""
