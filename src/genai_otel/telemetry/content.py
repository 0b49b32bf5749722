"""Serialise opt-in content to JSON strings within a size cap."""

from __future__ import annotations

import json
from typing import Any

TRUNCATION_MARKER = "...[truncated]"
_MIN_LEAF = 32


def _default(value: Any) -> Any:
    for attr in ("model_dump", "to_dict", "dict"):
        method = getattr(value, attr, None)
        if callable(method):
            try:
                return method()
            except Exception:
                break
    return repr(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":"))


def _shorten_leaves(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + TRUNCATION_MARKER
    if isinstance(value, dict):
        return {k: _shorten_leaves(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shorten_leaves(v, limit) for v in value]
    return value


def serialize(value: Any, max_length: int) -> tuple[str, bool]:
    """Return ``(json_text, truncated)`` with ``len(json_text) <= max_length``.

    Long string leaves are shortened first so the result stays valid JSON; only when the
    structure itself is too large is the text cut (and then it ends with the marker).
    """
    text = value if isinstance(value, str) else _dumps(value)
    if len(text) <= max_length:
        return text, False
    return shorten(value, text, max_length), True


def shorten(value: Any, text: str, max_length: int) -> str:
    """``text`` -- the JSON of ``value``, longer than ``max_length`` -- within ``max_length``: long string
    leaves of ``value`` are cut first (the result stays valid JSON), the text itself only when that is not
    enough (it then ends with the marker)."""
    if not isinstance(value, str):
        limit = max_length
        while limit >= _MIN_LEAF:
            limit //= 2
            candidate = _dumps(_shorten_leaves(value, limit))
            if len(candidate) <= max_length:
                return candidate
    keep = max(0, max_length - len(TRUNCATION_MARKER))
    return text[:keep] + TRUNCATION_MARKER
