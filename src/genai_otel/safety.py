"""Our own bugs never reach the user's application: they are caught and logged once per site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

_logger = logging.getLogger("genai_otel")
_reported: set[str] = set()

T = TypeVar("T")


def report_internal_error(where: str) -> None:
    """Log the exception being handled, once per ``where``, at WARNING with its traceback."""
    if where in _reported:
        _logger.debug("genai-otel internal error in %s (repeated)", where, exc_info=True)
        return
    _reported.add(where)
    _logger.warning(
        "genai-otel internal error in %s; telemetry for this call may be incomplete", where, exc_info=True
    )


def safely(
    where: str, func: Callable[..., T], *args: Any, default: T | None = None, **kwargs: Any
) -> T | None:
    """Call ``func``; on any exception log it once for ``where`` and return ``default``."""
    try:
        return func(*args, **kwargs)
    except Exception:
        report_internal_error(where)
        return default
