"""Quieter Lightning output: two messages that fill every lesson and that nobody can act on, and
(`info_off`) its info lines, for a run that should print nothing but its result.

Called by whatever builds a Trainer in cifarlab (`make_trainer`, `find_lr`, the Lightning
self-check), not on import (docs/architecture.md lists the one thing importing cifarlab does).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

_LOGGER = "lightning.pytorch.utilities.rank_zero"


class _DropTips(logging.Filter):
    """Drop Lightning's "💡 Tip" lines, an advertisement for a cloud logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def quiet_lightning() -> None:
    """Drop Lightning's tip advertisement and a deprecation warning raised inside Lightning itself.

    Safe to call any number of times: the filter is added once.
    """
    logger = logging.getLogger(_LOGGER)
    if not any(isinstance(f, _DropTips) for f in logger.filters):
        logger.addFilter(_DropTips())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


@contextlib.contextmanager
def info_off() -> Iterator[None]:
    """Lightning's info lines (GPU available, `Trainer.fit` stopped, checkpoint restored...) off
    for a `with` block; its warnings still show."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
