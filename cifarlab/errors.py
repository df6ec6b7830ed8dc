"""Exceptions cifarlab raises for problems a person can fix."""

from __future__ import annotations


class DataError(ValueError):
    """A data set is missing, corrupt or in the wrong form. The message says how to fix it."""


class ImageError(ValueError):
    """Something given as an image is not one the model can read. The message says what to pass."""
