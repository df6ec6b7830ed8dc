"""Quieter Lightning output: two messages that fill every lesson and that nobody can act on.

Called by whatever builds a Trainer in cifarlab (`make_trainer`, `find_lr`, the Lightning
self-check), not on import (docs/architecture.md lists the one thing importing cifarlab does).
"""

from __future__ import annotations

import logging
import warnings

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
